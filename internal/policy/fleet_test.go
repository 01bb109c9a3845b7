package policy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

// fleet is a test double of the whole fleet for one person: it decides
// commands against the aggregate, evaluates the policies over every event,
// sends their immediate commands back through the aggregate and keeps their
// timed ones until fire is called. Every policy command must be accepted.
type fleet struct {
	t        *testing.T
	pols     []Policy
	p        *person.Person
	now      time.Time
	n        int
	events   []person.Event
	requests []Request // every request, in emission order
	timers   []Request // pending timed requests
	accepted map[string][]person.Event
}

func newFleet(t *testing.T, pols []Policy) *fleet {
	return &fleet{t: t, pols: pols, p: person.New("p-1"), now: t0, accepted: map[string][]person.Event{}}
}

func (f *fleet) env() person.Env {
	return person.Env{Now: f.now, PersonExists: func(person.ID) (bool, error) { return true, nil }}
}

// do decides a user command, which must be accepted.
func (f *fleet) do(cmd person.Command) []person.Event {
	f.t.Helper()
	f.n++
	f.now = f.now.Add(time.Minute)
	evs, err := f.decide(cmd, person.Meta{CommandID: fmt.Sprintf("cmd-%d", f.n), Actor: "tester", At: f.now})
	if err != nil {
		f.t.Fatalf("%s: %v", cmd.CommandType(), err)
	}
	return evs
}

func (f *fleet) decide(cmd person.Command, m person.Meta) ([]person.Event, error) {
	f.t.Helper()
	pls, err := f.p.Decide(cmd, f.env())
	if err != nil {
		return nil, err
	}
	evs := person.NewEvents(f.p.ID(), f.p.Version(), m, pls)
	for i := range evs {
		if err := f.p.Apply(&evs[i]); err != nil {
			f.t.Fatal(err)
		}
	}
	f.events = append(f.events, evs...)
	for i := range evs {
		for _, r := range Evaluate(f.pols, &evs[i]) {
			f.requests = append(f.requests, r)
			if r.NotBefore.IsZero() {
				f.run(r)
			} else {
				f.timers = append(f.timers, r)
			}
		}
	}
	return evs, nil
}

// run sends a policy command: it must survive the wire (strict decoding),
// be accepted, and already be in the aggregate's normal form.
func (f *fleet) run(r Request) {
	f.t.Helper()
	if err := f.try(r); err != nil {
		f.t.Fatalf("policy %s: %s %+v rejected: %v", r.Policy, r.Command.CommandType(), r.Command, err)
	}
}

func (f *fleet) try(r Request) error {
	f.t.Helper()
	data, err := json.Marshal(r.Command)
	if err != nil {
		f.t.Fatal(err)
	}
	decoded, err := person.DecodeCommand(r.Command.CommandType(), data)
	if err != nil {
		f.t.Fatalf("policy %s: %s does not survive the wire: %v (%s)", r.Policy, r.Command.CommandType(), err, data)
	}
	if !reflect.DeepEqual(decoded, r.Command) {
		f.t.Fatalf("policy %s: wire changed %+v into %+v", r.Policy, r.Command, decoded)
	}
	evs, err := f.decide(decoded, person.Meta{CommandID: r.ID, CorrelationID: r.CorrelationID, Actor: r.Policy, At: f.now})
	if err != nil {
		return err
	}
	if after, _ := json.Marshal(decoded); string(after) != string(data) {
		f.t.Fatalf("policy %s: the aggregate normalised %s into %s: policies should emit normal forms", r.Policy, data, after)
	}
	f.accepted[r.ID] = evs
	return nil
}

// fire delivers every pending timer at its time and returns the outcomes.
func (f *fleet) fire() []error {
	f.t.Helper()
	timers := f.timers
	f.timers = nil
	var errs []error
	for _, r := range timers {
		if r.NotBefore.After(f.now) {
			f.now = r.NotBefore
		}
		errs = append(errs, f.try(r))
	}
	return errs
}

// count returns how many accepted policy commands of the policy there were.
func (f *fleet) count(policy string) int {
	n := 0
	for _, r := range f.requests {
		if _, ok := f.accepted[r.ID]; ok && r.Policy == policy {
			n++
		}
	}
	return n
}

// typicalHistory runs a person through a life that fires every default
// policy, several times.
func (f *fleet) typicalHistory() {
	f.do(&person.CreatePerson{Name: person.Name{GivenName: "A", FamilyName: "Lovelace"}, Source: "crm"})
	f.do(&person.AddEmail{Email: "ada@example.org"})
	f.do(&person.AddEmail{Email: "ada@analytical.engine.uk", Primary: true})
	f.do(&person.AddPhone{Number: "020 7946 0000", Kind: person.PhoneWork})
	f.do(&person.AddPhone{Number: "07700 900123", CountryCode: "44", Kind: person.PhoneMobile})
	f.do(&person.UpdatePhone{Number: "020 7946 0000", Kind: ptr(person.PhoneHome)})
	f.do(&person.UpdatePhone{Number: "020 7946 0000", NewNumber: "020 7946 0001"})
	f.do(&person.UpdateName{Name: person.Name{GivenName: "Ada", FamilyName: "L"}})
	f.do(&person.SetAttribute{Key: "git_profile", Value: `{"url":"https://github.com/ada","languages":["Go","rust","golang","Haskell"]}`})
	f.do(&person.AddSkill{Skill: person.Skill{Name: "Python"}})
	f.do(&person.SetAttribute{Key: "git_profile", Value: "python, Zig, go, ocaml"})
	f.do(&person.StartOnboarding{})
	f.do(&person.RequestIdentityVerification{})
	f.do(&person.VerifyIdentity{IdentityID: "id-42"})
	f.do(&person.SubmitBasicInfo{Email: "ada@example.org", Phone: "+44 7700 900123"})
	f.do(&person.DeactivatePerson{Reason: "left"})
}

func ptr[T any](v T) *T { return &v }

// TestDefaultCommandsAccepted: every command the default policies emit over
// a realistic history passes the wire and the aggregate.
func TestDefaultCommandsAccepted(t *testing.T) {
	f := newFleet(t, Defaults(Config{}))
	f.typicalHistory()
	for pol, want := range map[string]int{
		WelcomeNotification: 1,
		DataQuality:         5, // given "A", email example.org, two national numbers, family "L"
		SkillRecommendation: 2,
	} {
		if got := f.count(pol); got != want {
			t.Errorf("%s: %d commands accepted, want %d", pol, got, want)
		}
	}
	if !f.p.Notified("welcome") || f.p.QualityFlags() != 5 {
		t.Errorf("notified %v, quality flags %d", f.p.Notified("welcome"), f.p.QualityFlags())
	}
	var names []string
	for _, s := range f.p.RecommendedSkills() {
		names = append(names, s.Name)
	}
	if fmt.Sprint(names) != "[Go Rust Haskell Zig OCaml]" {
		t.Errorf("recommended %v", names)
	}
	if len(f.timers) != 1 {
		t.Fatalf("%d timers, want the auto-archive one", len(f.timers))
	}
	deact := f.events[len(f.events)-1]
	if want := deact.OccurredAt.Add(DefaultInactivityPeriod); !f.timers[0].NotBefore.Equal(want) {
		t.Fatalf("timer at %s, want %s", f.timers[0].NotBefore, want)
	}
	if errs := f.fire(); errs[0] != nil {
		t.Fatalf("auto-archive rejected: %v", errs[0])
	}
	if f.p.Lifecycle() != person.LifecycleArchived {
		t.Fatalf("lifecycle %s after the timer, want archived", f.p.Lifecycle())
	}
}

// TestAutoArchiveAfterReactivation: a timer armed by a deactivation that
// was undone is rejected, and the next deactivation arms its own.
func TestAutoArchiveAfterReactivation(t *testing.T) {
	f := newFleet(t, Defaults(Config{InactivityPeriod: time.Hour}))
	f.do(&person.CreatePerson{Name: person.Name{GivenName: "Grace", FamilyName: "Hopper"}})
	f.do(&person.DeactivatePerson{})
	f.do(&person.ReactivatePerson{})
	errs := f.fire()
	if len(errs) != 1 || person.CodeOf(errs[0]) != person.ErrNotInactive.Code() {
		t.Fatalf("stale timer: %v, want not_inactive", errs)
	}
	f.do(&person.SuspendPerson{})
	f.do(&person.DeactivatePerson{}) // from suspended
	errs = f.fire()
	if len(errs) != 1 || errs[0] != nil {
		t.Fatalf("fresh timer: %v, want accepted", errs)
	}
	if f.p.Lifecycle() != person.LifecycleArchived {
		t.Fatalf("lifecycle %s, want archived", f.p.Lifecycle())
	}
}
