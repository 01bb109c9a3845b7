package worker_test

// Integration tests of the fleet's guarantees (DESIGN.md, "Guarantees the
// code must keep"): the real workers (worker.Run, or the same router with a
// test handler) against a real embedded nats-server, no mocks.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/policy"
	"github.com/personfleet/personfleet/internal/projection"
	"github.com/personfleet/personfleet/internal/schema"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/worker"
)

var names = contract.DefaultNames()

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// startWith is start with a logger of the test's choice and a per-replica
// config tweak (applied after the fleet's).
func (f *fleet) startWith(kind worker.Kind, log *slog.Logger, tweak func(*worker.Config)) func() {
	f.t.Helper()
	cfg := testConfig(kind, f.url)
	if f.config != nil {
		f.config(&cfg)
	}
	if tweak != nil {
		tweak(&cfg)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(testLogOut(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// This replica is ready when it logs so (the consumer may already be
	// bound by another replica).
	ready := readyHandler{Handler: log.Handler(), ready: make(chan struct{}), once: new(sync.Once)}
	log = slog.New(ready)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, log) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				f.t.Errorf("%s stopped with %v", kind, err)
			}
		})
	}
	f.mu.Lock()
	f.stops = append(f.stops, stop)
	f.mu.Unlock()
	select {
	case <-ready.ready:
	case err := <-done:
		done <- err
		f.t.Fatalf("%s did not start: %v", kind, err)
	case <-time.After(15 * time.Second):
		f.t.Fatalf("%s not running after 15s", kind)
	}
	f.waitConsumer(kind)
	return stop
}

// readyHandler closes ready when the worker logs that it runs.
type readyHandler struct {
	slog.Handler
	ready chan struct{}
	once  *sync.Once
}

func (h readyHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "worker running" {
		h.once.Do(func() { close(h.ready) })
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h readyHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.Handler.Enabled(ctx, l)
}

func (h readyHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return readyHandler{Handler: h.Handler.WithAttrs(a), ready: h.ready, once: h.once}
}

func (h readyHandler) WithGroup(g string) slog.Handler {
	return readyHandler{Handler: h.Handler.WithGroup(g), ready: h.ready, once: h.once}
}

// logCounts counts log records by message, across every logger derived
// from it; records are also written to the test log output.
type logCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func newLogCounts() *logCounts { return &logCounts{n: map[string]int{}} }

func (c *logCounts) logger() *slog.Logger {
	return slog.New(countHandler{c: c, next: slog.NewTextHandler(testLogOut(), &slog.HandlerOptions{Level: slog.LevelDebug})})
}

func (c *logCounts) get(msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[msg]
}

type countHandler struct {
	c    *logCounts
	next slog.Handler
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(ctx context.Context, r slog.Record) error {
	h.c.mu.Lock()
	h.c.n[r.Message]++
	h.c.mu.Unlock()
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}
func (h countHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return countHandler{c: h.c, next: h.next.WithAttrs(a)}
}
func (h countHandler) WithGroup(g string) slog.Handler {
	return countHandler{c: h.c, next: h.next.WithGroup(g)}
}

func command(t *testing.T, id person.ID, cmd person.Command) contract.CommandEnvelope {
	t.Helper()
	env, err := client.NewCommand(id, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func commandIDs(envs []contract.CommandEnvelope) []string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.CommandID
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// publish puts a raw message in a stream (a producer that does not use the
// client, or the broker redelivering); it returns the stream sequence.
func (f *fleet) publish(subject string, body []byte, headers map[string]string) uint64 {
	f.t.Helper()
	m := nats.NewMsg(subject)
	m.Data = body
	for k, v := range headers {
		m.Header.Set(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := f.js.PublishMsg(ctx, m)
	if err != nil {
		f.t.Fatalf("publish on %s: %v", subject, err)
	}
	return ack.Sequence
}

// publishCommand publishes env on its subject with the given Nats-Msg-Id
// (a redelivery of the same command has the same body; a different
// Nats-Msg-Id gets it past the commands stream's dedup, as the broker's
// own redelivery would).
func (f *fleet) publishCommand(env contract.CommandEnvelope, msgID string) {
	f.t.Helper()
	f.publish(names.Command(env.PersonID, person.CommandType(env.Type)), mustJSON(f.t, env), map[string]string{"Nats-Msg-Id": msgID})
}

// sendAll publishes every command asynchronously (all in flight at once)
// and waits for the stream's acks.
func (f *fleet) sendAll(envs []contract.CommandEnvelope) {
	f.t.Helper()
	futures := make([]jetstream.PubAckFuture, 0, len(envs))
	for _, env := range envs {
		m := nats.NewMsg(names.Command(env.PersonID, person.CommandType(env.Type)))
		m.Data = mustJSON(f.t, env)
		m.Header.Set("Nats-Msg-Id", env.CommandID)
		fut, err := f.js.PublishMsgAsync(m)
		if err != nil {
			f.t.Fatalf("async publish: %v", err)
		}
		futures = append(futures, fut)
	}
	select {
	case <-f.js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		f.t.Fatal("async publishes not acknowledged in 30s")
	}
	for _, fut := range futures {
		select {
		case <-fut.Ok():
		case err := <-fut.Err():
			f.t.Fatalf("async publish: %v", err)
		}
	}
}

// liveResults records every result message published, as a producer
// subscribed to <prefix>.results.> sees them (a result the results stream
// drops as a duplicate is still seen here).
type liveResults struct {
	mu   sync.Mutex
	byID map[string][]contract.Result
}

func (f *fleet) watchResults() *liveResults {
	f.t.Helper()
	lr := &liveResults{byID: map[string][]contract.Result{}}
	sub, err := f.nc.Subscribe(names.Results(), func(m *nats.Msg) {
		var r contract.Result
		if err := json.Unmarshal(m.Data, &r); err != nil {
			f.t.Errorf("malformed result on %s: %v", m.Subject, err)
			return
		}
		lr.mu.Lock()
		lr.byID[r.CommandID] = append(lr.byID[r.CommandID], r)
		lr.mu.Unlock()
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		f.t.Fatal(err)
	}
	if err := f.nc.Flush(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = sub.Unsubscribe() })
	return lr
}

func (lr *liveResults) of(id string) []contract.Result {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return slices.Clone(lr.byID[id])
}

func finals(rs []contract.Result) []contract.Result {
	var out []contract.Result
	for _, r := range rs {
		if r.Final {
			out = append(out, r)
		}
	}
	return out
}

// wait waits until command id has n final results and returns them.
func (lr *liveResults) wait(t *testing.T, id string, n int) []contract.Result {
	t.Helper()
	var got []contract.Result
	eventually(t, "final results of "+id, 20*time.Second, func() (bool, string) {
		got = finals(lr.of(id))
		return len(got) >= n, fmt.Sprintf("%d of %d", len(got), n)
	})
	return got
}

// waitAll waits until every command has at least one final result.
func (lr *liveResults) waitAll(t *testing.T, ids []string, d time.Duration) {
	t.Helper()
	eventually(t, "a final result for every command", d, func() (bool, string) {
		missing := 0
		for _, id := range ids {
			if len(finals(lr.of(id))) == 0 {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d commands without a final result", missing, len(ids))
	})
}

// storedResults reads the whole results stream: what a producer reading
// a command's results after the fact (client.Watch) gets.
func (f *fleet) storedResults() map[string][]contract.Result {
	f.t.Helper()
	out := map[string][]contract.Result{}
	for _, m := range f.streamMsgs(names.ResultsStream(), "") {
		var r contract.Result
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			f.t.Fatal(err)
		}
		out[r.CommandID] = append(out[r.CommandID], r)
	}
	return out
}

// streamMsgs reads every message of a stream (optionally filtered).
func (f *fleet) streamMsgs(stream, filter string) []jetstream.Msg {
	f.t.Helper()
	ctx := context.Background()
	// Polled in loops: let the server remove each consumer soon.
	cfg := jetstream.OrderedConsumerConfig{InactiveThreshold: 2 * time.Second}
	if filter != "" {
		cfg.FilterSubjects = []string{filter}
	}
	cons, err := f.js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []jetstream.Msg
	for info.NumPending > 0 {
		batch, err := cons.Fetch(int(min(info.NumPending, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			f.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			out = append(out, m)
			n++
		}
		if err := batch.Error(); err != nil {
			f.t.Fatal(err)
		}
		if n == 0 {
			f.t.Fatalf("%s: %d messages pending but none fetched", stream, info.NumPending)
		}
		info.NumPending -= uint64(n)
	}
	return out
}

// histories reads the whole events stream once (one consumer) and returns
// every person's events in order.
func (f *fleet) histories() map[person.ID][]person.Event {
	f.t.Helper()
	out := map[person.ID][]person.Event{}
	for _, m := range f.streamMsgs(names.EventsStream(), "") {
		e, err := schema.Decode(m.Data())
		if err != nil {
			f.t.Fatalf("%s: %v", m.Subject(), err)
		}
		out[e.PersonID] = append(out[e.PersonID], e)
	}
	return out
}

// deadLetter is one message of the DLQ stream, with its own subject and
// headers.
type deadLetter struct {
	subject string
	header  nats.Header
	contract.DeadLetter
}

func (f *fleet) deadLetters() []deadLetter {
	f.t.Helper()
	var out []deadLetter
	for _, m := range f.streamMsgs(names.DLQStream(), "") {
		dl := deadLetter{subject: m.Subject(), header: m.Headers()}
		if err := json.Unmarshal(m.Data(), &dl.DeadLetter); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

// readModels opens the two read models' buckets, without caches.
func (f *fleet) readModels() (*store.ReadModel[projection.Summary], *store.ReadModel[projection.Onboarding]) {
	f.t.Helper()
	sums, err := store.OpenReadModel[projection.Summary](context.Background(), f.js, names.SummaryBucket(), 0)
	if err != nil {
		f.t.Fatal(err)
	}
	onbs, err := store.OpenReadModel[projection.Onboarding](context.Background(), f.js, names.OnboardingBucket(), 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return sums, onbs
}

// waitIdle waits until a consumer has nothing pending and nothing unacked.
func (f *fleet) waitIdle(stream, consumer string, d time.Duration) *jetstream.ConsumerInfo {
	f.t.Helper()
	var info *jetstream.ConsumerInfo
	eventually(f.t, consumer+" idle", d, func() (bool, string) {
		c, err := f.js.PushConsumer(context.Background(), stream, consumer)
		if err != nil {
			return false, err.Error()
		}
		info, err = c.Info(context.Background())
		if err != nil {
			return false, err.Error()
		}
		return info.NumPending == 0 && info.NumAckPending == 0,
			fmt.Sprintf("pending %d, ack pending %d", info.NumPending, info.NumAckPending)
	})
	return info
}

// checkHistory checks the event store's invariants for one person: versions
// 1..N without a gap or a repeat, and no command (causation id) that
// appears in two decisions (a command's events are consecutive).
func checkHistory(t *testing.T, id person.ID, hist []person.Event) {
	t.Helper()
	seen := map[string]bool{}
	for i, e := range hist {
		if e.PersonID != id {
			t.Errorf("%s: event %d belongs to %s", id, i, e.PersonID)
		}
		if e.Version != uint64(i+1) {
			t.Errorf("%s: event %d has version %d, want %d", id, i, e.Version, i+1)
		}
		if seen[e.CausationID] && (i == 0 || hist[i-1].CausationID != e.CausationID) {
			t.Errorf("%s: command %s caused two separate appends (again at version %d)", id, e.CausationID, e.Version)
		}
		seen[e.CausationID] = true
	}
}

func eventsCausedBy(hist []person.Event, commandID string) []person.Event {
	var out []person.Event
	for _, e := range hist {
		if e.CausationID == commandID {
			out = append(out, e)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// 1. Two replicas racing on the same persons never both append.
// ---------------------------------------------------------------------------

func TestRacingReplicasAppendOnce(t *testing.T) {
	f := newFleet(t, nil)
	logs := newLogCounts()
	f.startWith(worker.CommandWorker, logs.logger(), nil)
	f.startWith(worker.CommandWorker, logs.logger(), nil)

	const persons, commands = 20, 400
	ids := make([]person.ID, persons)
	for i := range ids {
		ids[i] = person.ID(fmt.Sprintf("racer-%02d", i))
		r := f.do(ids[i], &person.CreatePerson{Name: person.Name{GivenName: "Racer", FamilyName: fmt.Sprintf("Number%02d", i)}})
		if r.Status != contract.StatusAccepted || r.Version != 1 {
			t.Fatalf("create %s: %+v", ids[i], r)
		}
	}
	live := f.watchResults()
	envs := make([]contract.CommandEnvelope, commands)
	for i := range envs {
		var cmd person.Command = &person.SetAttribute{Key: fmt.Sprintf("key_%03d", i), Value: strconv.Itoa(i)}
		if i%2 == 1 {
			cmd = &person.AddSkill{Skill: person.Skill{Name: fmt.Sprintf("skill-%03d", i)}}
		}
		envs[i] = command(t, ids[i%persons], cmd)
	}
	start := time.Now()
	f.sendAll(envs) // every command in flight at once, spread over both replicas
	live.waitAll(t, commandIDs(envs), 30*time.Second)
	t.Logf("%d commands over %d persons on 2 replicas in %s; %d appends lost a race and were decided again",
		commands, persons, time.Since(start).Round(time.Millisecond), logs.get(worker.LogAppendRace))

	stored := f.storedResults()
	accepted := map[person.ID]map[string]contract.Result{}
	for _, env := range envs {
		fs := finals(stored[env.CommandID])
		if len(fs) != 1 {
			t.Errorf("command %s: %d final results stored, want 1: %+v", env.CommandID, len(fs), fs)
			continue
		}
		r := fs[0]
		if r.Status != contract.StatusAccepted || r.Duplicate || len(r.Events) != 1 {
			t.Errorf("command %s: want accepted with one event, got %+v (error %+v)", env.CommandID, r, r.Error)
			continue
		}
		if accepted[env.PersonID] == nil {
			accepted[env.PersonID] = map[string]contract.Result{}
		}
		accepted[env.PersonID][env.CommandID] = r
	}
	for _, id := range ids {
		hist := f.history(id)
		checkHistory(t, id, hist)
		if want := 1 + len(accepted[id]); len(hist) != want {
			t.Errorf("%s: %d events, want %d (create + accepted commands)", id, len(hist), want)
		}
		for _, e := range hist[1:] {
			r, ok := accepted[id][e.CausationID]
			if !ok {
				t.Errorf("%s: event %s (version %d) caused by %s, not an accepted command", id, e.ID, e.Version, e.CausationID)
				continue
			}
			if r.Version != e.Version || r.Events[0].EventID != e.ID {
				t.Errorf("%s: result of %s says version %d event %s, the stream has version %d event %s",
					id, e.CausationID, r.Version, r.Events[0].EventID, e.Version, e.ID)
			}
		}
	}
	// Without a single lost race the test would prove nothing.
	if logs.get(worker.LogAppendRace) == 0 {
		t.Error("no append ever lost a race: the replicas did not race")
	}
}

// ---------------------------------------------------------------------------
// 2. A command processed twice appends its events once.
// ---------------------------------------------------------------------------

func TestRedeliveredCommandAppendsOnce(t *testing.T) {
	f := newFleet(t, nil)
	stop := f.start(worker.CommandWorker)
	live := f.watchResults()
	id := person.ID("redelivered")
	if r := f.do(id, &person.CreatePerson{Name: person.Name{GivenName: "Re", FamilyName: "Delivered"}}); r.Status != contract.StatusAccepted {
		t.Fatalf("create: %+v", r)
	}
	// eventsOnce: the command's events are in the stream exactly once.
	eventsOnce := func(t *testing.T, env contract.CommandEnvelope, want int) []person.Event {
		t.Helper()
		hist := f.history(id)
		checkHistory(t, id, hist)
		got := eventsCausedBy(hist, env.CommandID)
		if len(got) != want {
			t.Fatalf("command %s: %d events in the stream, want %d", env.CommandID, len(got), want)
		}
		return got
	}
	// storedOnce: a producer reading the results stream sees one final
	// result, the first one (not the duplicate's answer).
	storedOnce := func(t *testing.T, env contract.CommandEnvelope) contract.Result {
		t.Helper()
		fs := finals(f.storedResults()[env.CommandID])
		if len(fs) != 1 || fs[0].Status != contract.StatusAccepted {
			t.Fatalf("command %s: stored finals %+v, want one accepted", env.CommandID, fs)
		}
		return fs[0]
	}
	// isDuplicateOf: the answer to a repeat says duplicate, names the
	// version the first run reached, and lists no new events.
	isDuplicateOf := func(t *testing.T, r, first contract.Result) {
		t.Helper()
		if r.Status != contract.StatusAccepted || !r.Final || !r.Duplicate || len(r.Events) != 0 || r.Version < first.Version {
			t.Fatalf("answer to the repeat: %+v, want accepted duplicate without events at version >= %d", r, first.Version)
		}
	}

	// The broker redelivers the same message (different Nats-Msg-Id, so
	// the commands stream's dedup does not drop it).
	env := command(t, id, &person.AddSkill{Skill: person.Skill{Name: "Go"}})
	t.Run("redelivered to the same replica", func(t *testing.T) {
		f.publishCommand(env, env.CommandID)
		first := live.wait(t, env.CommandID, 1)[0]
		if first.Status != contract.StatusAccepted || first.Duplicate || len(first.Events) != 1 {
			t.Fatalf("first run: %+v", first)
		}
		f.publishCommand(env, env.CommandID+"-redelivery-1")
		isDuplicateOf(t, live.wait(t, env.CommandID, 2)[1], first)
		eventsOnce(t, env, 1)
		if r := storedOnce(t, env); r.Duplicate || r.Version != first.Version {
			t.Fatalf("stored final %+v is not the first run's %+v", r, first)
		}
	})

	t.Run("redelivered after a restart (no cache)", func(t *testing.T) {
		stop()
		stop = f.start(worker.CommandWorker)
		first := finals(live.of(env.CommandID))[0]
		f.publishCommand(env, env.CommandID+"-redelivery-2")
		isDuplicateOf(t, live.wait(t, env.CommandID, 3)[2], first)
		eventsOnce(t, env, 1)
		storedOnce(t, env)
	})

	// A replica decided and appended, then crashed before publishing the
	// result and acking: the message is delivered again (here: for the
	// first time to the running replica, whose cached person is stale).
	t.Run("appended, then crashed before result and ack", func(t *testing.T) {
		h := newCommandHandler(t, f)
		env := command(t, id, &person.SetAttribute{Key: "crash", Value: "after-append"})
		cmd, err := names.DecodeCommand("", mustJSON(t, env))
		if err != nil {
			t.Fatal(err)
		}
		crashed, err := h.DecideAndAppend(context.Background(), cmd)
		if err != nil || crashed.Status != contract.StatusAccepted || len(crashed.Events) != 1 {
			t.Fatalf("crashed replica's decide and append: %+v, %v", crashed, err)
		}
		if rs := live.of(env.CommandID); len(rs) != 0 {
			t.Fatalf("a result was published before the crash: %+v", rs)
		}
		f.publishCommand(env, env.CommandID)
		isDuplicateOf(t, live.wait(t, env.CommandID, 1)[0], crashed)
		got := eventsOnce(t, env, 1)
		if got[0].ID != crashed.Events[0].EventID {
			t.Fatalf("event %s in the stream, the crashed replica appended %s", got[0].ID, crashed.Events[0].EventID)
		}
	})

	t.Run("handler called twice on the same message", func(t *testing.T) {
		h := newCommandHandler(t, f)
		env := command(t, id, &person.SetAttribute{Key: "twice", Value: "1"})
		subject := names.Command(id, person.CmdSetAttribute)
		msg := message.NewMessage(env.CommandID, mustJSON(t, env))
		msg.Metadata.Set(worker.MetaSubject, subject)
		for range 2 {
			if err := h.Handle(msg); err != nil {
				t.Fatal(err)
			}
		}
		rs := live.wait(t, env.CommandID, 2)
		if rs[0].Duplicate || len(rs[0].Events) != 1 {
			t.Fatalf("first run: %+v", rs[0])
		}
		isDuplicateOf(t, rs[1], rs[0])
		eventsOnce(t, env, 1)
		storedOnce(t, env)
	})

	// Beyond the aggregate's memory of recent command ids (64 commands
	// later) the events stream's dedup window still recognises the
	// command's events: a skill added, removed, then the add redelivered
	// must not come back.
	t.Run("redelivered after the aggregate forgot it", func(t *testing.T) {
		add := command(t, id, &person.AddSkill{Skill: person.Skill{Name: "Rust"}})
		first := f.doEnv(add)
		if first.Status != contract.StatusAccepted {
			t.Fatalf("add: %+v", first)
		}
		if r := f.do(id, &person.RemoveSkill{Name: "Rust"}); r.Status != contract.StatusAccepted {
			t.Fatalf("remove: %+v", r)
		}
		var later []contract.CommandEnvelope
		for i := range person.RecentCommands + 1 {
			later = append(later, command(t, id, &person.SetAttribute{Key: fmt.Sprintf("later_%02d", i), Value: "x"}))
		}
		f.sendAll(later)
		live.waitAll(t, commandIDs(later), 20*time.Second)
		for _, env := range later {
			if r := finals(live.of(env.CommandID))[0]; r.Status != contract.StatusAccepted {
				t.Errorf("later command: %+v %+v", r, r.Error)
			}
		}

		f.publishCommand(add, add.CommandID+"-late-redelivery")
		isDuplicateOf(t, live.wait(t, add.CommandID, 2)[1], first)
		eventsOnce(t, add, 1)
		hist := f.history(id)
		if last := hist[len(hist)-1]; last.Type() == person.EventSkillAdded {
			t.Fatalf("the redelivered add_skill added the removed skill again: %+v", last)
		}
	})

	// Beyond the events stream's duplicate window the aggregate's memory
	// still recognises the command.
	t.Run("redelivered after the dedup window", func(t *testing.T) {
		env := command(t, id, &person.AddSkill{Skill: person.Skill{Name: "Zig"}})
		first := f.doEnv(env)
		if first.Status != contract.StatusAccepted {
			t.Fatalf("add: %+v", first)
		}
		ctx := context.Background()
		s, err := f.js.Stream(ctx, names.EventsStream())
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.Duplicates = 500 * time.Millisecond
		if _, err := f.js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // the window has passed
		stop()
		// Restart without provisioning, which would widen the window again.
		stop = f.startWith(worker.CommandWorker, nil, func(c *worker.Config) { c.Provision = false })
		f.publishCommand(env, env.CommandID+"-after-window")
		isDuplicateOf(t, live.wait(t, env.CommandID, 2)[1], first)
		eventsOnce(t, env, 1)
	})
}

// newCommandHandler builds a second command handler on the fleet's server:
// another replica, with its own (empty) cache.
func newCommandHandler(t *testing.T, f *fleet) *worker.CommandHandler {
	t.Helper()
	events, err := store.NewEventStore(f.nc, f.js, names, 100)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testLogOut(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := worker.NewCommandHandler(names, events, store.NewPublisher(f.js, names), log, worker.CommandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// ---------------------------------------------------------------------------
// 3. Read models converge to a sequential replay, whatever the replicas.
// ---------------------------------------------------------------------------

func TestProjectorReplicasConverge(t *testing.T) {
	f := newFleet(t, nil)
	f.start(worker.CommandWorker)
	f.start(worker.CommandWorker)
	f.start(worker.PolicyWorker)
	stopProjector := f.start(worker.Projector)
	f.start(worker.Projector)

	const persons = 30
	ids := make([]person.ID, persons)
	for i := range ids {
		ids[i] = person.ID(fmt.Sprintf("converge-%02d", i))
	}
	var (
		mu       sync.Mutex
		rejected []string
		sent     int
	)
	script := func(i int) []person.Command {
		given := "Given"
		if i%5 == 0 {
			given = "G" // too short: the data-quality policy flags it
		}
		addr := &person.Address{City: "London", Country: "GB", Street: []string{fmt.Sprintf("%d Baker Street", i+1)}}
		cmds := []person.Command{
			&person.CreatePerson{Name: person.Name{GivenName: given, FamilyName: fmt.Sprintf("Family%02d", i)}},
			&person.AddEmail{Email: fmt.Sprintf("first-%02d@example.org", i)},
			&person.AddSkill{Skill: person.Skill{Name: "Go"}},
			&person.AddSkill{Skill: person.Skill{Name: "Rust"}},
			&person.RemoveSkill{Name: "Rust"},
			&person.SetAttribute{Key: "team", Value: "blue"},
			&person.SetAttribute{Key: "desk", Value: strconv.Itoa(i)},
			&person.RemoveAttribute{Key: "team"},
			&person.StartOnboarding{},
			&person.RequestIdentityVerification{},
			&person.VerifyIdentity{IdentityID: fmt.Sprintf("identity-%02d", i)},
		}
		if i%3 == 0 {
			cmds = append(cmds, &person.FailOnboarding{Reason: "documents missing"}, &person.RestartOnboarding{},
				&person.RequestIdentityVerification{}, &person.VerifyIdentity{IdentityID: fmt.Sprintf("identity-%02d", i)})
		}
		cmds = append(cmds,
			&person.SubmitBasicInfo{Email: fmt.Sprintf("second-%02d@mail.test", i), Phone: fmt.Sprintf("+44 20 7946 %04d", i)},
			&person.SetUpComponents{Skills: []person.Skill{{Name: "Kotlin"}, {Name: "SQL"}}},
			&person.AssignLocation{AddressID: "home", Address: addr},
		)
		if i%4 != 1 {
			cmds = append(cmds, &person.CompleteOnboarding{})
		}
		cmds = append(cmds, &person.RemoveEmail{Email: fmt.Sprintf("first-%02d@example.org", i)})
		switch i % 4 {
		case 0:
			cmds = append(cmds, &person.DeactivatePerson{Reason: "left"})
		case 2:
			cmds = append(cmds, &person.SuspendPerson{Reason: "audit"}, &person.ReactivatePerson{})
		case 3:
			cmds = append(cmds, &person.ArchivePerson{Reason: "duplicate record"})
		}
		return cmds
	}

	// One goroutine per person sends its script in order (each step waits
	// for the previous one's result); persons run side by side, and their
	// events are spread over both projector replicas.
	var wg sync.WaitGroup
	start := time.Now()
	for i, id := range ids {
		wg.Go(func() {
			for _, cmd := range script(i) {
				env, err := client.NewCommand(id, cmd)
				if err != nil {
					t.Error(err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				r, err := f.cl.Do(ctx, env, nil, nil)
				cancel()
				mu.Lock()
				sent++
				if err == nil && r.Status != contract.StatusAccepted {
					rejected = append(rejected, fmt.Sprintf("%s %s: %s %+v", id, env.Type, r.Status, r.Error))
				}
				mu.Unlock()
				if err != nil {
					t.Errorf("%s %s: %v", id, env.Type, err)
					return
				}
			}
		})
	}
	// Half-way, one projector replica is replaced.
	time.Sleep(time.Second)
	stopProjector()
	f.startWith(worker.Projector, nil, nil)
	wg.Wait()
	if len(rejected) > 0 {
		t.Fatalf("the script's commands must all be accepted; rejected: %s", strings.Join(rejected, "\n"))
	}
	t.Logf("%d commands over %d persons in %s", sent, persons, time.Since(start).Round(time.Millisecond))

	ctx := context.Background()
	sums, onbs := f.readModels()
	// The policies' reactive commands come after the script: wait until
	// every consumer has nothing left, then compare.
	var mismatch string
	eventually(t, "read models equal a sequential replay", 30*time.Second, func() (bool, string) {
		f.waitIdle(names.CommandsStream(), store.ConsumerCommandWorker, 20*time.Second)
		f.waitIdle(names.EventsStream(), store.ConsumerPolicyWorker, 20*time.Second)
		f.waitIdle(names.EventsStream(), store.ConsumerProjector, 20*time.Second)
		histories := f.histories()
		for _, id := range ids {
			hist := histories[id]
			checkHistory(t, id, hist)
			var wantS projection.Summary
			var wantO projection.Onboarding
			if err := projection.Replay(&wantS, hist); err != nil {
				t.Fatal(err)
			}
			if err := projection.Replay(&wantO, hist); err != nil {
				t.Fatal(err)
			}
			gotS, okS, err := sums.Get(ctx, string(id))
			if err != nil {
				t.Fatal(err)
			}
			gotO, okO, err := onbs.Get(ctx, string(id))
			if err != nil {
				t.Fatal(err)
			}
			if a, b := mustJSON(t, gotS), mustJSON(t, wantS); !okS || !bytes.Equal(a, b) {
				mismatch = fmt.Sprintf("summary of %s:\n kv     %s\n replay %s", id, a, b)
				return false, mismatch
			}
			if a, b := mustJSON(t, gotO), mustJSON(t, wantO); !okO || !bytes.Equal(a, b) {
				mismatch = fmt.Sprintf("onboarding of %s:\n kv     %s\n replay %s", id, a, b)
				return false, mismatch
			}
		}
		return true, ""
	})
	// The query service serves the same records.
	for _, id := range ids[:3] {
		s, err := f.summary(id)
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := sums.Get(ctx, string(id))
		if !bytes.Equal(mustJSON(t, s), mustJSON(t, want)) {
			t.Errorf("query get %s differs from the bucket", id)
		}
	}
	// The test has teeth only if the scripts reached every kind of state.
	states := map[string]int{}
	lifecycles := map[string]int{}
	for _, id := range ids {
		o, _, _ := onbs.Get(ctx, string(id))
		s, _, _ := sums.Get(ctx, string(id))
		states[o.State]++
		lifecycles[s.Lifecycle]++
		if s.QualityFlags == 0 || s.PrimaryEmail == "" || s.SkillsCount != 3 {
			t.Errorf("%s: summary missed policy or component effects: %+v", id, s)
		}
	}
	t.Logf("onboarding states %v, lifecycles %v", states, lifecycles)
	if states["completed"] == 0 || states["finalizing"] == 0 || lifecycles["archived"] == 0 || lifecycles["deactivated"] == 0 {
		t.Errorf("the scripts did not reach the expected states: %v %v", states, lifecycles)
	}
	if dls := f.deadLetters(); len(dls) > 0 {
		t.Errorf("%d dead letters, want none: first %+v", len(dls), dls[0])
	}
}

// A projector fills a gap from the event store; a history read served by a
// replica that lags (a node just restarted in a cluster, found by make
// chaos) may miss the very event being projected. The projector must then
// fail and retry, never store the record without that event and ack it.
func TestProjectorNeverSkipsTheEventItProjects(t *testing.T) {
	f := newFleet(t, nil)
	f.start(worker.CommandWorker)
	id := person.ID("lagging")
	f.do(id, &person.CreatePerson{Name: person.Name{GivenName: "Lag", FamilyName: "Ging"}})
	f.do(id, &person.SetAttribute{Key: "a", Value: "1"})
	hist := f.history(id)
	if len(hist) != 2 {
		t.Fatalf("history %+v", hist)
	}
	ctx := t.Context()
	events, err := store.NewEventStore(f.nc, f.js, names, 0)
	if err != nil {
		t.Fatal(err)
	}
	sums, onbs := f.readModels()
	h, err := worker.NewProjectorHandler(events, sums, onbs, slog.New(slog.NewTextHandler(testLogOut(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	handle := func(e *person.Event) error {
		data, err := schema.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		msg := message.NewMessage(e.ID, data)
		msg.Metadata.Set(worker.MetaSubject, names.Event(e.PersonID, e.Type()))
		return h.Handle(msg)
	}
	if err := handle(&hist[0]); err != nil {
		t.Fatal(err)
	}
	// Version 3, which the store does not hold (yet): the gap is 2..3 and
	// the history answers only 2. The record takes 2 from the history and
	// 3 from the message.
	meta := person.Meta{CommandID: "not-in-the-store-yet", At: hist[1].OccurredAt}
	ahead := person.NewEvents(id, 2, meta, []person.Payload{&person.AttributeSet{Key: "b", Value: "2"}})[0]
	if err := handle(&ahead); err != nil {
		t.Fatal(err)
	}
	// Version 5 when the history answers nothing past 2: the gap cannot be
	// filled, so the handler fails (and the message is retried).
	far := person.NewEvents(id, 4, meta, []person.Payload{&person.AttributeSet{Key: "c", Value: "3"}})[0]
	if err := handle(&far); err == nil {
		t.Fatal("the projector stored an event after a gap it could not fill")
	}
	s, _, err := sums.Get(ctx, string(id))
	if err != nil || s.Version != 3 {
		t.Errorf("summary %+v (%v), want version 3", s, err)
	}
	if o, _, err := onbs.Get(ctx, string(id)); err != nil || o.Version != 3 {
		t.Errorf("onboarding status %+v (%v), want version 3", o, err)
	}
}

// ---------------------------------------------------------------------------
// 4. A failing message is retried with backoff, then parked; the consumer
//    keeps flowing. A permanent error is parked at once.
// ---------------------------------------------------------------------------

func TestPoisonMessageParkedAndConsumerFlows(t *testing.T) {
	f := newFleet(t, nil)
	retry := worker.RetryConfig{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2, MaxRetries: 3}
	cfg := testConfig(worker.Projector, f.url)
	cfg.Retry = retry
	cfg.Concurrency = 4

	const total, poison, permanent = 40, 7, 19
	var (
		mu    sync.Mutex
		calls = map[int][]time.Time{}
		done  = map[int]time.Time{}
	)
	handler := func(msg *message.Message) error {
		i, err := strconv.Atoi(msg.Metadata.Get("Test-Index"))
		if err != nil {
			return worker.Permanent(err)
		}
		now := time.Now()
		mu.Lock()
		calls[i] = append(calls[i], now)
		mu.Unlock()
		switch i {
		case poison:
			return errors.New("downstream unavailable")
		case permanent:
			return worker.Permanent(errors.New("cannot ever be handled"))
		}
		mu.Lock()
		done[i] = now
		mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testLogOut(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() { runDone <- worker.RunHandler(ctx, cfg, log, handler) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("router: %v", err)
		}
	})
	f.waitConsumer(worker.Projector)

	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	seqs := map[int]uint64{}
	for i := range total {
		subject := fmt.Sprintf("person.events.poison-%02d.test_event", i)
		seqs[i] = f.publish(subject, fmt.Appendf(nil, `{"n":%d}`, i), map[string]string{
			"Test-Index": strconv.Itoa(i), "Nats-Msg-Id": fmt.Sprintf("poison-test-%d", i), "traceparent": traceparent,
		})
	}
	var dls []deadLetter
	eventually(t, "every message handled and two parked", 15*time.Second, func() (bool, string) {
		mu.Lock()
		n := len(done)
		mu.Unlock()
		dls = f.deadLetters()
		return n == total-2 && len(dls) == 2, fmt.Sprintf("%d handled, %d parked", n, len(dls))
	})
	info := f.waitIdle(names.EventsStream(), store.ConsumerProjector, 10*time.Second)
	if info.NumRedelivered != 0 {
		t.Errorf("%d messages redelivered by the server: parking must ack", info.NumRedelivered)
	}

	mu.Lock()
	defer mu.Unlock()
	for i := range total {
		want := 1
		if i == poison {
			want = retry.MaxRetries + 1
		}
		if len(calls[i]) != want {
			t.Errorf("message %d: handled %d times, want %d", i, len(calls[i]), want)
		}
	}
	// Exponential backoff: each wait about twice the previous one (jitter
	// ±25 %), the first about Initial.
	pc := calls[poison]
	for k := 1; k < len(pc); k++ {
		gap := pc[k].Sub(pc[k-1])
		nominal := time.Duration(float64(retry.Initial) * float64(int(1)<<(k-1)))
		if gap < nominal*3/4-5*time.Millisecond || gap > nominal*5/4+250*time.Millisecond {
			t.Errorf("retry %d came %s after the previous attempt, want about %s", k, gap, nominal)
		}
		if k > 1 && gap <= pc[k-1].Sub(pc[k-2]) {
			t.Errorf("retry %d: wait %s not longer than the previous %s", k, gap, pc[k-1].Sub(pc[k-2]))
		}
	}
	// The retries fit the budget the configuration promises (which
	// Validate keeps below the consumer's ack wait).
	if took := pc[len(pc)-1].Sub(pc[0]); took > retry.Budget()+250*time.Millisecond {
		t.Errorf("retries took %s, budget %s", took, retry.Budget())
	}
	// The consumer kept flowing: messages published after the poison were
	// handled while it was still being retried.
	flowed := 0
	for i := poison + 1; i < total; i++ {
		if at, ok := done[i]; ok && at.Before(pc[len(pc)-1]) {
			flowed++
		}
	}
	if flowed == 0 {
		t.Error("no message after the poison was handled while it was retried")
	}

	byIndex := map[int]deadLetter{}
	for _, dl := range dls {
		i, _ := strconv.Atoi(first(dl.Headers["Test-Index"]))
		byIndex[i] = dl
	}
	check := func(i, attempts int, reason string) {
		dl, ok := byIndex[i]
		if !ok {
			t.Errorf("message %d not in the DLQ", i)
			return
		}
		subject := fmt.Sprintf("person.events.poison-%02d.test_event", i)
		switch {
		case dl.subject != names.DLQ(store.ConsumerProjector) || dl.Worker != store.ConsumerProjector:
			t.Errorf("message %d parked on %s by %q", i, dl.subject, dl.Worker)
		case dl.Subject != subject || dl.Stream != names.EventsStream() || dl.StreamSequence != seqs[i]:
			t.Errorf("message %d: original %s %s #%d, want %s %s #%d", i, dl.Subject, dl.Stream, dl.StreamSequence, subject, names.EventsStream(), seqs[i])
		case string(dl.Payload) != fmt.Sprintf(`{"n":%d}`, i):
			t.Errorf("message %d: payload %q", i, dl.Payload)
		case first(dl.Headers["Nats-Msg-Id"]) != fmt.Sprintf("poison-test-%d", i) || first(dl.Headers["traceparent"]) != traceparent:
			t.Errorf("message %d: original headers not kept: %v", i, dl.Headers)
		case dl.header.Get("traceparent") != traceparent:
			t.Errorf("message %d: the dead letter does not carry the trace: %v", i, dl.header)
		case !strings.Contains(dl.Error, reason):
			t.Errorf("message %d: reason %q, want it to mention %q", i, dl.Error, reason)
		case dl.Attempts != attempts || dl.Deliveries != 1:
			t.Errorf("message %d: %d attempts in %d deliveries, want %d in 1", i, dl.Attempts, dl.Deliveries, attempts)
		case dl.FirstFailure.Sub(calls[i][0]).Abs() > 50*time.Millisecond:
			t.Errorf("message %d: first failure %s, first attempt %s", i, dl.FirstFailure, calls[i][0])
		case dl.LastFailure.Sub(calls[i][len(calls[i])-1]).Abs() > 50*time.Millisecond:
			t.Errorf("message %d: last failure %s, last attempt %s", i, dl.LastFailure, calls[i][len(calls[i])-1])
		}
		if attempts > 1 && !dl.LastFailure.After(dl.FirstFailure) {
			t.Errorf("message %d: last failure %s not after first %s", i, dl.LastFailure, dl.FirstFailure)
		}
	}
	check(poison, retry.MaxRetries+1, "downstream unavailable")
	check(permanent, 1, "cannot ever be handled")
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// ---------------------------------------------------------------------------
// 5. Bad input: each case has its outcome, none stops a consumer.
// ---------------------------------------------------------------------------

// TestBadInputNeverStopsTheFleet sends the running fleet a table of broken
// and hostile messages. Each has one expected outcome: a rejected result
// with a code (sent to the command id of the body, or of the Nats-Msg-Id
// header when the body is too broken to read), a dead letter with a reason
// (nobody to answer), or ignored by design. No worker crashes, no consumer
// stalls: good commands flow afterwards. docs/reliability.md lists the
// table.
func TestBadInputNeverStopsTheFleet(t *testing.T) {
	f := newFleet(t, nil)
	f.start(worker.CommandWorker)
	f.start(worker.PolicyWorker)
	f.start(worker.Projector)
	live := f.watchResults()
	id := person.ID("target")
	if r := f.do(id, &person.CreatePerson{Name: person.Name{GivenName: "Tar", FamilyName: "Get"}}); r.Status != contract.StatusAccepted {
		t.Fatalf("create: %+v", r)
	}

	envelope := func(cid, typ string, pid person.ID, data string) []byte {
		return fmt.Appendf(nil, `{"command_id":%q,"type":%q,"person_id":%q,"data":%s}`, cid, typ, pid, data)
	}
	addEmail := names.Command(id, person.CmdAddEmail)
	setAttr := names.Command(id, person.CmdSetAttribute)
	nested := func(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }
	// Rejected: a result with a code, at once (never retried).
	rejected := []struct {
		name, subject string
		body          func(cid string) []byte
		code          string
	}{
		{"malformed JSON, id in the header", addEmail, func(string) []byte { return []byte(`{"command_id": "x", "type": `) }, "malformed_json"},
		{"trailing data after the object", addEmail, func(cid string) []byte {
			return append(envelope(cid, "add_email", id, `{"email":"a@mail.test"}`), `{"again":1}`...)
		}, "malformed_json"},
		{"unknown field in the envelope", addEmail, func(cid string) []byte {
			return fmt.Appendf(nil, `{"command_id":%q,"type":"add_email","person_id":"target","data":{"email":"a@mail.test"},"colour":"blue"}`, cid)
		}, "malformed_json"},
		{"invalid UTF-8", names.Command(id, person.CmdUpdateName), func(cid string) []byte {
			return envelope(cid, "update_name", id, "{\"name\":{\"given_name\":\"Ta\xff\xfer\",\"family_name\":\"Get\"}}")
		}, "malformed_json"},
		{"nesting 20,000 deep", setAttr, func(cid string) []byte {
			return envelope(cid, "set_attribute", id, `{"key":"deep","value":`+nested(20_000)+`}`)
		}, "malformed_json"},
		{"nesting 200 deep where a string belongs", setAttr, func(cid string) []byte {
			return envelope(cid, "set_attribute", id, `{"key":"deep","value":`+nested(200)+`}`)
		}, "invalid_command"},
		{"wrong type: a number for the email", addEmail, func(cid string) []byte { return envelope(cid, "add_email", id, `{"email":42}`) }, "invalid_command"},
		{"wrong type: an array for the data", addEmail, func(cid string) []byte { return envelope(cid, "add_email", id, `["a@mail.test"]`) }, "invalid_command"},
		{"unknown field in data", addEmail, func(cid string) []byte {
			return envelope(cid, "add_email", id, `{"email":"ok@mail.test","colour":"blue"}`)
		}, "invalid_command"},
		{"unknown command type", names.Prefix() + ".commands.target.fly_to_the_moon", func(cid string) []byte {
			return envelope(cid, "fly_to_the_moon", id, `{}`)
		}, "unknown_command"},
		{"subject and body disagree", addEmail, func(cid string) []byte {
			return envelope(cid, "add_email", "someone-else", `{"email":"x@mail.test"}`)
		}, "subject_mismatch"},
		{"missing person id", addEmail, func(cid string) []byte { return envelope(cid, "add_email", "", `{"email":"x@mail.test"}`) }, "invalid_person_id"},
		{"invalid email", addEmail, func(cid string) []byte { return envelope(cid, "add_email", id, `{"email":"not-an-email"}`) }, "invalid_email"},
		{"a string just under the size limit", setAttr, func(cid string) []byte {
			return envelope(cid, "set_attribute", id, fmt.Sprintf(`{"key":"big","value":%q}`, strings.Repeat("x", contract.MaxCommandSize-200)))
		}, "invalid_attribute"},
		{"too large, id in the header", setAttr, func(cid string) []byte {
			return envelope(cid, "set_attribute", id, fmt.Sprintf(`{"key":"big","value":%q}`, strings.Repeat("x", contract.MaxCommandSize)))
		}, "too_large"},
	}
	cids := make([]string, len(rejected))
	for i, c := range rejected {
		cids[i] = uuid.NewString()
		f.publish(c.subject, c.body(cids[i]), map[string]string{"Nats-Msg-Id": cids[i]})
	}

	// Forged headers are ignored: the body says who caused a command, the
	// stream says what an event is, and a malformed traceparent starts a
	// new trace.
	forged := command(t, id, &person.AddEmail{Email: "forged@mail.test"})
	f.publish(addEmail, mustJSON(t, forged), map[string]string{
		"Nats-Msg-Id": forged.CommandID, "Causation-Id": "forged-cause", "Correlation-Id": "forged-corr",
		"Person-Event-Type": "person_archived", "Person-Id": "someone-else", "traceparent": "00-not-a-trace-01",
	})
	// The same command id again with another body: within the dedup
	// window the stream drops it; past it (a new Nats-Msg-Id) the person
	// remembers the id and answers duplicate, appending nothing.
	other := forged
	other.Type, other.Data = string(person.CmdSetAttribute), json.RawMessage(`{"key":"sneaky","value":"yes"}`)
	m := nats.NewMsg(setAttr)
	m.Data, m.Header = mustJSON(t, other), nats.Header{"Nats-Msg-Id": {forged.CommandID}}
	if ack, err := f.js.PublishMsg(t.Context(), m); err != nil || !ack.Duplicate {
		t.Fatalf("same Nats-Msg-Id, another body: ack %+v, %v; want a duplicate", ack, err)
	}
	live.wait(t, forged.CommandID, 1)
	f.publish(setAttr, mustJSON(t, other), map[string]string{"Nats-Msg-Id": "another-" + forged.CommandID})

	// No command id anywhere: nobody to answer, so the command-worker parks it.
	noID := []byte(`{"type":"add_email","person_id":"target","data":{"email":"a@mail.test"}}`)
	noIDSeq := f.publish(addEmail, noID, nil)
	garbage := []byte("\x00 not json at all")
	garbageSeq := f.publish(addEmail, garbage, nil)
	// Events no reader can decode, straight into the store: parked by the
	// policy-worker and the projector, each with the decoder's reason.
	badEvents := []struct {
		name, reason string
		body         []byte
	}{
		{"unknown schema version", "unknown schema version", []byte(`{"event_id":"bogus-1","person_id":"ghost","version":1,"type":"person_created",` +
			`"schema_version":99,"occurred_at":"2026-01-02T03:04:05Z","data":{"name":{"given_name":"Gh","family_name":"Ost"}}}`)},
		{"unknown event type", "unknown event type", []byte(`{"event_id":"bogus-2","person_id":"ghost","version":1,"type":"person_teleported",` +
			`"schema_version":1,"occurred_at":"2026-01-02T03:04:05Z","data":{}}`)},
		{"malformed JSON", "", []byte(`{"event_id":"bogus-3","person_id":`)},
	}
	badEventSeqs := map[uint64]int{} // stream sequence → index in badEvents
	for i, e := range badEvents {
		badEventSeqs[f.publish(names.Event("ghost", person.EventPersonCreated), e.body, nil)] = i
	}

	for i, c := range rejected {
		t.Run(c.name, func(t *testing.T) {
			rs := live.wait(t, cids[i], 1)
			if r := rs[0]; len(rs) != 1 || r.Status != contract.StatusRejected || r.Error == nil || r.Error.Code != c.code {
				t.Fatalf("results %+v, want one rejected %s", rs, c.code)
			}
		})
	}
	t.Run("forged headers ignored", func(t *testing.T) {
		if r := live.wait(t, forged.CommandID, 1)[0]; r.Status != contract.StatusAccepted {
			t.Fatalf("result %+v", r)
		}
		evs := eventsCausedBy(f.history(id), forged.CommandID)
		if len(evs) != 1 || evs[0].Type() != person.EventEmailAdded || evs[0].PersonID != id ||
			evs[0].CorrelationID == "forged-corr" || strings.Contains(evs[0].Trace["traceparent"], "not-a-trace") {
			t.Fatalf("events %+v", evs)
		}
	})
	t.Run("same command id, another body", func(t *testing.T) {
		rs := live.wait(t, forged.CommandID, 2)
		if len(rs) != 2 || rs[1].Status != contract.StatusAccepted || !rs[1].Duplicate || len(rs[1].Events) != 0 {
			t.Fatalf("results %+v, want accepted then a duplicate answer", rs)
		}
		for _, e := range f.history(id) {
			if e.Type() == person.EventAttributeSet {
				t.Fatalf("the second body was applied: %+v", e)
			}
		}
	})

	// The fleet still works.
	if r := f.do(id, &person.AddEmail{Email: "target@mail.test"}); r.Status != contract.StatusAccepted {
		t.Fatalf("a good command after the bad ones: %+v", r)
	}
	f.waitIdle(names.CommandsStream(), store.ConsumerCommandWorker, 10*time.Second)
	f.waitIdle(names.EventsStream(), store.ConsumerPolicyWorker, 10*time.Second)
	f.waitIdle(names.EventsStream(), store.ConsumerProjector, 10*time.Second)
	eventually(t, "summary with the new email", 10*time.Second, func() (bool, string) {
		s, err := f.summary(id)
		return err == nil && slices.Contains(s.Emails, "target@mail.test"), fmt.Sprintf("%+v %v", s, err)
	})

	// Exactly the expected dead letters, each parked at once.
	type key struct {
		worker string
		seq    uint64
	}
	type want struct {
		subject string
		payload []byte
		code    string
		reason  string
	}
	wants := map[key]want{
		{store.ConsumerCommandWorker, noIDSeq}:    {addEmail, noID, "missing_command_id", "command_id"},
		{store.ConsumerCommandWorker, garbageSeq}: {addEmail, garbage, "malformed_json", ""},
	}
	for seq, i := range badEventSeqs {
		for _, w := range []string{store.ConsumerPolicyWorker, store.ConsumerProjector} {
			wants[key{w, seq}] = want{names.Event("ghost", person.EventPersonCreated), badEvents[i].body, "", badEvents[i].reason}
		}
	}
	dls := f.deadLetters()
	if len(dls) != len(wants) {
		t.Errorf("%d dead letters, want %d", len(dls), len(wants))
	}
	for _, dl := range dls {
		w, ok := wants[key{dl.Worker, dl.StreamSequence}]
		if !ok {
			t.Errorf("unexpected dead letter %+v", dl.DeadLetter)
			continue
		}
		if dl.subject != names.DLQ(dl.Worker) || dl.Subject != w.subject || !bytes.Equal(dl.Payload, w.payload) ||
			dl.Code != w.code || dl.Attempts != 1 || dl.Deliveries != 1 || dl.Error == "" || !strings.Contains(dl.Error, w.reason) {
			t.Errorf("dead letter of %s #%d: %+v on %s, want subject %s code %q reason %q, 1 attempt",
				dl.Worker, dl.StreamSequence, dl.DeadLetter, dl.subject, w.subject, w.code, w.reason)
		}
	}
}

// ---------------------------------------------------------------------------
// 6. Graceful shutdown under load: nothing lost, nothing doubled.
// ---------------------------------------------------------------------------

func TestGracefulShutdownUnderLoad(t *testing.T) {
	// Two handlers per replica: the load lasts long enough to be cut.
	f := newFleet(t, func(c *worker.Config) { c.AckWait = 5 * time.Second; c.Concurrency = 2 })
	stopA := f.start(worker.CommandWorker)
	f.start(worker.CommandWorker)

	const persons, commands = 40, 1000
	ids := make([]person.ID, persons)
	for i := range ids {
		ids[i] = person.ID(fmt.Sprintf("load-%02d", i))
		if r := f.do(ids[i], &person.CreatePerson{Name: person.Name{GivenName: "Load", FamilyName: fmt.Sprintf("Number%02d", i)}}); r.Status != contract.StatusAccepted {
			t.Fatalf("create: %+v", r)
		}
	}
	live := f.watchResults()
	envs := make([]contract.CommandEnvelope, commands)
	for i := range envs {
		envs[i] = command(t, ids[i%persons], &person.SetAttribute{Key: fmt.Sprintf("key_%04d", i), Value: "v"})
	}
	start := time.Now()
	f.sendAll(envs)
	// Stop replica A while the load is being processed, start replica C.
	eventually(t, "load under way", 20*time.Second, func() (bool, string) {
		n := 0
		for _, e := range envs {
			if len(live.of(e.CommandID)) > 0 {
				n++
			}
		}
		return n >= commands/20, fmt.Sprintf("%d done", n)
	})
	done := 0
	for _, e := range envs {
		if len(live.of(e.CommandID)) > 0 {
			done++
		}
	}
	if done == commands {
		t.Fatal("the load finished before the replica stopped: the test proves nothing")
	}
	stopStart := time.Now()
	stopA() // drains: what A has received is finished and acked
	t.Logf("replica stopped in %s; %d of %d commands were done when it began to", time.Since(stopStart).Round(time.Millisecond), done, commands)
	f.startWith(worker.CommandWorker, nil, nil)
	live.waitAll(t, commandIDs(envs), 25*time.Second)
	t.Logf("%d commands in %s", commands, time.Since(start).Round(time.Millisecond))

	stored := f.storedResults()
	accepted := map[person.ID]map[string]contract.Result{}
	redundant := 0
	for _, env := range envs {
		fs := finals(stored[env.CommandID])
		if len(fs) != 1 || fs[0].Status != contract.StatusAccepted || fs[0].Duplicate {
			t.Errorf("command %s: stored finals %+v, want exactly one accepted", env.CommandID, fs)
			continue
		}
		if accepted[env.PersonID] == nil {
			accepted[env.PersonID] = map[string]contract.Result{}
		}
		accepted[env.PersonID][env.CommandID] = fs[0]
		// A live subscriber may see a repeat's answer: it must agree.
		for _, r := range finals(live.of(env.CommandID))[1:] {
			redundant++
			if r.Status != contract.StatusAccepted || !r.Duplicate || r.Version < fs[0].Version {
				t.Errorf("command %s: a second final result %+v disagrees with %+v", env.CommandID, r, fs[0])
			}
		}
	}
	t.Logf("%d commands were handled twice (answered as duplicates)", redundant)
	for _, id := range ids {
		hist := f.history(id)
		checkHistory(t, id, hist)
		if want := 1 + len(accepted[id]); len(hist) != want {
			t.Errorf("%s: %d events, want %d", id, len(hist), want)
		}
		for _, e := range hist[1:] {
			if _, ok := accepted[id][e.CausationID]; !ok {
				t.Errorf("%s: event %s caused by %s, not an accepted command", id, e.ID, e.CausationID)
			}
		}
	}
	if dls := f.deadLetters(); len(dls) > 0 {
		t.Errorf("%d dead letters, want none: first %+v", len(dls), dls[0].DeadLetter)
	}
	f.waitIdle(names.CommandsStream(), store.ConsumerCommandWorker, 10*time.Second)
}

// ---------------------------------------------------------------------------
// 7. The auto-archive timer is durable: it survives a restart of the
//    policy-worker, fires once, and only if the person stayed inactive.
// ---------------------------------------------------------------------------

func TestAutoArchiveTimerSurvivesRestart(t *testing.T) {
	const period = 2 * time.Second
	f := newFleet(t, func(c *worker.Config) { c.InactivityPeriod = period })
	f.start(worker.CommandWorker)
	stopPolicies := f.start(worker.PolicyWorker)

	idle, back := person.ID("goes-idle"), person.ID("comes-back")
	for _, id := range []person.ID{idle, back} {
		if r := f.do(id, &person.CreatePerson{Name: person.Name{GivenName: "Timer", FamilyName: string(id)}}); r.Status != contract.StatusAccepted {
			t.Fatalf("create %s: %+v", id, r)
		}
		if r := f.do(id, &person.DeactivatePerson{Reason: "on leave"}); r.Status != contract.StatusAccepted {
			t.Fatalf("deactivate %s: %+v", id, r)
		}
	}
	// Both timers are armed (held by the server), then the policy-worker goes away.
	armed := func(id person.ID) int {
		return len(f.streamMsgs(names.TimersStream(), names.TimerArmed(id, policy.AutoArchive)))
	}
	eventually(t, "timers armed", 10*time.Second, func() (bool, string) {
		return armed(idle) == 1 && armed(back) == 1, fmt.Sprintf("%d %d", armed(idle), armed(back))
	})
	stopPolicies()
	if r := f.do(back, &person.ReactivatePerson{Reason: "back from leave"}); r.Status != contract.StatusAccepted {
		t.Fatalf("reactivate: %+v", r)
	}
	deactivated := func(id person.ID) person.Event {
		for _, e := range f.history(id) {
			if e.Type() == person.EventPersonDeactivated {
				return e
			}
		}
		t.Fatalf("%s has no deactivation", id)
		return person.Event{}
	}
	deact := deactivated(idle)

	// The timers fire while no policy-worker runs: the server holds them.
	fired := func(id person.ID) []jetstream.Msg {
		return f.streamMsgs(names.TimersStream(), names.TimerFired(id, policy.AutoArchive))
	}
	eventually(t, "timers fired", 10*time.Second, func() (bool, string) {
		return len(fired(idle)) == 1 && len(fired(back)) == 1, ""
	})
	meta, err := fired(idle)[0].Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if earliest := deact.OccurredAt.Add(period); meta.Timestamp.Before(earliest) {
		t.Errorf("timer fired at %s, before the inactivity period ended at %s", meta.Timestamp, earliest)
	}
	for _, id := range []person.ID{idle, back} {
		for _, e := range f.history(id) {
			if e.Type() == person.EventPersonArchived {
				t.Fatalf("%s archived while no policy-worker ran", id)
			}
		}
	}

	// A new policy-worker dispatches them.
	f.start(worker.PolicyWorker)
	wantID := policy.CommandID(deact.ID, policy.AutoArchive, 0)
	eventually(t, "idle person archived", 10*time.Second, func() (bool, string) {
		hist := f.history(idle)
		last := hist[len(hist)-1]
		return last.Type() == person.EventPersonArchived, string(last.Type())
	})
	backTimer := policy.CommandID(deactivated(back).ID, policy.AutoArchive, 0)
	var r contract.Result
	eventually(t, "auto-archive of the returning person answered", 10*time.Second, func() (bool, string) {
		fs := finals(f.storedResults()[backTimer])
		if len(fs) == 0 {
			return false, "no result"
		}
		r = fs[0]
		return true, ""
	})
	if r.Status != contract.StatusRejected || r.Error == nil || r.Error.Code != "not_inactive" || r.Type != string(person.CmdAutoArchivePerson) {
		t.Errorf("auto-archive of the returning person: %+v, want rejected not_inactive", r)
	}

	// Fires once: give a repeat time to show up, then count.
	time.Sleep(500 * time.Millisecond)
	f.waitIdle(names.TimersStream(), store.ConsumerTimers, 10*time.Second)
	f.waitIdle(names.CommandsStream(), store.ConsumerCommandWorker, 10*time.Second)
	var archived []person.Event
	for _, e := range f.history(idle) {
		if e.Type() == person.EventPersonArchived {
			archived = append(archived, e)
		}
	}
	if len(archived) != 1 {
		t.Fatalf("%d archive events, want 1", len(archived))
	}
	a := archived[0]
	if p, ok := a.Payload.(*person.PersonArchived); !ok || !p.Automatic {
		t.Errorf("archive event %+v is not automatic", a.Payload)
	}
	if a.CausationID != wantID {
		t.Errorf("archive caused by %s, want the timer's command %s", a.CausationID, wantID)
	}
	if fs := finals(f.storedResults()[wantID]); len(fs) != 1 || fs[0].Status != contract.StatusAccepted {
		t.Errorf("auto-archive results %+v, want one accepted", fs)
	}
	for _, e := range f.history(back) {
		if e.Type() == person.EventPersonArchived {
			t.Errorf("the returning person was archived: %+v", e)
		}
	}
}
