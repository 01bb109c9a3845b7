package person_test

import (
	"slices"
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

func TestOnboardingEndToEnd(t *testing.T) {
	const adv = person.EventOnboardingAdvanced
	steps := []struct {
		cmd  person.Command
		to   person.OnboardingState
		want []person.EventType
	}{
		{startOnb(), person.OnboardingStartedState, []person.EventType{person.EventOnboardingStarted}},
		{requestID(), person.OnboardingAwaitingIdentity, []person.EventType{adv}},
		{verifyID(), person.OnboardingCollectingBasicInfo, []person.EventType{person.EventIdentityLinked, adv}},
		{submitInfo(), person.OnboardingSettingUpComponents, []person.EventType{person.EventEmailAdded, person.EventPhoneAdded, adv}},
		{setUp(), person.OnboardingAssigningLocation, []person.EventType{person.EventSkillAdded, person.EventSkillAdded, person.EventEmploymentAdded, person.EventSocialProfileAdded, adv}},
		{assignLoc(), person.OnboardingFinalizing, []person.EventType{person.EventAddressAdded, person.EventLocationAssigned, adv}},
		{completeO(), person.OnboardingCompletedState, []person.EventType{person.EventOnboardingCompleted}},
	}
	p := newPerson(t, create())
	if s, _ := p.Onboarding(); s != person.OnboardingNone {
		t.Fatalf("new person's onboarding = %q", s)
	}
	for _, st := range steps {
		from, _ := p.Onboarding()
		if !slices.Contains(person.OnboardingCommands(from), st.cmd.CommandType()) {
			t.Errorf("OnboardingCommands(%q) = %v lacks %s", from, person.OnboardingCommands(from), st.cmd.CommandType())
		}
		evs := mustDo(t, p, st.cmd)
		if got := eventTypes(evs); !slices.Equal(got, st.want) {
			t.Errorf("%s: events %v, want %v", st.cmd.CommandType(), got, st.want)
		}
		if s, _ := p.Onboarding(); s != st.to {
			t.Errorf("%s: onboarding %q, want %q", st.cmd.CommandType(), s, st.to)
		}
		if a, ok := evs[len(evs)-1].Payload.(*person.OnboardingAdvanced); ok && (a.From != from || a.To != st.to) {
			t.Errorf("%s: advanced %q → %q, want %q → %q", st.cmd.CommandType(), a.From, a.To, from, st.to)
		}
		if p.Lifecycle() != person.LifecycleActive {
			t.Errorf("%s: lifecycle %s", st.cmd.CommandType(), p.Lifecycle())
		}
	}
	if p.IdentityID() != "idp-42" || p.LocationID() != "home" || len(p.Emails()) != 1 || len(p.Phones()) != 1 ||
		len(p.Skills()) != 2 || len(p.Employments()) != 1 || len(p.SocialProfiles()) != 1 || len(p.Addresses()) != 1 {
		t.Errorf("after onboarding: identity %q location %q, %d emails %d phones %d skills %d employments %d profiles %d addresses",
			p.IdentityID(), p.LocationID(), len(p.Emails()), len(p.Phones()), len(p.Skills()), len(p.Employments()), len(p.SocialProfiles()), len(p.Addresses()))
	}
}

func TestOnboardingCommands(t *testing.T) {
	c := func(cs ...person.CommandType) []person.CommandType { return cs }
	fail := person.CmdFailOnboarding
	for s, want := range map[person.OnboardingState][]person.CommandType{
		person.OnboardingNone:                c(person.CmdStartOnboarding),
		person.OnboardingStartedState:        c(person.CmdRequestIdentityVerification),
		person.OnboardingAwaitingIdentity:    c(person.CmdVerifyIdentity, fail),
		person.OnboardingCollectingBasicInfo: c(person.CmdSubmitBasicInfo, fail),
		person.OnboardingSettingUpComponents: c(person.CmdSetUpComponents, fail),
		person.OnboardingAssigningLocation:   c(person.CmdAssignLocation, fail),
		person.OnboardingFinalizing:          c(person.CmdCompleteOnboarding, fail),
		person.OnboardingCompletedState:      nil,
		person.OnboardingFailedState:         c(person.CmdRestartOnboarding),
		"bogus":                              nil,
	} {
		got := person.OnboardingCommands(s)
		if !slices.Equal(got, want) {
			t.Errorf("OnboardingCommands(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestOnboardingStepOrder: from every state of the workflow, every step
// that is not a valid next one is rejected with invalid_transition, and the
// person is not changed.
func TestOnboardingStepOrder(t *testing.T) {
	for _, s := range append([]person.OnboardingState{person.OnboardingNone}, onboardingStates...) {
		name := string(s)
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			p := newPerson(t, onboardedTo(s)...)
			valid := person.OnboardingCommands(s)
			for _, ct := range onboardingCmds {
				if slices.Contains(valid, ct) {
					continue
				}
				before := person.Snapshot(p)
				_, err := p.Decide(sample(ct, p), testEnv())
				if code := person.CodeOf(err); code != "invalid_transition" {
					t.Errorf("%s from %q: code %q (%v), want invalid_transition", ct, s, code, err)
				}
				if person.Snapshot(p) != before {
					t.Errorf("%s changed the person", ct)
				}
			}
		})
	}
}

func TestOnboardingGuards(t *testing.T) {
	tests := []struct {
		name string
		at   person.OnboardingState
		cmd  person.Command
		code string
	}{
		{"identity id missing", person.OnboardingAwaitingIdentity, &person.VerifyIdentity{}, "invalid_identity"},
		{"identity id blank", person.OnboardingAwaitingIdentity, &person.VerifyIdentity{IdentityID: " \t"}, "invalid_identity"},
		{"identity id too long", person.OnboardingAwaitingIdentity, &person.VerifyIdentity{IdentityID: long(201)}, "invalid_identity"},
		{"email invalid", person.OnboardingCollectingBasicInfo, &person.SubmitBasicInfo{Email: "ada@@example.org", Phone: "+44 20 7946 0958"}, "invalid_email"},
		{"email missing", person.OnboardingCollectingBasicInfo, &person.SubmitBasicInfo{Phone: "+44 20 7946 0958"}, "invalid_email"},
		{"phone invalid", person.OnboardingCollectingBasicInfo, &person.SubmitBasicInfo{Email: "ada@example.org", Phone: "+44 20 7946 0958 ext. 3"}, "invalid_phone"},
		{"phone country code invalid", person.OnboardingCollectingBasicInfo, &person.SubmitBasicInfo{Email: "ada@example.org", Phone: "020 7946 0958", CountryCode: "UK"}, "invalid_phone"},
		{"location unknown", person.OnboardingAssigningLocation, &person.AssignLocation{AddressID: "nowhere"}, "component_not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPerson(t, onboardedTo(tc.at)...)
			before := person.Snapshot(p)
			_, err := p.Decide(tc.cmd, testEnv())
			if code := person.CodeOf(err); code != tc.code {
				t.Fatalf("code %q (%v), want %q", code, err, tc.code)
			}
			if person.Snapshot(p) != before {
				t.Error("a rejected guard changed the person")
			}
			if s, _ := p.Onboarding(); s != tc.at {
				t.Errorf("onboarding moved to %q", s)
			}
		})
	}
}

// TestOnboardingFailAndRestart fails the workflow from each middle state:
// the person is suspended; a restart reactivates it and the workflow runs
// to completion again (components already added are not added twice).
func TestOnboardingFailAndRestart(t *testing.T) {
	middle := []person.OnboardingState{person.OnboardingAwaitingIdentity, person.OnboardingCollectingBasicInfo,
		person.OnboardingSettingUpComponents, person.OnboardingAssigningLocation, person.OnboardingFinalizing}
	for _, s := range middle {
		t.Run(string(s), func(t *testing.T) {
			p := newPerson(t, onboardedTo(s)...)
			evs := mustDo(t, p, failO("documents expired"))
			if got := eventTypes(evs); !slices.Equal(got, []person.EventType{person.EventOnboardingFailed, person.EventPersonSuspended}) {
				t.Fatalf("events %v", got)
			}
			if f := evs[0].Payload.(*person.OnboardingFailed); f.From != s || f.Reason != "documents expired" {
				t.Errorf("failed = %+v", f)
			}
			if st, reason := p.Onboarding(); st != person.OnboardingFailedState || reason != "documents expired" || p.Lifecycle() != person.LifecycleSuspended {
				t.Fatalf("after fail: %q %q %s", st, reason, p.Lifecycle())
			}
			// A failed workflow accepts only the restart.
			for _, ct := range onboardingCmds {
				if ct == person.CmdRestartOnboarding {
					continue
				}
				if _, err := p.Decide(sample(ct, p), testEnv()); err == nil {
					t.Errorf("%s accepted on a failed onboarding", ct)
				}
			}
			evs = mustDo(t, p, restartO())
			if got := eventTypes(evs); !slices.Equal(got, []person.EventType{person.EventOnboardingRestarted, person.EventPersonReactivated}) {
				t.Fatalf("restart events %v", got)
			}
			if st, reason := p.Onboarding(); st != person.OnboardingStartedState || reason != "" || p.Lifecycle() != person.LifecycleActive {
				t.Fatalf("after restart: %q %q %s", st, reason, p.Lifecycle())
			}
			for _, c := range onboardingSteps()[1:] {
				mustDo(t, p, c)
			}
			if st, _ := p.Onboarding(); st != person.OnboardingCompletedState {
				t.Errorf("after second run: %q", st)
			}
			if len(p.Emails()) != 1 || len(p.Skills()) != 2 || len(p.Addresses()) != 1 {
				t.Errorf("components duplicated: %d emails, %d skills, %d addresses", len(p.Emails()), len(p.Skills()), len(p.Addresses()))
			}
		})
	}
	for _, s := range []person.OnboardingState{person.OnboardingNone, person.OnboardingStartedState, person.OnboardingCompletedState} {
		p := newPerson(t, onboardedTo(s)...)
		if _, err := p.Decide(failO("x"), testEnv()); person.CodeOf(err) != "invalid_transition" {
			t.Errorf("fail from %q: %v", s, err)
		}
	}
}
