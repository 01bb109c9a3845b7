package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
type ProjectorHandler struct {
	// locks serialise the events of one person inside this process (by a
	// hash of its id): fewer compare-and-set races and gap fills.
	locks      [256]sync.Mutex
	events     *store.EventStore
	summaries  *store.ReadModel[projection.Summary]
	onboarding *store.ReadModel[projection.Onboarding]
	log        *slog.Logger
}

// NewProjectorHandler returns the handler.
func NewProjectorHandler(events *store.EventStore, s *store.ReadModel[projection.Summary], o *store.ReadModel[projection.Onboarding], log *slog.Logger) (*ProjectorHandler, error) {
	if events == nil || s == nil || o == nil || log == nil {
		return nil, errors.New("projector: nil dependency")
	}
	return &ProjectorHandler{events: events, summaries: s, onboarding: o, log: log}, nil
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
	key := string(e.PersonID)
	lock := &h.locks[fnv32(key)%uint32(len(h.locks))]
	lock.Lock()
	defer lock.Unlock()
	// Both records usually lack the same events when e is ahead: one
	// history read, near e's stream sequence, serves both.
	seq, _ := strconv.ParseUint(msg.Metadata.Get(MetaStreamSeq), 10, 64)
	hist := &gapHistory{events: h.events, id: e.PersonID, to: e.Version, near: seq}
	// The two read models are independent documents: write them at once.
	var onbErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		onbErr = h.onboarding.Update(ctx, key, func(o *projection.Onboarding) (bool, error) {
			return fold(ctx, hist, o, &e, o.Version)
		})
	}()
	sumErr := h.summaries.Update(ctx, key, func(s *projection.Summary) (bool, error) {
		return fold(ctx, hist, s, &e, s.Version)
	})
	<-done
	return errors.Join(sumErr, onbErr)
}

// fnv32 is FNV-1a, to spread person ids over the locks.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// gapHistory reads a person's events for gap fills once per handled event:
// a read from version v serves every later request from v or after.
type gapHistory struct {
	events *store.EventStore
	id     person.ID
	to     uint64 // the version of the event that revealed the gap
	near   uint64 // its stream sequence (0: unknown)
	mu     sync.Mutex
	from   uint64 // 0: nothing read yet
	read   []person.Event
}

func (g *gapHistory) since(ctx context.Context, from uint64) ([]person.Event, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.from == 0 || from < g.from {
		evs, err := g.events.HistoryNear(ctx, g.id, from, g.to, g.near) // near 0: the whole history
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
