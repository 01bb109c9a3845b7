package policy

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/personfleet/personfleet/internal/person"
)

// The names of the default policies (they are part of every command id:
// never rename one that has run in production).
const (
	WelcomeNotification = "welcome_notification"
	DataQuality         = "data_quality"
	SkillRecommendation = "skill_recommendation"
	AutoArchive         = "auto_archive"
)

// DefaultInactivityPeriod is how long a deactivated person stays
// deactivated before the auto-archive policy archives them.
const DefaultInactivityPeriod = 90 * 24 * time.Hour

// Config tunes the default policies. The zero Config is valid and means
// the defaults.
type Config struct {
	// InactivityPeriod is how long after a deactivation the person is
	// archived automatically, unless their lifecycle changed meanwhile.
	// Zero means DefaultInactivityPeriod.
	InactivityPeriod time.Duration
}

// DefaultConfig is the configuration with every default spelled out.
func DefaultConfig() Config { return Config{InactivityPeriod: DefaultInactivityPeriod} }

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if c.InactivityPeriod < 0 {
		return fmt.Errorf("policy: inactivity period %s is negative", c.InactivityPeriod)
	}
	if c.InactivityPeriod != 0 && c.InactivityPeriod < time.Second {
		return errors.New("policy: inactivity period must be at least one second")
	}
	return nil
}

// Defaults returns the four default policies: welcome notification, data
// quality, skill recommendation and auto-archive. A zero (or, for a config
// that skipped Validate, non-positive) InactivityPeriod means
// DefaultInactivityPeriod.
func Defaults(cfg Config) []Policy {
	period := cfg.InactivityPeriod
	if period <= 0 {
		period = DefaultInactivityPeriod
	}
	return []Policy{
		{Name: WelcomeNotification, React: welcome},
		{Name: DataQuality, React: dataQuality},
		{Name: SkillRecommendation, React: recommendSkills},
		{Name: AutoArchive, React: autoArchive(period)},
	}
}

// welcome records a welcome notification to the address of a person's
// first email.
func welcome(e *person.Event) []Emit {
	p, ok := e.Payload.(*person.EmailAdded)
	if !ok || !p.First || p.Email.Address == "" {
		return nil
	}
	return []Emit{{Command: &person.RecordNotification{
		Kind:    "welcome",
		Channel: person.ChannelEmail,
		Target:  p.Email.Address,
	}}}
}

// The data-quality issues and the fields they concern.
const (
	IssueNameTooShort        = "name_too_short"
	IssuePhoneNotE164        = "phone_not_e164"
	IssueEmailReservedDomain = "email_reserved_domain"
)

// MinNameLen is the shortest given or family name (in characters) the
// data-quality policy accepts without a flag.
const MinNameLen = 2

// dataQuality flags values as they enter the person's record: a value is
// flagged by the event that introduces it, not again by later events that
// merely carry it along, so the flag count counts problems, not edits.
//
//   - PersonCreated: a given or family name (non-empty) shorter than
//     MinNameLen characters.
//   - NameUpdated: the same, for the parts that changed (Previous tells).
//   - PhoneAdded: a number with no E.164 form.
//   - PhoneUpdated: the same, when the number changed (its key differs from
//     the key the event replaces); a change of kind or primary flag does not
//     flag the same number again.
//   - EmailAdded: an address in a reserved domain (person.ReservedEmailDomain).
//     EmailUpdated only changes an address's flags, never the address, so it
//     introduces nothing and is not flagged again.
func dataQuality(e *person.Event) []Emit {
	switch p := e.Payload.(type) {
	case *person.PersonCreated:
		return shortNames(p.Name, person.Name{}, true)
	case *person.NameUpdated:
		return shortNames(p.Name, p.Previous, false)
	case *person.PhoneAdded:
		if p.Phone.E164 == "" {
			return flag(IssuePhoneNotE164, "phone", p.Phone.Number)
		}
	case *person.PhoneUpdated:
		if p.Phone.E164 == "" && p.Phone.Key() != p.Key {
			return flag(IssuePhoneNotE164, "phone", p.Phone.Number)
		}
	case *person.EmailAdded:
		if p.Email.Address != "" && person.ReservedEmailDomain(p.Email.Address) {
			return flag(IssueEmailReservedDomain, "email", p.Email.Address)
		}
	}
	return nil
}

func shortNames(n, prev person.Name, all bool) []Emit {
	var out []Emit
	if (all || n.GivenName != prev.GivenName) && tooShort(n.GivenName) {
		out = append(out, flag(IssueNameTooShort, "given_name", n.GivenName)...)
	}
	if (all || n.FamilyName != prev.FamilyName) && tooShort(n.FamilyName) {
		out = append(out, flag(IssueNameTooShort, "family_name", n.FamilyName)...)
	}
	return out
}

func tooShort(s string) bool { return s != "" && utf8.RuneCountInString(s) < MinNameLen }

func flag(issue, field, value string) []Emit {
	return []Emit{{Command: &person.FlagDataQuality{Issue: issue, Field: field, Value: value}}}
}

// autoArchive arms a timer on every deactivation: InactivityPeriod after
// it, the person is archived, unless their lifecycle changed since (the
// command names the deactivation's version and the aggregate rejects it
// with not_inactive otherwise). An event without a time cannot arm a timer
// and is ignored.
func autoArchive(period time.Duration) func(e *person.Event) []Emit {
	return func(e *person.Event) []Emit {
		if _, ok := e.Payload.(*person.PersonDeactivated); !ok || e.OccurredAt.IsZero() || e.Version == 0 {
			return nil
		}
		return []Emit{{
			Command:   &person.AutoArchivePerson{DeactivatedVersion: e.Version},
			NotBefore: e.OccurredAt.Add(period),
		}}
	}
}
