package person_test

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

// TestDecideNeverMutates decides every sample command, accepted or not, on
// persons in every lifecycle state and onboarding step, and compares a deep
// snapshot of the state before and after. Payloads returned must not alias
// the state either: scribbling over them leaves the person unchanged.
func TestDecideNeverMutates(t *testing.T) {
	persons := map[string][]person.Command{
		"new":          nil,
		"rich":         rich(),
		"middle names": active(&person.UpdateName{Name: person.Name{GivenName: "Augusta", MiddleNames: []string{"Ada", "Byron"}, FamilyName: "King"}}),
		"suspended":    append(rich(), suspend()),
		"deactivated":  append(rich(), deactivate()),
		"deceased":     append(rich(), death("1852-11-27")),
		"merged":       append(rich(), merge()),
		"failed":       onboardedTo(person.OnboardingFailedState),
	}
	for _, s := range onboardingStates {
		persons["onboarding "+string(s)] = onboardedTo(s)
	}
	for name, given := range persons {
		t.Run(name, func(t *testing.T) {
			p := newPerson(t, given...)
			for _, ct := range person.CommandTypes() {
				for _, cmd := range []person.Command{sample(ct, p), mustDecode(t, ct, "{}")} {
					before := person.Snapshot(p)
					pl, err := p.Decide(cmd, testEnv())
					if err == nil {
						scribble(pl)
					}
					if after := person.Snapshot(p); after != before {
						t.Fatalf("%s (err %v) changed the person:\nbefore %s\nafter  %s", ct, err, before, after)
					}
				}
			}
		})
	}
}

func mustDecode(t testing.TB, ct person.CommandType, data string) person.Command {
	t.Helper()
	c, err := person.DecodeCommand(ct, []byte(data))
	if err != nil {
		t.Fatalf("DecodeCommand(%s, %s): %v", ct, data, err)
	}
	return c
}

// scribble overwrites the slices a payload holds.
func scribble(pl []person.Payload) {
	for _, p := range pl {
		switch e := p.(type) {
		case *person.NameUpdated:
			for i := range e.Previous.MiddleNames {
				e.Previous.MiddleNames[i] = "X"
			}
			for i := range e.Name.MiddleNames {
				e.Name.MiddleNames[i] = "X"
			}
		case *person.AddressAdded:
			for i := range e.Address.Street {
				e.Address.Street[i] = "X"
			}
		case *person.AddressUpdated:
			for i := range e.Address.Street {
				e.Address.Street[i] = "X"
			}
		case *person.SkillsRecommended:
			for i := range e.Skills {
				e.Skills[i].Name = "X"
			}
		}
	}
}

// TestAccessorsReturnCopies: what the accessors return can be changed
// without changing the person.
func TestAccessorsReturnCopies(t *testing.T) {
	p := newPerson(t, append(rich(), &person.UpdateName{Name: person.Name{GivenName: "Augusta", MiddleNames: []string{"Ada"}}},
		&person.RecommendSkills{Skills: []person.Skill{{Name: "Haskell"}}})...)
	before := person.Snapshot(p)
	n := p.Name()
	n.MiddleNames[0] = "X"
	p.Emails()[0].Address = "X"
	p.Phones()[0].Number = "X"
	a := p.Addresses()
	a[0].ID, a[0].Address.Street[0] = "X", "X"
	s := p.Skills()
	s[len(s)-1].Skill.Name, s[len(s)-1].Endorsers[0] = "X", "X"
	p.Employments()[0].Employer = "X"
	p.SocialProfiles()[0].Handle = "X"
	p.RecommendedSkills()[0].Name = "X"
	if after := person.Snapshot(p); after != before {
		t.Fatalf("changing accessor results changed the person:\nbefore %s\nafter  %s", before, after)
	}
}

func TestApplyRejectsCorruptHistory(t *testing.T) {
	p, history := build(t, active(addEmail("ada@example.org"))...)
	before := person.Snapshot(p)
	next := func(f func(*person.Event)) *person.Event {
		e := person.NewEvents(pid, p.Version(), person.Meta{CommandID: "c-x", At: now}, []person.Payload{&person.AttributeSet{Key: "k", Value: "v"}})[0]
		f(&e)
		return &e
	}
	tests := []struct {
		name string
		ev   *person.Event
	}{
		{"other person", next(func(e *person.Event) { e.PersonID = otherID })},
		{"version repeated", next(func(e *person.Event) { e.Version = p.Version() })},
		{"version skipped", next(func(e *person.Event) { e.Version = p.Version() + 2 })},
		{"version zero", next(func(e *person.Event) { e.Version = 0 })},
		{"replayed first event", &history[0]},
		{"no payload", next(func(e *person.Event) { e.Payload = nil })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Apply(tc.ev)
			if person.CodeOf(err) != "version_out_of_order" {
				t.Fatalf("Apply = %v, want version_out_of_order", err)
			}
			if person.Snapshot(p) != before {
				t.Error("a rejected event changed the person")
			}
		})
	}
	if err := p.Apply(next(func(*person.Event) {})); err != nil {
		t.Fatalf("the next event: %v", err)
	}
	if v, _ := p.Attribute("k"); v != "v" || p.Version() != 3 {
		t.Errorf("after apply: %q at v%d", v, p.Version())
	}
	if _, err := person.Rehydrate(pid, append(slices.Clone(history[:1]), history[0])); person.CodeOf(err) != "version_out_of_order" {
		t.Errorf("Rehydrate of a corrupt history = %v", err)
	}
	if _, err := person.Rehydrate(otherID, history); person.CodeOf(err) != "version_out_of_order" {
		t.Errorf("Rehydrate of another person's history = %v", err)
	}
}

// TestRehydrateEqualsStepByStep rebuilds persons from their histories and
// compares them with the persons built event by event.
func TestRehydrateEqualsStepByStep(t *testing.T) {
	for name, cmds := range map[string][]person.Command{
		"rich":     append(rich(), &person.EndEmployment{EmploymentID: "ae2", EndDate: person.MustDate("1850-01-01")}, &person.RemoveEmail{Email: "ada@example.org"}),
		"failed":   append(onboardedTo(person.OnboardingFailedState), restartO()),
		"merged":   append(rich(), merge()),
		"deceased": append(rich(), death("1852-11-27")),
		"empty":    nil,
	} {
		t.Run(name, func(t *testing.T) {
			p, history := build(t, cmds...)
			q, err := person.Rehydrate(pid, history)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := person.Snapshot(p), person.Snapshot(q); a != b {
				t.Fatalf("rehydrated differs:\nstep by step %s\nrehydrated   %s", a, b)
			}
			if q.Version() != uint64(len(history)) || q.Exists() != (len(history) > 0) {
				t.Errorf("version %d of %d events, exists %v", q.Version(), len(history), q.Exists())
			}
			// Rehydrating does not change the history: a second run agrees.
			r, _ := person.Rehydrate(pid, history)
			if person.Snapshot(r) != person.Snapshot(q) {
				t.Error("second rehydration differs")
			}
			if len(history) > 0 && !q.LastActivity().Equal(now) {
				t.Errorf("last activity %v", q.LastActivity())
			}
		})
	}
}

func TestProcessedRemembersRecentCommands(t *testing.T) {
	p := newPerson(t, create())
	id := func(i int) string { return fmt.Sprintf("cmd-%03d", i) }
	total := person.RecentCommands + 10
	for i := range total {
		// Commands of two events count once.
		pl := []person.Payload{&person.AttributeSet{Key: "k", Value: id(i)}, &person.DataQualityFlagged{Issue: "x", Field: "y"}}
		evs := person.NewEvents(pid, p.Version(), person.Meta{CommandID: id(i), At: now}, pl)
		for j := range evs {
			if err := p.Apply(&evs[j]); err != nil {
				t.Fatal(err)
			}
		}
		if !p.Processed(id(i)) {
			t.Fatalf("%s not processed right after", id(i))
		}
	}
	for i := range total {
		want := i >= total-person.RecentCommands
		if got := p.Processed(id(i)); got != want {
			t.Errorf("Processed(%s) = %v, want %v", id(i), got, want)
		}
	}
	if p.Processed("") || p.Processed("never") {
		t.Error("unknown ids processed")
	}
	// The ring survives rehydration: events without a causation id are not remembered.
	q := newPerson(t, create())
	e := person.NewEvents(pid, q.Version(), person.Meta{At: now}, []person.Payload{&person.AttributeSet{Key: "k", Value: "v"}})[0]
	if err := q.Apply(&e); err != nil || q.Processed("") {
		t.Errorf("apply without causation: %v, processed(\"\") %v", err, q.Processed(""))
	}
}

var uuidV5 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewEventsDeterministic(t *testing.T) {
	pl := []person.Payload{&person.EmailAdded{}, &person.PhoneAdded{}, &person.OnboardingAdvanced{}}
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	trace := map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	m := person.Meta{CommandID: "cmd-1", Actor: "alice", At: at, Trace: trace}
	a := person.NewEvents(pid, 7, m, pl)
	b := person.NewEvents(pid, 7, m, pl)
	seen := map[string]bool{}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].ID != person.EventID("cmd-1", i) {
			t.Errorf("event %d: ids %s, %s, EventID %s", i, a[i].ID, b[i].ID, person.EventID("cmd-1", i))
		}
		if !uuidV5.MatchString(a[i].ID) {
			t.Errorf("id %q is not a UUID v5", a[i].ID)
		}
		if seen[a[i].ID] {
			t.Errorf("id %s repeated", a[i].ID)
		}
		seen[a[i].ID] = true
		if a[i].Version != 8+uint64(i) || a[i].PersonID != pid || a[i].CausationID != "cmd-1" || a[i].CorrelationID != "cmd-1" ||
			a[i].Actor != "alice" || !a[i].OccurredAt.Equal(at) || a[i].Trace["traceparent"] != trace["traceparent"] || a[i].Payload != pl[i] {
			t.Errorf("event %d = %+v", i, a[i])
		}
	}
	if person.EventID("cmd-2", 0) == a[0].ID || person.EventID("cmd-1", 3) == a[2].ID {
		t.Error("ids collide across commands or indexes")
	}
	// Ids do not depend on the version or time: a command redecided on a
	// newer state after a conflict keeps its event ids.
	c := person.NewEvents(pid, 9, person.Meta{CommandID: "cmd-1", At: at.Add(time.Hour)}, pl)
	if c[0].ID != a[0].ID {
		t.Error("id depends on the version or time")
	}
	m.CorrelationID = "conv-9"
	if e := person.NewEvents(pid, 0, m, pl[:1])[0]; e.CorrelationID != "conv-9" || e.CausationID != "cmd-1" || e.Version != 1 {
		t.Errorf("explicit correlation: %+v", e)
	}
	if len(person.NewEvents(pid, 0, m, nil)) != 0 {
		t.Error("events without payloads")
	}
}
