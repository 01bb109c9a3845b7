package person

import (
	"fmt"
	"slices"
	"strings"
)

// normalise replaces *v by its validated form, and leaves it alone when
// validation fails: a rejected command keeps its data, so deciding it again
// (a retry after a conflict) rejects it again instead of deciding on a
// zeroed value.
func normalise[T any](v *T, validate func(T) (T, error)) error {
	n, err := validate(*v)
	if err != nil {
		return err
	}
	*v = n
	return nil
}

// absent and present check a component's existence with the domain's errors.
func absent[T any](c *collection[T], key, what string) error {
	if c.has(key) {
		return wrapf(ErrComponentExists, "%s %q", what, key)
	}
	return nil
}

func present[T any](c *collection[T], key, what string) (T, error) {
	v, ok := c.get(key)
	if !ok {
		return v, wrapf(ErrComponentNotFound, "%s %q", what, key)
	}
	return v, nil
}

func (c *AddEmail) validate() error { return normalise(&c.Email, ParseEmail) }

func (c *AddEmail) decide(d *decision) error {
	if err := absent(&d.person.emails, EmailKey(c.Email), "email"); err != nil {
		return err
	}
	none := len(d.person.emails.items) == 0 // with no email left, the new one becomes primary
	d.emit(&EmailAdded{Email: Email{Address: c.Email, Verified: c.Verified, Primary: c.Primary || none}, First: !d.person.hadEmail})
	return nil
}

func (c *UpdateEmail) validate() error { return normalise(&c.Email, ParseEmail) }

func (c *UpdateEmail) decide(d *decision) error {
	old, err := present(&d.person.emails, EmailKey(c.Email), "email")
	if err != nil {
		return err
	}
	e := old
	if c.Verified != nil {
		e.Verified = *c.Verified
	}
	if c.Primary != nil {
		e.Primary = *c.Primary
	}
	if e == old {
		return wrapf(ErrNothingToChange, "email %q", c.Email)
	}
	d.emit(&EmailUpdated{Email: e})
	return nil
}

func (c *RemoveEmail) validate() error { return normalise(&c.Email, ParseEmail) }

func (c *RemoveEmail) decide(d *decision) error {
	old, err := present(&d.person.emails, EmailKey(c.Email), "email")
	if err != nil {
		return err
	}
	d.emit(&EmailRemoved{Email: old.Address})
	return nil
}

// findPhone finds a phone by any spelling of its number. Two numbers that
// both have an E.164 form are the same only if those forms are: the national
// 020 7946 0958 in the UK and in France are different phones.
func (p *Person) findPhone(number, countryCode string) (Phone, error) {
	e164, err := NormalizePhone(number, countryCode)
	if err != nil {
		return Phone{}, err
	}
	dg := digits(number)
	for _, ph := range p.phones.items {
		var same bool
		switch {
		case e164 != "" && ph.E164 != "":
			same = ph.E164 == e164
		case e164 != "":
			same = digits(ph.Number) == dg || digits(ph.Number) == e164[1:]
		case ph.E164 != "":
			same = digits(ph.Number) == dg || ph.E164[1:] == dg
		default:
			same = digits(ph.Number) == dg
		}
		if same {
			return ph, nil
		}
	}
	return Phone{}, wrapf(ErrComponentNotFound, "phone %q", number)
}

func (c *AddPhone) validate() error {
	k, err := ParsePhoneKind(string(c.Kind))
	if err != nil {
		return err
	}
	c.Kind = k
	c.Number = strings.TrimSpace(c.Number)
	_, err = NormalizePhone(c.Number, c.CountryCode)
	return err
}

func (c *AddPhone) decide(d *decision) error {
	e164, _ := NormalizePhone(c.Number, c.CountryCode) // validated
	if _, err := d.person.findPhone(c.Number, c.CountryCode); err == nil {
		return wrapf(ErrComponentExists, "phone %q", c.Number)
	}
	first := len(d.person.phones.items) == 0
	d.emit(&PhoneAdded{Phone: Phone{Number: c.Number, E164: e164, Kind: c.Kind, Primary: c.Primary || first}})
	return nil
}

func (c *UpdatePhone) validate() error {
	if c.Kind != nil {
		k, err := ParsePhoneKind(string(*c.Kind))
		if err != nil {
			return err
		}
		c.Kind = &k
	}
	c.Number = strings.TrimSpace(c.Number)
	c.NewNumber = strings.TrimSpace(c.NewNumber)
	if _, err := NormalizePhone(c.Number, c.CountryCode); err != nil {
		return err
	}
	if c.NewNumber != "" {
		if _, err := NormalizePhone(c.NewNumber, c.CountryCode); err != nil {
			return err
		}
	}
	return nil
}

func (c *UpdatePhone) decide(d *decision) error {
	old, err := d.person.findPhone(c.Number, c.CountryCode)
	if err != nil {
		return err
	}
	ph := old
	if c.NewNumber != "" {
		ph.Number = c.NewNumber
		ph.E164, _ = NormalizePhone(c.NewNumber, c.CountryCode) // validated
		if other, err := d.person.findPhone(c.NewNumber, c.CountryCode); err == nil && other.Key() != old.Key() {
			return wrapf(ErrComponentExists, "phone %q", c.NewNumber)
		}
	}
	if c.Kind != nil {
		ph.Kind = *c.Kind
	}
	if c.Primary != nil {
		ph.Primary = *c.Primary
	}
	if ph == old {
		return wrapf(ErrNothingToChange, "phone %q", c.Number)
	}
	d.emit(&PhoneUpdated{Key: old.Key(), Phone: ph})
	return nil
}

func (c *RemovePhone) validate() error {
	_, err := NormalizePhone(c.Number, "")
	return err
}

func (c *RemovePhone) decide(d *decision) error {
	old, err := d.person.findPhone(c.Number, "")
	if err != nil {
		return err
	}
	d.emit(&PhoneRemoved{Key: old.Key()})
	return nil
}

func validateAddress(id *string, a *Address) error {
	*id = strings.TrimSpace(*id)
	if err := checkKey(*id); err != nil {
		return fmt.Errorf("%w: address_id %w", ErrInvalidAddress, err)
	}
	return normalise(a, NewAddress)
}

func (c *AddAddress) validate() error { return validateAddress(&c.AddressID, &c.Address) }

func (c *AddAddress) decide(d *decision) error {
	if err := d.person.addressAbsent(c.AddressID, c.Address); err != nil {
		return err
	}
	d.emit(&AddressAdded{AddressEntry{ID: c.AddressID, Address: c.Address}})
	return nil
}

// addressAbsent rejects a new address whose id or place is already known.
func (p *Person) addressAbsent(id string, a Address) error {
	if err := absent(&p.addresses, id, "address"); err != nil {
		return err
	}
	for _, e := range p.addresses.items {
		if e.Address.Equal(a) {
			return wrapf(ErrComponentExists, "address %q is the same place", e.ID)
		}
	}
	return nil
}

func (c *UpdateAddress) validate() error { return validateAddress(&c.AddressID, &c.Address) }

func (c *UpdateAddress) decide(d *decision) error {
	old, err := present(&d.person.addresses, c.AddressID, "address")
	if err != nil {
		return err
	}
	if old.Address.Equal(c.Address) && old.Address.Kind == c.Address.Kind {
		return wrapf(ErrNothingToChange, "address %q", c.AddressID)
	}
	for _, e := range d.person.addresses.items {
		if e.ID != c.AddressID && e.Address.Equal(c.Address) {
			return wrapf(ErrComponentExists, "address %q is the same place", e.ID)
		}
	}
	d.emit(&AddressUpdated{AddressEntry{ID: c.AddressID, Address: c.Address}})
	return nil
}

func (c *RemoveAddress) validate() error {
	c.AddressID = strings.TrimSpace(c.AddressID)
	if err := checkKey(c.AddressID); err != nil {
		return fmt.Errorf("%w: address_id %w", ErrInvalidAddress, err)
	}
	return nil
}

func (c *RemoveAddress) decide(d *decision) error {
	if _, err := present(&d.person.addresses, c.AddressID, "address"); err != nil {
		return err
	}
	d.emit(&AddressRemoved{AddressID: c.AddressID})
	return nil
}

func (c *AddSkill) validate() error { return normalise(&c.Skill, NewSkill) }

func (c *AddSkill) decide(d *decision) error {
	if err := absent(&d.person.skills, SkillKey(c.Name), "skill"); err != nil {
		return err
	}
	d.emit(&SkillAdded{Skill: c.Skill})
	return nil
}

func (c *UpdateSkill) validate() error { return normalise(&c.Skill, NewSkill) }

func (c *UpdateSkill) decide(d *decision) error {
	old, err := present(&d.person.skills, SkillKey(c.Name), "skill")
	if err != nil {
		return err
	}
	s := c.Skill
	s.Name = old.Skill.Name // the name identifies the skill; keep its first spelling
	if s == old.Skill {
		return wrapf(ErrNothingToChange, "skill %q", c.Name)
	}
	d.emit(&SkillUpdated{Skill: s})
	return nil
}

func (c *RemoveSkill) validate() error { return checkSkillName(c.Name) }

func checkSkillName(n string) error {
	if strings.TrimSpace(n) == "" {
		return wrapf(ErrInvalidSkill, "name is required")
	}
	if err := checkText(n, 100); err != nil {
		return fmt.Errorf("%w: name %w", ErrInvalidSkill, err)
	}
	return nil
}

func (c *RemoveSkill) decide(d *decision) error {
	old, err := present(&d.person.skills, SkillKey(c.Name), "skill")
	if err != nil {
		return err
	}
	d.emit(&SkillRemoved{Name: old.Skill.Name})
	return nil
}

func (c *EndorseSkill) validate() error {
	if err := checkSkillName(c.Name); err != nil {
		return err
	}
	c.Endorser = strings.TrimSpace(c.Endorser)
	if c.Endorser == "" {
		return wrapf(ErrInvalidSkill, "endorser is required")
	}
	if err := checkText(c.Endorser, 200); err != nil {
		return fmt.Errorf("%w: endorser %w", ErrInvalidSkill, err)
	}
	return nil
}

func (c *EndorseSkill) decide(d *decision) error {
	s, err := present(&d.person.skills, SkillKey(c.Name), "skill")
	if err != nil {
		return err
	}
	if slices.Contains(s.Endorsers, c.Endorser) {
		return wrapf(ErrAlreadyEndorsed, "%q endorsed %q", c.Endorser, s.Skill.Name)
	}
	d.emit(&SkillEndorsed{Name: s.Skill.Name, Endorser: c.Endorser})
	return nil
}

func (c *AddEmployment) validate() error { return normalise(&c.Employment, NewEmployment) }

func (c *AddEmployment) decide(d *decision) error {
	if err := absent(&d.person.employments, c.ID, "employment"); err != nil {
		return err
	}
	d.emit(&EmploymentAdded{Employment: c.Employment})
	return nil
}

func (c *UpdateEmployment) validate() error { return normalise(&c.Employment, NewEmployment) }

func (c *UpdateEmployment) decide(d *decision) error {
	old, err := present(&d.person.employments, c.ID, "employment")
	if err != nil {
		return err
	}
	if old == c.Employment {
		return wrapf(ErrNothingToChange, "employment %q", c.ID)
	}
	d.emit(&EmploymentUpdated{Employment: c.Employment})
	return nil
}

func (c *EndEmployment) validate() error {
	c.EmploymentID = strings.TrimSpace(c.EmploymentID)
	if err := checkKey(c.EmploymentID); err != nil {
		return fmt.Errorf("%w: employment_id %w", ErrInvalidEmployment, err)
	}
	if c.EndDate.IsZero() {
		return wrapf(ErrInvalidEmployment, "end_date is required")
	}
	return nil
}

func (c *EndEmployment) decide(d *decision) error {
	old, err := present(&d.person.employments, c.EmploymentID, "employment")
	if err != nil {
		return err
	}
	if !old.End.IsZero() {
		return wrapf(ErrEmploymentEnded, "employment %q ended on %s", c.EmploymentID, old.End)
	}
	if c.EndDate.Before(old.Start) {
		return wrapf(ErrInvalidEmployment, "end_date %s before start_date %s", c.EndDate, old.Start)
	}
	d.emit(&EmploymentEnded{EmploymentID: c.EmploymentID, EndDate: c.EndDate})
	return nil
}

func (c *RemoveEmployment) validate() error {
	c.EmploymentID = strings.TrimSpace(c.EmploymentID)
	if err := checkKey(c.EmploymentID); err != nil {
		return fmt.Errorf("%w: employment_id %w", ErrInvalidEmployment, err)
	}
	return nil
}

func (c *RemoveEmployment) decide(d *decision) error {
	if _, err := present(&d.person.employments, c.EmploymentID, "employment"); err != nil {
		return err
	}
	d.emit(&EmploymentRemoved{EmploymentID: c.EmploymentID})
	return nil
}

func (c *AddSocialProfile) validate() error { return normalise(&c.SocialProfile, NewSocialProfile) }

func (c *AddSocialProfile) decide(d *decision) error {
	if err := absent(&d.person.socials, c.Key(), "social profile"); err != nil {
		return err
	}
	d.emit(&SocialProfileAdded{Profile: c.SocialProfile})
	return nil
}

func (c *UpdateSocialProfile) validate() error { return normalise(&c.SocialProfile, NewSocialProfile) }

func (c *UpdateSocialProfile) decide(d *decision) error {
	old, err := present(&d.person.socials, c.Key(), "social profile")
	if err != nil {
		return err
	}
	if old == c.SocialProfile {
		return wrapf(ErrNothingToChange, "social profile %q", c.Key())
	}
	d.emit(&SocialProfileUpdated{Profile: c.SocialProfile})
	return nil
}

func (c *RemoveSocialProfile) validate() error {
	p, err := NewSocialProfile(SocialProfile{Platform: c.Platform, Handle: c.Handle})
	if err != nil {
		return err
	}
	c.Platform, c.Handle = p.Platform, p.Handle
	return nil
}

func (c *RemoveSocialProfile) decide(d *decision) error {
	old, err := present(&d.person.socials, SocialKey(c.Platform, c.Handle), "social profile")
	if err != nil {
		return err
	}
	d.emit(&SocialProfileRemoved{Platform: old.Platform, Handle: old.Handle})
	return nil
}

func (c *SetPreferences) validate() error { return normalise(&c.Preferences, NewPreferences) }

func (c *SetPreferences) decide(d *decision) error {
	if c.Preferences == d.person.preferences {
		return wrapf(ErrNothingToChange, "preferences")
	}
	d.emit(&PreferencesSet{Preferences: c.Preferences})
	return nil
}

func (c *RecordConsent) validate() error { return normalise(&c.Consent, NewConsent) }

// decide records every decision, repeated ones too: a renewed consent is
// a fact worth keeping.
func (c *RecordConsent) decide(d *decision) error {
	d.emit(&ConsentRecorded{Consent: c.Consent})
	return nil
}

func (c *SetAttribute) validate() error {
	if err := CheckAttribute(c.Key, c.Value); err != nil {
		return err
	}
	if c.Value == "" {
		return wrapf(ErrInvalidAttribute, "empty value (use remove_attribute)")
	}
	return nil
}

func (c *SetAttribute) decide(d *decision) error {
	if v, ok := d.person.attributes[c.Key]; ok && v == c.Value {
		return wrapf(ErrNothingToChange, "attribute %q", c.Key)
	}
	d.emit(&AttributeSet{Key: c.Key, Value: c.Value})
	return nil
}

func (c *RemoveAttribute) validate() error { return CheckAttribute(c.Key, "") }

func (c *RemoveAttribute) decide(d *decision) error {
	if _, ok := d.person.attributes[c.Key]; !ok {
		return wrapf(ErrComponentNotFound, "attribute %q", c.Key)
	}
	d.emit(&AttributeRemoved{Key: c.Key})
	return nil
}

func (c *RecordNotification) validate() error {
	if !isSnake(c.Kind, 64) {
		return wrapf(ErrInvalidCommand, "notification kind %q is not snake_case", c.Kind)
	}
	if _, err := ParseChannel(string(c.Channel)); err != nil {
		return err
	}
	if err := checkText(c.Target, 254); err != nil {
		return fmt.Errorf("%w: target %w", ErrInvalidCommand, err)
	}
	return nil
}

func (c *RecordNotification) decide(d *decision) error {
	if d.person.notifications[c.Kind] {
		return wrapf(ErrAlreadyNotified, "%q", c.Kind)
	}
	d.emit(&NotificationRecorded{Kind: c.Kind, Channel: c.Channel, Target: c.Target})
	return nil
}

func (c *FlagDataQuality) validate() error {
	if !isSnake(c.Issue, 64) || !isSnake(c.Field, 64) {
		return wrapf(ErrInvalidCommand, "issue %q and field %q must be snake_case", c.Issue, c.Field)
	}
	if err := checkText(c.Value, 500); err != nil {
		return fmt.Errorf("%w: value %w", ErrInvalidCommand, err)
	}
	return nil
}

func (c *FlagDataQuality) decide(d *decision) error {
	d.emit(&DataQualityFlagged{Issue: c.Issue, Field: c.Field, Value: c.Value})
	return nil
}

func (c *RecommendSkills) validate() error {
	if len(c.Skills) == 0 || len(c.Skills) > 20 {
		return wrapf(ErrInvalidSkill, "1 to 20 skills")
	}
	for i, s := range c.Skills {
		v, err := NewSkill(s)
		if err != nil {
			return err
		}
		c.Skills[i] = v
	}
	if err := checkText(c.Source, 200); err != nil {
		return fmt.Errorf("%w: source %w", ErrInvalidCommand, err)
	}
	return nil
}

// decide keeps only skills the person neither has nor was recommended.
func (c *RecommendSkills) decide(d *decision) error {
	var fresh []Skill
	for _, s := range c.Skills {
		k := SkillKey(s.Name)
		known := d.person.skills.has(k) || slices.ContainsFunc(d.person.recommended, func(r Skill) bool { return SkillKey(r.Name) == k }) ||
			slices.ContainsFunc(fresh, func(r Skill) bool { return SkillKey(r.Name) == k })
		if !known {
			fresh = append(fresh, s)
		}
	}
	if len(fresh) == 0 {
		return wrapf(ErrNothingToChange, "every recommended skill is known")
	}
	d.emit(&SkillsRecommended{Skills: fresh, Source: c.Source})
	return nil
}
