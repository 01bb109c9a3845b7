package person

import (
	"github.com/personfleet/personfleet/internal/statemachine"
)

// OnboardingState is a step of the onboarding workflow; OnboardingNone means
// the workflow never started.
type OnboardingState string

// The onboarding states, in workflow order, then the two ends.
const (
	OnboardingNone                OnboardingState = ""
	OnboardingStartedState        OnboardingState = "started"
	OnboardingAwaitingIdentity    OnboardingState = "awaiting_identity_verification"
	OnboardingCollectingBasicInfo OnboardingState = "collecting_basic_info"
	OnboardingSettingUpComponents OnboardingState = "setting_up_components"
	OnboardingAssigningLocation   OnboardingState = "assigning_location"
	OnboardingFinalizing          OnboardingState = "finalizing"
	OnboardingCompletedState      OnboardingState = "completed"
	OnboardingFailedState         OnboardingState = "failed"
)

type onboardingMachine = statemachine.Machine[OnboardingState, CommandType, *decision]

var onboarding = buildOnboarding()

// advance is the entry hook of every intermediate step: it records the move.
func advance(to OnboardingState) statemachine.Hooks[*decision] {
	return statemachine.Hooks[*decision]{OnEntry: func(d *decision) error {
		d.emit(&OnboardingAdvanced{From: d.person.onboarding, To: to})
		return nil
	}}
}

func buildOnboarding() *onboardingMachine {
	type T = statemachine.Transition[OnboardingState, CommandType, *decision]
	decide := func(d *decision) error {
		s, err := stepOf(d)
		if err != nil {
			return err
		}
		return s.step(d)
	}
	guard := func(d *decision) error {
		s, err := stepOf(d)
		if err != nil {
			return err
		}
		return s.guard(d)
	}
	ts := []T{
		{From: OnboardingNone, Command: CmdStartOnboarding, To: OnboardingStartedState, Action: decide},
		{From: OnboardingStartedState, Command: CmdRequestIdentityVerification, To: OnboardingAwaitingIdentity},
		{From: OnboardingAwaitingIdentity, Command: CmdVerifyIdentity, To: OnboardingCollectingBasicInfo, Guard: guard, Action: decide},
		{From: OnboardingCollectingBasicInfo, Command: CmdSubmitBasicInfo, To: OnboardingSettingUpComponents, Guard: guard, Action: decide},
		{From: OnboardingSettingUpComponents, Command: CmdSetUpComponents, To: OnboardingAssigningLocation, Guard: guard, Action: decide},
		{From: OnboardingAssigningLocation, Command: CmdAssignLocation, To: OnboardingFinalizing, Guard: guard, Action: decide},
		{From: OnboardingFinalizing, Command: CmdCompleteOnboarding, To: OnboardingCompletedState, Action: decide},
		{From: OnboardingFailedState, Command: CmdRestartOnboarding, To: OnboardingStartedState, Action: decide},
	}
	for _, s := range []OnboardingState{OnboardingAwaitingIdentity, OnboardingCollectingBasicInfo,
		OnboardingSettingUpComponents, OnboardingAssigningLocation, OnboardingFinalizing} {
		ts = append(ts, T{From: s, Command: CmdFailOnboarding, To: OnboardingFailedState, Action: decide})
	}
	hooks := map[OnboardingState]statemachine.Hooks[*decision]{}
	for _, s := range []OnboardingState{OnboardingAwaitingIdentity, OnboardingCollectingBasicInfo,
		OnboardingSettingUpComponents, OnboardingAssigningLocation, OnboardingFinalizing} {
		hooks[s] = advance(s)
	}
	return statemachine.MustNew(statemachine.Definition[OnboardingState, CommandType, *decision]{
		Name: "onboarding", Transitions: ts, Hooks: hooks,
	})
}

// onboardingStep is a command of the onboarding workflow: its lifecycle
// decide fires the onboarding machine (fireOnboarding), whose guard and
// action call guard and step.
type onboardingStep interface {
	guard(d *decision) error
	step(d *decision) error
}

func stepOf(d *decision) (onboardingStep, error) {
	s, ok := d.cmd.(onboardingStep)
	if !ok {
		return nil, wrapf(ErrInvalidCommand, "%s is not an onboarding step", d.cmd.CommandType())
	}
	return s, nil
}

// noGuard is embedded by steps without a guard.
type noGuard struct{}

func (noGuard) guard(*decision) error { return nil }

// OnboardingCommands lists the onboarding commands valid from state s.
func OnboardingCommands(s OnboardingState) []CommandType { return onboarding.Valid(s) }

// fireOnboarding runs the onboarding machine for the decision's command; it
// is the lifecycle action of every onboarding command. Its own decide (run
// as the onboarding action) emits the step's events.
func fireOnboarding(d *decision) error {
	_, err := onboarding.Fire(d.person.onboarding, d.cmd.CommandType(), d)
	if isInvalid(err) {
		return wrapf(ErrInvalidTransition, "%s in onboarding state %s", d.cmd.CommandType(), onboardingName(d.person.onboarding))
	}
	return err
}

func onboardingName(s OnboardingState) string {
	if s == OnboardingNone {
		return "none"
	}
	return string(s)
}
