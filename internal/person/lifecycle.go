package person

import (
	"errors"
	"fmt"

	"github.com/personfleet/personfleet/internal/statemachine"
)

// Lifecycle is a person's lifecycle state. LifecycleNone is the state of a
// person not created yet.
type Lifecycle string

// The lifecycle states.
const (
	LifecycleNone        Lifecycle = ""
	LifecycleActive      Lifecycle = "active"
	LifecycleSuspended   Lifecycle = "suspended"
	LifecycleDeactivated Lifecycle = "deactivated"
	LifecycleArchived    Lifecycle = "archived"
	LifecycleDeceased    Lifecycle = "deceased"
	LifecycleMerged      Lifecycle = "merged"
)

// ParseLifecycle accepts the named states (not None).
func ParseLifecycle(s string) (Lifecycle, error) {
	switch l := Lifecycle(s); l {
	case LifecycleActive, LifecycleSuspended, LifecycleDeactivated, LifecycleArchived, LifecycleDeceased, LifecycleMerged:
		return l, nil
	case LifecycleNone:
	}
	return "", fmt.Errorf("unknown lifecycle state %q", s)
}

// Every command is a trigger of the lifecycle machine: real transitions for
// the lifecycle commands, and self-loops for the commands a state allows.
// A command with no row from the current state is rejected, so this table is
// the one place that says what archived, deceased or merged persons accept.
var (
	profileCommands = []CommandType{
		CmdAddEmail, CmdUpdateEmail, CmdRemoveEmail, CmdAddPhone, CmdUpdatePhone, CmdRemovePhone,
		CmdAddAddress, CmdUpdateAddress, CmdRemoveAddress, CmdAddSkill, CmdUpdateSkill, CmdRemoveSkill,
		CmdEndorseSkill, CmdAddEmployment, CmdUpdateEmployment, CmdEndEmployment, CmdRemoveEmployment,
		CmdAddSocialProfile, CmdUpdateSocialProfile, CmdRemoveSocialProfile, CmdSetPreferences,
		CmdSetAttribute, CmdRemoveAttribute, CmdRecordNotification, CmdRecommendSkills,
	}
	onboardingSteps = []CommandType{
		CmdStartOnboarding, CmdRequestIdentityVerification, CmdVerifyIdentity, CmdSubmitBasicInfo,
		CmdSetUpComponents, CmdAssignLocation, CmdCompleteOnboarding,
	}
	allows = []struct {
		state    Lifecycle
		commands [][]CommandType
	}{
		{LifecycleActive, [][]CommandType{{CmdUpdateName, CmdSetBirthDate, CmdRecordConsent, CmdFlagDataQuality}, profileCommands, onboardingSteps}},
		{LifecycleSuspended, [][]CommandType{{CmdSetBirthDate, CmdRecordConsent, CmdFlagDataQuality}, profileCommands}},
		{LifecycleDeactivated, [][]CommandType{{CmdSetBirthDate, CmdRecordConsent, CmdFlagDataQuality}}},
		{LifecycleArchived, [][]CommandType{{CmdSetBirthDate, CmdRecordConsent}}},
		{LifecycleDeceased, [][]CommandType{{CmdSetBirthDate}}},
		// LifecycleMerged accepts nothing.
	}
	lifecycleMoves = []struct {
		cmd  CommandType
		from []Lifecycle
		to   Lifecycle
	}{
		{CmdCreatePerson, []Lifecycle{LifecycleNone}, LifecycleActive},
		{CmdDeactivatePerson, []Lifecycle{LifecycleActive, LifecycleSuspended}, LifecycleDeactivated},
		{CmdSuspendPerson, []Lifecycle{LifecycleActive}, LifecycleSuspended},
		{CmdReactivatePerson, []Lifecycle{LifecycleDeactivated, LifecycleSuspended}, LifecycleActive},
		{CmdArchivePerson, []Lifecycle{LifecycleActive, LifecycleSuspended, LifecycleDeactivated}, LifecycleArchived},
		{CmdAutoArchivePerson, []Lifecycle{LifecycleDeactivated}, LifecycleArchived},
		{CmdRecordDeath, []Lifecycle{LifecycleActive, LifecycleSuspended, LifecycleDeactivated, LifecycleArchived}, LifecycleDeceased},
		{CmdMergePersons, []Lifecycle{LifecycleActive}, LifecycleMerged},
		{CmdFailOnboarding, []Lifecycle{LifecycleActive}, LifecycleSuspended},
		// From active too: a person reactivated by hand after a failed
		// onboarding must still be able to restart it (a self-loop then).
		{CmdRestartOnboarding, []Lifecycle{LifecycleSuspended, LifecycleActive}, LifecycleActive},
	}
)

type lifecycleMachine = statemachine.Machine[Lifecycle, CommandType, *decision]

var lifecycle = buildLifecycle()

func buildLifecycle() *lifecycleMachine {
	decide := func(d *decision) error { return d.cmd.decide(d) }
	var ts []statemachine.Transition[Lifecycle, CommandType, *decision]
	for _, m := range lifecycleMoves {
		for _, from := range m.from {
			ts = append(ts, statemachine.Transition[Lifecycle, CommandType, *decision]{From: from, Command: m.cmd, To: m.to, Action: decide})
		}
	}
	for _, a := range allows {
		for _, g := range a.commands {
			for _, c := range g {
				ts = append(ts, statemachine.Transition[Lifecycle, CommandType, *decision]{From: a.state, Command: c, To: a.state, Action: decide})
			}
		}
	}
	return statemachine.MustNew(statemachine.Definition[Lifecycle, CommandType, *decision]{Name: "lifecycle", Transitions: ts})
}

// AllowedCommands lists the commands a person in state l accepts (their
// data and the onboarding workflow may still reject them).
func AllowedCommands(l Lifecycle) []CommandType { return lifecycle.Valid(l) }

// lifecycleRejection turns an invalid lifecycle transition into the
// domain's most precise rule error.
func lifecycleRejection(p *Person, t CommandType, err error) error {
	if !errors.Is(err, statemachine.ErrInvalidTransition) {
		return err
	}
	var rule *Error
	switch {
	case p.lifecycle == LifecycleNone && t != CmdCreatePerson:
		rule = ErrPersonNotFound
	case t == CmdCreatePerson:
		rule = ErrPersonAlreadyExists
	case t == CmdUpdateName:
		rule = ErrNameChangeNotActive
	case t == CmdReactivatePerson || t == CmdRestartOnboarding:
		rule = ErrNotReactivatable
	case t == CmdMergePersons:
		rule = ErrMergeSourceNotActive
	case t == CmdRecordDeath && p.lifecycle == LifecycleDeceased:
		rule = ErrDeathAlreadyRecorded
	case t == CmdAutoArchivePerson:
		rule = ErrNotInactive
	default:
		rule = ErrNotAllowedInState
	}
	state := p.lifecycle
	if state == LifecycleNone {
		state = "none"
	}
	return fmt.Errorf("%w: %s in lifecycle state %s", rule, t, state)
}
