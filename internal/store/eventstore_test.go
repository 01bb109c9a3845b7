package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/natstest"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/store"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func decide(t *testing.T, l store.Loaded, cmdID string, c person.Command) []person.Event {
	t.Helper()
	pls, err := l.Person.Decide(c, person.Env{Now: now})
	if err != nil {
		t.Fatalf("decide %s: %v", c.CommandType(), err)
	}
	return person.NewEvents(l.Person.ID(), l.Person.Version(), person.Meta{CommandID: cmdID, At: now}, pls)
}

func newStore(t *testing.T, cache int) *store.EventStore {
	t.Helper()
	_, nc, js := natstest.Provisioned(t, store.Settings{})
	es, err := store.NewEventStore(nc, js, contract.DefaultNames(), cache)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestAppendLoadConflictDuplicate(t *testing.T) {
	ctx := context.Background()
	es := newStore(t, 0)
	id := person.ID("p-1")

	l, err := es.Load(ctx, id)
	if err != nil || l.LastSeq != 0 || l.Person.Exists() {
		t.Fatalf("empty load: %+v %v", l, err)
	}
	created := decide(t, l, "cmd-1", &person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}})
	seq, err := es.Append(ctx, id, 0, created)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	// Same command again: dedup by Nats-Msg-Id.
	if _, err := es.Append(ctx, id, seq, created); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("repeat append: got %v, want ErrDuplicate", err)
	}
	// A stale writer (expected 0) conflicts.
	other := decide(t, l, "cmd-2", &person.CreatePerson{Name: person.Name{GivenName: "Bob"}})
	if _, err := es.Append(ctx, id, 0, other); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale append: got %v, want ErrConflict", err)
	}
	// Another person is unaffected by this person's sequence.
	if _, err := es.Append(ctx, "p-2", 0, decide(t, store.Loaded{Person: person.New("p-2")}, "cmd-3", &person.CreatePerson{Name: person.Name{GivenName: "Cy"}})); err != nil {
		t.Fatalf("other person: %v", err)
	}

	// A multi-event decision is one atomic batch, checked as a whole.
	l, err = es.LoadFresh(ctx, id)
	if err != nil || l.Person.Version() != 1 || l.LastSeq != seq {
		t.Fatalf("reload: %+v %v", l, err)
	}
	onb := decide(t, l, "cmd-4", &person.StartOnboarding{})
	seq2, err := es.Append(ctx, id, l.LastSeq, onb)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	for _, e := range onb {
		if err := l.Person.Apply(&e); err != nil {
			t.Fatal(err)
		}
	}
	l.LastSeq = seq2
	step := decide(t, l, "cmd-6", &person.RequestIdentityVerification{})
	step = append(step, decide(t, l, "cmd-6b", &person.RequestIdentityVerification{})...)
	// Re-number the second part so the batch is a valid two-event sequence.
	step[1].Version = step[0].Version + 1
	if _, err := es.Append(ctx, id, seq, step); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale batch: got %v, want ErrConflict", err)
	}
	fresh, err := es.LoadFresh(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Person.Version() != l.Person.Version() {
		t.Fatalf("a refused batch left events: version %d, want %d", fresh.Person.Version(), l.Person.Version())
	}
	if ok, err := es.Exists(ctx, id); !ok || err != nil {
		t.Fatalf("exists: %v %v", ok, err)
	}
	if ok, err := es.Exists(ctx, "nobody"); ok || err != nil {
		t.Fatalf("exists nobody: %v %v", ok, err)
	}
}

func TestLoadLongHistoryInBatches(t *testing.T) {
	ctx := context.Background()
	es := newStore(t, 0)
	id := person.ID("long")
	l, _ := es.Load(ctx, id)
	cmds := []person.Command{&person.CreatePerson{Name: person.Name{GivenName: "Ada"}}}
	for i := range 1200 {
		cmds = append(cmds, &person.SetAttribute{Key: "k", Value: fmt.Sprint(i)})
	}
	for i, c := range cmds {
		evs := decide(t, l, fmt.Sprintf("c%d", i), c)
		seq, err := es.Append(ctx, id, l.LastSeq, evs)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		for _, e := range evs {
			_ = l.Person.Apply(&e)
		}
		l.LastSeq = seq
	}
	fresh, err := es.LoadFresh(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Person.Version() != uint64(len(cmds)) || fresh.LastSeq != l.LastSeq {
		t.Fatalf("got version %d seq %d, want %d %d", fresh.Person.Version(), fresh.LastSeq, len(cmds), l.LastSeq)
	}
}

// Many writers racing on one person: the server lets exactly one win per
// sequence; the losers reload and retry; the history ends contiguous.
func TestRacingWriters(t *testing.T) {
	ctx := context.Background()
	es := newStore(t, 0)
	id := person.ID("race")
	l, _ := es.Load(ctx, id)
	if _, err := es.Append(ctx, id, 0, decide(t, l, "create", &person.CreatePerson{Name: person.Name{GivenName: "Ada"}})); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 10
	var wg sync.WaitGroup
	var conflicts sync.Map
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				for attempt := 0; ; attempt++ {
					l, err := es.LoadFresh(ctx, id)
					if err != nil {
						t.Error(err)
						return
					}
					pls, err := l.Person.Decide(&person.SetAttribute{Key: fmt.Sprintf("w%d", w), Value: fmt.Sprint(i)}, person.Env{})
					if err != nil {
						t.Error(err)
						return
					}
					evs := person.NewEvents(id, l.Person.Version(), person.Meta{CommandID: fmt.Sprintf("w%d-%d", w, i)}, pls)
					_, err = es.Append(ctx, id, l.LastSeq, evs)
					if errors.Is(err, store.ErrConflict) {
						conflicts.Store(fmt.Sprint(w, i, attempt), true)
						continue
					}
					if err != nil {
						t.Error(err)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	fresh, err := es.LoadFresh(ctx, id)
	if err != nil {
		t.Fatalf("reload (versions must be contiguous): %v", err)
	}
	if got, want := fresh.Person.Version(), uint64(1+writers*each); got != want {
		t.Fatalf("version %d, want %d", got, want)
	}
}

func TestLastSeqFromTheLeader(t *testing.T) {
	ctx := context.Background()
	es := newStore(t, 0)
	if seq, err := es.LastSeq(ctx, "nobody"); err != nil || seq != 0 {
		t.Fatalf("no events: %d, %v", seq, err)
	}
	var last uint64
	for i, id := range []person.ID{"p-1", "p-2", "p-1"} {
		l, err := es.LoadFresh(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var c person.Command = &person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}}
		if l.Person.Exists() {
			c = &person.SetAttribute{Key: "k", Value: "v"}
		}
		seq, err := es.Append(ctx, id, l.LastSeq, decide(t, l, fmt.Sprintf("cmd-%d", i), c))
		if err != nil {
			t.Fatal(err)
		}
		if id == "p-1" {
			last = seq
		}
	}
	if seq, err := es.LastSeq(ctx, "p-1"); err != nil || seq != last {
		t.Fatalf("p-1: %d, %v; want %d", seq, err, last)
	}
}

func TestHistoryNear(t *testing.T) {
	ctx := context.Background()
	es := newStore(t, 0)
	state := map[person.ID]*store.Loaded{}
	add := func(id person.ID, c person.Command) uint64 {
		t.Helper()
		l, ok := state[id]
		if !ok {
			l = &store.Loaded{Person: person.New(id)}
			state[id] = l
		}
		evs := decide(t, *l, fmt.Sprintf("%s-%d", id, l.Person.Version()), c)
		seq, err := es.Append(ctx, id, l.LastSeq, evs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			if err := l.Person.Apply(&evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		l.LastSeq = seq
		return seq
	}
	create := &person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}}
	add("near", create)
	add("filler", create)
	for i := range 4200 { // pushes near's creation out of the window
		add("filler", &person.SetAttribute{Key: "k", Value: fmt.Sprint(i)})
	}
	add("near", &person.SetAttribute{Key: "a", Value: "1"})
	add("filler", &person.SetAttribute{Key: "k", Value: "last"})
	last := add("near", &person.SetAttribute{Key: "a", Value: "2"})

	versions := func(from, to uint64) string {
		t.Helper()
		evs, err := es.HistoryNear(ctx, "near", from, to, last)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, e := range evs {
			out = append(out, e.Version)
		}
		return fmt.Sprint(out)
	}
	if got := versions(2, 3); got != "[2]" { // the event at `last` (3) is not read
		t.Errorf("version 2 from the window: %s", got)
	}
	if got := versions(1, 2); got != "[1 2 3]" { // 1 is out of the window: History from 1
		t.Errorf("versions 1-2: %s", got)
	}
}

func TestRefreshReadsOnlyWhatIsNew(t *testing.T) {
	ctx := context.Background()
	es := newStore(t, 0)
	l, err := es.LoadFresh(ctx, "p-1")
	if err != nil {
		t.Fatal(err)
	}
	seq, err := es.Append(ctx, "p-1", 0, decide(t, l, "c-1", &person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}}))
	if err != nil {
		t.Fatal(err)
	}
	mine, err := es.LoadFresh(ctx, "p-1") // this replica's copy, at version 1
	if err != nil {
		t.Fatal(err)
	}
	other, _ := es.LoadFresh(ctx, "p-1") // another replica appends twice
	for i, v := range []string{"a", "b"} {
		if seq, err = es.Append(ctx, "p-1", other.LastSeq, decide(t, other, fmt.Sprintf("c-%d", i+2), &person.SetAttribute{Key: "k", Value: v})); err != nil {
			t.Fatal(err)
		}
		if other, err = es.LoadFresh(ctx, "p-1"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := es.Refresh(ctx, mine)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := got.Person.Attribute("k"); got.LastSeq != seq || got.Person.Version() != 3 || k != "b" {
		t.Fatalf("refreshed to seq %d version %d, want seq %d version 3 with k=b", got.LastSeq, got.Person.Version(), seq)
	}
}
