package person

import (
	"errors"
)

// Error is a rejection by the domain: invalid input or a broken rule. Every
// Error carries a stable machine-readable code (snake_case) that travels in
// rejected command results; the message is for people. Errors are sentinels
// compared with errors.Is; decide wraps them with details using %w.
type Error struct {
	code string
	msg  string
}

func newError(code, msg string) *Error { return &Error{code: code, msg: msg} }

func (e *Error) Error() string { return e.msg }

// Code is the stable, machine-readable reason.
func (e *Error) Code() string { return e.code }

// CodeOf returns the code of the first *Error in err's chain, or "" when err
// is not a domain rejection (an infrastructure failure, say).
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.code
	}
	return ""
}

// IsRejection reports whether err is a domain rejection: permanent, never
// worth retrying.
func IsRejection(err error) bool { return CodeOf(err) != "" }

// Validation errors: the command's data is malformed.
var (
	ErrInvalidCommand     = newError("invalid_command", "invalid command")
	ErrUnknownCommand     = newError("unknown_command", "unknown command type")
	ErrInvalidPersonID    = newError("invalid_person_id", "invalid person id")
	ErrInvalidName        = newError("invalid_name", "invalid name")
	ErrInvalidEmail       = newError("invalid_email", "invalid email address")
	ErrInvalidPhone       = newError("invalid_phone", "invalid phone number")
	ErrInvalidAddress     = newError("invalid_address", "invalid address")
	ErrInvalidSkill       = newError("invalid_skill", "invalid skill")
	ErrInvalidEmployment  = newError("invalid_employment", "invalid employment")
	ErrInvalidSocial      = newError("invalid_social_profile", "invalid social profile")
	ErrInvalidPreferences = newError("invalid_preferences", "invalid preferences")
	ErrInvalidConsent     = newError("invalid_consent", "invalid consent")
	ErrInvalidAttribute   = newError("invalid_attribute", "invalid attribute")
	ErrInvalidDate        = newError("invalid_date", "invalid date")
	ErrInvalidIdentity    = newError("invalid_identity", "invalid identity")
	ErrInvalidReason      = newError("invalid_reason", "invalid reason")
)

// Rule errors: the command is well formed but the person's state forbids it.
var (
	ErrPersonNotFound        = newError("person_not_found", "person does not exist")
	ErrPersonAlreadyExists   = newError("person_already_exists", "person already exists")
	ErrNotAllowedInState     = newError("not_allowed_in_state", "command not allowed in the person's lifecycle state")
	ErrNameChangeNotActive   = newError("name_change_not_active", "a name changes only while the person is active")
	ErrBirthDateAlreadySet   = newError("birth_date_already_set", "the birth date is set once")
	ErrDeathAlreadyRecorded  = newError("death_already_recorded", "death is recorded once")
	ErrNotReactivatable      = newError("not_reactivatable", "reactivation only from deactivated or suspended")
	ErrMergeSourceNotActive  = newError("merge_source_not_active", "a merge needs an active source")
	ErrMergeTargetNotFound   = newError("merge_target_not_found", "a merge needs an existing target")
	ErrMergeIntoSelf         = newError("merge_into_self", "a person cannot be merged into itself")
	ErrComponentExists       = newError("component_exists", "the same component is already present")
	ErrComponentNotFound     = newError("component_not_found", "no such component")
	ErrAlreadyEndorsed       = newError("already_endorsed", "the endorser already endorsed this skill")
	ErrEmploymentEnded       = newError("employment_already_ended", "the employment has already ended")
	ErrInvalidTransition     = newError("invalid_transition", "transition not valid in the current state")
	ErrNotInactive           = newError("not_inactive", "the person has been active since the archive timer was set")
	ErrNothingToChange       = newError("nothing_to_change", "the command changes nothing")
	ErrAlreadyNotified       = newError("already_notified", "this notification was already recorded")
	ErrDeathBeforeBirth      = newError("death_before_birth", "the death date lies before the birth date")
	ErrAggregateVersionOrder = newError("version_out_of_order", "event version is not the next one")
)
