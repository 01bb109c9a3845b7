package projection

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

func minute(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func TestSummaryReplay(t *testing.T) {
	evs := realisticHistory(t)
	var s Summary
	if err := Replay(&s, evs); err != nil {
		t.Fatal(err)
	}
	want := Summary{
		PersonID:     "ada",
		Version:      uint64(len(evs)),
		DisplayName:  "Ada King",
		FullName:     "Countess Augusta Ada King",
		PrimaryEmail: "ada@analytical.engine.uk", // the primary was removed: first verified
		PrimaryPhone: "+447700900123",
		Emails:       []string{"ada@analytical.engine.uk", "countess@lovelace.uk"},
		Lifecycle:    "active",
		Employer:     "Analytical Society",
		Role:         "Translator",
		SkillsCount:  2,
		Onboarding:   "completed",
		QualityFlags: 1,
		CreatedAt:    minute(1),
		UpdatedAt:    minute(26),
		Detail: SummaryDetail{
			Emails: []EmailEntry{{Address: "ada@analytical.engine.uk", Verified: true}, {Address: "countess@lovelace.uk"}},
			Phones: []PhoneEntry{
				{Key: "+442079460000", Number: "+44 20 7946 0000", E164: "+442079460000"},
				{Key: "+447700900123", Number: "07700 900123", E164: "+447700900123", Primary: true},
			},
			Employments: []EmploymentEntry{
				{ID: "e1", Employer: "Analytical Society", Role: "Translator", Start: person.MustDate("1842-01-01")},
				{ID: "e2", Employer: "Babbage & Co", Role: "Analyst", Start: person.MustDate("1843-06-01"), End: person.MustDate("1844-01-01")},
			},
			Skills: []string{"mathematics", "analysis"},
		},
	}
	if got, w := mustJSON(t, s), mustJSON(t, want); got != w {
		t.Fatalf("summary\n got %s\nwant %s", got, w)
	}
	const stored = `{"person_id":"ada","version":30,"display_name":"Ada King","full_name":"Countess Augusta Ada King",` +
		`"primary_email":"ada@analytical.engine.uk","primary_phone":"+447700900123",` +
		`"emails":["ada@analytical.engine.uk","countess@lovelace.uk"],"lifecycle":"active","employer":"Analytical Society",` +
		`"role":"Translator","skills_count":2,"onboarding":"completed","quality_flags":1,` +
		`"created_at":"2025-03-14T09:01:00Z","updated_at":"2025-03-14T09:26:00Z","detail":{` +
		`"emails":[{"email":"ada@analytical.engine.uk","verified":true},{"email":"countess@lovelace.uk"}],` +
		`"phones":[{"key":"+442079460000","number":"+44 20 7946 0000","e164":"+442079460000"},` +
		`{"key":"+447700900123","number":"07700 900123","e164":"+447700900123","primary":true}],` +
		`"employments":[{"employment_id":"e1","employer":"Analytical Society","role":"Translator","start_date":"1842-01-01"},` +
		`{"employment_id":"e2","employer":"Babbage \u0026 Co","role":"Analyst","start_date":"1843-06-01","end_date":"1844-01-01"}],` +
		`"skills":["mathematics","analysis"]}}`
	if got := mustJSON(t, s); got != stored {
		t.Fatalf("stored form changed:\n got %s\nwant %s", got, stored)
	}
}

// step applies events that must all be accepted.
func step(t *testing.T, m Model, evs []person.Event) {
	t.Helper()
	for i := range evs {
		if err := m.Apply(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPrimaryEmailFallback(t *testing.T) {
	b := newBuilder(t, "p")
	var s Summary
	do := func(c person.Command) { t.Helper(); step(t, &s, b.do(c)) }
	expect := func(primary string, emails ...string) {
		t.Helper()
		if s.PrimaryEmail != primary || !slices.Equal(s.Emails, emails) {
			t.Fatalf("primary %q emails %q, want %q %q", s.PrimaryEmail, s.Emails, primary, emails)
		}
	}
	do(&person.CreatePerson{Name: person.Name{GivenName: "Ann"}})
	expect("")
	do(&person.AddEmail{Email: "a@x.uk"}) // first: primary
	do(&person.AddEmail{Email: "b@x.uk"})
	do(&person.AddEmail{Email: "c@x.uk", Verified: true})
	expect("a@x.uk", "a@x.uk", "b@x.uk", "c@x.uk")
	do(&person.RemoveEmail{Email: "a@x.uk"})
	expect("c@x.uk", "b@x.uk", "c@x.uk") // no primary left: first verified
	do(&person.UpdateEmail{Email: "b@x.uk", Primary: ptr(true)})
	expect("b@x.uk", "b@x.uk", "c@x.uk")
	do(&person.UpdateEmail{Email: "b@x.uk", Primary: ptr(false)})
	expect("c@x.uk", "b@x.uk", "c@x.uk")
	do(&person.RemoveEmail{Email: "c@x.uk"})
	expect("b@x.uk", "b@x.uk") // none verified: first added
	do(&person.AddEmail{Email: "D@x.uk", Primary: true})
	expect("D@x.uk", "b@x.uk", "D@x.uk")
	do(&person.UpdateEmail{Email: "d@X.UK", Verified: ptr(true)}) // same address, other case
	expect("D@x.uk", "b@x.uk", "D@x.uk")
	do(&person.RemoveEmail{Email: "d@x.uk"})
	do(&person.RemoveEmail{Email: "b@x.uk"})
	expect("")
	if s.Emails != nil {
		t.Fatalf("emails %#v, want nil", s.Emails)
	}
}

func TestPrimaryPhoneFallback(t *testing.T) {
	b := newBuilder(t, "p")
	var s Summary
	do := func(c person.Command) { t.Helper(); step(t, &s, b.do(c)) }
	expect := func(primary string) {
		t.Helper()
		if s.PrimaryPhone != primary {
			t.Fatalf("primary phone %q, want %q (phones %+v)", s.PrimaryPhone, primary, s.Detail.Phones)
		}
	}
	do(&person.CreatePerson{Name: person.Name{GivenName: "Ann"}})
	do(&person.AddPhone{Number: "020 7946 0000"}) // national, no E.164: shown as given
	expect("020 7946 0000")
	do(&person.AddPhone{Number: "0161 496 0000"})
	do(&person.AddPhone{Number: "+44 7700 900123"})
	do(&person.AddPhone{Number: "+1 202 555 0100"})
	expect("020 7946 0000")
	do(&person.RemovePhone{Number: "020 7946 0000"})
	expect("+447700900123") // no primary left: first with an E.164 form
	do(&person.UpdatePhone{Number: "+1 202 555 0100", Primary: ptr(true)})
	expect("+12025550100")
	do(&person.UpdatePhone{Number: "+1 202 555 0100", NewNumber: "+1 202 555 0199"})
	expect("+12025550199") // renumbered, still primary
	do(&person.UpdatePhone{Number: "+1 202 555 0199", Primary: ptr(false)})
	expect("+447700900123")
	do(&person.RemovePhone{Number: "+44 7700 900123"})
	do(&person.RemovePhone{Number: "+1 202 555 0199"})
	expect("0161 496 0000") // none in E.164: first added
	do(&person.RemovePhone{Number: "0161 496 0000"})
	expect("")
}

func TestCurrentEmployment(t *testing.T) {
	b := newBuilder(t, "p")
	var s Summary
	do := func(c person.Command) { t.Helper(); step(t, &s, b.do(c)) }
	expect := func(employer, role string) {
		t.Helper()
		if s.Employer != employer || s.Role != role {
			t.Fatalf("employment %q %q, want %q %q", s.Employer, s.Role, employer, role)
		}
	}
	emp := func(id, employer, role, start string) person.Employment {
		return person.Employment{ID: id, Employer: employer, Role: role, Start: person.MustDate(start)}
	}
	do(&person.CreatePerson{Name: person.Name{GivenName: "Ann"}})
	expect("", "")
	do(&person.AddEmployment{Employment: emp("b", "Later", "Lead", "2020-01-01")})
	do(&person.AddEmployment{Employment: emp("a", "Earlier", "Dev", "2010-01-01")}) // added later, started earlier
	expect("Later", "Lead")
	do(&person.UpdateEmployment{Employment: emp("b", "Later", "CTO", "2020-01-01")})
	expect("Later", "CTO")
	do(&person.EndEmployment{EmploymentID: "b", EndDate: person.MustDate("2024-01-01")})
	expect("Earlier", "Dev")
	do(&person.AddEmployment{Employment: emp("c", "Same Day", "Ops", "2010-01-01")}) // tie: added last wins
	expect("Same Day", "Ops")
	do(&person.RemoveEmployment{EmploymentID: "c"})
	expect("Earlier", "Dev")
	do(&person.EndEmployment{EmploymentID: "a", EndDate: person.MustDate("2011-01-01")})
	expect("", "")
}

func TestSummaryLifecycle(t *testing.T) {
	b := newBuilder(t, "p")
	var s Summary
	do := func(c person.Command, want string) {
		t.Helper()
		step(t, &s, b.do(c))
		if s.Lifecycle != want {
			t.Fatalf("after %s: lifecycle %q, want %q", c.CommandType(), s.Lifecycle, want)
		}
	}
	do(&person.CreatePerson{Name: person.Name{GivenName: "Ann"}}, "active")
	do(&person.SuspendPerson{}, "suspended")
	do(&person.DeactivatePerson{}, "deactivated")
	do(&person.ReactivatePerson{}, "active")
	do(&person.StartOnboarding{}, "active")
	do(&person.RequestIdentityVerification{}, "active")
	do(&person.FailOnboarding{Reason: "no id"}, "suspended") // the aggregate suspends
	do(&person.RestartOnboarding{}, "active")
	do(&person.DeactivatePerson{}, "deactivated")
	do(&person.AutoArchivePerson{DeactivatedVersion: b.p.LifecycleVersion()}, "archived")
	do(&person.RecordDeath{DateOfDeath: person.MustDate("2025-01-01")}, "deceased")
	if s.MergedInto != "" || s.Onboarding != "started" {
		t.Fatalf("merged into %q, onboarding %q", s.MergedInto, s.Onboarding)
	}

	b2 := newBuilder(t, "q")
	var s2 Summary
	step(t, &s2, b2.do(&person.CreatePerson{Name: person.Name{GivenName: "Ann"}}))
	step(t, &s2, b2.do(&person.MergePersons{TargetID: "p"}))
	if s2.Lifecycle != "merged" || s2.MergedInto != "p" {
		t.Fatalf("after merge: lifecycle %q merged into %q", s2.Lifecycle, s2.MergedInto)
	}
}

func TestVersionRule(t *testing.T) {
	evs := realisticHistory(t)
	for _, m := range []interface {
		Model
		version() uint64
	}{&Summary{}, &Onboarding{}} {
		fresh := mustJSON(t, m)
		if err := m.Apply(&evs[1]); !errors.Is(err, ErrGap) {
			t.Fatalf("%T: version 2 on an empty model: %v, want ErrGap", m, err)
		}
		if mustJSON(t, m) != fresh {
			t.Fatalf("%T: a refused gap changed the model", m)
		}
		step(t, m, evs[:3])
		before := mustJSON(t, m)
		for _, i := range []int{0, 2, 1} {
			if err := m.Apply(&evs[i]); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("%T: version %d again: %v, want ErrDuplicate", m, evs[i].Version, err)
			}
		}
		if err := m.Apply(&evs[5]); !errors.Is(err, ErrGap) {
			t.Fatalf("%T: version 6 at 3: %v, want ErrGap", m, err)
		}
		other := evs[3]
		other.PersonID = "someone-else"
		noPayload := evs[3]
		noPayload.Payload = nil
		zero := evs[3]
		zero.Version = 0
		for _, e := range []*person.Event{nil, &other, &noPayload, &zero} {
			if err := m.Apply(e); !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("%T: %+v: %v, want ErrInvalidEvent", m, e, err)
			}
		}
		if mustJSON(t, m) != before || m.version() != 3 {
			t.Fatalf("%T: refused events changed the model", m)
		}
		step(t, m, evs[3:])
		if m.version() != uint64(len(evs)) {
			t.Fatalf("%T: version %d, want %d", m, m.version(), len(evs))
		}
	}
}

func (s *Summary) version() uint64    { return s.Version }
func (o *Onboarding) version() uint64 { return o.Version }

// alien is a payload type this package does not know: it borrows a real
// payload's unexported method and claims another type.
type alien struct{ *person.AttributeSet }

func (alien) EventType() person.EventType { return "from_the_future" }

// TestExhaustive: every payload type of package person has a case in each
// model's switch, and an unknown type is ignored but advances the version.
func TestExhaustive(t *testing.T) {
	types := person.EventTypes()
	if len(types) < 43 {
		t.Fatalf("only %d event types", len(types))
	}
	for _, typ := range types {
		pl, _ := person.NewPayload(typ)
		e := &person.Event{PersonID: "p", Version: 1, Payload: pl}
		if !(&Summary{}).apply(e) {
			t.Errorf("Summary does not handle %s", typ)
		}
		if !(&Onboarding{}).apply(e) {
			t.Errorf("Onboarding does not handle %s", typ)
		}
	}
	e := &person.Event{PersonID: "p", Version: 1, OccurredAt: t0, Payload: alien{&person.AttributeSet{}}}
	var s Summary
	var o Onboarding
	if s.apply(e) || o.apply(e) {
		t.Fatal("an unknown payload type was handled")
	}
	if err := s.Apply(e); err != nil || s.Version != 1 || !s.UpdatedAt.Equal(t0) {
		t.Fatalf("summary: %v, version %d", err, s.Version)
	}
	if err := o.Apply(e); err != nil || o.Version != 1 {
		t.Fatalf("onboarding: %v, version %d", err, o.Version)
	}
}

func TestClone(t *testing.T) {
	evs := realisticHistory(t)
	var s Summary
	step(t, &s, evs[:10])
	c := s.Clone()
	step(t, &s, evs[10:])
	var again Summary
	step(t, &again, evs[:10])
	if !reflect.DeepEqual(c, &again) {
		t.Fatal("the clone changed when the original moved on")
	}
	var o Onboarding
	step(t, &o, evs[:20])
	oc := o.Clone()
	step(t, &o, evs[20:])
	var oAgain Onboarding
	step(t, &oAgain, evs[:20])
	if !reflect.DeepEqual(oc, &oAgain) {
		t.Fatal("the onboarding clone changed when the original moved on")
	}
}
