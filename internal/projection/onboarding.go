package projection

import (
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

// MaxOnboardingSteps bounds the step history of one person: a workflow
// failed and restarted again and again keeps only its latest steps.
const MaxOnboardingSteps = 64

// Onboarding is the onboarding status read model (KV bucket
// person_onboarding, one JSON document per person). The zero Onboarding is
// a person with no events.
//
// State is the workflow's step (person.OnboardingState) or "none".
// StartedAt is the first start (a restart after a failure does not move it;
// Steps shows the restart); CompletedAt is set on completion.
// IdentityLinked and Location mirror the aggregate: a restart keeps the
// linked identity, and removing the assigned address clears Location.
type Onboarding struct {
	PersonID       person.ID `json:"person_id"`
	Version        uint64    `json:"version"` // last applied aggregate version
	State          string    `json:"state"`
	FailureReason  string    `json:"failure_reason,omitempty"`
	IdentityLinked bool      `json:"identity_linked"`
	Location       string    `json:"location,omitempty"` // address id
	Steps          []Step    `json:"steps,omitempty"`    // oldest first, at most MaxOnboardingSteps
	StartedAt      time.Time `json:"started_at,omitzero"`
	CompletedAt    time.Time `json:"completed_at,omitzero"`
}

// Step is one state the workflow entered, and when.
type Step struct {
	State  string    `json:"state"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"` // of a failure
}

// Apply folds the next event into the status (see the package doc for the
// version rule). Events without onboarding content advance its version.
func (o *Onboarding) Apply(e *person.Event) error {
	if err := admit(&o.PersonID, o.Version, e); err != nil {
		return err
	}
	o.apply(e)
	o.Version = e.Version
	if o.State == "" {
		o.State = OnboardingNotStarted
	}
	return nil
}

// apply handles every payload type of package person; it reports false for
// a type it does not know (a newer domain's), which is then ignored.
func (o *Onboarding) apply(e *person.Event) bool {
	switch p := e.Payload.(type) {
	case *person.OnboardingStarted:
		if o.StartedAt.IsZero() {
			o.StartedAt = at(e)
		}
		o.FailureReason = ""
		o.enter(e, person.OnboardingStartedState, "")
	case *person.OnboardingAdvanced:
		o.enter(e, p.To, "")
	case *person.OnboardingCompleted:
		o.CompletedAt = at(e)
		o.enter(e, person.OnboardingCompletedState, "")
	case *person.OnboardingFailed:
		o.FailureReason = p.Reason
		o.enter(e, person.OnboardingFailedState, p.Reason)
	case *person.OnboardingRestarted:
		o.FailureReason = ""
		o.enter(e, person.OnboardingStartedState, "")
	case *person.IdentityLinked:
		o.IdentityLinked = p.IdentityID != ""
	case *person.LocationAssigned:
		o.Location = p.AddressID
	case *person.AddressRemoved:
		if o.Location == p.AddressID {
			o.Location = ""
		}

	case *person.PersonCreated, *person.NameUpdated, *person.BirthDateSet, *person.DeathRecorded,
		*person.PersonDeactivated, *person.PersonSuspended, *person.PersonReactivated,
		*person.PersonArchived, *person.PersonMerged,
		*person.EmailAdded, *person.EmailUpdated, *person.EmailRemoved,
		*person.PhoneAdded, *person.PhoneUpdated, *person.PhoneRemoved,
		*person.AddressAdded, *person.AddressUpdated,
		*person.SkillAdded, *person.SkillUpdated, *person.SkillRemoved, *person.SkillEndorsed,
		*person.EmploymentAdded, *person.EmploymentUpdated, *person.EmploymentEnded, *person.EmploymentRemoved,
		*person.SocialProfileAdded, *person.SocialProfileUpdated, *person.SocialProfileRemoved,
		*person.PreferencesSet, *person.ConsentRecorded, *person.AttributeSet, *person.AttributeRemoved,
		*person.NotificationRecorded, *person.DataQualityFlagged, *person.SkillsRecommended:
		// Not part of the onboarding status.
	default:
		return false
	}
	return true
}

func (o *Onboarding) enter(e *person.Event, s person.OnboardingState, reason string) {
	o.State = onboardingName(s)
	if len(o.Steps) == MaxOnboardingSteps {
		o.Steps = append(o.Steps[:0], o.Steps[1:]...)
	}
	o.Steps = append(o.Steps, Step{State: o.State, At: at(e), Reason: reason})
}

// Clone returns a copy that shares nothing with o.
func (o *Onboarding) Clone() *Onboarding {
	c := *o
	c.Steps = append([]Step(nil), o.Steps...)
	return &c
}
