package projection

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// builder makes real histories: it decides commands against the aggregate
// and records the events, as the command worker would.
type builder struct {
	t      testing.TB
	p      *person.Person
	now    time.Time
	n      int
	events []person.Event
}

func newBuilder(t testing.TB, id person.ID) *builder {
	return &builder{t: t, p: person.New(id), now: t0}
}

// try decides a command; a rejection returns its error and records nothing.
func (b *builder) try(cmd person.Command) ([]person.Event, error) {
	b.n++
	b.now = b.now.Add(time.Minute)
	env := person.Env{Now: b.now, PersonExists: func(person.ID) (bool, error) { return true, nil }}
	pls, err := b.p.Decide(cmd, env)
	if err != nil {
		return nil, err
	}
	evs := person.NewEvents(b.p.ID(), b.p.Version(), person.Meta{CommandID: fmt.Sprintf("%s-cmd-%d", b.p.ID(), b.n), Actor: "test", At: b.now}, pls)
	for i := range evs {
		if err := b.p.Apply(&evs[i]); err != nil {
			b.t.Fatal(err)
		}
	}
	b.events = append(b.events, evs...)
	return evs, nil
}

// do decides a command that must be accepted.
func (b *builder) do(cmd person.Command) []person.Event {
	b.t.Helper()
	evs, err := b.try(cmd)
	if err != nil {
		b.t.Fatalf("%s: %v", cmd.CommandType(), err)
	}
	return evs
}

func ptr[T any](v T) *T { return &v }

// realisticHistory is one person's life: contacts, employments, skills, a
// rename, a complete onboarding, a removed primary email.
func realisticHistory(t testing.TB) []person.Event {
	b := newBuilder(t, "ada")
	b.do(&person.CreatePerson{Name: person.Name{GivenName: "Augusta", MiddleNames: []string{"Ada"}, FamilyName: "Byron", Preferred: "Ada"}, Source: "crm"})
	b.do(&person.AddEmail{Email: "ada@byron.example.uk"})
	b.do(&person.AddEmail{Email: "ada@analytical.engine.uk", Verified: true})
	b.do(&person.AddEmail{Email: "countess@lovelace.uk"})
	b.do(&person.AddPhone{Number: "+44 20 7946 0000", Kind: person.PhoneHome})
	b.do(&person.AddPhone{Number: "07700 900123", CountryCode: "44", Kind: person.PhoneMobile})
	b.do(&person.AddEmployment{Employment: person.Employment{ID: "e1", Employer: "Analytical Society", Role: "Translator", Start: person.MustDate("1842-01-01")}})
	b.do(&person.AddEmployment{Employment: person.Employment{ID: "e2", Employer: "Babbage & Co", Role: "Analyst", Start: person.MustDate("1843-06-01")}})
	b.do(&person.EndEmployment{EmploymentID: "e2", EndDate: person.MustDate("1844-01-01")})
	b.do(&person.AddSkill{Skill: person.Skill{Name: "Mathematics", Proficiency: person.Expert}})
	b.do(&person.AddSkill{Skill: person.Skill{Name: "Poetry"}})
	b.do(&person.EndorseSkill{Name: "Mathematics", Endorser: "babbage"})
	b.do(&person.RemoveSkill{Name: "poetry"})
	b.do(&person.UpdateName{Name: person.Name{GivenName: "Augusta", MiddleNames: []string{"Ada"}, FamilyName: "King", Preferred: "Ada", Honorific: "Countess"}, Reason: "marriage"})
	b.do(&person.FlagDataQuality{Issue: "name_too_short", Field: "given_name", Value: "A"})
	b.do(&person.SetBirthDate{BirthDate: person.MustDate("1815-12-10")})
	b.do(&person.StartOnboarding{})
	b.do(&person.RequestIdentityVerification{})
	b.do(&person.VerifyIdentity{IdentityID: "id-42"})
	b.do(&person.SubmitBasicInfo{Email: "ada@byron.example.uk", Phone: "+44 7700 900123"})
	b.do(&person.SetUpComponents{Skills: []person.Skill{{Name: "Analysis"}, {Name: "mathematics"}}})
	b.do(&person.AssignLocation{AddressID: "home", Address: &person.Address{City: "London", Country: "gb"}})
	b.do(&person.CompleteOnboarding{})
	b.do(&person.RemoveEmail{Email: "ada@byron.example.uk"})
	b.do(&person.UpdatePhone{Number: "07700 900123", CountryCode: "44", Primary: ptr(true)})
	b.do(&person.SetPreferences{Preferences: person.Preferences{Language: "en", ContactChannel: person.ChannelEmail}})
	return b.events
}

// randomHistory drives a person with random commands (rejected ones are
// skipped) and returns the builder.
func randomHistory(t testing.TB, id person.ID, seed uint64, commands int) *builder {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := newBuilder(t, id)
	b.do(&person.CreatePerson{Name: person.Name{GivenName: "Grace", FamilyName: "Hopper"}})
	emails := []string{"g@navy.example.mil", "grace@hopper.uk", "GRACE@Cobol.org", "gh@yale.edu"}
	phones := []struct{ n, cc string }{{"+1 202 555 0100", ""}, {"020 7946 0000", ""}, {"07700 900123", "44"}, {"+44 7700 900124", ""}}
	skills := []string{"COBOL", "Fortran", "Compilers", "Leadership"}
	addrs := []string{"home", "office", "lab"}
	b2 := func() bool { return r.IntN(2) == 0 }
	for range commands {
		var cmd person.Command
		switch r.IntN(34) {
		case 0, 1, 2:
			cmd = &person.AddEmail{Email: emails[r.IntN(len(emails))], Primary: b2(), Verified: b2()}
		case 3, 4:
			c := &person.UpdateEmail{Email: emails[r.IntN(len(emails))]}
			if b2() {
				c.Primary = ptr(b2())
			} else {
				c.Verified = ptr(b2())
			}
			cmd = c
		case 5, 6:
			cmd = &person.RemoveEmail{Email: emails[r.IntN(len(emails))]}
		case 7, 8, 9:
			ph := phones[r.IntN(len(phones))]
			cmd = &person.AddPhone{Number: ph.n, CountryCode: ph.cc, Primary: b2()}
		case 10, 11:
			ph := phones[r.IntN(len(phones))]
			c := &person.UpdatePhone{Number: ph.n, CountryCode: ph.cc, Primary: ptr(b2())}
			if r.IntN(3) == 0 {
				c.NewNumber = fmt.Sprintf("0161 496 %04d", r.IntN(3))
				c.CountryCode = ""
			}
			cmd = c
		case 12:
			ph := phones[r.IntN(len(phones))]
			cmd = &person.RemovePhone{Number: ph.n}
		case 13, 14:
			cmd = &person.AddSkill{Skill: person.Skill{Name: skills[r.IntN(len(skills))]}}
		case 15:
			cmd = &person.RemoveSkill{Name: skills[r.IntN(len(skills))]}
		case 16, 17:
			cmd = &person.AddEmployment{Employment: person.Employment{
				ID: fmt.Sprintf("e%d", r.IntN(4)), Employer: fmt.Sprintf("Org %d", r.IntN(3)), Role: fmt.Sprintf("Role %d", r.IntN(3)),
				Start: person.MustDate(fmt.Sprintf("19%02d-01-01", 40+r.IntN(4))),
			}}
		case 18:
			cmd = &person.UpdateEmployment{Employment: person.Employment{
				ID: fmt.Sprintf("e%d", r.IntN(4)), Employer: fmt.Sprintf("Org %d", r.IntN(3)), Role: "Admiral",
				Start: person.MustDate(fmt.Sprintf("19%02d-01-01", 40+r.IntN(4))),
			}}
		case 19:
			cmd = &person.EndEmployment{EmploymentID: fmt.Sprintf("e%d", r.IntN(4)), EndDate: person.MustDate("1990-01-01")}
		case 20:
			cmd = &person.RemoveEmployment{EmploymentID: fmt.Sprintf("e%d", r.IntN(4))}
		case 21:
			cmd = &person.UpdateName{Name: person.Name{GivenName: []string{"Grace", "G", "Amazing Grace"}[r.IntN(3)], FamilyName: "Hopper"}}
		case 22:
			cmd = []person.Command{&person.DeactivatePerson{}, &person.SuspendPerson{}, &person.ReactivatePerson{}}[r.IntN(3)]
		case 23:
			cmd = &person.FlagDataQuality{Issue: "test_issue", Field: "name"}
		case 24, 25, 26, 27:
			steps := map[person.CommandType]person.Command{
				person.CmdStartOnboarding: &person.StartOnboarding{}, person.CmdRequestIdentityVerification: &person.RequestIdentityVerification{},
				person.CmdVerifyIdentity:     &person.VerifyIdentity{IdentityID: "id-1"},
				person.CmdSubmitBasicInfo:    &person.SubmitBasicInfo{Email: "grace@hopper.uk", Phone: "+1 202 555 0100"},
				person.CmdSetUpComponents:    &person.SetUpComponents{Skills: []person.Skill{{Name: "Navy"}}},
				person.CmdAssignLocation:     &person.AssignLocation{AddressID: addrs[r.IntN(len(addrs))], Address: &person.Address{City: "Arlington", Country: "US", PostalCode: fmt.Sprint(r.IntN(1000))}},
				person.CmdCompleteOnboarding: &person.CompleteOnboarding{}, person.CmdFailOnboarding: &person.FailOnboarding{Reason: "documents missing"},
				person.CmdRestartOnboarding: &person.RestartOnboarding{},
			}
			// Mostly a step valid now (so workflows complete), sometimes any.
			state, _ := b.p.Onboarding()
			valid := person.OnboardingCommands(state)
			slices.Sort(valid)
			if len(valid) == 0 || r.IntN(4) == 0 {
				valid = slices.Sorted(maps.Keys(steps))
			}
			cmd = steps[valid[r.IntN(len(valid))]]
		case 28:
			cmd = &person.AddAddress{AddressID: addrs[r.IntN(len(addrs))], Address: person.Address{City: "New York", Country: "US", PostalCode: fmt.Sprint(r.IntN(1000))}}
		case 29:
			cmd = &person.RemoveAddress{AddressID: addrs[r.IntN(len(addrs))]}
		case 30:
			if r.IntN(4) == 0 {
				cmd = &person.SetBirthDate{BirthDate: person.MustDate("1906-12-09")}
				break
			}
			cmd = &person.SetAttribute{Key: "team", Value: fmt.Sprint(r.IntN(5))}
		case 31:
			cmd = &person.EndorseSkill{Name: skills[r.IntN(len(skills))], Endorser: fmt.Sprint("e", r.IntN(5))}
		case 32:
			if r.IntN(20) == 0 {
				cmd = []person.Command{&person.ArchivePerson{}, &person.RecordDeath{DateOfDeath: person.MustDate("1992-01-01")}, &person.MergePersons{TargetID: "other"}}[r.IntN(3)]
			} else {
				cmd = &person.RecordConsent{Consent: person.Consent{Purpose: "marketing", Granted: b2()}}
			}
		case 33:
			cmd = &person.RecommendSkills{Skills: []person.Skill{{Name: skills[r.IntN(len(skills))]}}}
		}
		_, _ = b.try(cmd)
	}
	return b
}

// mustJSON is the stored form of a read model.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
