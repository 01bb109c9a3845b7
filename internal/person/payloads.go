package person

import "slices"

// The event types. Their snake_case names are the public contract: they end
// the subject person.events.<person_id>.<event_type>.
const (
	EventPersonCreated        EventType = "person_created"
	EventNameUpdated          EventType = "name_updated"
	EventBirthDateSet         EventType = "birth_date_set"
	EventDeathRecorded        EventType = "death_recorded"
	EventPersonDeactivated    EventType = "person_deactivated"
	EventPersonSuspended      EventType = "person_suspended"
	EventPersonReactivated    EventType = "person_reactivated"
	EventPersonArchived       EventType = "person_archived"
	EventPersonMerged         EventType = "person_merged"
	EventEmailAdded           EventType = "email_added"
	EventEmailUpdated         EventType = "email_updated"
	EventEmailRemoved         EventType = "email_removed"
	EventPhoneAdded           EventType = "phone_added"
	EventPhoneUpdated         EventType = "phone_updated"
	EventPhoneRemoved         EventType = "phone_removed"
	EventAddressAdded         EventType = "address_added"
	EventAddressUpdated       EventType = "address_updated"
	EventAddressRemoved       EventType = "address_removed"
	EventSkillAdded           EventType = "skill_added"
	EventSkillUpdated         EventType = "skill_updated"
	EventSkillRemoved         EventType = "skill_removed"
	EventSkillEndorsed        EventType = "skill_endorsed"
	EventEmploymentAdded      EventType = "employment_added"
	EventEmploymentUpdated    EventType = "employment_updated"
	EventEmploymentEnded      EventType = "employment_ended"
	EventEmploymentRemoved    EventType = "employment_removed"
	EventSocialProfileAdded   EventType = "social_profile_added"
	EventSocialProfileUpdated EventType = "social_profile_updated"
	EventSocialProfileRemoved EventType = "social_profile_removed"
	EventPreferencesSet       EventType = "preferences_set"
	EventConsentRecorded      EventType = "consent_recorded"
	EventAttributeSet         EventType = "attribute_set"
	EventAttributeRemoved     EventType = "attribute_removed"
	EventOnboardingStarted    EventType = "onboarding_started"
	EventOnboardingAdvanced   EventType = "onboarding_advanced"
	EventIdentityLinked       EventType = "identity_linked"
	EventLocationAssigned     EventType = "location_assigned"
	EventOnboardingCompleted  EventType = "onboarding_completed"
	EventOnboardingFailed     EventType = "onboarding_failed"
	EventOnboardingRestarted  EventType = "onboarding_restarted"
	EventNotificationRecorded EventType = "notification_recorded"
	EventDataQualityFlagged   EventType = "data_quality_flagged"
	EventSkillsRecommended    EventType = "skills_recommended"
)

// payloadFactories builds an empty payload of each type, for decoders.
var payloadFactories = map[EventType]func() Payload{
	EventPersonCreated:        func() Payload { return &PersonCreated{} },
	EventNameUpdated:          func() Payload { return &NameUpdated{} },
	EventBirthDateSet:         func() Payload { return &BirthDateSet{} },
	EventDeathRecorded:        func() Payload { return &DeathRecorded{} },
	EventPersonDeactivated:    func() Payload { return &PersonDeactivated{} },
	EventPersonSuspended:      func() Payload { return &PersonSuspended{} },
	EventPersonReactivated:    func() Payload { return &PersonReactivated{} },
	EventPersonArchived:       func() Payload { return &PersonArchived{} },
	EventPersonMerged:         func() Payload { return &PersonMerged{} },
	EventEmailAdded:           func() Payload { return &EmailAdded{} },
	EventEmailUpdated:         func() Payload { return &EmailUpdated{} },
	EventEmailRemoved:         func() Payload { return &EmailRemoved{} },
	EventPhoneAdded:           func() Payload { return &PhoneAdded{} },
	EventPhoneUpdated:         func() Payload { return &PhoneUpdated{} },
	EventPhoneRemoved:         func() Payload { return &PhoneRemoved{} },
	EventAddressAdded:         func() Payload { return &AddressAdded{} },
	EventAddressUpdated:       func() Payload { return &AddressUpdated{} },
	EventAddressRemoved:       func() Payload { return &AddressRemoved{} },
	EventSkillAdded:           func() Payload { return &SkillAdded{} },
	EventSkillUpdated:         func() Payload { return &SkillUpdated{} },
	EventSkillRemoved:         func() Payload { return &SkillRemoved{} },
	EventSkillEndorsed:        func() Payload { return &SkillEndorsed{} },
	EventEmploymentAdded:      func() Payload { return &EmploymentAdded{} },
	EventEmploymentUpdated:    func() Payload { return &EmploymentUpdated{} },
	EventEmploymentEnded:      func() Payload { return &EmploymentEnded{} },
	EventEmploymentRemoved:    func() Payload { return &EmploymentRemoved{} },
	EventSocialProfileAdded:   func() Payload { return &SocialProfileAdded{} },
	EventSocialProfileUpdated: func() Payload { return &SocialProfileUpdated{} },
	EventSocialProfileRemoved: func() Payload { return &SocialProfileRemoved{} },
	EventPreferencesSet:       func() Payload { return &PreferencesSet{} },
	EventConsentRecorded:      func() Payload { return &ConsentRecorded{} },
	EventAttributeSet:         func() Payload { return &AttributeSet{} },
	EventAttributeRemoved:     func() Payload { return &AttributeRemoved{} },
	EventOnboardingStarted:    func() Payload { return &OnboardingStarted{} },
	EventOnboardingAdvanced:   func() Payload { return &OnboardingAdvanced{} },
	EventIdentityLinked:       func() Payload { return &IdentityLinked{} },
	EventLocationAssigned:     func() Payload { return &LocationAssigned{} },
	EventOnboardingCompleted:  func() Payload { return &OnboardingCompleted{} },
	EventOnboardingFailed:     func() Payload { return &OnboardingFailed{} },
	EventOnboardingRestarted:  func() Payload { return &OnboardingRestarted{} },
	EventNotificationRecorded: func() Payload { return &NotificationRecorded{} },
	EventDataQualityFlagged:   func() Payload { return &DataQualityFlagged{} },
	EventSkillsRecommended:    func() Payload { return &SkillsRecommended{} },
}

// NewPayload returns an empty payload of the given type to decode into, or
// false for an unknown type.
func NewPayload(t EventType) (Payload, bool) {
	f, ok := payloadFactories[t]
	if !ok {
		return nil, false
	}
	return f(), true
}

// EventTypes lists every event type, sorted.
func EventTypes() []EventType {
	out := make([]EventType, 0, len(payloadFactories))
	for t := range payloadFactories {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// PersonCreated starts a person's history (schema v3: structured name,
// source system and import id; time in the envelope).
type PersonCreated struct {
	Name         Name   `json:"name"`
	SourceSystem string `json:"source_system,omitempty"`
	ImportID     string `json:"import_id,omitempty"`
}

// NameUpdated replaces the legal name (schema v2: change_reason).
type NameUpdated struct {
	Name         Name   `json:"name"`
	Previous     Name   `json:"previous"`
	ChangeReason string `json:"change_reason,omitempty"`
}

// BirthDateSet records the birth date, once.
type BirthDateSet struct {
	BirthDate Date `json:"birth_date"`
}

// DeathRecorded records the date of death, once; the person becomes deceased.
type DeathRecorded struct {
	DateOfDeath Date `json:"date_of_death"`
}

// PersonDeactivated makes an active or suspended person deactivated.
type PersonDeactivated struct {
	Reason string `json:"reason,omitempty"`
}

// PersonSuspended makes an active person suspended.
type PersonSuspended struct {
	Reason string `json:"reason,omitempty"`
}

// PersonReactivated makes a deactivated or suspended person active again.
type PersonReactivated struct {
	Reason string `json:"reason,omitempty"`
}

// PersonArchived archives a person; Automatic marks the inactivity timer.
type PersonArchived struct {
	Reason    string `json:"reason,omitempty"`
	Automatic bool   `json:"automatic,omitempty"`
}

// PersonMerged marks the person as merged into another.
type PersonMerged struct {
	TargetID ID     `json:"target_id"`
	Reason   string `json:"reason,omitempty"`
}

// EmailAdded adds an address; First marks the person's first email ever
// (the welcome policy keys on it).
type EmailAdded struct {
	Email Email `json:"email"`
	First bool  `json:"first,omitempty"`
}

// EmailUpdated replaces an email's flags.
type EmailUpdated struct {
	Email Email `json:"email"`
}

// EmailRemoved removes an address.
type EmailRemoved struct {
	Email string `json:"email"`
}

// PhoneAdded adds a phone number.
type PhoneAdded struct {
	Phone Phone `json:"phone"`
}

// PhoneUpdated replaces a phone identified by Key.
type PhoneUpdated struct {
	Key   string `json:"key"`
	Phone Phone  `json:"phone"`
}

// PhoneRemoved removes the phone identified by Key.
type PhoneRemoved struct {
	Key string `json:"key"`
}

// AddressAdded adds an address.
type AddressAdded struct {
	AddressEntry
}

// AddressUpdated replaces an address.
type AddressUpdated struct {
	AddressEntry
}

// AddressRemoved removes an address.
type AddressRemoved struct {
	AddressID string `json:"address_id"`
}

// SkillAdded adds a skill.
type SkillAdded struct {
	Skill Skill `json:"skill"`
}

// SkillUpdated replaces a skill's details.
type SkillUpdated struct {
	Skill Skill `json:"skill"`
}

// SkillRemoved removes a skill.
type SkillRemoved struct {
	Name string `json:"name"`
}

// SkillEndorsed adds an endorser to a skill.
type SkillEndorsed struct {
	Name     string `json:"name"`
	Endorser string `json:"endorser"`
}

// EmploymentAdded adds an employment.
type EmploymentAdded struct {
	Employment Employment `json:"employment"`
}

// EmploymentUpdated replaces an employment.
type EmploymentUpdated struct {
	Employment Employment `json:"employment"`
}

// EmploymentEnded sets an employment's end date.
type EmploymentEnded struct {
	EmploymentID string `json:"employment_id"`
	EndDate      Date   `json:"end_date"`
}

// EmploymentRemoved removes an employment.
type EmploymentRemoved struct {
	EmploymentID string `json:"employment_id"`
}

// SocialProfileAdded adds a profile.
type SocialProfileAdded struct {
	Profile SocialProfile `json:"profile"`
}

// SocialProfileUpdated replaces a profile's URL.
type SocialProfileUpdated struct {
	Profile SocialProfile `json:"profile"`
}

// SocialProfileRemoved removes a profile.
type SocialProfileRemoved struct {
	Platform Platform `json:"platform"`
	Handle   string   `json:"handle"`
}

// PreferencesSet replaces the preferences.
type PreferencesSet struct {
	Preferences Preferences `json:"preferences"`
}

// ConsentRecorded records a consent decision.
type ConsentRecorded struct {
	Consent Consent `json:"consent"`
}

// AttributeSet sets a free attribute.
type AttributeSet struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// AttributeRemoved removes a free attribute.
type AttributeRemoved struct {
	Key string `json:"key"`
}

// OnboardingStarted starts the onboarding workflow.
type OnboardingStarted struct{}

// OnboardingAdvanced moves the workflow from one step to the next.
type OnboardingAdvanced struct {
	From OnboardingState `json:"from"`
	To   OnboardingState `json:"to"`
}

// IdentityLinked links the verified identity.
type IdentityLinked struct {
	IdentityID string `json:"identity_id"`
}

// LocationAssigned assigns one of the person's addresses as their location.
type LocationAssigned struct {
	AddressID string `json:"address_id"`
}

// OnboardingCompleted ends the workflow successfully.
type OnboardingCompleted struct{}

// OnboardingFailed ends the workflow with a reason.
type OnboardingFailed struct {
	From   OnboardingState `json:"from"`
	Reason string          `json:"reason"`
}

// OnboardingRestarted restarts a failed workflow.
type OnboardingRestarted struct{}

// NotificationRecorded records that a notification was sent (or queued).
type NotificationRecorded struct {
	Kind    string  `json:"kind"`
	Channel Channel `json:"channel"`
	Target  string  `json:"target,omitempty"`
}

// DataQualityFlagged records a data-quality issue.
type DataQualityFlagged struct {
	Issue string `json:"issue"`
	Field string `json:"field"`
	Value string `json:"value,omitempty"`
}

// SkillsRecommended records skills recommended for the person.
type SkillsRecommended struct {
	Skills []Skill `json:"skills"`
	Source string  `json:"source,omitempty"`
}

// EventType implementations.
func (*PersonCreated) EventType() EventType        { return EventPersonCreated }
func (*NameUpdated) EventType() EventType          { return EventNameUpdated }
func (*BirthDateSet) EventType() EventType         { return EventBirthDateSet }
func (*DeathRecorded) EventType() EventType        { return EventDeathRecorded }
func (*PersonDeactivated) EventType() EventType    { return EventPersonDeactivated }
func (*PersonSuspended) EventType() EventType      { return EventPersonSuspended }
func (*PersonReactivated) EventType() EventType    { return EventPersonReactivated }
func (*PersonArchived) EventType() EventType       { return EventPersonArchived }
func (*PersonMerged) EventType() EventType         { return EventPersonMerged }
func (*EmailAdded) EventType() EventType           { return EventEmailAdded }
func (*EmailUpdated) EventType() EventType         { return EventEmailUpdated }
func (*EmailRemoved) EventType() EventType         { return EventEmailRemoved }
func (*PhoneAdded) EventType() EventType           { return EventPhoneAdded }
func (*PhoneUpdated) EventType() EventType         { return EventPhoneUpdated }
func (*PhoneRemoved) EventType() EventType         { return EventPhoneRemoved }
func (*AddressAdded) EventType() EventType         { return EventAddressAdded }
func (*AddressUpdated) EventType() EventType       { return EventAddressUpdated }
func (*AddressRemoved) EventType() EventType       { return EventAddressRemoved }
func (*SkillAdded) EventType() EventType           { return EventSkillAdded }
func (*SkillUpdated) EventType() EventType         { return EventSkillUpdated }
func (*SkillRemoved) EventType() EventType         { return EventSkillRemoved }
func (*SkillEndorsed) EventType() EventType        { return EventSkillEndorsed }
func (*EmploymentAdded) EventType() EventType      { return EventEmploymentAdded }
func (*EmploymentUpdated) EventType() EventType    { return EventEmploymentUpdated }
func (*EmploymentEnded) EventType() EventType      { return EventEmploymentEnded }
func (*EmploymentRemoved) EventType() EventType    { return EventEmploymentRemoved }
func (*SocialProfileAdded) EventType() EventType   { return EventSocialProfileAdded }
func (*SocialProfileUpdated) EventType() EventType { return EventSocialProfileUpdated }
func (*SocialProfileRemoved) EventType() EventType { return EventSocialProfileRemoved }
func (*PreferencesSet) EventType() EventType       { return EventPreferencesSet }
func (*ConsentRecorded) EventType() EventType      { return EventConsentRecorded }
func (*AttributeSet) EventType() EventType         { return EventAttributeSet }
func (*AttributeRemoved) EventType() EventType     { return EventAttributeRemoved }
func (*OnboardingStarted) EventType() EventType    { return EventOnboardingStarted }
func (*OnboardingAdvanced) EventType() EventType   { return EventOnboardingAdvanced }
func (*IdentityLinked) EventType() EventType       { return EventIdentityLinked }
func (*LocationAssigned) EventType() EventType     { return EventLocationAssigned }
func (*OnboardingCompleted) EventType() EventType  { return EventOnboardingCompleted }
func (*OnboardingFailed) EventType() EventType     { return EventOnboardingFailed }
func (*OnboardingRestarted) EventType() EventType  { return EventOnboardingRestarted }
func (*NotificationRecorded) EventType() EventType { return EventNotificationRecorded }
func (*DataQualityFlagged) EventType() EventType   { return EventDataQualityFlagged }
func (*SkillsRecommended) EventType() EventType    { return EventSkillsRecommended }
