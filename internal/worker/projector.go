package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/projection"
	"github.com/personfleet/personfleet/internal/schema"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/telemetry"
)

// ProjectorHandler keeps the read models: every event is applied to the
// person's summary and onboarding status, each stored with the last
// applied version and written with compare-and-set. A repeated event
// changes nothing; an event ahead of the record (an earlier one is still in
// flight on another replica, or was parked) fills the gap from the event
// store first, so the records converge to a sequential replay.
//
// Inside one process the events of a person are coalesced: while one
// handler (the person's writer) writes the person's records, the events of
// that person that arrive meanwhile queue up; the writer then applies them
// all, in version order, and writes each record once for the lot. Each
// handler returns (and its message is acked or retried) with the outcome
// of the write that carried its event. A person whose events come in a
// burst (a catch-up, an onboarding) costs one write per burst, not one per
// event.
type ProjectorHandler struct {
	mu         sync.Mutex
	writing    map[person.ID]*[]*queuedEvent // persons being written, and the events that arrived meanwhile
	events     *store.EventStore
	summaries  *store.ReadModel[projection.Summary]
	onboarding *store.ReadModel[projection.Onboarding]
	log        *slog.Logger
}

// queuedEvent is one handler's event, waiting for the write that carries it.
type queuedEvent struct {
	e    person.Event
	seq  uint64     // its stream sequence (0: unknown)
	done chan error // buffered: the writer never blocks on it
}

// NewProjectorHandler returns the handler.
func NewProjectorHandler(events *store.EventStore, s *store.ReadModel[projection.Summary], o *store.ReadModel[projection.Onboarding], log *slog.Logger) (*ProjectorHandler, error) {
	if events == nil || s == nil || o == nil || log == nil {
		return nil, errors.New("projector: nil dependency")
	}
	return &ProjectorHandler{writing: map[person.ID]*[]*queuedEvent{}, events: events, summaries: s, onboarding: o, log: log}, nil
}

// Handle is the Watermill handler of <prefix>.events.>.
func (h *ProjectorHandler) Handle(msg *message.Message) error {
	ctx := msg.Context()
	e, err := schema.Decode(msg.Payload)
	if err != nil {
		return Permanent(fmt.Errorf("event on %s: %w", msg.Metadata.Get(MetaSubject), err))
	}
	trace.SpanFromContext(ctx).SetAttributes(
		attribute.String(telemetry.AttrEventID, e.ID), attribute.String(telemetry.AttrEventType, string(e.Type())),
		attribute.String(telemetry.AttrPersonID, string(e.PersonID)), attribute.Int64(telemetry.AttrAggregateVersion, int64(e.Version)))
	seq, _ := strconv.ParseUint(msg.Metadata.Get(MetaStreamSeq), 10, 64)
	q := &queuedEvent{e: e, seq: seq, done: make(chan error, 1)}
	h.mu.Lock()
	if waiting, ok := h.writing[e.PersonID]; ok {
		*waiting = append(*waiting, q)
		h.mu.Unlock()
		return <-q.done // the writer answers every event it takes
	}
	h.writing[e.PersonID] = new([]*queuedEvent)
	h.mu.Unlock()
	// This handler is the person's writer until nothing is waiting.
	batch := []*queuedEvent{q}
	for {
		h.project(ctx, e.PersonID, batch)
		if batch = h.arrived(e.PersonID); len(batch) == 0 {
			return <-q.done
		}
	}
}

// arrived takes the events of id that queued up since the last call; when
// there are none, the caller stops being id's writer.
func (h *ProjectorHandler) arrived(id person.ID) []*queuedEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	waiting := h.writing[id]
	if len(*waiting) == 0 {
		delete(h.writing, id)
		return nil
	}
	h.writing[id] = new([]*queuedEvent)
	return *waiting
}

// project applies a batch of one person's events to both records, one
// write per record, and answers each event: the write's error (retried:
// every event of the batch is) or the event's own permanent error.
func (h *ProjectorHandler) project(ctx context.Context, id person.ID, batch []*queuedEvent) {
	slices.SortStableFunc(batch, func(a, b *queuedEvent) int { return cmp.Compare(a.e.Version, b.e.Version) })
	// Both records usually lack the same events when the batch is ahead:
	// one history read serves both.
	last := batch[len(batch)-1]
	hist := &gapHistory{events: h.events, id: id, to: last.e.Version, near: last.seq}
	sumBad, onbBad := make([]error, len(batch)), make([]error, len(batch))
	// The two read models are independent documents: write them at once.
	var onbErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		onbErr = h.onboarding.Update(ctx, string(id), func(o *projection.Onboarding) (bool, error) {
			return foldAll(ctx, hist, o, func() uint64 { return o.Version }, batch, onbBad)
		})
	}()
	sumErr := h.summaries.Update(ctx, string(id), func(s *projection.Summary) (bool, error) {
		return foldAll(ctx, hist, s, func() uint64 { return s.Version }, batch, sumBad)
	})
	<-done
	for i, q := range batch {
		q.done <- errors.Join(sumErr, onbErr, sumBad[i], onbBad[i])
	}
}

// foldAll applies the batch to m (whose version is version()), recording
// each event's permanent error in bad; any other error stops it.
func foldAll(ctx context.Context, hist *gapHistory, m projection.Model, version func() uint64, batch []*queuedEvent, bad []error) (bool, error) {
	clear(bad) // an update may run again after a lost compare-and-set
	changed := false
	for i, q := range batch {
		ch, err := fold(ctx, hist, m, &q.e, version())
		if IsPermanent(err) {
			bad[i] = err
			continue
		}
		if err != nil {
			return false, err
		}
		changed = changed || ch
	}
	return changed, nil
}

// gapHistory reads a person's events for gap fills once per handled event:
// a read from version v serves every later request from v or after.
type gapHistory struct {
	events *store.EventStore
	id     person.ID
	to     uint64 // the last version the batch needs
	near   uint64 // the stream sequence of the batch's last event (0: unknown)
	mu     sync.Mutex
	from   uint64 // 0: nothing read yet
	read   []person.Event
}

func (g *gapHistory) since(ctx context.Context, from uint64) ([]person.Event, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.from == 0 || from < g.from {
		var evs []person.Event
		var err error
		if g.near > 0 {
			evs, err = g.events.HistoryNear(ctx, g.id, from, g.to, g.near)
		} else {
			evs, err = g.events.History(ctx, g.id, from)
		}
		if err != nil {
			return nil, err
		}
		g.from, g.read = from, evs
	}
	i := 0
	for i < len(g.read) && g.read[i].Version < from {
		i++
	}
	return g.read[i:], nil
}

// fold applies e to m (at version v), filling a gap from the event store.
func fold(ctx context.Context, hist *gapHistory, m projection.Model, e *person.Event, v uint64) (bool, error) {
	err := m.Apply(e)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, projection.ErrDuplicate):
		return false, nil
	case errors.Is(err, projection.ErrGap):
		missing, herr := hist.since(ctx, v+1)
		if herr != nil {
			return false, herr
		}
		for i := range missing {
			if missing[i].Version > e.Version {
				break
			}
			if err := m.Apply(&missing[i]); err != nil && !errors.Is(err, projection.ErrDuplicate) {
				return false, fmt.Errorf("projector: fill gap of %s: %w", e.PersonID, err)
			}
		}
		// Then e itself: a replica of the stream that lags (a node just
		// restarted in a cluster) may answer the history without it.
		if err := m.Apply(e); err != nil && !errors.Is(err, projection.ErrDuplicate) {
			// Still a gap: the history read missed events before e. Fail,
			// and the retry reads again.
			return false, fmt.Errorf("projector: fill gap of %s up to version %d: %w", e.PersonID, e.Version, err)
		}
		return true, nil
	case errors.Is(err, projection.ErrInvalidEvent):
		return false, Permanent(err)
	default:
		return false, err
	}
}
