package verify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/personfleet/personfleet/internal/person"
)

// producers maps each event type to the commands whose decision can emit
// it (directly, or as a sub-decision of an onboarding step). The
// transition check uses it backwards: the events of one decision (one
// causation id) must have a common producer that the person's lifecycle
// and onboarding state allowed when the decision was taken.
var producers = map[person.EventType][]person.CommandType{
	person.EventPersonCreated:        {person.CmdCreatePerson},
	person.EventNameUpdated:          {person.CmdUpdateName},
	person.EventBirthDateSet:         {person.CmdSetBirthDate},
	person.EventDeathRecorded:        {person.CmdRecordDeath},
	person.EventPersonDeactivated:    {person.CmdDeactivatePerson},
	person.EventPersonSuspended:      {person.CmdSuspendPerson, person.CmdFailOnboarding},
	person.EventPersonReactivated:    {person.CmdReactivatePerson, person.CmdRestartOnboarding},
	person.EventPersonArchived:       {person.CmdArchivePerson, person.CmdAutoArchivePerson},
	person.EventPersonMerged:         {person.CmdMergePersons},
	person.EventEmailAdded:           {person.CmdAddEmail, person.CmdSubmitBasicInfo},
	person.EventEmailUpdated:         {person.CmdUpdateEmail},
	person.EventEmailRemoved:         {person.CmdRemoveEmail},
	person.EventPhoneAdded:           {person.CmdAddPhone, person.CmdSubmitBasicInfo},
	person.EventPhoneUpdated:         {person.CmdUpdatePhone},
	person.EventPhoneRemoved:         {person.CmdRemovePhone},
	person.EventAddressAdded:         {person.CmdAddAddress, person.CmdAssignLocation},
	person.EventAddressUpdated:       {person.CmdUpdateAddress},
	person.EventAddressRemoved:       {person.CmdRemoveAddress},
	person.EventSkillAdded:           {person.CmdAddSkill, person.CmdSetUpComponents},
	person.EventSkillUpdated:         {person.CmdUpdateSkill},
	person.EventSkillRemoved:         {person.CmdRemoveSkill},
	person.EventSkillEndorsed:        {person.CmdEndorseSkill},
	person.EventEmploymentAdded:      {person.CmdAddEmployment, person.CmdSetUpComponents},
	person.EventEmploymentUpdated:    {person.CmdUpdateEmployment},
	person.EventEmploymentEnded:      {person.CmdEndEmployment},
	person.EventEmploymentRemoved:    {person.CmdRemoveEmployment},
	person.EventSocialProfileAdded:   {person.CmdAddSocialProfile, person.CmdSetUpComponents},
	person.EventSocialProfileUpdated: {person.CmdUpdateSocialProfile},
	person.EventSocialProfileRemoved: {person.CmdRemoveSocialProfile},
	person.EventPreferencesSet:       {person.CmdSetPreferences},
	person.EventConsentRecorded:      {person.CmdRecordConsent},
	person.EventAttributeSet:         {person.CmdSetAttribute},
	person.EventAttributeRemoved:     {person.CmdRemoveAttribute},
	person.EventOnboardingStarted:    {person.CmdStartOnboarding},
	person.EventOnboardingAdvanced: {person.CmdRequestIdentityVerification, person.CmdVerifyIdentity,
		person.CmdSubmitBasicInfo, person.CmdSetUpComponents, person.CmdAssignLocation},
	person.EventIdentityLinked:       {person.CmdVerifyIdentity},
	person.EventLocationAssigned:     {person.CmdAssignLocation},
	person.EventOnboardingCompleted:  {person.CmdCompleteOnboarding},
	person.EventOnboardingFailed:     {person.CmdFailOnboarding},
	person.EventOnboardingRestarted:  {person.CmdRestartOnboarding},
	person.EventNotificationRecorded: {person.CmdRecordNotification},
	person.EventDataQualityFlagged:   {person.CmdFlagDataQuality},
	person.EventSkillsRecommended:    {person.CmdRecommendSkills},
}

// onboardingStates is every state of the onboarding workflow.
var onboardingStates = []person.OnboardingState{
	person.OnboardingNone, person.OnboardingStartedState, person.OnboardingAwaitingIdentity,
	person.OnboardingCollectingBasicInfo, person.OnboardingSettingUpComponents,
	person.OnboardingAssigningLocation, person.OnboardingFinalizing,
	person.OnboardingCompletedState, person.OnboardingFailedState,
}

// workflowCommands are the commands the onboarding machine decides (valid
// from some onboarding state): they also need the workflow's permission.
var workflowCommands = func() map[person.CommandType]bool {
	m := map[person.CommandType]bool{}
	for _, s := range onboardingStates {
		for _, c := range person.OnboardingCommands(s) {
			m[c] = true
		}
	}
	return m
}()

// Producers lists the commands whose decision can emit an event type (nil
// for an unknown type).
func Producers(t person.EventType) []person.CommandType { return slices.Clone(producers[t]) }

// CheckTransitions replays a person's history (versions already checked
// contiguous) decision by decision — the consecutive events of one
// causation id — and reports every decision that its state machines did
// not allow when it was taken: a decision whose events have no common
// producing command, or none that the lifecycle state (person.
// AllowedCommands) and, for a workflow command, the onboarding state
// (person.OnboardingCommands) accepted; and onboarding events whose
// recorded "from" state is not the state the workflow was in. It returns
// the problems and the rehydrated person (nil when an event does not
// apply).
func CheckTransitions(id person.ID, evs []person.Event) (problems []string, p *person.Person, err error) {
	p = person.New(id)
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && evs[i].CausationID != "" && evs[j].CausationID == evs[i].CausationID {
			j++
		}
		group := evs[i:j]
		if msg := checkDecision(p, group); msg != "" {
			problems = append(problems, fmt.Sprintf("%s: version %d (command %s): %s", id, group[0].Version, orNone(group[0].CausationID), msg))
		}
		for k := range group {
			e := &group[k]
			onb, _ := p.Onboarding()
			switch pl := e.Payload.(type) {
			case *person.OnboardingAdvanced:
				if pl.From != onb {
					problems = append(problems, fmt.Sprintf("%s: version %d: onboarding_advanced from %s, but the workflow was in %s", id, e.Version, stateName(pl.From), stateName(onb)))
				}
			case *person.OnboardingFailed:
				if pl.From != onb {
					problems = append(problems, fmt.Sprintf("%s: version %d: onboarding_failed from %s, but the workflow was in %s", id, e.Version, stateName(pl.From), stateName(onb)))
				}
			}
			if err := p.Apply(e); err != nil {
				return problems, nil, err
			}
		}
		i = j
	}
	return problems, p, nil
}

// checkDecision explains why the events of one decision could not have
// been decided from p's state, or returns "".
func checkDecision(p *person.Person, group []person.Event) string {
	var cands []person.CommandType
	types := make([]string, len(group))
	for k, e := range group {
		t := e.Type()
		types[k] = string(t)
		prod, ok := producers[t]
		if !ok {
			return fmt.Sprintf("no command emits %s", t)
		}
		if k == 0 {
			cands = slices.Clone(prod)
			continue
		}
		cands = slices.DeleteFunc(cands, func(c person.CommandType) bool { return !slices.Contains(prod, c) })
	}
	if len(cands) == 0 {
		return fmt.Sprintf("no single command emits [%s] together", strings.Join(types, " "))
	}
	lc := p.Lifecycle()
	onb, _ := p.Onboarding()
	allowed := person.AllowedCommands(lc)
	for _, c := range cands {
		if slices.Contains(allowed, c) && (!workflowCommands[c] || slices.Contains(person.OnboardingCommands(onb), c)) {
			return ""
		}
	}
	names := make([]string, len(cands))
	for k, c := range cands {
		names[k] = string(c)
	}
	lcName := string(lc)
	if lc == person.LifecycleNone {
		lcName = "none (not created)"
	}
	return fmt.Sprintf("[%s] (from %s) not allowed in lifecycle %s, onboarding %s", strings.Join(types, " "), strings.Join(names, " or "), lcName, stateName(onb))
}

func stateName(s person.OnboardingState) string {
	if s == person.OnboardingNone {
		return "none"
	}
	return string(s)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
