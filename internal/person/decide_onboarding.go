package person

import (
	"fmt"
	"strings"
)

// Every onboarding command's lifecycle decide fires the onboarding machine;
// its step (the onboarding action) emits the step's own events, and the
// entry hook of the next step emits OnboardingAdvanced.

func (*StartOnboarding) validate() error             { return nil }
func (*StartOnboarding) decide(d *decision) error    { return fireOnboarding(d) }
func (*StartOnboarding) step(d *decision) error      { d.emit(&OnboardingStarted{}); return nil }
func (*RequestIdentityVerification) validate() error { return nil }
func (*RequestIdentityVerification) decide(d *decision) error {
	return fireOnboarding(d)
}

// step has nothing of its own to emit: the entry hook records the move.
func (*RequestIdentityVerification) step(*decision) error { return nil }

func (c *VerifyIdentity) validate() error {
	c.IdentityID = strings.TrimSpace(c.IdentityID)
	return nil
}
func (c *VerifyIdentity) decide(d *decision) error { return fireOnboarding(d) }

// guard: an identity id is present and well formed.
func (c *VerifyIdentity) guard(*decision) error {
	if c.IdentityID == "" {
		return wrapf(ErrInvalidIdentity, "identity_id is required")
	}
	if err := checkText(c.IdentityID, 200); err != nil {
		return fmt.Errorf("%w: identity_id %w", ErrInvalidIdentity, err)
	}
	return nil
}

func (c *VerifyIdentity) step(d *decision) error {
	d.emit(&IdentityLinked{IdentityID: c.IdentityID})
	return nil
}

func (*SubmitBasicInfo) validate() error            { return nil }
func (c *SubmitBasicInfo) decide(d *decision) error { return fireOnboarding(d) }

// guard: the email and the phone are valid.
func (c *SubmitBasicInfo) guard(*decision) error {
	email, err := ParseEmail(c.Email)
	if err != nil {
		return err
	}
	if _, err := NormalizePhone(c.Phone, c.CountryCode); err != nil {
		return err
	}
	c.Email, c.Phone = email, strings.TrimSpace(c.Phone)
	return nil
}

// step adds the email and phone unless the person already has them.
func (c *SubmitBasicInfo) step(d *decision) error {
	for _, sub := range []Command{
		&AddEmail{Email: c.Email},
		&AddPhone{Number: c.Phone, CountryCode: c.CountryCode, Kind: PhoneMobile},
	} {
		if err := d.sub(sub); err != nil && CodeOf(err) != ErrComponentExists.code {
			return err
		}
	}
	return nil
}

// validate normalises every component and rejects one listed twice: the
// step's sub-decisions all see the person as it was, so a duplicate would
// otherwise be added twice.
func (c *SetUpComponents) validate() error {
	if len(c.Skills) > 50 || len(c.SocialProfiles) > 20 {
		return wrapf(ErrInvalidCommand, "at most 50 skills and 20 social profiles")
	}
	for i, s := range c.Skills {
		v, err := NewSkill(s)
		if err != nil {
			return err
		}
		k := SkillKey(v.Name)
		for _, prev := range c.Skills[:i] {
			if SkillKey(prev.Name) == k {
				return wrapf(ErrInvalidSkill, "skill %q listed twice", v.Name)
			}
		}
		c.Skills[i] = v
	}
	if c.Employment != nil {
		e, err := NewEmployment(*c.Employment)
		if err != nil {
			return err
		}
		c.Employment = &e
	}
	for i, s := range c.SocialProfiles {
		v, err := NewSocialProfile(s)
		if err != nil {
			return err
		}
		for _, prev := range c.SocialProfiles[:i] {
			if prev.Key() == v.Key() {
				return wrapf(ErrInvalidSocial, "social profile %q listed twice", v.Key())
			}
		}
		c.SocialProfiles[i] = v
	}
	return nil
}
func (c *SetUpComponents) decide(d *decision) error { return fireOnboarding(d) }
func (c *SetUpComponents) guard(*decision) error    { return nil }

// step adds each component that is new; invalid ones reject the whole step.
func (c *SetUpComponents) step(d *decision) error {
	var subs []Command
	for _, s := range c.Skills {
		subs = append(subs, &AddSkill{Skill: s})
	}
	if c.Employment != nil {
		subs = append(subs, &AddEmployment{Employment: *c.Employment})
	}
	for _, s := range c.SocialProfiles {
		subs = append(subs, &AddSocialProfile{SocialProfile: s})
	}
	for _, s := range subs {
		if err := d.sub(s); err != nil && CodeOf(err) != ErrComponentExists.code {
			return err
		}
	}
	return nil
}

// validate checks the id and, when given, the address (also when the id is
// known already and the address will not be used: invalid data is rejected
// whatever the state).
func (c *AssignLocation) validate() error {
	if c.Address == nil {
		c.AddressID = strings.TrimSpace(c.AddressID)
		if err := checkKey(c.AddressID); err != nil {
			return fmt.Errorf("%w: address_id %w", ErrInvalidAddress, err)
		}
		return nil
	}
	id, a := c.AddressID, *c.Address // the caller's address is not changed
	if err := validateAddress(&id, &a); err != nil {
		return err
	}
	c.AddressID, c.Address = id, &a
	return nil
}
func (c *AssignLocation) decide(d *decision) error { return fireOnboarding(d) }

// guard: the address exists or is given.
func (c *AssignLocation) guard(d *decision) error {
	if c.Address == nil && !d.person.addresses.has(c.AddressID) {
		return wrapf(ErrComponentNotFound, "address %q (give it in \"address\")", c.AddressID)
	}
	return nil
}

func (c *AssignLocation) step(d *decision) error {
	if c.Address != nil && !d.person.addresses.has(c.AddressID) {
		if err := d.sub(&AddAddress{AddressID: c.AddressID, Address: *c.Address}); err != nil {
			return err
		}
	}
	d.emit(&LocationAssigned{AddressID: c.AddressID})
	return nil
}

func (*CompleteOnboarding) validate() error          { return nil }
func (*CompleteOnboarding) decide(d *decision) error { return fireOnboarding(d) }
func (*CompleteOnboarding) step(d *decision) error {
	d.emit(&OnboardingCompleted{})
	return nil
}

func (c *FailOnboarding) validate() error {
	c.Reason = strings.TrimSpace(c.Reason)
	if c.Reason == "" {
		return wrapf(ErrInvalidReason, "a failed onboarding needs a reason")
	}
	return checkReason(c.Reason)
}

// decide fails the workflow, then suspends the person (the lifecycle move).
func (c *FailOnboarding) decide(d *decision) error {
	if err := fireOnboarding(d); err != nil {
		return err
	}
	d.emit(&PersonSuspended{Reason: "onboarding failed: " + c.Reason})
	return nil
}

func (c *FailOnboarding) step(d *decision) error {
	d.emit(&OnboardingFailed{From: d.person.onboarding, Reason: c.Reason})
	return nil
}

func (*RestartOnboarding) validate() error { return nil }

// decide restarts the workflow, then reactivates the person if the failure
// suspended it. A person reactivated by hand since is active already; a
// person suspended again for another reason stays suspended (reactivate it
// first): restarting onboarding must not lift someone else's suspension.
func (*RestartOnboarding) decide(d *decision) error {
	p := d.person
	suspendedByFailure := p.onboarding == OnboardingFailedState && p.lifecycleVersion == p.failedAt+1
	if p.lifecycle == LifecycleSuspended && p.onboarding == OnboardingFailedState && !suspendedByFailure {
		return wrapf(ErrNotReactivatable, "suspended at version %d, after the onboarding failed", p.lifecycleVersion)
	}
	if err := fireOnboarding(d); err != nil {
		return err
	}
	if p.lifecycle == LifecycleSuspended {
		d.emit(&PersonReactivated{Reason: "onboarding restarted"})
	}
	return nil
}

func (*RestartOnboarding) step(d *decision) error {
	d.emit(&OnboardingRestarted{})
	return nil
}

// sub decides a component command inside an onboarding step, against the
// person's current state: its events join the step's.
func (d *decision) sub(c Command) error {
	if err := c.validate(); err != nil {
		return err
	}
	return c.decide(d)
}
