package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/personfleet/personfleet/internal/person"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// ev wraps a payload into an event of person p-1 at version 7.
func ev(pl person.Payload) *person.Event {
	return &person.Event{
		ID:            person.EventID("cmd-1", 0),
		PersonID:      "p-1",
		Version:       7,
		OccurredAt:    t0,
		CorrelationID: "corr-1",
		CausationID:   "cmd-1",
		Actor:         "tester",
		Payload:       pl,
	}
}

func TestCommandID(t *testing.T) {
	id := CommandID("e1", "welcome_notification", 0)
	u, err := uuid.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	if u.Version() != 5 || u.Variant() != uuid.RFC4122 {
		t.Fatalf("id %s: version %d variant %v, want a v5 RFC 4122 UUID", id, u.Version(), u.Variant())
	}
	if want := uuid.NewSHA1(commandNamespace, []byte("e1\x00welcome_notification\x000")).String(); id != want {
		t.Fatalf("CommandID = %s, want %s", id, want)
	}
	if again := CommandID("e1", "welcome_notification", 0); again != id {
		t.Fatalf("not deterministic: %s then %s", id, again)
	}
	// Every component matters, and no concatenation collides.
	seen := map[string]string{}
	for _, eid := range []string{"e1", "e2", "e1x", ""} {
		for _, pol := range []string{"welcome_notification", "data_quality", "x", "", "1"} {
			for i := range 12 {
				id := CommandID(eid, pol, i)
				key := eid + "|" + pol + "|" + string(rune('0'+i))
				if prev, dup := seen[id]; dup {
					t.Fatalf("id collision between %s and %s", prev, key)
				}
				seen[id] = key
			}
		}
	}
}

func TestEvaluate(t *testing.T) {
	pols := []Policy{
		{Name: "none", React: func(*person.Event) []Emit { return nil }},
		{Name: "nil_react"},
		{Name: "two", React: func(e *person.Event) []Emit {
			return []Emit{
				{Command: &person.FlagDataQuality{Issue: "a", Field: "b"}},
				{Command: nil}, // skipped, but keeps its index
				{Command: &person.FlagDataQuality{Issue: "c", Field: "d"}, NotBefore: e.OccurredAt.Add(time.Hour)},
			}
		}},
		{Name: "one", React: func(*person.Event) []Emit {
			return []Emit{{Command: &person.SuspendPerson{}}}
		}},
	}
	e := ev(&person.PersonDeactivated{})
	got := Evaluate(pols, e)
	if len(got) != 3 {
		t.Fatalf("got %d requests, want 3: %+v", len(got), got)
	}
	want := []struct {
		policy string
		index  int
		typ    person.CommandType
		nb     time.Time
	}{
		{"two", 0, person.CmdFlagDataQuality, time.Time{}},
		{"two", 2, person.CmdFlagDataQuality, t0.Add(time.Hour)},
		{"one", 0, person.CmdSuspendPerson, time.Time{}},
	}
	for i, w := range want {
		r := got[i]
		if r.Policy != w.policy || r.ID != CommandID(e.ID, w.policy, w.index) || r.Command.CommandType() != w.typ ||
			!r.NotBefore.Equal(w.nb) || r.PersonID != "p-1" || r.CausationID != e.ID || r.CorrelationID != "corr-1" {
			t.Errorf("request %d = %+v, want %+v", i, r, w)
		}
	}

	// Redelivery: the same event yields equal requests with the same ids.
	if again := Evaluate(pols, e); !reflect.DeepEqual(again, got) {
		t.Fatalf("redelivered event: %+v, first time %+v", again, got)
	}

	// An event without a correlation id correlates to itself.
	e2 := ev(&person.PersonDeactivated{})
	e2.CorrelationID = ""
	if r := Evaluate(pols, e2); r[0].CorrelationID != e2.ID {
		t.Fatalf("correlation %q, want the event id %q", r[0].CorrelationID, e2.ID)
	}

	if Evaluate(pols, nil) != nil || Evaluate(pols, &person.Event{}) != nil || Evaluate(nil, e) != nil {
		t.Fatal("nil event, nil payload or no policies must yield nothing")
	}
	if r := Evaluate(pols[:2], e); r != nil {
		t.Fatalf("no policy fired, got %+v", r)
	}
}

// TestDefaultIDsUnique: over a realistic history, every command id the
// default policies emit is distinct, and re-evaluating the history yields
// exactly the same ids.
func TestDefaultIDsUnique(t *testing.T) {
	pols := Defaults(Config{})
	f := newFleet(t, pols)
	f.typicalHistory()
	seen := map[string]bool{}
	for _, r := range f.requests {
		if seen[r.ID] {
			t.Fatalf("duplicate command id %s (%s)", r.ID, r.Policy)
		}
		seen[r.ID] = true
	}
	if len(seen) < 8 {
		t.Fatalf("only %d commands emitted; the history should fire every policy", len(seen))
	}
	var again []string
	for i := range f.events {
		for _, r := range Evaluate(pols, &f.events[i]) {
			again = append(again, r.ID)
		}
	}
	if len(again) != len(f.requests) {
		t.Fatalf("re-evaluation emitted %d commands, first pass %d", len(again), len(f.requests))
	}
	for i, id := range again {
		if id != f.requests[i].ID {
			t.Fatalf("command %d: id %s on re-evaluation, %s first", i, id, f.requests[i].ID)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{DefaultConfig(), true},
		{Config{InactivityPeriod: time.Hour}, true},
		{Config{InactivityPeriod: -time.Hour}, false},
		{Config{InactivityPeriod: time.Millisecond}, false},
	} {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", c.cfg, err, c.ok)
		}
	}
	if DefaultConfig().InactivityPeriod != 90*24*time.Hour {
		t.Fatal("default inactivity period is not 90 days")
	}
	pols := Defaults(Config{})
	var names []string
	for _, p := range pols {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "welcome_notification,data_quality,skill_recommendation,auto_archive" {
		t.Fatalf("default policies %s", got)
	}
}
