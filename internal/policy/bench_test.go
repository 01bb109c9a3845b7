package policy

import (
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

// typicalMix is an event mix of a busy person directory: mostly contact and
// profile changes that no policy reacts to, some that fire one.
func typicalMix() []person.Event {
	pls := []person.Payload{
		&person.PersonCreated{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}, SourceSystem: "crm"},
		&person.EmailAdded{Email: person.Email{Address: "ada@example.org", Primary: true}, First: true},
		&person.PhoneAdded{Phone: person.Phone{Number: "+44 20 7946 0000", E164: "+442079460000", Primary: true}},
		&person.PhoneAdded{Phone: person.Phone{Number: "020 7946 0001"}},
		&person.AddressAdded{AddressEntry: person.AddressEntry{ID: "home", Address: person.Address{City: "London", Country: "GB"}}},
		&person.SkillAdded{Skill: person.Skill{Name: "Mathematics"}},
		&person.SkillEndorsed{Name: "Mathematics", Endorser: "babbage"},
		&person.EmploymentAdded{Employment: person.Employment{ID: "e1", Employer: "Analytical Engines", Start: person.MustDate("1842-01-01")}},
		&person.AttributeSet{Key: "git_profile", Value: `{"url":"https://github.com/ada","languages":["Go","Rust","Haskell"]}`},
		&person.AttributeSet{Key: "team", Value: "engines"},
		&person.NameUpdated{Name: person.Name{GivenName: "Ada", FamilyName: "King"}, Previous: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}},
		&person.OnboardingStarted{},
		&person.OnboardingAdvanced{From: person.OnboardingStartedState, To: person.OnboardingAwaitingIdentity},
		&person.ConsentRecorded{Consent: person.Consent{Purpose: "marketing_email", Granted: true}},
		&person.NotificationRecorded{Kind: "welcome", Channel: person.ChannelEmail},
		&person.PersonDeactivated{Reason: "left"},
	}
	evs := make([]person.Event, len(pls))
	for i, pl := range pls {
		evs[i] = person.Event{
			ID: person.EventID("bench", i), PersonID: "p-1", Version: uint64(i + 1),
			OccurredAt: t0, CorrelationID: "corr", CausationID: "bench", Payload: pl,
		}
	}
	return evs
}

// BenchmarkEvaluate measures one event's evaluation by the four default
// policies, over a typical event mix (ns/op is per event).
func BenchmarkEvaluate(b *testing.B) {
	pols := Defaults(Config{})
	evs := typicalMix()
	fired := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		fired += len(Evaluate(pols, &evs[i%len(evs)]))
	}
	if fired == 0 {
		b.Fatal("nothing fired")
	}
}

// BenchmarkEvaluateQuiet measures an event no policy reacts to.
func BenchmarkEvaluateQuiet(b *testing.B) {
	pols := Defaults(Config{})
	e := &typicalMix()[6]
	b.ReportAllocs()
	for b.Loop() {
		if Evaluate(pols, e) != nil {
			b.Fatal("fired")
		}
	}
}
