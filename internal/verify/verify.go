// Package verify replays the whole event stream and checks it: every event
// decodes, each person's versions are contiguous from 1, no command was
// appended twice, the history replays through the aggregate, every
// decision was a valid transition of the lifecycle and onboarding state
// machines in the state it was taken, and the read models in KV equal what
// a sequential replay gives.
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/projection"
	"github.com/personfleet/personfleet/internal/schema"
)

// Report is what a verification found. Problems are human-readable lines;
// an empty report with OK() is a clean stream.
type Report struct {
	Events   int                      `json:"events"`
	Persons  int                      `json:"persons"`
	ByType   map[person.EventType]int `json:"by_type"`
	ByStatus map[string]int           `json:"lifecycle"`
	// Upcast counts events stored at an older schema version.
	Upcast          int      `json:"upcast"`
	Undecodable     []string `json:"undecodable,omitempty"`
	VersionProblems []string `json:"version_problems,omitempty"`
	DuplicateCmds   []string `json:"duplicate_commands,omitempty"`
	ReplayProblems  []string `json:"replay_problems,omitempty"`
	// TransitionProblems are decisions the state machines did not allow
	// in the state they were taken (see CheckTransitions).
	TransitionProblems []string `json:"transition_problems,omitempty"`
	ReadModelDiffs     []string `json:"read_model_diffs,omitempty"`
	ReadModelsRead     bool     `json:"read_models_checked"`
	// Stream is the events stream that was read.
	Stream string `json:"stream"`
	// Truncated is set when a problem list hit MaxProblems.
	Truncated bool `json:"truncated,omitempty"`

	max int
}

// OK reports a clean stream (and clean read models when checked).
func (r Report) OK() bool { return r.Problems() == 0 }

// Problems counts the problems listed (each list is capped at MaxProblems).
func (r Report) Problems() int {
	return len(r.Undecodable) + len(r.VersionProblems) + len(r.DuplicateCmds) + len(r.ReplayProblems) +
		len(r.TransitionProblems) + len(r.ReadModelDiffs)
}

// Options of a verification.
type Options struct {
	// Stream to read (default: the names' events stream).
	Stream string
	// ReadModels compares the KV read models with the replay.
	ReadModels bool
	// MaxProblems caps each problem list (default 100).
	MaxProblems int
	// Progress, when set, is called as events are read: done of total.
	Progress func(done, total uint64)
}

// History is every event of a stream grouped by person, in stream order.
type History map[person.ID][]person.Event

// Load reads a whole events stream with an ordered consumer.
func Load(ctx context.Context, js jetstream.JetStream, stream string, r *Report) (History, error) {
	return LoadWithProgress(ctx, js, stream, r, nil)
}

// LoadWithProgress is Load calling progress (when not nil) after every
// batch of events read.
func LoadWithProgress(ctx context.Context, js jetstream.JetStream, stream string, r *Report, progress func(done, total uint64)) (History, error) {
	if r.ByType == nil {
		r.ByType = map[person.EventType]int{}
	}
	info, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("verify: stream %s: %w", stream, err)
	}
	total := info.CachedInfo().State.Msgs
	h := History{}
	if total == 0 {
		return h, nil
	}
	var cons jetstream.Consumer
	if err := whileNoResponders(ctx, func() (err error) {
		cons, err = js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
		return err
	}); err != nil {
		return nil, fmt.Errorf("verify: read %s: %w", stream, err)
	}
	var got uint64
	for got < total {
		// Ask for no more than is left: a fetch waits for its whole batch.
		var batch jetstream.MessageBatch
		if err := whileNoResponders(ctx, func() (err error) {
			batch, err = cons.Fetch(int(min(1000, total-got)), jetstream.FetchMaxWait(5*time.Second))
			return err
		}); err != nil {
			return nil, fmt.Errorf("verify: read %s: %w", stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			got++
			r.Events++
			e, err := schema.Decode(m.Data())
			if err != nil {
				meta, _ := m.Metadata()
				seq := uint64(0)
				if meta != nil {
					seq = meta.Sequence.Stream
				}
				r.add(&r.Undecodable, fmt.Sprintf("seq %d on %s: %v", seq, m.Subject(), err))
				continue
			}
			if hdr, err := schema.Peek(m.Data()); err == nil && hdr.SchemaVersion < schema.CurrentVersion(e.Type()) {
				r.Upcast++
			}
			r.ByType[e.Type()]++
			h[e.PersonID] = append(h[e.PersonID], e)
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if progress != nil {
			progress(got, total)
		}
		if n == 0 {
			break
		}
	}
	return h, nil
}

// DefaultMaxProblems caps each problem list of a report.
const DefaultMaxProblems = 100

func (r *Report) add(list *[]string, s string) {
	limit := r.max
	if limit <= 0 {
		limit = DefaultMaxProblems
	}
	if len(*list) < limit {
		*list = append(*list, s)
		return
	}
	r.Truncated = true
}

// Run verifies the events stream and, if asked, the read models.
func Run(ctx context.Context, js jetstream.JetStream, names contract.Names, opt Options) (Report, error) {
	if opt.Stream == "" {
		opt.Stream = names.EventsStream()
	}
	r := Report{ByType: map[person.EventType]int{}, ByStatus: map[string]int{}, Stream: opt.Stream, max: opt.MaxProblems}
	h, err := LoadWithProgress(ctx, js, opt.Stream, &r, opt.Progress)
	if err != nil {
		return r, err
	}
	r.Persons = len(h)
	ids := make([]person.ID, 0, len(h))
	for id := range h {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var sums map[string]projection.Summary
	var onbs map[string]projection.Onboarding
	if opt.ReadModels {
		if sums, err = readAll[projection.Summary](ctx, js, names.SummaryBucket()); err != nil {
			return r, err
		}
		if onbs, err = readAll[projection.Onboarding](ctx, js, names.OnboardingBucket()); err != nil {
			return r, err
		}
		r.ReadModelsRead = true
	}
	for _, id := range ids {
		evs := h[id]
		r.checkPerson(id, evs)
		if opt.ReadModels {
			r.compare(id, evs, sums, onbs)
		}
	}
	if opt.ReadModels {
		for key := range sums {
			if _, ok := h[person.ID(key)]; !ok {
				r.add(&r.ReadModelDiffs, fmt.Sprintf("%s: summary without events", key))
			}
		}
	}
	return r, nil
}

func (r *Report) checkPerson(id person.ID, evs []person.Event) {
	// Event ids derive from (command id, index): an id seen twice is a
	// command appended twice. So is a command id that caused two separate
	// decisions (runs of events) of the person.
	seen := map[string]uint64{}
	decided := map[string]uint64{}
	for i, e := range evs {
		if want := uint64(i + 1); e.Version != want {
			r.add(&r.VersionProblems, fmt.Sprintf("%s: event %d has version %d, want %d", id, i+1, e.Version, want))
			return
		}
		if v, dup := seen[e.ID]; dup {
			r.add(&r.DuplicateCmds, fmt.Sprintf("%s: command %s appended twice (event %s at versions %d and %d)", id, e.CausationID, e.ID, v, e.Version))
		}
		seen[e.ID] = e.Version
		if c := e.CausationID; c != "" && (i == 0 || evs[i-1].CausationID != c) {
			if v, dup := decided[c]; dup {
				r.add(&r.DuplicateCmds, fmt.Sprintf("%s: command %s decided twice (at versions %d and %d)", id, c, v, e.Version))
			}
			decided[c] = e.Version
		}
	}
	problems, p, err := CheckTransitions(id, evs)
	for _, msg := range problems {
		r.add(&r.TransitionProblems, msg)
	}
	if err != nil {
		r.add(&r.ReplayProblems, fmt.Sprintf("%s: %v", id, err))
		return
	}
	state := string(p.Lifecycle())
	if state == "" {
		state = "none"
	}
	r.ByStatus[state]++
}

func (r *Report) compare(id person.ID, evs []person.Event, sums map[string]projection.Summary, onbs map[string]projection.Onboarding) {
	var s projection.Summary
	var o projection.Onboarding
	if err := projection.Replay(&s, evs); err != nil {
		r.add(&r.ReadModelDiffs, fmt.Sprintf("%s: replay summary: %v", id, err))
		return
	}
	if err := projection.Replay(&o, evs); err != nil {
		r.add(&r.ReadModelDiffs, fmt.Sprintf("%s: replay onboarding: %v", id, err))
		return
	}
	if got, ok := sums[string(id)]; !ok {
		r.add(&r.ReadModelDiffs, fmt.Sprintf("%s: no summary (want version %d)", id, s.Version))
	} else if !sameJSON(got, s) {
		r.add(&r.ReadModelDiffs, fmt.Sprintf("%s: summary at version %d differs from the replay at %d", id, got.Version, s.Version))
	}
	if got, ok := onbs[string(id)]; !ok {
		r.add(&r.ReadModelDiffs, fmt.Sprintf("%s: no onboarding status", id))
	} else if !sameJSON(got, o) {
		r.add(&r.ReadModelDiffs, fmt.Sprintf("%s: onboarding status at version %d differs from the replay at %d", id, got.Version, o.Version))
	}
}

// sameJSON compares two documents as stored (JSON), which is what a
// reader of the bucket sees.
func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var x, y any
	_ = json.Unmarshal(ja, &x)
	_ = json.Unmarshal(jb, &y)
	return reflect.DeepEqual(x, y)
}

// whileNoResponders runs op again while nobody answers its request, for
// up to 20 tries: on a cluster whose node just restarted, a JetStream API
// request, or the pull of an ordered consumer just created on its node,
// can briefly find no responder.
func whileNoResponders(ctx context.Context, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if !errors.Is(err, nats.ErrNoResponders) || attempt == 20 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func readAll[T any](ctx context.Context, js jetstream.JetStream, bucket string) (map[string]T, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("verify: bucket %s: %w", bucket, err)
	}
	var w jetstream.KeyWatcher
	if err := whileNoResponders(ctx, func() (err error) {
		w, err = kv.WatchAll(ctx, jetstream.IgnoreDeletes())
		return err
	}); err != nil {
		return nil, fmt.Errorf("verify: watch bucket %s: %w", bucket, err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string]T{}
	for e := range w.Updates() {
		if e == nil {
			return out, nil
		}
		var v T
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			return nil, fmt.Errorf("verify: %s/%s: %w", bucket, e.Key(), err)
		}
		out[e.Key()] = v
	}
	return out, ctx.Err()
}
