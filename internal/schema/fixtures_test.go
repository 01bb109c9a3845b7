package schema

import (
	"fmt"
	"maps"
	"reflect"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

// The envelope every fixture event carries.
const (
	fixturePerson      = person.ID("0b9e6a52-3c1d-4f7e-9a5b-2d8c1e4f6a70")
	fixtureCorrelation = "6f1c2b7e-0d4a-4c5e-8f3b-9a1d2e3f4a5b"
	fixtureCausation   = "8a2d3c4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e"
	fixtureActor       = "user:ada@example.org"
	fixtureTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

var fixtureTime = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

// fixtureEvent wraps a payload in the fixture envelope.
func fixtureEvent(p person.Payload) person.Event {
	return person.Event{
		ID:            person.EventID(fixtureCausation+"/"+string(p.EventType()), 0),
		PersonID:      fixturePerson,
		Version:       7,
		OccurredAt:    fixtureTime,
		CorrelationID: fixtureCorrelation,
		CausationID:   fixtureCausation,
		Actor:         fixtureActor,
		Trace:         map[string]string{"traceparent": fixtureTraceparent},
		Payload:       p,
	}
}

var (
	adaName = person.Name{GivenName: "Ada", FamilyName: "Lovelace", MiddleNames: []string{"King"}, Honorific: "Countess"}
	adaHome = person.AddressEntry{ID: "home", Address: person.Address{
		Kind: person.AddressHome, Street: []string{"12 St James's Square"}, City: "London",
		PostalCode: "SW1Y 4JH", Country: "GB",
	}}
	adaEmail = person.Email{Address: "ada@example.org", Verified: true, Primary: true}
	adaPhone = person.Phone{Number: "+44 20 7946 0958", E164: "+442079460958", Kind: person.PhoneMobile, Primary: true}
	adaSkill = person.Skill{Name: "Mathematics", Category: "science", Proficiency: person.Expert, Years: 20}
	adaJob   = person.Employment{
		ID: "ae-1", Employer: "Analytical Engine Co", Role: "Analyst", Department: "R&D <notes>",
		Start: person.MustDate("1842-01-01"), End: person.MustDate("1843-09-01"),
	}
	adaGitHub = person.SocialProfile{Platform: person.GitHub, Handle: "ada", URL: "https://github.com/ada"}
)

// samplePayloads is one representative payload of every event type: every
// field set, so a field lost by the codec shows.
func samplePayloads() []person.Payload {
	return []person.Payload{
		&person.PersonCreated{Name: adaName, SourceSystem: "crm", ImportID: "crm-42"},
		&person.NameUpdated{
			Name:         person.Name{GivenName: "Augusta", FamilyName: "Lovelace", MiddleNames: []string{"Ada"}, Preferred: "Ada", Suffix: "FRS"},
			Previous:     adaName,
			ChangeReason: "preferred name",
		},
		&person.BirthDateSet{BirthDate: person.MustDate("1815-12-10")},
		&person.DeathRecorded{DateOfDeath: person.MustDate("1852-11-27")},
		&person.PersonDeactivated{Reason: "left the society"},
		&person.PersonSuspended{Reason: "under review"},
		&person.PersonReactivated{Reason: "review passed"},
		&person.PersonArchived{Reason: "inactive for 2 years", Automatic: true},
		&person.PersonMerged{TargetID: "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", Reason: "duplicate"},
		&person.EmailAdded{Email: adaEmail, First: true},
		&person.EmailUpdated{Email: person.Email{Address: "ada@example.org", Verified: true}},
		&person.EmailRemoved{Email: "ada@example.org"},
		&person.PhoneAdded{Phone: adaPhone},
		&person.PhoneUpdated{Key: "+442079460958", Phone: person.Phone{Number: "020 7946 0959", E164: "+442079460959", Kind: person.PhoneHome}},
		&person.PhoneRemoved{Key: "+442079460958"},
		&person.AddressAdded{AddressEntry: adaHome},
		&person.AddressUpdated{AddressEntry: person.AddressEntry{ID: "home", Address: person.Address{
			Kind: person.AddressMailing, Street: []string{"Ockham Park", "East Horsley"}, City: "Ockham",
			Region: "Surrey", PostalCode: "GU23 6NZ", Country: "GB",
		}}},
		&person.AddressRemoved{AddressID: "home"},
		&person.SkillAdded{Skill: adaSkill},
		&person.SkillUpdated{Skill: person.Skill{Name: "Mathematics", Category: "science", Proficiency: person.Advanced, Years: 21}},
		&person.SkillRemoved{Name: "Mathematics"},
		&person.SkillEndorsed{Name: "Mathematics", Endorser: "charles-babbage"},
		&person.EmploymentAdded{Employment: adaJob},
		&person.EmploymentUpdated{Employment: person.Employment{
			ID: "ae-1", Employer: "Analytical Engine Co", Role: "Lead analyst", Start: person.MustDate("1842-01-01"),
		}},
		&person.EmploymentEnded{EmploymentID: "ae-1", EndDate: person.MustDate("1843-09-01")},
		&person.EmploymentRemoved{EmploymentID: "ae-1"},
		&person.SocialProfileAdded{Profile: adaGitHub},
		&person.SocialProfileUpdated{Profile: person.SocialProfile{Platform: person.GitHub, Handle: "ada", URL: "https://github.com/ada-lovelace"}},
		&person.SocialProfileRemoved{Platform: person.GitHub, Handle: "ada"},
		&person.PreferencesSet{Preferences: person.Preferences{Language: "en-GB", Timezone: "Europe/London", ContactChannel: person.ChannelEmail}},
		&person.ConsentRecorded{Consent: person.Consent{Purpose: "marketing_email", Granted: true}},
		&person.AttributeSet{Key: "favourite_engine", Value: "analytical\n\"difference\" too"},
		&person.AttributeRemoved{Key: "favourite_engine"},
		&person.OnboardingStarted{},
		&person.OnboardingAdvanced{From: person.OnboardingStartedState, To: person.OnboardingAwaitingIdentity},
		&person.IdentityLinked{IdentityID: "idp-7f3a"},
		&person.LocationAssigned{AddressID: "home"},
		&person.OnboardingCompleted{},
		&person.OnboardingFailed{From: person.OnboardingCollectingBasicInfo, Reason: "identity check timed out"},
		&person.OnboardingRestarted{},
		&person.NotificationRecorded{Kind: "welcome", Channel: person.ChannelEmail, Target: "ada@example.org"},
		&person.DataQualityFlagged{Issue: "reserved_email_domain", Field: "email", Value: "ada@example.org"},
		&person.SkillsRecommended{Skills: []person.Skill{
			{Name: "Go", Category: "programming", Proficiency: person.Intermediate, Years: 2},
			{Name: "NATS", Category: "messaging", Proficiency: person.Beginner},
		}, Source: "github"},
	}
}

// sampleByType indexes samplePayloads.
func sampleByType() map[person.EventType]person.Payload {
	m := make(map[person.EventType]person.Payload)
	for _, p := range samplePayloads() {
		m[p.EventType()] = p
	}
	return m
}

// diffEvents describes how two events differ, or returns "" when they are
// the same event: envelopes equal (times equal and in UTC), payloads of the
// same type and deeply equal where a nil and an empty slice or map count as
// equal (JSON cannot tell them apart once omitempty dropped them).
func diffEvents(got, want person.Event) string {
	switch {
	case got.ID != want.ID:
		return fmt.Sprintf("ID %q, want %q", got.ID, want.ID)
	case got.PersonID != want.PersonID:
		return fmt.Sprintf("PersonID %q, want %q", got.PersonID, want.PersonID)
	case got.Version != want.Version:
		return fmt.Sprintf("Version %d, want %d", got.Version, want.Version)
	case !got.OccurredAt.Equal(want.OccurredAt) || got.OccurredAt.Location() != time.UTC:
		return fmt.Sprintf("OccurredAt %v, want %v in UTC", got.OccurredAt, want.OccurredAt)
	case got.CorrelationID != want.CorrelationID:
		return fmt.Sprintf("CorrelationID %q, want %q", got.CorrelationID, want.CorrelationID)
	case got.CausationID != want.CausationID:
		return fmt.Sprintf("CausationID %q, want %q", got.CausationID, want.CausationID)
	case got.Actor != want.Actor:
		return fmt.Sprintf("Actor %q, want %q", got.Actor, want.Actor)
	case !maps.Equal(got.Trace, want.Trace):
		return fmt.Sprintf("Trace %v, want %v", got.Trace, want.Trace)
	case reflect.TypeOf(got.Payload) != reflect.TypeOf(want.Payload):
		return fmt.Sprintf("Payload %T, want %T", got.Payload, want.Payload)
	case !looseEqual(reflect.ValueOf(got.Payload), reflect.ValueOf(want.Payload)):
		return fmt.Sprintf("Payload %+v, want %+v", got.Payload, want.Payload)
	}
	return ""
}

func looseEqual(a, b reflect.Value) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return looseEqual(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !looseEqual(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !looseEqual(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			if v := b.MapIndex(k); !v.IsValid() || !looseEqual(a.MapIndex(k), v) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	default:
		panic(fmt.Sprintf("looseEqual: unsupported kind %v", a.Kind()))
	}
}
