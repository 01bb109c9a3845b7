package store

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
	"github.com/nats-io/nuid"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/schema"
)

// Errors of the event store.
var (
	// ErrConflict: another writer appended to the person since it was
	// loaded. Reload and decide again.
	ErrConflict = errors.New("event store: concurrent append (wrong last subject sequence)")
	// ErrDuplicate: the events were appended before (same Nats-Msg-Id in
	// the stream's duplicate window). Reload: the person has processed the
	// command.
	ErrDuplicate = errors.New("event store: events already appended")
)

// JetStream error codes the event store interprets.
const (
	codeWrongLastSequence   = 10071
	codeBatchDuplicateMsgID = 10201
)

// EventStore keeps each person's events on the subjects
// <prefix>.events.<person_id>.<event_type> of the events stream. Appends
// carry Nats-Expected-Last-Subject-Sequence over <prefix>.events.<id>.>, so
// the server refuses an append by a writer that has not seen the person's
// latest event; a decision of several events is appended as one atomic
// batch. Every event's Nats-Msg-Id is its id, derived from the command id,
// so a repeated command appends nothing inside the duplicate window.
//
// EventStore is safe for concurrent use.
type EventStore struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	names  contract.Names
	stream string
	cache  *aggregateCache
}

// NewEventStore returns an event store; cacheSize (0: none) bounds the
// per-process cache of aggregates, each kept with the last sequence it saw.
func NewEventStore(nc *nats.Conn, js jetstream.JetStream, names contract.Names, cacheSize int) (*EventStore, error) {
	if nc == nil || js == nil {
		return nil, errors.New("event store: nil connection")
	}
	return &EventStore{nc: nc, js: js, names: names, stream: names.EventsStream(), cache: newAggregateCache(cacheSize)}, nil
}

// Loaded is a person with the stream sequence of its last event (0: none).
type Loaded struct {
	Person  *person.Person
	LastSeq uint64
	// Current: the stream's leader confirmed, when the person was read,
	// that it had no later event (Refresh). A person from the cache or read
	// with direct gets (which a lagging replica may answer) may be stale:
	// an append catches that (wrong last sequence), a rejection must wait
	// for a current person.
	Current bool
}

// Load returns the person, from the cache when present, or else by
// reading its events. The caller owns the returned person until it gives it
// back with Keep.
func (s *EventStore) Load(ctx context.Context, id person.ID) (Loaded, error) {
	if l, ok := s.cache.take(id); ok {
		return l, nil
	}
	return s.LoadFresh(ctx, id)
}

// LoadFresh reads the person's whole history from the stream.
func (s *EventStore) LoadFresh(ctx context.Context, id person.ID) (Loaded, error) {
	p := person.New(id)
	var last uint64
	err := s.events(ctx, id, func(e *person.Event, seq uint64) error {
		if err := p.Apply(e); err != nil {
			return fmt.Errorf("event store: %s seq %d: %w", id, seq, err)
		}
		last = seq
		return nil
	})
	if err != nil {
		return Loaded{}, err
	}
	return Loaded{Person: p, LastSeq: last}, nil
}

// Refresh brings a person loaded earlier up to date: it asks the stream's
// leader for the person's last sequence, then reads only the events
// between, one by one, so a lost race costs a few small requests, not a
// read of the whole history (which the server finds by scanning the
// stream for the person's wildcard subject). The caller owns l.Person,
// which Refresh changes. On any inconsistency it reads the whole history
// instead.
func (s *EventStore) Refresh(ctx context.Context, l Loaded) (Loaded, error) {
	id := l.Person.ID()
	last, err := s.LastSeq(ctx, id)
	if err != nil {
		return Loaded{}, err
	}
	seq := l.LastSeq
	for seq < last {
		e, got, err := s.nextEvent(ctx, id, seq+1)
		if err != nil {
			return Loaded{}, err
		}
		if got == 0 {
			break // a replica that lags: not current
		}
		if err := l.Person.Apply(&e); err != nil {
			return s.LoadFresh(ctx, id)
		}
		seq = got
	}
	return Loaded{Person: l.Person, LastSeq: seq, Current: seq == last}, nil
}

// LastSeq asks the stream's leader for the sequence of the person's last
// event (0: none). Loads read with direct gets, which any replica of an R3
// stream may answer, a lagging one (a node just restarted) with an old
// history; the leader's answer is current. A rejection decided on a load
// is confirmed with it: a stale load may only lead to an append, which
// the expected-sequence check guards.
func (s *EventStore) LastSeq(ctx context.Context, id person.ID) (uint64, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": s.names.EventsOf(id)})
	ctx, cancel := withAPITimeout(ctx)
	defer cancel()
	m, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+s.stream, req)
	if err != nil {
		return 0, fmt.Errorf("event store: last sequence of %s: %w", id, err)
	}
	var resp struct {
		Message *struct {
			Seq uint64 `json:"seq"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return 0, fmt.Errorf("event store: last sequence of %s: %w", id, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return 0, nil
	case resp.Error != nil:
		return 0, fmt.Errorf("event store: last sequence of %s: %w", id, resp.Error)
	case resp.Message == nil:
		return 0, fmt.Errorf("event store: last sequence of %s: empty answer", id)
	}
	return resp.Message.Seq, nil
}

// nearWindows are how far behind its hint HistoryNear looks, in turn.
var nearWindows = []uint64{256, 4096}

// HistoryNear returns the person's events of versions from to to, like
// History, when they lie shortly before stream sequence before (the
// sequence of a later event of the person, which revealed that they are
// missing somewhere): it reads them one by one from a little before, so
// the server scans a few hundred messages, not the whole stream (the
// person's events are a wildcard subject, which the server matches block by
// block, message by message).
// When they are not all there, it falls back to History.
func (s *EventStore) HistoryNear(ctx context.Context, id person.ID, from, to, before uint64) ([]person.Event, error) {
	for _, w := range nearWindows {
		if before <= w || from > to {
			break
		}
		evs, err := s.historyIn(ctx, id, from, to, before-w, before)
		if err != nil || len(evs) > 0 && evs[0].Version == from {
			return evs, err
		}
	}
	return s.History(ctx, id, from) // not all in the windows
}

// historyIn reads the person's events of versions from to to that lie
// between stream sequences lo and before (exclusive).
func (s *EventStore) historyIn(ctx context.Context, id person.ID, from, to, lo, before uint64) ([]person.Event, error) {
	var out []person.Event
	for seq := lo; seq < before; {
		e, got, err := s.nextEvent(ctx, id, seq)
		if err != nil || got == 0 || got >= before {
			return out, err
		}
		if e.Version >= from && e.Version <= to {
			out = append(out, e)
		}
		if e.Version >= to {
			return out, nil
		}
		seq = got + 1
	}
	return out, nil
}

// nextEvent reads the person's first event at or after stream sequence seq
// with a single direct get (not a batch: a batch makes the server count
// what is pending), and returns it with its sequence (0: none).
func (s *EventStore) nextEvent(ctx context.Context, id person.ID, seq uint64) (person.Event, uint64, error) {
	filter := s.names.EventsOf(id)
	req, _ := json.Marshal(map[string]any{"seq": seq, "next_by_subj": filter})
	ctx, cancel := withAPITimeout(ctx)
	defer cancel()
	m, err := s.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+s.stream, req)
	if err != nil {
		return person.Event{}, 0, fmt.Errorf("event store: get %s: %w", filter, err)
	}
	switch m.Header.Get("Status") {
	case "":
	case "404":
		return person.Event{}, 0, nil
	default:
		return person.Event{}, 0, fmt.Errorf("event store: get %s: status %s %s", filter, m.Header.Get("Status"), m.Header.Get("Description"))
	}
	got, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return person.Event{}, 0, fmt.Errorf("event store: get %s: bad sequence header: %w", filter, err)
	}
	e, err := schema.Decode(m.Data)
	if err != nil {
		return person.Event{}, 0, fmt.Errorf("event store: %s seq %d: %w", id, got, err)
	}
	return e, got, nil
}

// History returns the person's events from version from on, decoded (and
// upcast) in order.
func (s *EventStore) History(ctx context.Context, id person.ID, from uint64) ([]person.Event, error) {
	var out []person.Event
	err := s.events(ctx, id, func(e *person.Event, _ uint64) error {
		if e.Version >= from {
			out = append(out, *e)
		}
		return nil
	})
	return out, err
}

func (s *EventStore) events(ctx context.Context, id person.ID, fn func(e *person.Event, seq uint64) error) error {
	return s.scan(ctx, s.names.EventsOf(id), 1, func(m *nats.Msg, seq uint64) error {
		e, err := schema.Decode(m.Data)
		if err != nil {
			return fmt.Errorf("event store: %s seq %d: %w", id, seq, err)
		}
		return fn(&e, seq)
	})
}

// Keep gives a person back to the cache (after a successful append, the
// caller applies the new events and passes the new last sequence).
func (s *EventStore) Keep(l Loaded) {
	l.Current = false // it may be stale when it is taken again
	s.cache.put(l)
}

// Exists reports whether a person has any event.
func (s *EventStore) Exists(ctx context.Context, id person.ID) (bool, error) {
	if l, ok := s.cache.peek(id); ok && l.Person.Exists() {
		return true, nil // a person, once created, exists for ever
	}
	// Asked of the stream's leader: a lagging replica may not know yet.
	last, err := s.LastSeq(ctx, id)
	return last > 0, err
}

// Append stores events numbered after a person last seen at stream sequence
// expectedSeq. It returns the sequence of the last appended event, or
// ErrConflict, or ErrDuplicate.
func (s *EventStore) Append(ctx context.Context, id person.ID, expectedSeq uint64, events []person.Event) (uint64, error) {
	if len(events) == 0 {
		return expectedSeq, nil
	}
	msgs := make([]*nats.Msg, len(events))
	for i := range events {
		m, err := s.eventMsg(&events[i])
		if err != nil {
			return 0, err
		}
		msgs[i] = m
	}
	filter := s.names.EventsOf(id)
	msgs[0].Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(expectedSeq, 10))
	msgs[0].Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, filter)
	if len(msgs) == 1 {
		ack, err := s.js.PublishMsg(ctx, msgs[0])
		if err != nil {
			s.cache.drop(id)
			return 0, classify(err)
		}
		if ack.Duplicate {
			s.cache.drop(id)
			return 0, ErrDuplicate
		}
		return ack.Sequence, nil
	}
	seq, err := s.publishBatch(ctx, msgs)
	if err != nil {
		s.cache.drop(id)
		return 0, err
	}
	return seq, nil
}

func (s *EventStore) eventMsg(e *person.Event) (*nats.Msg, error) {
	data, err := schema.Encode(e)
	if err != nil {
		return nil, fmt.Errorf("event store: encode %s: %w", e.ID, err)
	}
	m := nats.NewMsg(s.names.Event(e.PersonID, e.Type()))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, e.ID)
	m.Header.Set(contract.HeaderEventType, string(e.Type()))
	for k, v := range e.Trace {
		m.Header.Set(k, v)
	}
	return m, nil
}

// publishBatch appends msgs as one atomic batch (nats-server >= 2.12,
// AllowAtomicPublish): all of them or none.
func (s *EventStore) publishBatch(ctx context.Context, msgs []*nats.Msg) (uint64, error) {
	id := nuid.Next()
	for i, m := range msgs {
		m.Header.Set("Nats-Batch-Id", id)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i < len(msgs)-1 {
			if err := s.nc.PublishMsg(m); err != nil {
				return 0, fmt.Errorf("event store: batch publish: %w", err)
			}
			continue
		}
		m.Header.Set("Nats-Batch-Commit", "1")
		rctx, cancel := withAPITimeout(ctx)
		reply, err := s.nc.RequestMsgWithContext(rctx, m)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("event store: batch commit: %w", err)
		}
		var ack struct {
			Sequence  uint64 `json:"seq"`
			Duplicate bool   `json:"duplicate"`
			Error     *struct {
				Code        int    `json:"code"`
				ErrCode     int    `json:"err_code"`
				Description string `json:"description"`
			} `json:"error"`
		}
		if err := json.Unmarshal(reply.Data, &ack); err != nil {
			return 0, fmt.Errorf("event store: batch ack: %w", err)
		}
		if ack.Error != nil {
			switch ack.Error.ErrCode {
			case codeWrongLastSequence:
				return 0, ErrConflict
			case codeBatchDuplicateMsgID:
				return 0, ErrDuplicate
			}
			return 0, fmt.Errorf("event store: batch: %s (%d)", ack.Error.Description, ack.Error.ErrCode)
		}
		return ack.Sequence, nil
	}
	return 0, errors.New("event store: empty batch")
}

func classify(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == codeWrongLastSequence {
		return ErrConflict
	}
	return fmt.Errorf("event store: append: %w", err)
}

// apiTimeout bounds a raw JetStream API request whose context has no
// deadline, as jetstream's own calls are bounded by default: a request lost
// while a node restarts is never answered, and a handler must not wait for
// it for ever.
const apiTimeout = 5 * time.Second

func withAPITimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, apiTimeout)
}

// scanBatch is how many messages one direct-get request asks for.
const scanBatch = 512

// scan reads every message of filter from sequence from, in order, with
// batched direct gets ($JS.API.DIRECT.GET, nats-server >= 2.11), calling fn
// for each.
func (s *EventStore) scan(ctx context.Context, filter string, from uint64, fn func(m *nats.Msg, seq uint64) error) error {
	for {
		next, more, err := s.scanOnce(ctx, filter, from, scanBatch, fn)
		if err != nil || !more {
			return err
		}
		from = next
	}
}

func (s *EventStore) scanOnce(ctx context.Context, filter string, from uint64, batch int, fn func(m *nats.Msg, seq uint64) error) (next uint64, more bool, err error) {
	ctx, cancel := withAPITimeout(ctx)
	defer cancel()
	inbox := s.nc.NewRespInbox()
	// A channel sized to the answer (at most batch messages and the
	// end-of-batch status): SubscribeSync would allocate nats.go's default
	// 64k-slot channel for every scan, and the GC would spend its time
	// clearing and scanning them.
	ch := make(chan *nats.Msg, batch+2)
	sub, err := s.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return 0, false, fmt.Errorf("event store: scan: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	req, _ := json.Marshal(map[string]any{"seq": from, "next_by_subj": filter, "batch": batch})
	if err := s.nc.PublishRequest("$JS.API.DIRECT.GET."+s.stream, inbox, req); err != nil {
		return 0, false, fmt.Errorf("event store: scan: %w", err)
	}
	next = from
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return 0, false, fmt.Errorf("event store: scan %s: %w", filter, ctx.Err())
		}
		switch m.Header.Get("Status") {
		case "":
		case "404":
			return next, false, nil
		case "204": // end of batch
			pending, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return next, pending > 0, nil
		default:
			return 0, false, fmt.Errorf("event store: scan %s: status %s %s", filter, m.Header.Get("Status"), m.Header.Get("Description"))
		}
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("event store: scan %s: bad sequence header: %w", filter, err)
		}
		if err := fn(m, seq); err != nil {
			return 0, false, err
		}
		next = seq + 1
	}
}

// aggregateCache holds persons between commands. take removes the entry,
// so one goroutine owns a person at a time; another goroutine deciding
// for the same person meanwhile loads it from the stream.
type aggregateCache struct {
	mu  sync.Mutex
	max int
	m   map[person.ID]Loaded
}

func newAggregateCache(max int) *aggregateCache {
	return &aggregateCache{max: max, m: make(map[person.ID]Loaded)}
}

func (c *aggregateCache) take(id person.ID) (Loaded, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.m[id]
	if ok {
		delete(c.m, id)
	}
	return l, ok
}

func (c *aggregateCache) peek(id person.ID) (Loaded, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.m[id]
	return l, ok
}

func (c *aggregateCache) put(l Loaded) {
	if c.max <= 0 || l.Person == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[l.Person.ID()]; ok && old.LastSeq > l.LastSeq {
		return
	}
	if len(c.m) >= c.max {
		for k := range c.m { // evict an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[l.Person.ID()] = l
}

func (c *aggregateCache) drop(id person.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
