package person

import "fmt"

// checkReason validates an optional free-text reason.
func checkReason(r string) error {
	if err := checkText(r, 500); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidReason, err)
	}
	return nil
}

func (c *CreatePerson) validate() error {
	n, err := NewName(c.Name)
	if err != nil {
		return err
	}
	c.Name = n
	if err := checkText(c.Source, 100); err != nil {
		return fmt.Errorf("%w: source %w", ErrInvalidCommand, err)
	}
	if err := checkText(c.ImportID, 200); err != nil {
		return fmt.Errorf("%w: import_id %w", ErrInvalidCommand, err)
	}
	return nil
}

func (c *CreatePerson) decide(d *decision) error {
	d.emit(&PersonCreated{Name: c.Name, SourceSystem: c.Source, ImportID: c.ImportID})
	return nil
}

func (c *UpdateName) validate() error {
	n, err := NewName(c.Name)
	if err != nil {
		return err
	}
	c.Name = n
	return checkReason(c.Reason)
}

func (c *UpdateName) decide(d *decision) error {
	if c.Name.Equal(d.person.name) {
		return wrapf(ErrNothingToChange, "the name is already %q", c.Name.Full())
	}
	d.emit(&NameUpdated{Name: c.Name, Previous: d.person.Name(), ChangeReason: c.Reason}) // a copy: events never alias the state
	return nil
}

func (c *SetBirthDate) validate() error {
	if c.BirthDate.IsZero() {
		return wrapf(ErrInvalidDate, "birth_date is required")
	}
	return nil
}

func (c *SetBirthDate) decide(d *decision) error {
	if !d.person.birthDate.IsZero() {
		return wrapf(ErrBirthDateAlreadySet, "birth date is %s", d.person.birthDate)
	}
	if !d.env.Now.IsZero() && DateOf(d.env.Now).Before(c.BirthDate) {
		return wrapf(ErrInvalidDate, "birth date %s is in the future", c.BirthDate)
	}
	if !d.person.deathDate.IsZero() && d.person.deathDate.Before(c.BirthDate) {
		return wrapf(ErrDeathBeforeBirth, "birth %s after death %s", c.BirthDate, d.person.deathDate)
	}
	d.emit(&BirthDateSet{BirthDate: c.BirthDate})
	return nil
}

func (c *RecordDeath) validate() error {
	if c.DateOfDeath.IsZero() {
		return wrapf(ErrInvalidDate, "date_of_death is required")
	}
	return nil
}

func (c *RecordDeath) decide(d *decision) error {
	if !d.env.Now.IsZero() && DateOf(d.env.Now).Before(c.DateOfDeath) {
		return wrapf(ErrInvalidDate, "date of death %s is in the future", c.DateOfDeath)
	}
	if !d.person.birthDate.IsZero() && c.DateOfDeath.Before(d.person.birthDate) {
		return wrapf(ErrDeathBeforeBirth, "death %s before birth %s", c.DateOfDeath, d.person.birthDate)
	}
	d.emit(&DeathRecorded{DateOfDeath: c.DateOfDeath})
	return nil
}

func (c *DeactivatePerson) validate() error { return checkReason(c.Reason) }
func (c *SuspendPerson) validate() error    { return checkReason(c.Reason) }
func (c *ReactivatePerson) validate() error { return checkReason(c.Reason) }
func (c *ArchivePerson) validate() error    { return checkReason(c.Reason) }

func (c *DeactivatePerson) decide(d *decision) error {
	d.emit(&PersonDeactivated{Reason: c.Reason})
	return nil
}

func (c *SuspendPerson) decide(d *decision) error {
	d.emit(&PersonSuspended{Reason: c.Reason})
	return nil
}

func (c *ReactivatePerson) decide(d *decision) error {
	d.emit(&PersonReactivated{Reason: c.Reason})
	return nil
}

func (c *ArchivePerson) decide(d *decision) error {
	d.emit(&PersonArchived{Reason: c.Reason})
	return nil
}

func (c *AutoArchivePerson) validate() error {
	if c.DeactivatedVersion == 0 {
		return wrapf(ErrInvalidCommand, "deactivated_version is required")
	}
	return nil
}

func (c *AutoArchivePerson) decide(d *decision) error {
	if d.person.lifecycleVersion != c.DeactivatedVersion {
		return wrapf(ErrNotInactive, "timer armed at version %d, lifecycle changed at %d", c.DeactivatedVersion, d.person.lifecycleVersion)
	}
	d.emit(&PersonArchived{Reason: "inactive", Automatic: true})
	return nil
}

func (c *MergePersons) validate() error {
	id, err := ParseID(string(c.TargetID))
	if err != nil {
		return err
	}
	c.TargetID = id
	return checkReason(c.Reason)
}

func (c *MergePersons) decide(d *decision) error {
	if c.TargetID == d.person.id {
		return wrapf(ErrMergeIntoSelf, "%s", c.TargetID)
	}
	if d.env.PersonExists == nil {
		return wrapf(ErrMergeTargetNotFound, "no directory to look up %s", c.TargetID)
	}
	ok, err := d.env.PersonExists(c.TargetID)
	if err != nil {
		return fmt.Errorf("merge_persons: looking up target %s: %w", c.TargetID, err)
	}
	if !ok {
		return wrapf(ErrMergeTargetNotFound, "%s", c.TargetID)
	}
	d.emit(&PersonMerged{TargetID: c.TargetID, Reason: c.Reason})
	return nil
}
