package projection

import (
	"slices"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

// Summary is the person summary read model (KV bucket person_summary, one
// JSON document per person). The zero Summary is a person with no events.
//
// Primary contacts: PrimaryEmail is the address flagged primary. When none
// is flagged (the primary was removed, or unflagged by update_email), it
// falls back to the first verified address in the order they were added,
// else to the first address added; empty when the person has none.
// PrimaryPhone likewise: the phone flagged primary, else the first one with
// an E.164 form, else the first one added. The phone is shown in its E.164
// form when it has one, as given otherwise. The fallback is a read-model
// presentation only: the aggregate's flags are not changed.
//
// Employer and Role are those of the current employment: among the
// employments without an end date, the one that started last (on a tie,
// the one added last). An end date ends an employment even when it lies in
// the future (the model reads no clock).
type Summary struct {
	PersonID     person.ID `json:"person_id"`
	Version      uint64    `json:"version"` // last applied aggregate version
	DisplayName  string    `json:"display_name"`
	FullName     string    `json:"full_name"`
	PrimaryEmail string    `json:"primary_email,omitempty"`
	PrimaryPhone string    `json:"primary_phone,omitempty"`
	Emails       []string  `json:"emails,omitempty"` // every address, in the order added
	Lifecycle    string    `json:"lifecycle"`        // person.Lifecycle: active, suspended, …
	MergedInto   person.ID `json:"merged_into,omitempty"`
	Employer     string    `json:"employer,omitempty"`
	Role         string    `json:"role,omitempty"`
	SkillsCount  int       `json:"skills_count"`
	Onboarding   string    `json:"onboarding"` // person.OnboardingState, or "none"
	QualityFlags int       `json:"quality_flags"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"` // OccurredAt of the last event

	// Detail is the state the derived fields above are computed from, kept
	// so that removals and flag changes stay correct when the summary is
	// rebuilt from its stored form. Not for display.
	Detail SummaryDetail `json:"detail"`
}

// SummaryDetail is the part of the summary's state that is stored but not
// shown.
type SummaryDetail struct {
	Emails      []EmailEntry      `json:"emails,omitempty"`
	Phones      []PhoneEntry      `json:"phones,omitempty"`
	Employments []EmploymentEntry `json:"employments,omitempty"`
	Skills      []string          `json:"skills,omitempty"` // person.SkillKey of each skill
}

// EmailEntry is one email with its flags.
type EmailEntry struct {
	Address  string `json:"email"`
	Verified bool   `json:"verified,omitempty"`
	Primary  bool   `json:"primary,omitempty"`
}

// PhoneEntry is one phone with its flag. Key is person.PhoneKey.
type PhoneEntry struct {
	Key     string `json:"key"`
	Number  string `json:"number"`
	E164    string `json:"e164,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// EmploymentEntry is one employment, as far as the summary needs it.
type EmploymentEntry struct {
	ID       string      `json:"employment_id"`
	Employer string      `json:"employer"`
	Role     string      `json:"role,omitempty"`
	Start    person.Date `json:"start_date"`
	End      person.Date `json:"end_date,omitzero"`
}

// Apply folds the next event into the summary (see the package doc for the
// version rule). Events the summary has no use for advance its version.
func (s *Summary) Apply(e *person.Event) error {
	if err := admit(&s.PersonID, s.Version, e); err != nil {
		return err
	}
	s.apply(e)
	s.Version = e.Version
	if !e.OccurredAt.IsZero() {
		s.UpdatedAt = at(e)
	}
	if s.Onboarding == "" {
		s.Onboarding = OnboardingNotStarted
	}
	return nil
}

// apply handles every payload type of package person; it reports false for
// a type it does not know (a newer domain's), which is then ignored.
func (s *Summary) apply(e *person.Event) bool {
	switch p := e.Payload.(type) {
	case *person.PersonCreated:
		s.setName(p.Name)
		s.Lifecycle = string(person.LifecycleActive)
		if s.CreatedAt.IsZero() {
			s.CreatedAt = at(e)
		}
	case *person.NameUpdated:
		s.setName(p.Name)
	case *person.DeathRecorded:
		s.Lifecycle = string(person.LifecycleDeceased)
	case *person.PersonDeactivated:
		s.Lifecycle = string(person.LifecycleDeactivated)
	case *person.PersonSuspended:
		s.Lifecycle = string(person.LifecycleSuspended)
	case *person.PersonReactivated:
		s.Lifecycle = string(person.LifecycleActive)
	case *person.PersonArchived:
		s.Lifecycle = string(person.LifecycleArchived)
	case *person.PersonMerged:
		s.Lifecycle = string(person.LifecycleMerged)
		s.MergedInto = p.TargetID

	case *person.EmailAdded:
		s.putEmail(p.Email)
	case *person.EmailUpdated:
		s.putEmail(p.Email)
	case *person.EmailRemoved:
		key := person.EmailKey(p.Email)
		s.Detail.Emails = slices.DeleteFunc(s.Detail.Emails, func(m EmailEntry) bool { return person.EmailKey(m.Address) == key })
		s.refreshEmails()

	case *person.PhoneAdded:
		s.putPhone(p.Phone.Key(), p.Phone, true)
	case *person.PhoneUpdated:
		s.putPhone(p.Key, p.Phone, false)
	case *person.PhoneRemoved:
		s.Detail.Phones = slices.DeleteFunc(s.Detail.Phones, func(ph PhoneEntry) bool { return ph.Key == p.Key })
		s.refreshPhone()

	case *person.SkillAdded:
		if k := person.SkillKey(p.Skill.Name); !slices.Contains(s.Detail.Skills, k) {
			s.Detail.Skills = append(s.Detail.Skills, k)
		}
		s.SkillsCount = len(s.Detail.Skills)
	case *person.SkillRemoved:
		k := person.SkillKey(p.Name)
		s.Detail.Skills = slices.DeleteFunc(s.Detail.Skills, func(x string) bool { return x == k })
		s.SkillsCount = len(s.Detail.Skills)

	case *person.EmploymentAdded:
		s.putEmployment(p.Employment)
	case *person.EmploymentUpdated:
		s.putEmployment(p.Employment)
	case *person.EmploymentEnded:
		for i := range s.Detail.Employments {
			if s.Detail.Employments[i].ID == p.EmploymentID {
				s.Detail.Employments[i].End = p.EndDate
			}
		}
		s.refreshEmployment()
	case *person.EmploymentRemoved:
		s.Detail.Employments = slices.DeleteFunc(s.Detail.Employments, func(m EmploymentEntry) bool { return m.ID == p.EmploymentID })
		s.refreshEmployment()

	case *person.OnboardingStarted:
		s.Onboarding = string(person.OnboardingStartedState)
	case *person.OnboardingAdvanced:
		s.Onboarding = onboardingName(p.To)
	case *person.OnboardingCompleted:
		s.Onboarding = string(person.OnboardingCompletedState)
	case *person.OnboardingFailed:
		s.Onboarding = string(person.OnboardingFailedState)
	case *person.OnboardingRestarted:
		s.Onboarding = string(person.OnboardingStartedState)

	case *person.DataQualityFlagged:
		s.QualityFlags++

	case *person.BirthDateSet, *person.AddressAdded, *person.AddressUpdated, *person.AddressRemoved,
		*person.SkillUpdated, *person.SkillEndorsed,
		*person.SocialProfileAdded, *person.SocialProfileUpdated, *person.SocialProfileRemoved,
		*person.PreferencesSet, *person.ConsentRecorded, *person.AttributeSet, *person.AttributeRemoved,
		*person.IdentityLinked, *person.LocationAssigned,
		*person.NotificationRecorded, *person.SkillsRecommended:
		// Not part of the summary.
	default:
		return false
	}
	return true
}

func (s *Summary) setName(n person.Name) {
	s.DisplayName, s.FullName = n.Display(), n.Full()
}

// putEmail mirrors the aggregate: a primary email unflags the others; an
// address already present is replaced in place, a new one appended.
func (s *Summary) putEmail(m person.Email) {
	if m.Primary {
		for i := range s.Detail.Emails {
			s.Detail.Emails[i].Primary = false
		}
	}
	entry := EmailEntry{Address: m.Address, Verified: m.Verified, Primary: m.Primary}
	key := person.EmailKey(m.Address)
	if i := slices.IndexFunc(s.Detail.Emails, func(x EmailEntry) bool { return person.EmailKey(x.Address) == key }); i >= 0 {
		s.Detail.Emails[i] = entry
	} else {
		s.Detail.Emails = append(s.Detail.Emails, entry)
	}
	s.refreshEmails()
}

func (s *Summary) refreshEmails() {
	s.Emails = s.Emails[:0]
	for _, m := range s.Detail.Emails {
		s.Emails = append(s.Emails, m.Address)
	}
	if len(s.Emails) == 0 {
		s.Emails = nil
	}
	s.PrimaryEmail = ""
	best := -1
	for i, m := range s.Detail.Emails {
		switch {
		case m.Primary:
			s.PrimaryEmail = m.Address
			return
		case best < 0, m.Verified && !s.Detail.Emails[best].Verified:
			best = i
		}
	}
	if best >= 0 {
		s.PrimaryEmail = s.Detail.Emails[best].Address
	}
}

// putPhone mirrors the aggregate: a primary phone unflags the others;
// PhoneAdded replaces or appends by the new phone's key, PhoneUpdated
// replaces the phone with the old key (and ignores an unknown one).
func (s *Summary) putPhone(key string, ph person.Phone, add bool) {
	if ph.Primary {
		for i := range s.Detail.Phones {
			s.Detail.Phones[i].Primary = false
		}
	}
	entry := PhoneEntry{Key: ph.Key(), Number: ph.Number, E164: ph.E164, Primary: ph.Primary}
	if i := slices.IndexFunc(s.Detail.Phones, func(x PhoneEntry) bool { return x.Key == key }); i >= 0 {
		s.Detail.Phones[i] = entry
	} else if add {
		s.Detail.Phones = append(s.Detail.Phones, entry)
	}
	s.refreshPhone()
}

func (s *Summary) refreshPhone() {
	s.PrimaryPhone = ""
	best := -1
	for i, ph := range s.Detail.Phones {
		if ph.Primary {
			best = i
			break
		}
		if best < 0 || ph.E164 != "" && s.Detail.Phones[best].E164 == "" {
			best = i
		}
	}
	if best >= 0 {
		ph := s.Detail.Phones[best]
		s.PrimaryPhone = ph.E164
		if s.PrimaryPhone == "" {
			s.PrimaryPhone = ph.Number
		}
	}
}

func (s *Summary) putEmployment(m person.Employment) {
	entry := EmploymentEntry{ID: m.ID, Employer: m.Employer, Role: m.Role, Start: m.Start, End: m.End}
	if i := slices.IndexFunc(s.Detail.Employments, func(x EmploymentEntry) bool { return x.ID == m.ID }); i >= 0 {
		s.Detail.Employments[i] = entry
	} else {
		s.Detail.Employments = append(s.Detail.Employments, entry)
	}
	s.refreshEmployment()
}

func (s *Summary) refreshEmployment() {
	s.Employer, s.Role = "", ""
	cur := -1
	for i, m := range s.Detail.Employments {
		if m.End.IsZero() && (cur < 0 || !m.Start.Before(s.Detail.Employments[cur].Start)) {
			cur = i
		}
	}
	if cur >= 0 {
		s.Employer, s.Role = s.Detail.Employments[cur].Employer, s.Detail.Employments[cur].Role
	}
}

// Clone returns a copy that shares nothing with s (Apply changes the
// summary's slices in place).
func (s *Summary) Clone() *Summary {
	c := *s
	c.Emails = slices.Clone(s.Emails)
	c.Detail.Emails = slices.Clone(s.Detail.Emails)
	c.Detail.Phones = slices.Clone(s.Detail.Phones)
	c.Detail.Employments = slices.Clone(s.Detail.Employments)
	c.Detail.Skills = slices.Clone(s.Detail.Skills)
	return &c
}
