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
		return fmt.Errorf("%w: identity_id %v", ErrInvalidIdentity, err)
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

func (c *SetUpComponents) validate() error {
	if len(c.Skills) > 50 || len(c.SocialProfiles) > 20 {
		return wrapf(ErrInvalidCommand, "at most 50 skills and 20 social profiles")
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

func (c *AssignLocation) validate() error {
	if err := checkKey(c.AddressID); err != nil {
		return fmt.Errorf("%w: address_id %v", ErrInvalidAddress, err)
	}
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

// decide restarts the workflow, then reactivates the person.
func (*RestartOnboarding) decide(d *decision) error {
	if err := fireOnboarding(d); err != nil {
		return err
	}
	d.emit(&PersonReactivated{Reason: "onboarding restarted"})
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
