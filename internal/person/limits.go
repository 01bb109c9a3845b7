package person

import "slices"

// Resource limits: what one person may hold, so that no producer can grow an
// aggregate (and the history every replica loads to decide) without bound.
// A command that would cross one is rejected with ErrLimitExceeded
// (limit_exceeded); nothing is appended.
//
// There are no snapshots: a person's whole history is loaded to decide
// (the command-worker caches aggregates by last sequence, so a hot person is
// loaded once). MaxEvents bounds that load; a person near it keeps the
// lifecycle commands that end its story (archive, auto-archive, death,
// merge), which may
// use the last ReservedEvents versions.
const (
	// MaxComponents bounds each kind of component: emails, phones,
	// addresses, skills, employments, social profiles.
	MaxComponents = 50
	// MaxAttributes bounds the free attributes.
	MaxAttributes = 200
	// MaxConsents bounds the consent purposes recorded.
	MaxConsents = 100
	// MaxEndorsers bounds the endorsers of one skill.
	MaxEndorsers = 500
	// MaxEvents bounds a person's history.
	MaxEvents = 10_000
	// ReservedEvents of MaxEvents are kept for archive_person,
	// record_death and merge_persons.
	ReservedEvents = 16
)

// endingCommands may use the ReservedEvents.
var endingCommands = []CommandType{CmdArchivePerson, CmdAutoArchivePerson, CmdRecordDeath, CmdMergePersons}

// ErrLimitExceeded rejects a command that would cross a resource limit.
var ErrLimitExceeded = newError("limit_exceeded", "a resource limit of the person would be exceeded")

// checkLimits rejects a decision whose events would take p past a limit.
func (p *Person) checkLimits(cmd Command, out []Payload) error {
	limit := uint64(MaxEvents - ReservedEvents)
	if slices.Contains(endingCommands, cmd.CommandType()) {
		limit = MaxEvents
	}
	if p.version+uint64(len(out)) > limit {
		return wrapf(ErrLimitExceeded, "history of %d events, limit %d (%d kept for archive, death and merge)", p.version, MaxEvents, ReservedEvents)
	}
	// Components added by the decision, by kind, against what p holds.
	kinds := [...]struct {
		what        string
		held, added int
		limit       int
	}{
		{what: "emails", held: len(p.emails.items), limit: MaxComponents},
		{what: "phones", held: len(p.phones.items), limit: MaxComponents},
		{what: "addresses", held: len(p.addresses.items), limit: MaxComponents},
		{what: "skills", held: len(p.skills.items), limit: MaxComponents},
		{what: "employments", held: len(p.employments.items), limit: MaxComponents},
		{what: "social profiles", held: len(p.socials.items), limit: MaxComponents},
		{what: "attributes", held: len(p.attributes), limit: MaxAttributes},
		{what: "consents", held: len(p.consents), limit: MaxConsents},
	}
	for _, e := range out {
		switch e := e.(type) {
		case *EmailAdded:
			kinds[0].added++
		case *PhoneAdded:
			kinds[1].added++
		case *AddressAdded:
			kinds[2].added++
		case *SkillAdded:
			kinds[3].added++
		case *EmploymentAdded:
			kinds[4].added++
		case *SocialProfileAdded:
			kinds[5].added++
		case *AttributeSet:
			if _, ok := p.attributes[e.Key]; !ok {
				kinds[6].added++
			}
		case *ConsentRecorded:
			if _, ok := p.consents[e.Consent.Purpose]; !ok {
				kinds[7].added++
			}
		case *SkillEndorsed:
			if s, ok := p.skills.get(SkillKey(e.Name)); ok && len(s.Endorsers) >= MaxEndorsers {
				return wrapf(ErrLimitExceeded, "skill %q has %d endorsers, limit %d", e.Name, len(s.Endorsers), MaxEndorsers)
			}
		}
	}
	for _, k := range kinds {
		if k.added > 0 && k.held+k.added > k.limit {
			return wrapf(ErrLimitExceeded, "%d %s, limit %d", k.held+k.added, k.what, k.limit)
		}
	}
	return nil
}
