package person_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

// now is the decision time of every test; dates after it lie in the future.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	pid     person.ID = "p-1" // the person under test
	otherID person.ID = "p-2" // a person that exists (merge target)
	ghostID person.ID = "p-9" // a person that does not exist
)

var errDirectory = errors.New("directory unavailable")

func testEnv() person.Env {
	return person.Env{Now: now, PersonExists: func(id person.ID) (bool, error) {
		switch id {
		case otherID:
			return true, nil
		case "p-broken":
			return false, errDirectory
		}
		return false, nil
	}}
}

// commandID is the id a helper gives the command deciding on version v.
func commandID(id person.ID, v uint64) string { return fmt.Sprintf("cmd-%s-%d", id, v) }

// do decides c on p and applies the resulting events, as a worker would.
func do(p *person.Person, c person.Command, env person.Env) ([]person.Event, error) {
	pl, err := p.Decide(c, env)
	if err != nil {
		return nil, err
	}
	evs := person.NewEvents(p.ID(), p.Version(), person.Meta{CommandID: commandID(p.ID(), p.Version()), Actor: "test", At: now}, pl)
	for i := range evs {
		if err := p.Apply(&evs[i]); err != nil {
			return nil, fmt.Errorf("apply %s: %w", evs[i].Type(), err)
		}
	}
	return evs, nil
}

func mustDo(t testing.TB, p *person.Person, c person.Command) []person.Event {
	t.Helper()
	evs, err := do(p, c, testEnv())
	if err != nil {
		t.Fatalf("%s: %v", c.CommandType(), err)
	}
	return evs
}

// build returns person pid after the given commands, each accepted; the
// events are its history.
func build(t testing.TB, cmds ...person.Command) (*person.Person, []person.Event) {
	t.Helper()
	p := person.New(pid)
	var history []person.Event
	for _, c := range cmds {
		history = append(history, mustDo(t, p, c)...)
	}
	return p, history
}

func newPerson(t testing.TB, cmds ...person.Command) *person.Person {
	t.Helper()
	p, _ := build(t, cmds...)
	return p
}

func payloadTypes(pl []person.Payload) []person.EventType {
	out := make([]person.EventType, len(pl))
	for i, p := range pl {
		out[i] = p.EventType()
	}
	return out
}

func eventTypes(evs []person.Event) []person.EventType {
	out := make([]person.EventType, len(evs))
	for i := range evs {
		out[i] = evs[i].Type()
	}
	return out
}

func sortedCommandTypes() []person.CommandType {
	ts := person.CommandTypes()
	slices.Sort(ts)
	return ts
}

// Fresh commands: Decide normalises a command in place, so every use gets
// its own value.

func create() *person.CreatePerson {
	return &person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}, Source: "crm", ImportID: "crm-1"}
}

func active(extra ...person.Command) []person.Command {
	return append([]person.Command{create()}, extra...)
}

func addEmail(a string) *person.AddEmail { return &person.AddEmail{Email: a} }

func addPhone(n string) *person.AddPhone {
	return &person.AddPhone{Number: n, Kind: person.PhoneMobile}
}

func home() person.Address {
	return person.Address{Kind: person.AddressHome, Street: []string{"12 St James's Square"}, City: "London", PostalCode: "SW1Y 4JH", Country: "gb"}
}

func work() person.Address {
	return person.Address{Kind: person.AddressWork, Street: []string{"1 Babbage Lane"}, City: "Cambridge", Country: "GB"}
}

func addAddress(id string, a person.Address) *person.AddAddress {
	return &person.AddAddress{AddressID: id, Address: a}
}

func addSkill(name string) *person.AddSkill {
	return &person.AddSkill{Skill: person.Skill{Name: name, Category: "engineering", Proficiency: person.Advanced, Years: 5}}
}

func employment(id string) person.Employment {
	return person.Employment{ID: id, Employer: "Analytical Engines Ltd", Role: "Programmer", Start: person.MustDate("1842-01-01")}
}

func addEmployment(id string) *person.AddEmployment {
	return &person.AddEmployment{Employment: employment(id)}
}

func social(handle string) person.SocialProfile {
	return person.SocialProfile{Platform: person.GitHub, Handle: handle, URL: "https://github.com/" + handle}
}

func addSocial(handle string) *person.AddSocialProfile {
	return &person.AddSocialProfile{SocialProfile: social(handle)}
}

func setAttr(k, v string) *person.SetAttribute { return &person.SetAttribute{Key: k, Value: v} }

func suspend() *person.SuspendPerson       { return &person.SuspendPerson{Reason: "review"} }
func deactivate() *person.DeactivatePerson { return &person.DeactivatePerson{Reason: "left"} }
func reactivate() *person.ReactivatePerson { return &person.ReactivatePerson{Reason: "back"} }
func archive() *person.ArchivePerson       { return &person.ArchivePerson{Reason: "old"} }
func merge() *person.MergePersons {
	return &person.MergePersons{TargetID: otherID, Reason: "duplicate"}
}
func death(d string) *person.RecordDeath  { return &person.RecordDeath{DateOfDeath: person.MustDate(d)} }
func birth(d string) *person.SetBirthDate { return &person.SetBirthDate{BirthDate: person.MustDate(d)} }

// The onboarding steps, with valid data.
func startOnb() person.Command      { return &person.StartOnboarding{} }
func requestID() person.Command     { return &person.RequestIdentityVerification{} }
func verifyID() person.Command      { return &person.VerifyIdentity{IdentityID: "idp-42"} }
func completeO() person.Command     { return &person.CompleteOnboarding{} }
func restartO() person.Command      { return &person.RestartOnboarding{} }
func failO(r string) person.Command { return &person.FailOnboarding{Reason: r} }

func submitInfo() person.Command {
	return &person.SubmitBasicInfo{Email: "ada@Example.ORG", Phone: "020 7946 0958", CountryCode: "44"}
}

func setUp() person.Command {
	return &person.SetUpComponents{
		Skills:         []person.Skill{{Name: "Mathematics", Proficiency: person.Expert}, {Name: "Poetry"}},
		Employment:     &person.Employment{ID: "ae", Employer: "Analytical Engines Ltd", Start: person.MustDate("1842-01-01")},
		SocialProfiles: []person.SocialProfile{{Platform: person.GitHub, Handle: "ada"}},
	}
}

func assignLoc() person.Command {
	a := home()
	return &person.AssignLocation{AddressID: "home", Address: &a}
}

// onboardingStates is the workflow in order, each with the step that leads to it.
var onboardingStates = []person.OnboardingState{
	person.OnboardingStartedState, person.OnboardingAwaitingIdentity, person.OnboardingCollectingBasicInfo,
	person.OnboardingSettingUpComponents, person.OnboardingAssigningLocation, person.OnboardingFinalizing,
	person.OnboardingCompletedState,
}

func onboardingSteps() []person.Command {
	return []person.Command{startOnb(), requestID(), verifyID(), submitInfo(), setUp(), assignLoc(), completeO()}
}

// onboardedTo returns the commands that create a person and bring its
// onboarding to state s (failed: failed from awaiting identity verification).
func onboardedTo(s person.OnboardingState) []person.Command {
	out := active()
	if s == person.OnboardingNone {
		return out
	}
	if s == person.OnboardingFailedState {
		return append(out, startOnb(), requestID(), failO("no documents"))
	}
	steps := onboardingSteps()
	for i, st := range onboardingStates {
		out = append(out, steps[i])
		if st == s {
			return out
		}
	}
	panic("unknown onboarding state " + string(s))
}

// rich is a person with components of every kind, as a typical person
// after onboarding.
func rich() []person.Command { return append(richNoBirth(), birth("1815-12-10")) }

// richNoBirth is rich without a birth date (which may be set in any state
// but deceased-before-birth and merged).
func richNoBirth() []person.Command {
	return append(onboardedTo(person.OnboardingCompletedState),
		addEmail("ada.work@analytical.example"),
		addPhone("+1 202 555 0142"),
		addAddress("work", work()),
		addSkill("Go"),
		&person.EndorseSkill{Name: "Go", Endorser: "charles"},
		addEmployment("ae2"),
		addSocial("lovelace"),
		&person.SetPreferences{Preferences: person.Preferences{Language: "en-GB", Timezone: "Europe/London", ContactChannel: person.ChannelEmail}},
		&person.RecordConsent{Consent: person.Consent{Purpose: "marketing_email", Granted: true}},
		setAttr("team", "engines"),
	)
}
