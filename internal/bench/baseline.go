package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/contract"
)

// baseline does, per command, the JetStream operations the command-worker
// does, with plain nats.go and no framework: consume the command, append
// one event with the expected-last-subject-sequence check, publish one
// result, ack. It keeps each person's last sequence in memory (as the
// command-worker's cache does) and decides nothing. Its throughput is the
// bound the fleet is measured against.
type baseline struct {
	js    jetstream.JetStream
	names contract.Names
	mu    sync.Mutex
	last  map[string]uint64
	locks map[string]*sync.Mutex
}

// runBaseline consumes names' commands with `workers` goroutines until
// ctx ends.
func runBaseline(ctx context.Context, nc *nats.Conn, names contract.Names, workers int) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, names.CommandsStream(), jetstream.ConsumerConfig{
		Durable: "baseline", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1024, AckWait: 30 * time.Second,
	})
	if err != nil {
		return err
	}
	b := &baseline{js: js, names: names, last: map[string]uint64{}, locks: map[string]*sync.Mutex{}}
	it, err := cons.Messages(jetstream.PullMaxMessages(512))
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := it.Next()
				if err != nil {
					return
				}
				if err := b.handle(ctx, m); err != nil && !errors.Is(err, context.Canceled) {
					_ = m.Nak()
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

func (b *baseline) lock(id string) func() {
	b.mu.Lock()
	l, ok := b.locks[id]
	if !ok {
		l = &sync.Mutex{}
		b.locks[id] = l
	}
	b.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (b *baseline) handle(ctx context.Context, m jetstream.Msg) error {
	var env contract.CommandEnvelope
	if err := json.Unmarshal(m.Data(), &env); err != nil {
		return m.Term()
	}
	defer b.lock(string(env.PersonID))()
	b.mu.Lock()
	last := b.last[string(env.PersonID)]
	b.mu.Unlock()
	ev := nats.NewMsg(b.names.Prefix() + ".events." + string(env.PersonID) + ".attribute_set")
	ev.Data = env.Data
	ev.Header.Set(jetstream.MsgIDHeader, env.CommandID+"#0")
	ev.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last, 10))
	ev.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, b.names.EventsOf(env.PersonID))
	ack, err := b.js.PublishMsg(ctx, ev)
	if err != nil {
		// A stale sequence (a redelivery after a lost ack): the error names
		// the current one; learn it and let the message come again.
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == 10071 {
			var seq uint64
			if _, serr := fmt.Sscanf(apiErr.Description, "wrong last sequence: %d", &seq); serr == nil {
				b.mu.Lock()
				b.last[string(env.PersonID)] = seq
				b.mu.Unlock()
			}
		}
		return fmt.Errorf("baseline append: %w", err)
	}
	b.mu.Lock()
	b.last[string(env.PersonID)] = ack.Sequence
	b.mu.Unlock()
	res, _ := json.Marshal(contract.Result{CommandID: env.CommandID, PersonID: env.PersonID, Status: contract.StatusAccepted, Final: true, At: time.Now()})
	rm := nats.NewMsg(b.names.Result(env.CommandID))
	rm.Data = res
	rm.Header.Set(jetstream.MsgIDHeader, env.CommandID+":accepted")
	if _, err := b.js.PublishMsg(ctx, rm); err != nil {
		return err
	}
	return m.Ack()
}
