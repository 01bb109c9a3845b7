package person

// apply methods: how each event changes the state. They never fail; decide
// made sure the event is possible.

func (e *PersonCreated) apply(p *Person, ev *Event) {
	p.name, p.source, p.importID = e.Name, e.SourceSystem, e.ImportID
	p.setLifecycle(LifecycleActive, ev)
}

func (e *NameUpdated) apply(p *Person, _ *Event)  { p.name = e.Name }
func (e *BirthDateSet) apply(p *Person, _ *Event) { p.birthDate = e.BirthDate }

func (e *DeathRecorded) apply(p *Person, ev *Event) {
	p.deathDate = e.DateOfDeath
	p.setLifecycle(LifecycleDeceased, ev)
}

func (*PersonDeactivated) apply(p *Person, ev *Event) { p.setLifecycle(LifecycleDeactivated, ev) }
func (*PersonSuspended) apply(p *Person, ev *Event)   { p.setLifecycle(LifecycleSuspended, ev) }
func (*PersonReactivated) apply(p *Person, ev *Event) { p.setLifecycle(LifecycleActive, ev) }
func (*PersonArchived) apply(p *Person, ev *Event)    { p.setLifecycle(LifecycleArchived, ev) }

func (e *PersonMerged) apply(p *Person, ev *Event) {
	p.mergedInto = e.TargetID
	p.setLifecycle(LifecycleMerged, ev)
}

func (p *Person) setLifecycle(l Lifecycle, ev *Event) {
	p.lifecycle = l
	p.lifecycleVersion = ev.Version
}

func (e *EmailAdded) apply(p *Person, _ *Event) {
	p.hadEmail = true
	if e.Email.Primary {
		p.emails.update(func(m *Email) { m.Primary = false })
	}
	p.emails.put(e.Email)
}

func (e *EmailUpdated) apply(p *Person, _ *Event) {
	if e.Email.Primary {
		p.emails.update(func(m *Email) { m.Primary = false })
	}
	p.emails.put(e.Email)
}

func (e *EmailRemoved) apply(p *Person, _ *Event) { p.emails.remove(EmailKey(e.Email)) }

func (e *PhoneAdded) apply(p *Person, _ *Event) {
	if e.Phone.Primary {
		p.phones.update(func(m *Phone) { m.Primary = false })
	}
	p.phones.put(e.Phone)
}

func (e *PhoneUpdated) apply(p *Person, _ *Event) {
	if e.Phone.Primary {
		p.phones.update(func(m *Phone) { m.Primary = false })
	}
	if i := p.phones.find(e.Key); i >= 0 {
		p.phones.items[i] = e.Phone
	}
}

func (e *PhoneRemoved) apply(p *Person, _ *Event)   { p.phones.remove(e.Key) }
func (e *AddressAdded) apply(p *Person, _ *Event)   { p.addresses.put(e.AddressEntry) }
func (e *AddressUpdated) apply(p *Person, _ *Event) { p.addresses.put(e.AddressEntry) }

func (e *AddressRemoved) apply(p *Person, _ *Event) {
	p.addresses.remove(e.AddressID)
	if p.locationID == e.AddressID {
		p.locationID = ""
	}
}

func (e *SkillAdded) apply(p *Person, _ *Event) { p.skills.put(SkillEntry{Skill: e.Skill}) }

func (e *SkillUpdated) apply(p *Person, _ *Event) {
	if i := p.skills.find(SkillKey(e.Skill.Name)); i >= 0 {
		p.skills.items[i].Skill = e.Skill
	}
}

func (e *SkillRemoved) apply(p *Person, _ *Event) { p.skills.remove(SkillKey(e.Name)) }

func (e *SkillEndorsed) apply(p *Person, _ *Event) {
	if i := p.skills.find(SkillKey(e.Name)); i >= 0 {
		s := &p.skills.items[i]
		s.Endorsers = append(s.Endorsers[:len(s.Endorsers):len(s.Endorsers)], e.Endorser)
	}
}

func (e *EmploymentAdded) apply(p *Person, _ *Event)   { p.employments.put(e.Employment) }
func (e *EmploymentUpdated) apply(p *Person, _ *Event) { p.employments.put(e.Employment) }

func (e *EmploymentEnded) apply(p *Person, _ *Event) {
	if i := p.employments.find(e.EmploymentID); i >= 0 {
		p.employments.items[i].End = e.EndDate
	}
}

func (e *EmploymentRemoved) apply(p *Person, _ *Event)    { p.employments.remove(e.EmploymentID) }
func (e *SocialProfileAdded) apply(p *Person, _ *Event)   { p.socials.put(e.Profile) }
func (e *SocialProfileUpdated) apply(p *Person, _ *Event) { p.socials.put(e.Profile) }

func (e *SocialProfileRemoved) apply(p *Person, _ *Event) {
	p.socials.remove(SocialKey(e.Platform, e.Handle))
}

func (e *PreferencesSet) apply(p *Person, _ *Event) { p.preferences = e.Preferences }

func (e *ConsentRecorded) apply(p *Person, _ *Event) {
	if p.consents == nil {
		p.consents = make(map[string]Consent)
	}
	p.consents[e.Consent.Purpose] = e.Consent
}

func (e *AttributeSet) apply(p *Person, _ *Event) {
	if p.attributes == nil {
		p.attributes = make(map[string]string)
	}
	p.attributes[e.Key] = e.Value
}

func (e *AttributeRemoved) apply(p *Person, _ *Event) { delete(p.attributes, e.Key) }

func (*OnboardingStarted) apply(p *Person, _ *Event) {
	p.onboarding, p.failureReason = OnboardingStartedState, ""
}

func (e *OnboardingAdvanced) apply(p *Person, _ *Event) { p.onboarding = e.To }
func (e *IdentityLinked) apply(p *Person, _ *Event)     { p.identityID = e.IdentityID }
func (e *LocationAssigned) apply(p *Person, _ *Event)   { p.locationID = e.AddressID }
func (*OnboardingCompleted) apply(p *Person, _ *Event)  { p.onboarding = OnboardingCompletedState }

func (e *OnboardingFailed) apply(p *Person, ev *Event) {
	p.onboarding, p.failureReason, p.failedAt = OnboardingFailedState, e.Reason, ev.Version
}

func (*OnboardingRestarted) apply(p *Person, _ *Event) {
	p.onboarding, p.failureReason = OnboardingStartedState, ""
}

func (e *NotificationRecorded) apply(p *Person, _ *Event) {
	if p.notifications == nil {
		p.notifications = make(map[string]bool)
	}
	p.notifications[e.Kind] = true
}

func (*DataQualityFlagged) apply(p *Person, _ *Event) { p.qualityFlags++ }

func (e *SkillsRecommended) apply(p *Person, _ *Event) {
	p.recommended = append(p.recommended[:len(p.recommended):len(p.recommended)], e.Skills...)
}
