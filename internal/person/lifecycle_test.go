package person_test

import (
	"slices"
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

// sample returns a command of type ct that the matrix person (richNoBirth
// plus the state's own command) accepts whenever its lifecycle allows it.
func sample(ct person.CommandType, p *person.Person) person.Command {
	switch ct {
	case person.CmdCreatePerson:
		return create()
	case person.CmdUpdateName:
		return &person.UpdateName{Name: person.Name{GivenName: "Augusta", FamilyName: "King"}}
	case person.CmdSetBirthDate:
		return birth("1815-12-10")
	case person.CmdRecordDeath:
		return death("1852-11-27")
	case person.CmdDeactivatePerson:
		return deactivate()
	case person.CmdSuspendPerson:
		return suspend()
	case person.CmdReactivatePerson:
		return reactivate()
	case person.CmdArchivePerson:
		return archive()
	case person.CmdAutoArchivePerson:
		return &person.AutoArchivePerson{DeactivatedVersion: max(1, p.LifecycleVersion())}
	case person.CmdMergePersons:
		return merge()
	case person.CmdAddEmail:
		return addEmail("new@example.org")
	case person.CmdUpdateEmail:
		return &person.UpdateEmail{Email: "ada.work@analytical.example", Verified: ptrTrue()}
	case person.CmdRemoveEmail:
		return &person.RemoveEmail{Email: "ada.work@analytical.example"}
	case person.CmdAddPhone:
		return addPhone("+33 1 23 45 67 89")
	case person.CmdUpdatePhone:
		k := person.PhoneHome
		return &person.UpdatePhone{Number: "+1 202 555 0142", Kind: &k}
	case person.CmdRemovePhone:
		return &person.RemovePhone{Number: "+1 202 555 0142"}
	case person.CmdAddAddress:
		return addAddress("lab", person.Address{City: "Manchester", Country: "GB"})
	case person.CmdUpdateAddress:
		return &person.UpdateAddress{AddressID: "work", Address: person.Address{City: "Oxford", Country: "GB"}}
	case person.CmdRemoveAddress:
		return &person.RemoveAddress{AddressID: "work"}
	case person.CmdAddSkill:
		return addSkill("Rust")
	case person.CmdUpdateSkill:
		return &person.UpdateSkill{Skill: person.Skill{Name: "Go", Proficiency: person.Expert, Years: 6}}
	case person.CmdRemoveSkill:
		return &person.RemoveSkill{Name: "Go"}
	case person.CmdEndorseSkill:
		return &person.EndorseSkill{Name: "Go", Endorser: "mary"}
	case person.CmdAddEmployment:
		return addEmployment("x1")
	case person.CmdUpdateEmployment:
		e := employment("ae2")
		e.Role = "Lead"
		return &person.UpdateEmployment{Employment: e}
	case person.CmdEndEmployment:
		return &person.EndEmployment{EmploymentID: "ae2", EndDate: person.MustDate("1850-01-01")}
	case person.CmdRemoveEmployment:
		return &person.RemoveEmployment{EmploymentID: "ae2"}
	case person.CmdAddSocialProfile:
		return addSocial("babbage")
	case person.CmdUpdateSocialProfile:
		return &person.UpdateSocialProfile{SocialProfile: person.SocialProfile{Platform: person.GitHub, Handle: "lovelace", URL: "https://lovelace.dev"}}
	case person.CmdRemoveSocialProfile:
		return &person.RemoveSocialProfile{Platform: person.GitHub, Handle: "lovelace"}
	case person.CmdSetPreferences:
		return &person.SetPreferences{Preferences: person.Preferences{Language: "fr"}}
	case person.CmdRecordConsent:
		return &person.RecordConsent{Consent: person.Consent{Purpose: "research", Granted: true}}
	case person.CmdSetAttribute:
		return setAttr("team", "looms")
	case person.CmdRemoveAttribute:
		return &person.RemoveAttribute{Key: "team"}
	case person.CmdStartOnboarding:
		return startOnb()
	case person.CmdRequestIdentityVerification:
		return requestID()
	case person.CmdVerifyIdentity:
		return verifyID()
	case person.CmdSubmitBasicInfo:
		return submitInfo()
	case person.CmdSetUpComponents:
		return setUp()
	case person.CmdAssignLocation:
		return assignLoc()
	case person.CmdCompleteOnboarding:
		return completeO()
	case person.CmdFailOnboarding:
		return failO("timeout")
	case person.CmdRestartOnboarding:
		return restartO()
	case person.CmdRecordNotification:
		return &person.RecordNotification{Kind: "welcome", Channel: person.ChannelEmail}
	case person.CmdFlagDataQuality:
		return &person.FlagDataQuality{Issue: "reserved_email_domain", Field: "email", Value: "ada.work@analytical.example"}
	case person.CmdRecommendSkills:
		return &person.RecommendSkills{Skills: []person.Skill{{Name: "Haskell"}}, Source: "github"}
	}
	panic("no sample for " + string(ct))
}

var (
	profileCmds = []person.CommandType{
		person.CmdAddEmail, person.CmdUpdateEmail, person.CmdRemoveEmail, person.CmdAddPhone, person.CmdUpdatePhone, person.CmdRemovePhone,
		person.CmdAddAddress, person.CmdUpdateAddress, person.CmdRemoveAddress, person.CmdAddSkill, person.CmdUpdateSkill, person.CmdRemoveSkill,
		person.CmdEndorseSkill, person.CmdAddEmployment, person.CmdUpdateEmployment, person.CmdEndEmployment, person.CmdRemoveEmployment,
		person.CmdAddSocialProfile, person.CmdUpdateSocialProfile, person.CmdRemoveSocialProfile, person.CmdSetPreferences,
		person.CmdSetAttribute, person.CmdRemoveAttribute, person.CmdRecordNotification, person.CmdRecommendSkills,
	}
	onboardingCmds = []person.CommandType{
		person.CmdStartOnboarding, person.CmdRequestIdentityVerification, person.CmdVerifyIdentity, person.CmdSubmitBasicInfo,
		person.CmdSetUpComponents, person.CmdAssignLocation, person.CmdCompleteOnboarding, person.CmdFailOnboarding, person.CmdRestartOnboarding,
	}
)

func join(groups ...[]person.CommandType) []person.CommandType {
	var out []person.CommandType
	for _, g := range groups {
		out = append(out, g...)
	}
	slices.Sort(out)
	return out
}

// lifecycleMatrix is what each lifecycle state accepts, written down from
// DESIGN.md independently of lifecycle.go:
//   - active: everything but create, reactivate and auto-archive;
//   - suspended: no name change (active only), no new suspension, merge
//     (needs an active source) or onboarding step; it keeps its profile,
//     and restart_onboarding reactivates it after a failed onboarding;
//   - deactivated: only facts (birth date, consent, data quality) and the
//     moves out: reactivate, archive (also by the timer), death;
//   - archived: birth date, consent and death;
//   - deceased: only the birth date;
//   - merged: nothing; none: only create_person.
var lifecycleMatrix = map[person.Lifecycle][]person.CommandType{
	person.LifecycleNone: {person.CmdCreatePerson},
	person.LifecycleActive: join(profileCmds, onboardingCmds, []person.CommandType{
		person.CmdUpdateName, person.CmdSetBirthDate, person.CmdRecordDeath, person.CmdDeactivatePerson, person.CmdSuspendPerson,
		person.CmdArchivePerson, person.CmdMergePersons, person.CmdRecordConsent, person.CmdFlagDataQuality,
	}),
	person.LifecycleSuspended: join(profileCmds, []person.CommandType{
		person.CmdSetBirthDate, person.CmdRecordDeath, person.CmdDeactivatePerson, person.CmdReactivatePerson, person.CmdArchivePerson,
		person.CmdRecordConsent, person.CmdFlagDataQuality, person.CmdRestartOnboarding,
	}),
	person.LifecycleDeactivated: join([]person.CommandType{
		person.CmdSetBirthDate, person.CmdRecordDeath, person.CmdReactivatePerson, person.CmdArchivePerson, person.CmdAutoArchivePerson,
		person.CmdRecordConsent, person.CmdFlagDataQuality,
	}),
	person.LifecycleArchived: join([]person.CommandType{person.CmdSetBirthDate, person.CmdRecordConsent, person.CmdRecordDeath}),
	person.LifecycleDeceased: {person.CmdSetBirthDate},
	person.LifecycleMerged:   nil,
}

// lifecycleCode is the rejection a command gets from a state that does not
// allow it.
func lifecycleCode(l person.Lifecycle, ct person.CommandType) string {
	switch {
	case l == person.LifecycleNone:
		return "person_not_found"
	case ct == person.CmdCreatePerson:
		return "person_already_exists"
	case ct == person.CmdUpdateName:
		return "name_change_not_active"
	case ct == person.CmdReactivatePerson, ct == person.CmdRestartOnboarding:
		return "not_reactivatable"
	case ct == person.CmdMergePersons:
		return "merge_source_not_active"
	case ct == person.CmdRecordDeath && l == person.LifecycleDeceased:
		return "death_already_recorded"
	case ct == person.CmdAutoArchivePerson:
		return "not_inactive"
	}
	return "not_allowed_in_state"
}

func matrixPerson(t *testing.T, l person.Lifecycle) *person.Person {
	t.Helper()
	switch l {
	case person.LifecycleNone:
		return person.New(pid)
	case person.LifecycleActive:
		return newPerson(t, richNoBirth()...)
	case person.LifecycleSuspended:
		return newPerson(t, append(richNoBirth(), suspend())...)
	case person.LifecycleDeactivated:
		return newPerson(t, append(richNoBirth(), deactivate())...)
	case person.LifecycleArchived:
		return newPerson(t, append(richNoBirth(), archive())...)
	case person.LifecycleDeceased:
		return newPerson(t, append(richNoBirth(), death("1852-11-27"))...)
	case person.LifecycleMerged:
		return newPerson(t, append(richNoBirth(), merge())...)
	}
	panic(l)
}

func TestLifecycleMatrix(t *testing.T) {
	for _, l := range []person.Lifecycle{person.LifecycleNone, person.LifecycleActive, person.LifecycleSuspended,
		person.LifecycleDeactivated, person.LifecycleArchived, person.LifecycleDeceased, person.LifecycleMerged} {
		name := string(l)
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			allowed := lifecycleMatrix[l]
			got := person.AllowedCommands(l)
			slices.Sort(got)
			if !slices.Equal(got, allowed) {
				t.Errorf("AllowedCommands = %v\nwant %v", got, allowed)
			}
			p := matrixPerson(t, l)
			if p.Lifecycle() != l {
				t.Fatalf("matrix person is %q", p.Lifecycle())
			}
			for _, ct := range person.CommandTypes() {
				before := person.Snapshot(p)
				pl, err := p.Decide(sample(ct, p), testEnv())
				if person.Snapshot(p) != before {
					t.Fatalf("%s: Decide changed the person", ct)
				}
				code := person.CodeOf(err)
				switch {
				case !slices.Contains(allowed, ct):
					if want := lifecycleCode(l, ct); code != want {
						t.Errorf("%s: code %q (%v), want %q", ct, code, err, want)
					}
				case slices.Contains(onboardingCmds, ct) && ct != person.CmdStartOnboarding:
					// The workflow, not the lifecycle, decides these; the
					// matrix person's onboarding is completed.
					if code != "invalid_transition" {
						t.Errorf("%s: code %q (%v), want invalid_transition", ct, code, err)
					}
				case ct == person.CmdStartOnboarding:
					if code != "invalid_transition" {
						t.Errorf("%s: code %q (%v), want invalid_transition (already completed)", ct, code, err)
					}
				default:
					if err != nil || len(pl) == 0 {
						t.Errorf("%s: rejected with %q (%v), want accepted", ct, code, err)
					}
				}
			}
		})
	}
}

// TestLifecycleMoves follows lifecycle moves end to end: the distinct
// states a person goes through, and the version of the last change.
func TestLifecycleMoves(t *testing.T) {
	const (
		act = person.LifecycleActive
		sus = person.LifecycleSuspended
		dea = person.LifecycleDeactivated
		arc = person.LifecycleArchived
		dec = person.LifecycleDeceased
		mer = person.LifecycleMerged
	)
	tests := []struct {
		name  string
		steps []person.Command
		want  []person.Lifecycle
	}{
		{"suspend and reactivate", active(suspend(), reactivate()), []person.Lifecycle{act, sus, act}},
		{"deactivate, reactivate, deactivate, archive", active(deactivate(), reactivate(), deactivate(), archive()), []person.Lifecycle{act, dea, act, dea, arc}},
		{"suspended, deactivated, deceased", active(suspend(), deactivate(), death("1852-11-27")), []person.Lifecycle{act, sus, dea, dec}},
		{"archived then deceased", active(archive(), death("1852-11-27")), []person.Lifecycle{act, arc, dec}},
		{"merged", active(addEmail("ada@example.org"), merge()), []person.Lifecycle{act, mer}},
		{"failed onboarding suspends, restart reactivates", append(onboardedTo(person.OnboardingFailedState), restartO()), []person.Lifecycle{act, sus, act}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := person.New(pid)
			var got []person.Lifecycle
			for _, c := range tc.steps {
				before := p.Lifecycle()
				evs := mustDo(t, p, c)
				if p.Lifecycle() != before {
					// The last event of a lifecycle command moves the state.
					if last := evs[len(evs)-1].Version; p.LifecycleVersion() != last {
						t.Errorf("%s: lifecycle version %d, want %d", c.CommandType(), p.LifecycleVersion(), last)
					}
				}
				got = append(got, p.Lifecycle())
			}
			if got = slices.Compact(got); !slices.Equal(got, tc.want) {
				t.Errorf("lifecycles %v, want %v", got, tc.want)
			}
		})
	}
}
