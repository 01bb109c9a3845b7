// Package person is the Person aggregate: value objects, commands, events,
// the lifecycle and onboarding state machines, decide and apply. It is pure:
// no I/O, no clock (time comes in through Env and Meta), nothing of NATS,
// Watermill or OpenTelemetry.
//
// The aggregate is event-sourced. Decide(cmd, env) validates a command
// against the current state and returns the payloads of the events it
// causes, or a *Error (a permanent rejection with a code); it never changes
// the Person. Apply(event) folds one recorded event into the state. A Person
// is not safe for concurrent use.
package person

import (
	"fmt"
	"slices"
	"time"
)

// ID identifies a person. It is a NATS subject token: 1 to 64 letters,
// digits, '-' or '_' (a UUID is the usual choice).
type ID string

// ParseID validates a person id.
func ParseID(s string) (ID, error) {
	if s == "" || len(s) > 64 {
		return "", fmt.Errorf("%w: %q must have 1 to 64 characters", ErrInvalidPersonID, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", fmt.Errorf("%w: %q may hold only letters, digits, '-' and '_'", ErrInvalidPersonID, s)
		}
	}
	return ID(s), nil
}

// RecentCommands is how many command ids a person remembers, so a command
// redelivered after JetStream's dedup window still appends nothing.
const RecentCommands = 64

// Person is the aggregate's state, rebuilt from its events.
type Person struct {
	id               ID
	version          uint64
	lifecycle        Lifecycle
	lifecycleVersion uint64 // version of the last lifecycle change
	lastActivity     time.Time
	mergedInto       ID

	name      Name
	source    string
	importID  string
	birthDate Date
	deathDate Date

	emails      collection[Email]
	hadEmail    bool // an email was ever added (EmailAdded.First is the first ever)
	phones      collection[Phone]
	addresses   collection[AddressEntry]
	skills      collection[SkillEntry]
	employments collection[Employment]
	socials     collection[SocialProfile]
	preferences Preferences
	consents    map[string]Consent
	attributes  map[string]string

	onboarding    OnboardingState
	failureReason string
	failedAt      uint64 // version of the last OnboardingFailed
	identityID    string
	locationID    string

	notifications map[string]bool
	qualityFlags  int
	recommended   []Skill

	recent []string // ring of the last RecentCommands causation ids
	next   int
}

// AddressEntry is an address with the id that identifies it.
type AddressEntry struct {
	ID      string  `json:"address_id"`
	Address Address `json:"address"`
}

// SkillEntry is a skill with its endorsers.
type SkillEntry struct {
	Skill     Skill    `json:"skill"`
	Endorsers []string `json:"endorsers,omitempty"`
}

// New returns the empty state of a person that does not exist yet.
func New(id ID) *Person {
	return &Person{
		id:          id,
		emails:      collection[Email]{key: func(e Email) string { return EmailKey(e.Address) }},
		phones:      collection[Phone]{key: Phone.Key},
		addresses:   collection[AddressEntry]{key: func(a AddressEntry) string { return a.ID }},
		skills:      collection[SkillEntry]{key: func(s SkillEntry) string { return SkillKey(s.Skill.Name) }},
		employments: collection[Employment]{key: func(e Employment) string { return e.ID }},
		socials:     collection[SocialProfile]{key: SocialProfile.Key},
	}
}

// Rehydrate rebuilds a person from its history, oldest first.
func Rehydrate(id ID, history []Event) (*Person, error) {
	p := New(id)
	for i := range history {
		if err := p.Apply(&history[i]); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Apply folds one event into the state. The event must belong to this
// person and carry the next version; anything else is a corrupt history.
func (p *Person) Apply(e *Event) error {
	if e.PersonID != p.id {
		return fmt.Errorf("%w: event %s belongs to %s, not %s", ErrAggregateVersionOrder, e.ID, e.PersonID, p.id)
	}
	if e.Version != p.version+1 {
		return fmt.Errorf("%w: event %s has version %d, person %s is at %d", ErrAggregateVersionOrder, e.ID, e.Version, p.id, p.version)
	}
	if e.Payload == nil {
		return fmt.Errorf("%w: event %s has no payload", ErrAggregateVersionOrder, e.ID)
	}
	e.Payload.apply(p, e)
	p.version = e.Version
	if !e.OccurredAt.IsZero() {
		p.lastActivity = e.OccurredAt
	}
	p.remember(e.CausationID)
	return nil
}

func (p *Person) remember(commandID string) {
	if commandID == "" || (len(p.recent) > 0 && p.recent[(p.next+len(p.recent)-1)%len(p.recent)] == commandID) {
		return
	}
	if len(p.recent) < RecentCommands {
		p.recent = append(p.recent, commandID)
		return
	}
	p.recent[p.next] = commandID
	p.next = (p.next + 1) % RecentCommands
}

// Processed reports whether one of the person's last RecentCommands commands
// had this id: a redelivered command must then append nothing.
func (p *Person) Processed(commandID string) bool { return slices.Contains(p.recent, commandID) }

// ID is the person's id.
func (p *Person) ID() ID { return p.id }

// Version is the number of events applied; 0 means the person does not exist.
func (p *Person) Version() uint64 { return p.version }

// Exists reports whether the person was created.
func (p *Person) Exists() bool { return p.lifecycle != LifecycleNone }

// Lifecycle is the person's lifecycle state.
func (p *Person) Lifecycle() Lifecycle { return p.lifecycle }

// LifecycleVersion is the version of the last lifecycle change.
func (p *Person) LifecycleVersion() uint64 { return p.lifecycleVersion }

// MergedInto is the target of a merge, when the person was merged.
func (p *Person) MergedInto() ID { return p.mergedInto }

// Name is the legal name (a copy).
func (p *Person) Name() Name {
	n := p.name
	n.MiddleNames = slices.Clone(n.MiddleNames)
	return n
}

// Source is the system the person was created from, and ImportID its id there.
func (p *Person) Source() (system, importID string) { return p.source, p.importID }

// BirthDate and DeathDate are zero when not set.
func (p *Person) BirthDate() Date { return p.birthDate }

// DeathDate is zero when no death was recorded.
func (p *Person) DeathDate() Date { return p.deathDate }

// LastActivity is the time of the last event.
func (p *Person) LastActivity() time.Time { return p.lastActivity }

// Emails returns a copy of the emails, in the order they were added.
func (p *Person) Emails() []Email { return slices.Clone(p.emails.items) }

// Phones returns a copy of the phones.
func (p *Person) Phones() []Phone { return slices.Clone(p.phones.items) }

// Addresses returns a copy of the addresses, street lines included.
func (p *Person) Addresses() []AddressEntry {
	out := slices.Clone(p.addresses.items)
	for i := range out {
		out[i].Address.Street = slices.Clone(out[i].Address.Street)
	}
	return out
}

// Skills returns a copy of the skills with (copies of) their endorsers.
func (p *Person) Skills() []SkillEntry {
	out := slices.Clone(p.skills.items)
	for i := range out {
		out[i].Endorsers = slices.Clone(out[i].Endorsers)
	}
	return out
}

// Employments returns a copy of the employments.
func (p *Person) Employments() []Employment { return slices.Clone(p.employments.items) }

// SocialProfiles returns a copy of the social profiles.
func (p *Person) SocialProfiles() []SocialProfile { return slices.Clone(p.socials.items) }

// Preferences are the contact preferences.
func (p *Person) Preferences() Preferences { return p.preferences }

// Consent returns the last decision recorded for a purpose.
func (p *Person) Consent(purpose string) (Consent, bool) {
	c, ok := p.consents[purpose]
	return c, ok
}

// Attribute returns a free attribute.
func (p *Person) Attribute(key string) (string, bool) {
	v, ok := p.attributes[key]
	return v, ok
}

// Onboarding is the onboarding workflow's state and, when failed, its reason.
func (p *Person) Onboarding() (OnboardingState, string) { return p.onboarding, p.failureReason }

// IdentityID is the verified identity linked during onboarding.
func (p *Person) IdentityID() string { return p.identityID }

// LocationID is the address assigned as the person's location during onboarding.
func (p *Person) LocationID() string { return p.locationID }

// Notified reports whether a notification of this kind was recorded.
func (p *Person) Notified(kind string) bool { return p.notifications[kind] }

// QualityFlags counts the data-quality issues flagged.
func (p *Person) QualityFlags() int { return p.qualityFlags }

// RecommendedSkills returns a copy of the skills recommended by policy.
func (p *Person) RecommendedSkills() []Skill { return slices.Clone(p.recommended) }

// collection is an ordered set of components identified by key. Persons
// hold few components of each kind, so a slice beats a map.
type collection[T any] struct {
	items []T
	key   func(T) string
}

func (c *collection[T]) find(key string) int {
	for i, it := range c.items {
		if c.key(it) == key {
			return i
		}
	}
	return -1
}

func (c *collection[T]) has(key string) bool { return c.find(key) >= 0 }

func (c *collection[T]) get(key string) (T, bool) {
	if i := c.find(key); i >= 0 {
		return c.items[i], true
	}
	var zero T
	return zero, false
}

// put replaces the item with the same key, or appends it.
func (c *collection[T]) put(v T) {
	if i := c.find(c.key(v)); i >= 0 {
		c.items[i] = v
		return
	}
	c.items = append(c.items, v)
}

func (c *collection[T]) remove(key string) {
	if i := c.find(key); i >= 0 {
		c.items = slices.Delete(c.items, i, i+1)
	}
}

// update applies f to every item (used to clear primary flags).
func (c *collection[T]) update(f func(*T)) {
	for i := range c.items {
		f(&c.items[i])
	}
}
