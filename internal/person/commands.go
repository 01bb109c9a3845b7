package person

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// CommandType names a command on the wire (snake_case): it ends the subject
// person.commands.<person_id>.<command_type> and is the envelope's "type".
type CommandType string

// The commands.
const (
	CmdCreatePerson                CommandType = "create_person"
	CmdUpdateName                  CommandType = "update_name"
	CmdSetBirthDate                CommandType = "set_birth_date"
	CmdRecordDeath                 CommandType = "record_death"
	CmdDeactivatePerson            CommandType = "deactivate_person"
	CmdSuspendPerson               CommandType = "suspend_person"
	CmdReactivatePerson            CommandType = "reactivate_person"
	CmdArchivePerson               CommandType = "archive_person"
	CmdAutoArchivePerson           CommandType = "auto_archive_person"
	CmdMergePersons                CommandType = "merge_persons"
	CmdAddEmail                    CommandType = "add_email"
	CmdUpdateEmail                 CommandType = "update_email"
	CmdRemoveEmail                 CommandType = "remove_email"
	CmdAddPhone                    CommandType = "add_phone"
	CmdUpdatePhone                 CommandType = "update_phone"
	CmdRemovePhone                 CommandType = "remove_phone"
	CmdAddAddress                  CommandType = "add_address"
	CmdUpdateAddress               CommandType = "update_address"
	CmdRemoveAddress               CommandType = "remove_address"
	CmdAddSkill                    CommandType = "add_skill"
	CmdUpdateSkill                 CommandType = "update_skill"
	CmdRemoveSkill                 CommandType = "remove_skill"
	CmdEndorseSkill                CommandType = "endorse_skill"
	CmdAddEmployment               CommandType = "add_employment"
	CmdUpdateEmployment            CommandType = "update_employment"
	CmdEndEmployment               CommandType = "end_employment"
	CmdRemoveEmployment            CommandType = "remove_employment"
	CmdAddSocialProfile            CommandType = "add_social_profile"
	CmdUpdateSocialProfile         CommandType = "update_social_profile"
	CmdRemoveSocialProfile         CommandType = "remove_social_profile"
	CmdSetPreferences              CommandType = "set_preferences"
	CmdRecordConsent               CommandType = "record_consent"
	CmdSetAttribute                CommandType = "set_attribute"
	CmdRemoveAttribute             CommandType = "remove_attribute"
	CmdStartOnboarding             CommandType = "start_onboarding"
	CmdRequestIdentityVerification CommandType = "request_identity_verification"
	CmdVerifyIdentity              CommandType = "verify_identity"
	CmdSubmitBasicInfo             CommandType = "submit_basic_info"
	CmdSetUpComponents             CommandType = "set_up_components"
	CmdAssignLocation              CommandType = "assign_location"
	CmdCompleteOnboarding          CommandType = "complete_onboarding"
	CmdFailOnboarding              CommandType = "fail_onboarding"
	CmdRestartOnboarding           CommandType = "restart_onboarding"
	CmdRecordNotification          CommandType = "record_notification"
	CmdFlagDataQuality             CommandType = "flag_data_quality"
	CmdRecommendSkills             CommandType = "recommend_skills"
)

// Command is the data of one command. Its JSON form is the "data" of the
// wire envelope. Commands are built by DecodeCommand or as literals.
type Command interface {
	CommandType() CommandType
	validate() error
	decide(d *decision) error
}

func decodeAs[T any, PT interface {
	*T
	Command
}]() func([]byte) (Command, error) {
	return func(data []byte) (Command, error) {
		var c T
		if err := strictJSON(data, &c); err != nil {
			return nil, err
		}
		return PT(&c), nil
	}
}

var commandDecoders = map[CommandType]func([]byte) (Command, error){
	CmdCreatePerson:                decodeAs[CreatePerson](),
	CmdUpdateName:                  decodeAs[UpdateName](),
	CmdSetBirthDate:                decodeAs[SetBirthDate](),
	CmdRecordDeath:                 decodeAs[RecordDeath](),
	CmdDeactivatePerson:            decodeAs[DeactivatePerson](),
	CmdSuspendPerson:               decodeAs[SuspendPerson](),
	CmdReactivatePerson:            decodeAs[ReactivatePerson](),
	CmdArchivePerson:               decodeAs[ArchivePerson](),
	CmdAutoArchivePerson:           decodeAs[AutoArchivePerson](),
	CmdMergePersons:                decodeAs[MergePersons](),
	CmdAddEmail:                    decodeAs[AddEmail](),
	CmdUpdateEmail:                 decodeAs[UpdateEmail](),
	CmdRemoveEmail:                 decodeAs[RemoveEmail](),
	CmdAddPhone:                    decodeAs[AddPhone](),
	CmdUpdatePhone:                 decodeAs[UpdatePhone](),
	CmdRemovePhone:                 decodeAs[RemovePhone](),
	CmdAddAddress:                  decodeAs[AddAddress](),
	CmdUpdateAddress:               decodeAs[UpdateAddress](),
	CmdRemoveAddress:               decodeAs[RemoveAddress](),
	CmdAddSkill:                    decodeAs[AddSkill](),
	CmdUpdateSkill:                 decodeAs[UpdateSkill](),
	CmdRemoveSkill:                 decodeAs[RemoveSkill](),
	CmdEndorseSkill:                decodeAs[EndorseSkill](),
	CmdAddEmployment:               decodeAs[AddEmployment](),
	CmdUpdateEmployment:            decodeAs[UpdateEmployment](),
	CmdEndEmployment:               decodeAs[EndEmployment](),
	CmdRemoveEmployment:            decodeAs[RemoveEmployment](),
	CmdAddSocialProfile:            decodeAs[AddSocialProfile](),
	CmdUpdateSocialProfile:         decodeAs[UpdateSocialProfile](),
	CmdRemoveSocialProfile:         decodeAs[RemoveSocialProfile](),
	CmdSetPreferences:              decodeAs[SetPreferences](),
	CmdRecordConsent:               decodeAs[RecordConsent](),
	CmdSetAttribute:                decodeAs[SetAttribute](),
	CmdRemoveAttribute:             decodeAs[RemoveAttribute](),
	CmdStartOnboarding:             decodeAs[StartOnboarding](),
	CmdRequestIdentityVerification: decodeAs[RequestIdentityVerification](),
	CmdVerifyIdentity:              decodeAs[VerifyIdentity](),
	CmdSubmitBasicInfo:             decodeAs[SubmitBasicInfo](),
	CmdSetUpComponents:             decodeAs[SetUpComponents](),
	CmdAssignLocation:              decodeAs[AssignLocation](),
	CmdCompleteOnboarding:          decodeAs[CompleteOnboarding](),
	CmdFailOnboarding:              decodeAs[FailOnboarding](),
	CmdRestartOnboarding:           decodeAs[RestartOnboarding](),
	CmdRecordNotification:          decodeAs[RecordNotification](),
	CmdFlagDataQuality:             decodeAs[FlagDataQuality](),
	CmdRecommendSkills:             decodeAs[RecommendSkills](),
}

// CommandTypes lists every command type, sorted.
func CommandTypes() []CommandType {
	out := make([]CommandType, 0, len(commandDecoders))
	for t := range commandDecoders {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// ParseCommandType accepts the known command types.
func ParseCommandType(s string) (CommandType, error) {
	if _, ok := commandDecoders[CommandType(s)]; !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownCommand, s)
	}
	return CommandType(s), nil
}

// DecodeCommand reads a command's data (a JSON object; empty or null means
// no fields). Decoding is strict: unknown fields and trailing data are
// rejected with ErrInvalidCommand, an unknown type with ErrUnknownCommand.
func DecodeCommand(t CommandType, data []byte) (Command, error) {
	dec, ok := commandDecoders[t]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCommand, t)
	}
	if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		data = []byte("{}")
	}
	return dec(data)
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: data: %w", ErrInvalidCommand, err)
	}
	// More() misses a stray '}' or ']' after the object; only EOF will do.
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data: trailing content after the JSON object", ErrInvalidCommand)
	}
	return nil
}

// The command data types. Field names are the JSON wire names.

// CreatePerson creates a person (the first command of every person).
type CreatePerson struct {
	Name     Name   `json:"name"`
	Source   string `json:"source,omitempty"`
	ImportID string `json:"import_id,omitempty"`
}

// UpdateName replaces the legal name; only while active.
type UpdateName struct {
	Name   Name   `json:"name"`
	Reason string `json:"reason,omitempty"`
}

// SetBirthDate sets the birth date, once.
type SetBirthDate struct {
	BirthDate Date `json:"birth_date"`
}

// RecordDeath records a death, once.
type RecordDeath struct {
	DateOfDeath Date `json:"date_of_death"`
}

// DeactivatePerson deactivates an active or suspended person.
type DeactivatePerson struct {
	Reason string `json:"reason,omitempty"`
}

// SuspendPerson suspends an active person.
type SuspendPerson struct {
	Reason string `json:"reason,omitempty"`
}

// ReactivatePerson reactivates a deactivated or suspended person.
type ReactivatePerson struct {
	Reason string `json:"reason,omitempty"`
}

// ArchivePerson archives a person that is not deceased or merged.
type ArchivePerson struct {
	Reason string `json:"reason,omitempty"`
}

// AutoArchivePerson is sent by the auto-archive timer: it archives the
// person only if it is still deactivated by the same lifecycle change
// (DeactivatedVersion) that armed the timer.
type AutoArchivePerson struct {
	DeactivatedVersion uint64 `json:"deactivated_version"`
}

// MergePersons merges this (active) person into an existing target.
type MergePersons struct {
	TargetID ID     `json:"target_id"`
	Reason   string `json:"reason,omitempty"`
}

// AddEmail adds an address; the first email becomes primary.
type AddEmail struct {
	Email    string `json:"email"`
	Verified bool   `json:"verified,omitempty"`
	Primary  bool   `json:"primary,omitempty"`
}

// UpdateEmail changes an email's verified or primary flag.
type UpdateEmail struct {
	Email    string `json:"email"`
	Verified *bool  `json:"verified,omitempty"`
	Primary  *bool  `json:"primary,omitempty"`
}

// RemoveEmail removes an address.
type RemoveEmail struct {
	Email string `json:"email"`
}

// AddPhone adds a phone number; CountryCode ("44") lets a national number
// be normalised to E.164.
type AddPhone struct {
	Number      string    `json:"number"`
	Kind        PhoneKind `json:"kind,omitempty"`
	CountryCode string    `json:"country_code,omitempty"`
	Primary     bool      `json:"primary,omitempty"`
}

// UpdatePhone changes a phone's number, kind or primary flag. Number
// identifies the phone; NewNumber (optional) replaces it.
type UpdatePhone struct {
	Number      string     `json:"number"`
	NewNumber   string     `json:"new_number,omitempty"`
	CountryCode string     `json:"country_code,omitempty"`
	Kind        *PhoneKind `json:"kind,omitempty"`
	Primary     *bool      `json:"primary,omitempty"`
}

// RemovePhone removes a phone.
type RemovePhone struct {
	Number string `json:"number"`
}

// AddAddress adds an address under a client-chosen id.
type AddAddress struct {
	AddressID string  `json:"address_id"`
	Address   Address `json:"address"`
}

// UpdateAddress replaces an address.
type UpdateAddress struct {
	AddressID string  `json:"address_id"`
	Address   Address `json:"address"`
}

// RemoveAddress removes an address.
type RemoveAddress struct {
	AddressID string `json:"address_id"`
}

// AddSkill adds a skill.
type AddSkill struct {
	Skill
}

// UpdateSkill changes a skill's category, proficiency or years.
type UpdateSkill struct {
	Skill
}

// RemoveSkill removes a skill.
type RemoveSkill struct {
	Name string `json:"name"`
}

// EndorseSkill adds an endorser to a skill, once per endorser.
type EndorseSkill struct {
	Name     string `json:"name"`
	Endorser string `json:"endorser"`
}

// AddEmployment adds an employment.
type AddEmployment struct {
	Employment
}

// UpdateEmployment replaces an employment's details.
type UpdateEmployment struct {
	Employment
}

// EndEmployment ends an employment.
type EndEmployment struct {
	EmploymentID string `json:"employment_id"`
	EndDate      Date   `json:"end_date"`
}

// RemoveEmployment removes an employment.
type RemoveEmployment struct {
	EmploymentID string `json:"employment_id"`
}

// AddSocialProfile adds a profile.
type AddSocialProfile struct {
	SocialProfile
}

// UpdateSocialProfile changes a profile's URL.
type UpdateSocialProfile struct {
	SocialProfile
}

// RemoveSocialProfile removes a profile.
type RemoveSocialProfile struct {
	Platform Platform `json:"platform"`
	Handle   string   `json:"handle"`
}

// SetPreferences replaces the preferences.
type SetPreferences struct {
	Preferences
}

// RecordConsent records a consent decision.
type RecordConsent struct {
	Consent
}

// SetAttribute sets a free attribute.
type SetAttribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// RemoveAttribute removes a free attribute.
type RemoveAttribute struct {
	Key string `json:"key"`
}

// StartOnboarding starts the onboarding workflow.
type StartOnboarding struct{ noGuard }

// RequestIdentityVerification moves onboarding to awaiting identity verification.
type RequestIdentityVerification struct{ noGuard }

// VerifyIdentity links a verified identity (guard: identity id present).
type VerifyIdentity struct {
	IdentityID string `json:"identity_id"`
}

// SubmitBasicInfo gives the email and phone (guard: both valid).
type SubmitBasicInfo struct {
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	CountryCode string `json:"country_code,omitempty"`
}

// SetUpComponents adds the profile components gathered during onboarding.
type SetUpComponents struct {
	Skills         []Skill         `json:"skills,omitempty"`
	Employment     *Employment     `json:"employment,omitempty"`
	SocialProfiles []SocialProfile `json:"social_profiles,omitempty"`
}

// AssignLocation assigns an address as the person's location; Address adds
// it first when the id is new.
type AssignLocation struct {
	AddressID string   `json:"address_id"`
	Address   *Address `json:"address,omitempty"`
}

// CompleteOnboarding finishes the workflow.
type CompleteOnboarding struct{ noGuard }

// FailOnboarding fails the workflow from a middle step and suspends the person.
type FailOnboarding struct {
	noGuard
	Reason string `json:"reason"`
}

// RestartOnboarding restarts a failed workflow and reactivates the person.
type RestartOnboarding struct{ noGuard }

// RecordNotification records a notification (policy: welcome); once per kind.
type RecordNotification struct {
	Kind    string  `json:"kind"`
	Channel Channel `json:"channel"`
	Target  string  `json:"target,omitempty"`
}

// FlagDataQuality records a data-quality issue (policy: data quality).
type FlagDataQuality struct {
	Issue string `json:"issue"`
	Field string `json:"field"`
	Value string `json:"value,omitempty"`
}

// RecommendSkills records recommended skills (policy: skill recommendation).
type RecommendSkills struct {
	Skills []Skill `json:"skills"`
	Source string  `json:"source,omitempty"`
}
