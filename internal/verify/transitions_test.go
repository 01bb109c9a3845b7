package verify_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/verify"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// pool returns fresh commands (the aggregate normalises commands in place)
// covering every command type with valid data; some are rejected in some
// states, which is the point: only what the aggregate accepted is recorded.
func pool(p *person.Person, r *rand.Rand) []person.Command {
	email := fmt.Sprintf("user%d@mail.example.org", r.IntN(3))
	phone := fmt.Sprintf("+4420794609%02d", r.IntN(3))
	skill := person.Skill{Name: []string{"Go", "Rust", "SQL"}[r.IntN(3)], Proficiency: person.Expert}
	emp := person.Employment{ID: "e1", Employer: "ACME", Role: "dev", Start: person.MustDate("2020-01-01")}
	addr := person.Address{City: "London", Country: "GB"}
	yes := true
	return []person.Command{
		&person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}},
		&person.UpdateName{Name: person.Name{GivenName: "Ada", FamilyName: fmt.Sprintf("King%d", r.IntN(5))}},
		&person.SetBirthDate{BirthDate: person.MustDate("1990-12-10")},
		&person.RecordDeath{DateOfDeath: person.MustDate("2024-01-01")},
		&person.DeactivatePerson{Reason: "r"},
		&person.SuspendPerson{Reason: "r"},
		&person.ReactivatePerson{Reason: "r"},
		&person.ArchivePerson{Reason: "r"},
		&person.AutoArchivePerson{DeactivatedVersion: max(p.LifecycleVersion(), 1)},
		&person.MergePersons{TargetID: "other"},
		&person.AddEmail{Email: email},
		&person.UpdateEmail{Email: email, Verified: &yes},
		&person.RemoveEmail{Email: email},
		&person.AddPhone{Number: phone},
		&person.UpdatePhone{Number: phone, Primary: &yes},
		&person.RemovePhone{Number: phone},
		&person.AddAddress{AddressID: "home", Address: addr},
		&person.UpdateAddress{AddressID: "home", Address: person.Address{City: "Paris", Country: "FR"}},
		&person.RemoveAddress{AddressID: "home"},
		&person.AddSkill{Skill: skill},
		&person.UpdateSkill{Skill: person.Skill{Name: skill.Name, Proficiency: person.Beginner}},
		&person.RemoveSkill{Name: skill.Name},
		&person.EndorseSkill{Name: skill.Name, Endorser: fmt.Sprintf("bob%d", r.IntN(3))},
		&person.AddEmployment{Employment: emp},
		&person.UpdateEmployment{Employment: person.Employment{ID: "e1", Employer: "ACME", Role: "lead", Start: emp.Start}},
		&person.EndEmployment{EmploymentID: "e1", EndDate: person.MustDate("2023-01-01")},
		&person.RemoveEmployment{EmploymentID: "e1"},
		&person.AddSocialProfile{SocialProfile: person.SocialProfile{Platform: person.GitHub, Handle: "ada"}},
		&person.UpdateSocialProfile{SocialProfile: person.SocialProfile{Platform: person.GitHub, Handle: "ada", URL: "https://github.com/ada"}},
		&person.RemoveSocialProfile{Platform: person.GitHub, Handle: "ada"},
		&person.SetPreferences{Preferences: person.Preferences{Language: "en"}},
		&person.RecordConsent{Consent: person.Consent{Purpose: "marketing", Granted: r.IntN(2) == 0}},
		&person.SetAttribute{Key: "team", Value: "blue"},
		&person.RemoveAttribute{Key: "team"},
		&person.StartOnboarding{},
		&person.RequestIdentityVerification{},
		&person.VerifyIdentity{IdentityID: "id-1"},
		&person.SubmitBasicInfo{Email: email, Phone: phone},
		&person.SetUpComponents{Skills: []person.Skill{skill}, Employment: &emp},
		&person.AssignLocation{AddressID: "home", Address: &addr},
		&person.CompleteOnboarding{},
		&person.FailOnboarding{Reason: "no documents"},
		&person.RestartOnboarding{},
		&person.RecordNotification{Kind: "welcome", Channel: person.ChannelEmail, Target: email},
		&person.FlagDataQuality{Issue: "short_name", Field: "name"},
		&person.RecommendSkills{Skills: []person.Skill{{Name: "Go"}}},
	}
}

// TestTransitionsAcceptWhatTheAggregateDecides drives many persons through
// random commands with the real aggregate and checks that every recorded
// history passes the transition check: the producers table is complete.
func TestTransitionsAcceptWhatTheAggregateDecides(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	env := person.Env{Now: now, PersonExists: func(id person.ID) (bool, error) { return id == "other", nil }}
	accepted := map[person.CommandType]int{}
	for n := range 400 {
		id := person.ID(fmt.Sprintf("p%d", n))
		p := person.New(id)
		var history []person.Event
		for step := range 80 {
			var c person.Command
			if step == 0 {
				c = pool(p, r)[0]
			} else {
				cmds := pool(p, r)
				c = cmds[r.IntN(len(cmds))]
				if onb, _ := p.Onboarding(); r.IntN(2) == 0 {
					// Favour the workflow's next step, or it rarely gets far.
					for _, o := range cmds {
						if slices.Contains(person.OnboardingCommands(onb), o.CommandType()) && o.CommandType() != person.CmdFailOnboarding {
							c = o
							break
						}
					}
				}
			}
			pl, err := p.Decide(c, env)
			if err != nil {
				continue
			}
			accepted[c.CommandType()]++
			evs := person.NewEvents(id, p.Version(), person.Meta{CommandID: fmt.Sprintf("c-%d-%d", n, step), At: now}, pl)
			for i := range evs {
				if err := p.Apply(&evs[i]); err != nil {
					t.Fatal(err)
				}
			}
			history = append(history, evs...)
		}
		problems, _, err := verify.CheckTransitions(id, history)
		if err != nil || len(problems) > 0 {
			t.Fatalf("person %s: %v\n%s", id, err, strings.Join(problems, "\n"))
		}
	}
	for _, c := range person.CommandTypes() {
		if accepted[c] == 0 {
			t.Errorf("%s was never accepted: the generator does not cover it", c)
		}
	}
}

func TestProducersCoverEveryEventType(t *testing.T) {
	for _, et := range person.EventTypes() {
		if len(verify.Producers(et)) == 0 {
			t.Errorf("no producer listed for %s", et)
		}
	}
}

func ev(id person.ID, v uint64, cause string, pl person.Payload) person.Event {
	return person.Event{ID: fmt.Sprintf("%s-%d", id, v), PersonID: id, Version: v, CausationID: cause, OccurredAt: now, Payload: pl}
}

func TestTransitionsFindInvalidDecisions(t *testing.T) {
	created := &person.PersonCreated{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}}
	cases := map[string]struct {
		history []person.Event
		want    string
	}{
		"event before creation": {[]person.Event{
			ev("a", 1, "c1", &person.EmailAdded{Email: person.Email{Address: "a@b.org"}}),
		}, "not allowed in lifecycle none"},
		"created twice": {[]person.Event{
			ev("a", 1, "c1", created), ev("a", 2, "c2", created),
		}, "not allowed in lifecycle active"},
		"name change while archived": {[]person.Event{
			ev("a", 1, "c1", created), ev("a", 2, "c2", &person.PersonArchived{}),
			ev("a", 3, "c3", &person.NameUpdated{Name: person.Name{GivenName: "B", FamilyName: "C"}}),
		}, "not allowed in lifecycle archived"},
		"onboarding completed without a start": {[]person.Event{
			ev("a", 1, "c1", created), ev("a", 2, "c2", &person.OnboardingCompleted{}),
		}, "onboarding none"},
		"onboarding advanced from the wrong state": {[]person.Event{
			ev("a", 1, "c1", created), ev("a", 2, "c2", &person.OnboardingStarted{}),
			ev("a", 3, "c3", &person.OnboardingAdvanced{From: person.OnboardingCollectingBasicInfo, To: person.OnboardingSettingUpComponents}),
		}, "but the workflow was in started"},
		"events of two commands under one id": {[]person.Event{
			ev("a", 1, "c1", created), ev("a", 2, "c1", &person.PersonDeactivated{}),
		}, "no single command emits"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			problems, _, err := verify.CheckTransitions("a", tc.history)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), tc.want) {
				t.Fatalf("want a problem with %q, got %q", tc.want, problems)
			}
		})
	}
}
