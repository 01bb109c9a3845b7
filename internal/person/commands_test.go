package person_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

type commandCase struct {
	name  string
	given []person.Command // decided and applied on a new person first
	cmd   person.Command
	env   *person.Env // default testEnv()
	want  []person.EventType
	code  string                                          // expected rejection code
	check func(t *testing.T, p *person.Person)            // state after the accepted events
	after func(t *testing.T, p *person.Person, err error) // extra checks after a rejection
}

var (
	ptrTrue  = func() *bool { b := true; return &b }
	ptrFalse = func() *bool { b := false; return &b }
)

func long(n int) string { return strings.Repeat("x", n) }

// commandCases covers every command type: the accepted path, each rule it
// can break, and each kind of invalid data.
func commandCases() []commandCase {
	const (
		personCreated  = person.EventPersonCreated
		nameUpdated    = person.EventNameUpdated
		onbAdvanced    = person.EventOnboardingAdvanced
		emailAdded     = person.EventEmailAdded
		phoneAdded     = person.EventPhoneAdded
		skillAdded     = person.EventSkillAdded
		personSuspend  = person.EventPersonSuspended
		personReactive = person.EventPersonReactivated
	)
	return []commandCase{
		// create_person
		{name: "create_person/accepted", cmd: create(), want: []person.EventType{personCreated},
			check: func(t *testing.T, p *person.Person) {
				if p.Lifecycle() != person.LifecycleActive || p.Name().Display() != "Ada Lovelace" || p.LifecycleVersion() != 1 {
					t.Errorf("after create: %s %q v%d", p.Lifecycle(), p.Name().Display(), p.LifecycleVersion())
				}
				if s, id := p.Source(); s != "crm" || id != "crm-1" {
					t.Errorf("source = %q, %q", s, id)
				}
			}},
		{name: "create_person/name trimmed", cmd: &person.CreatePerson{Name: person.Name{GivenName: "  Ada ", MiddleNames: []string{" ", "Augusta "}}}, want: []person.EventType{personCreated},
			check: func(t *testing.T, p *person.Person) {
				if n := p.Name(); n.GivenName != "Ada" || !slices.Equal(n.MiddleNames, []string{"Augusta"}) {
					t.Errorf("name = %#v", n)
				}
			}},
		{name: "create_person/already exists", given: active(), cmd: create(), code: "person_already_exists"},
		{name: "create_person/already exists when merged", given: active(merge()), cmd: create(), code: "person_already_exists"},
		{name: "create_person/no given name", cmd: &person.CreatePerson{Name: person.Name{FamilyName: "Lovelace"}}, code: "invalid_name"},
		{name: "create_person/blank given name", cmd: &person.CreatePerson{Name: person.Name{GivenName: " \t "}}, code: "invalid_name"},
		{name: "create_person/control character", cmd: &person.CreatePerson{Name: person.Name{GivenName: "A\x00da"}}, code: "invalid_name"},
		{name: "create_person/too long family name", cmd: &person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: long(201)}}, code: "invalid_name"},
		{name: "create_person/invalid middle name", cmd: &person.CreatePerson{Name: person.Name{GivenName: "Ada", MiddleNames: []string{"\xff"}}}, code: "invalid_name"},
		{name: "create_person/source too long", cmd: &person.CreatePerson{Name: person.Name{GivenName: "Ada"}, Source: long(101)}, code: "invalid_command"},
		{name: "create_person/import id control", cmd: &person.CreatePerson{Name: person.Name{GivenName: "Ada"}, ImportID: "a\nb"}, code: "invalid_command"},

		// update_name
		{name: "update_name/accepted", given: active(), cmd: &person.UpdateName{Name: person.Name{GivenName: "Augusta", FamilyName: "King"}, Reason: "marriage"},
			want: []person.EventType{nameUpdated},
			check: func(t *testing.T, p *person.Person) {
				if p.Name().Full() != "Augusta King" {
					t.Errorf("name = %q", p.Name().Full())
				}
			}},
		{name: "update_name/person not found", cmd: &person.UpdateName{Name: person.Name{GivenName: "Ada"}}, code: "person_not_found"},
		{name: "update_name/same name", given: active(), cmd: &person.UpdateName{Name: person.Name{GivenName: " Ada", FamilyName: "Lovelace "}}, code: "nothing_to_change"},
		{name: "update_name/suspended", given: active(suspend()), cmd: &person.UpdateName{Name: person.Name{GivenName: "Augusta"}}, code: "name_change_not_active"},
		{name: "update_name/deceased", given: active(death("1852-11-27")), cmd: &person.UpdateName{Name: person.Name{GivenName: "Augusta"}}, code: "name_change_not_active"},
		{name: "update_name/invalid name", given: active(), cmd: &person.UpdateName{Name: person.Name{}}, code: "invalid_name"},
		{name: "update_name/reason too long", given: active(), cmd: &person.UpdateName{Name: person.Name{GivenName: "Augusta"}, Reason: long(501)}, code: "invalid_reason"},

		// set_birth_date
		{name: "set_birth_date/accepted", given: active(), cmd: birth("1815-12-10"), want: []person.EventType{person.EventBirthDateSet},
			check: func(t *testing.T, p *person.Person) {
				if p.BirthDate().String() != "1815-12-10" {
					t.Errorf("birth date = %s", p.BirthDate())
				}
			}},
		{name: "set_birth_date/today", given: active(), cmd: &person.SetBirthDate{BirthDate: person.DateOf(now)}, want: []person.EventType{person.EventBirthDateSet}},
		{name: "set_birth_date/deceased", given: active(death("1852-11-27")), cmd: birth("1815-12-10"), want: []person.EventType{person.EventBirthDateSet}},
		{name: "set_birth_date/already set", given: active(birth("1815-12-10")), cmd: birth("1815-12-11"), code: "birth_date_already_set"},
		{name: "set_birth_date/future", given: active(), cmd: birth("2025-06-02"), code: "invalid_date"},
		{name: "set_birth_date/missing", given: active(), cmd: &person.SetBirthDate{}, code: "invalid_date"},
		{name: "set_birth_date/after death", given: active(death("1852-11-27")), cmd: birth("1900-01-01"), code: "death_before_birth"},
		{name: "set_birth_date/person not found", cmd: birth("1815-12-10"), code: "person_not_found"},
		{name: "set_birth_date/merged", given: active(merge()), cmd: birth("1815-12-10"), code: "not_allowed_in_state"},

		// record_death
		{name: "record_death/accepted", given: active(birth("1815-12-10")), cmd: death("1852-11-27"), want: []person.EventType{person.EventDeathRecorded},
			check: func(t *testing.T, p *person.Person) {
				if p.Lifecycle() != person.LifecycleDeceased || p.DeathDate().String() != "1852-11-27" {
					t.Errorf("after death: %s %s", p.Lifecycle(), p.DeathDate())
				}
			}},
		{name: "record_death/from archived", given: active(archive()), cmd: death("1852-11-27"), want: []person.EventType{person.EventDeathRecorded}},
		{name: "record_death/from suspended", given: active(suspend()), cmd: death("1852-11-27"), want: []person.EventType{person.EventDeathRecorded}},
		{name: "record_death/already recorded", given: active(death("1852-11-27")), cmd: death("1852-11-28"), code: "death_already_recorded"},
		{name: "record_death/future", given: active(), cmd: death("2030-01-01"), code: "invalid_date"},
		{name: "record_death/missing date", given: active(), cmd: &person.RecordDeath{}, code: "invalid_date"},
		{name: "record_death/before birth", given: active(birth("1815-12-10")), cmd: death("1800-01-01"), code: "death_before_birth"},
		{name: "record_death/merged", given: active(merge()), cmd: death("1852-11-27"), code: "not_allowed_in_state"},
		{name: "record_death/person not found", cmd: death("1852-11-27"), code: "person_not_found"},

		// deactivate_person
		{name: "deactivate_person/accepted", given: active(), cmd: deactivate(), want: []person.EventType{person.EventPersonDeactivated},
			check: func(t *testing.T, p *person.Person) {
				if p.Lifecycle() != person.LifecycleDeactivated || p.LifecycleVersion() != 2 {
					t.Errorf("lifecycle %s at v%d", p.Lifecycle(), p.LifecycleVersion())
				}
			}},
		{name: "deactivate_person/from suspended", given: active(suspend()), cmd: deactivate(), want: []person.EventType{person.EventPersonDeactivated}},
		{name: "deactivate_person/already deactivated", given: active(deactivate()), cmd: deactivate(), code: "not_allowed_in_state"},
		{name: "deactivate_person/archived", given: active(archive()), cmd: deactivate(), code: "not_allowed_in_state"},
		{name: "deactivate_person/person not found", cmd: deactivate(), code: "person_not_found"},
		{name: "deactivate_person/reason with control", given: active(), cmd: &person.DeactivatePerson{Reason: "a\x07"}, code: "invalid_reason"},

		// suspend_person
		{name: "suspend_person/accepted", given: active(), cmd: suspend(), want: []person.EventType{personSuspend}},
		{name: "suspend_person/already suspended", given: active(suspend()), cmd: suspend(), code: "not_allowed_in_state"},
		{name: "suspend_person/deactivated", given: active(deactivate()), cmd: suspend(), code: "not_allowed_in_state"},
		{name: "suspend_person/invalid reason", given: active(), cmd: &person.SuspendPerson{Reason: long(501)}, code: "invalid_reason"},

		// reactivate_person
		{name: "reactivate_person/from deactivated", given: active(deactivate()), cmd: reactivate(), want: []person.EventType{personReactive},
			check: func(t *testing.T, p *person.Person) {
				if p.Lifecycle() != person.LifecycleActive {
					t.Errorf("lifecycle %s", p.Lifecycle())
				}
			}},
		{name: "reactivate_person/from suspended", given: active(suspend()), cmd: reactivate(), want: []person.EventType{personReactive}},
		{name: "reactivate_person/active", given: active(), cmd: reactivate(), code: "not_reactivatable"},
		{name: "reactivate_person/archived", given: active(archive()), cmd: reactivate(), code: "not_reactivatable"},
		{name: "reactivate_person/deceased", given: active(death("1852-11-27")), cmd: reactivate(), code: "not_reactivatable"},
		{name: "reactivate_person/merged", given: active(merge()), cmd: reactivate(), code: "not_reactivatable"},
		{name: "reactivate_person/person not found", cmd: reactivate(), code: "person_not_found"},
		{name: "reactivate_person/invalid reason", given: active(deactivate()), cmd: &person.ReactivatePerson{Reason: "\xff"}, code: "invalid_reason"},

		// archive_person
		{name: "archive_person/accepted", given: active(), cmd: archive(), want: []person.EventType{person.EventPersonArchived}},
		{name: "archive_person/from deactivated", given: active(deactivate()), cmd: archive(), want: []person.EventType{person.EventPersonArchived}},
		{name: "archive_person/already archived", given: active(archive()), cmd: archive(), code: "not_allowed_in_state"},
		{name: "archive_person/deceased", given: active(death("1852-11-27")), cmd: archive(), code: "not_allowed_in_state"},
		{name: "archive_person/merged", given: active(merge()), cmd: archive(), code: "not_allowed_in_state"},
		{name: "archive_person/invalid reason", given: active(), cmd: &person.ArchivePerson{Reason: long(501)}, code: "invalid_reason"},

		// auto_archive_person
		{name: "auto_archive_person/still deactivated", given: active(deactivate()), cmd: &person.AutoArchivePerson{DeactivatedVersion: 2},
			want: []person.EventType{person.EventPersonArchived},
			check: func(t *testing.T, p *person.Person) {
				if p.Lifecycle() != person.LifecycleArchived {
					t.Errorf("lifecycle %s", p.Lifecycle())
				}
			}},
		{name: "auto_archive_person/deactivated again since", given: active(deactivate(), reactivate(), deactivate()), cmd: &person.AutoArchivePerson{DeactivatedVersion: 2}, code: "not_inactive"},
		{name: "auto_archive_person/reactivated", given: active(deactivate(), reactivate()), cmd: &person.AutoArchivePerson{DeactivatedVersion: 2}, code: "not_inactive"},
		{name: "auto_archive_person/already archived", given: active(deactivate(), archive()), cmd: &person.AutoArchivePerson{DeactivatedVersion: 2}, code: "not_inactive"},
		{name: "auto_archive_person/missing version", given: active(deactivate()), cmd: &person.AutoArchivePerson{}, code: "invalid_command"},
		{name: "auto_archive_person/person not found", cmd: &person.AutoArchivePerson{DeactivatedVersion: 2}, code: "person_not_found"},

		// merge_persons
		{name: "merge_persons/accepted", given: active(), cmd: merge(), want: []person.EventType{person.EventPersonMerged},
			check: func(t *testing.T, p *person.Person) {
				if p.Lifecycle() != person.LifecycleMerged || p.MergedInto() != otherID {
					t.Errorf("lifecycle %s into %q", p.Lifecycle(), p.MergedInto())
				}
			}},
		{name: "merge_persons/target not found", given: active(), cmd: &person.MergePersons{TargetID: ghostID}, code: "merge_target_not_found"},
		{name: "merge_persons/no directory", given: active(), cmd: merge(), env: &person.Env{Now: now}, code: "merge_target_not_found"},
		{name: "merge_persons/into self", given: active(), cmd: &person.MergePersons{TargetID: pid}, code: "merge_into_self"},
		{name: "merge_persons/source suspended", given: active(suspend()), cmd: merge(), code: "merge_source_not_active"},
		{name: "merge_persons/source merged", given: active(merge()), cmd: merge(), code: "merge_source_not_active"},
		{name: "merge_persons/source not found", cmd: merge(), code: "person_not_found"},
		{name: "merge_persons/invalid target", given: active(), cmd: &person.MergePersons{TargetID: "p 2"}, code: "invalid_person_id"},
		{name: "merge_persons/empty target", given: active(), cmd: &person.MergePersons{}, code: "invalid_person_id"},
		{name: "merge_persons/invalid reason", given: active(), cmd: &person.MergePersons{TargetID: otherID, Reason: long(501)}, code: "invalid_reason"},
		{name: "merge_persons/directory failure is no rejection", given: active(), cmd: &person.MergePersons{TargetID: "p-broken"}, code: "",
			after: func(t *testing.T, _ *person.Person, err error) {
				if err == nil || person.IsRejection(err) || !strings.Contains(err.Error(), errDirectory.Error()) {
					t.Errorf("err = %v, want the directory's error, not a rejection", err)
				}
			}},

		// add_email
		{name: "add_email/first becomes primary", given: active(), cmd: addEmail(" Ada@Example.ORG "), want: []person.EventType{emailAdded},
			check: func(t *testing.T, p *person.Person) {
				if e := p.Emails(); len(e) != 1 || e[0].Address != "Ada@example.org" || !e[0].Primary {
					t.Errorf("emails = %+v", e)
				}
			}},
		{name: "add_email/second primary takes over", given: active(addEmail("ada@example.org")), cmd: &person.AddEmail{Email: "ada@work.example", Primary: true, Verified: true},
			want: []person.EventType{emailAdded},
			check: func(t *testing.T, p *person.Person) {
				e := p.Emails()
				if len(e) != 2 || e[0].Primary || !e[1].Primary || !e[1].Verified {
					t.Errorf("emails = %+v", e)
				}
			}},
		{name: "add_email/second not primary", given: active(addEmail("ada@example.org")), cmd: addEmail("ada@work.example"), want: []person.EventType{emailAdded},
			check: func(t *testing.T, p *person.Person) {
				if e := p.Emails(); !e[0].Primary || e[1].Primary {
					t.Errorf("emails = %+v", e)
				}
			}},
		{name: "add_email/same address in other case", given: active(addEmail("ada@example.org")), cmd: addEmail("ADA@EXAMPLE.ORG"), code: "component_exists"},
		{name: "add_email/invalid", given: active(), cmd: addEmail("ada.example.org"), code: "invalid_email"},
		{name: "add_email/empty", given: active(), cmd: addEmail(""), code: "invalid_email"},
		{name: "add_email/person not found", cmd: addEmail("ada@example.org"), code: "person_not_found"},
		{name: "add_email/deactivated", given: active(deactivate()), cmd: addEmail("ada@example.org"), code: "not_allowed_in_state"},
		{name: "add_email/suspended", given: active(suspend()), cmd: addEmail("ada@example.org"), want: []person.EventType{emailAdded}},

		// update_email
		{name: "update_email/verify", given: active(addEmail("ada@example.org")), cmd: &person.UpdateEmail{Email: "ADA@example.org", Verified: ptrTrue()},
			want: []person.EventType{person.EventEmailUpdated},
			check: func(t *testing.T, p *person.Person) {
				if e := p.Emails(); len(e) != 1 || !e[0].Verified || e[0].Address != "ada@example.org" {
					t.Errorf("emails = %+v", e)
				}
			}},
		{name: "update_email/make primary", given: active(addEmail("ada@example.org"), addEmail("ada@work.example")), cmd: &person.UpdateEmail{Email: "ada@work.example", Primary: ptrTrue()},
			want: []person.EventType{person.EventEmailUpdated},
			check: func(t *testing.T, p *person.Person) {
				if e := p.Emails(); e[0].Primary || !e[1].Primary {
					t.Errorf("emails = %+v", e)
				}
			}},
		{name: "update_email/not found", given: active(addEmail("ada@example.org")), cmd: &person.UpdateEmail{Email: "bob@example.org", Verified: ptrTrue()}, code: "component_not_found"},
		{name: "update_email/nothing to change", given: active(addEmail("ada@example.org")), cmd: &person.UpdateEmail{Email: "ada@example.org", Verified: ptrFalse(), Primary: ptrTrue()}, code: "nothing_to_change"},
		{name: "update_email/no flags", given: active(addEmail("ada@example.org")), cmd: &person.UpdateEmail{Email: "ada@example.org"}, code: "nothing_to_change"},
		{name: "update_email/invalid", given: active(), cmd: &person.UpdateEmail{Email: "ada@", Verified: ptrTrue()}, code: "invalid_email"},

		// remove_email
		{name: "remove_email/accepted", given: active(addEmail("ada@example.org")), cmd: &person.RemoveEmail{Email: "Ada@Example.org"}, want: []person.EventType{person.EventEmailRemoved},
			check: func(t *testing.T, p *person.Person) {
				if len(p.Emails()) != 0 {
					t.Errorf("emails = %+v", p.Emails())
				}
			}},
		{name: "remove_email/not found", given: active(), cmd: &person.RemoveEmail{Email: "ada@example.org"}, code: "component_not_found"},
		{name: "remove_email/invalid", given: active(), cmd: &person.RemoveEmail{Email: "@example.org"}, code: "invalid_email"},

		// add_phone
		{name: "add_phone/national with country code", given: active(), cmd: &person.AddPhone{Number: " 020 7946 0958 ", CountryCode: "44"},
			want: []person.EventType{phoneAdded},
			check: func(t *testing.T, p *person.Person) {
				ph := p.Phones()
				if len(ph) != 1 || ph[0].Number != "020 7946 0958" || ph[0].E164 != "+442079460958" || ph[0].Kind != person.PhoneOther || !ph[0].Primary {
					t.Errorf("phones = %+v", ph)
				}
			}},
		{name: "add_phone/raw number kept", given: active(), cmd: addPhone("555 0142"), want: []person.EventType{phoneAdded},
			check: func(t *testing.T, p *person.Person) {
				if ph := p.Phones(); ph[0].E164 != "" || ph[0].Key() != "5550142" {
					t.Errorf("phones = %+v", ph)
				}
			}},
		{name: "add_phone/same number other spelling", given: active(addPhone("+44 20 7946 0958")), cmd: &person.AddPhone{Number: "0044-20-7946-0958"}, code: "component_exists"},
		{name: "add_phone/same number with trunk prefix", given: active(&person.AddPhone{Number: "020 7946 0958", CountryCode: "44"}), cmd: addPhone("+44 (0)20 7946 0958"), code: "component_exists"},
		{name: "add_phone/other country same digits", given: active(&person.AddPhone{Number: "020 7946 0958", CountryCode: "44"}), cmd: &person.AddPhone{Number: "020 7946 0958", CountryCode: "33"}, want: []person.EventType{phoneAdded}},
		{name: "add_phone/same number national spelling", given: active(addPhone("+44 20 7946 0958")), cmd: &person.AddPhone{Number: "020 7946 0958", CountryCode: "44"}, code: "component_exists"},
		{name: "add_phone/letters", given: active(), cmd: addPhone("call me"), code: "invalid_phone"},
		{name: "add_phone/too short", given: active(), cmd: addPhone("123"), code: "invalid_phone"},
		{name: "add_phone/unknown kind", given: active(), cmd: &person.AddPhone{Number: "+44 20 7946 0958", Kind: "pager"}, code: "invalid_phone"},
		{name: "add_phone/bad country code", given: active(), cmd: &person.AddPhone{Number: "020 7946 0958", CountryCode: "+44"}, code: "invalid_phone"},
		{name: "add_phone/deactivated", given: active(deactivate()), cmd: addPhone("+44 20 7946 0958"), code: "not_allowed_in_state"},

		// update_phone
		{name: "update_phone/kind", given: active(addPhone("+44 20 7946 0958")), cmd: &person.UpdatePhone{Number: "+442079460958", Kind: func() *person.PhoneKind { k := person.PhoneWork; return &k }()},
			want: []person.EventType{person.EventPhoneUpdated},
			check: func(t *testing.T, p *person.Person) {
				if ph := p.Phones(); len(ph) != 1 || ph[0].Kind != person.PhoneWork || ph[0].Number != "+44 20 7946 0958" {
					t.Errorf("phones = %+v", ph)
				}
			}},
		{name: "update_phone/new number", given: active(addPhone("+44 20 7946 0958")), cmd: &person.UpdatePhone{Number: "+44 20 7946 0958", NewNumber: "+44 20 7946 0000"},
			want: []person.EventType{person.EventPhoneUpdated},
			check: func(t *testing.T, p *person.Person) {
				if ph := p.Phones(); len(ph) != 1 || ph[0].E164 != "+442079460000" || !ph[0].Primary {
					t.Errorf("phones = %+v", ph)
				}
			}},
		{name: "update_phone/make primary", given: active(addPhone("+44 20 7946 0958"), addPhone("+1 202 555 0142")), cmd: &person.UpdatePhone{Number: "+1 202 555 0142", Primary: ptrTrue()},
			want: []person.EventType{person.EventPhoneUpdated},
			check: func(t *testing.T, p *person.Person) {
				if ph := p.Phones(); ph[0].Primary || !ph[1].Primary {
					t.Errorf("phones = %+v", ph)
				}
			}},
		{name: "update_phone/new number taken", given: active(addPhone("+44 20 7946 0958"), addPhone("+1 202 555 0142")), cmd: &person.UpdatePhone{Number: "+44 20 7946 0958", NewNumber: "+12025550142"}, code: "component_exists"},
		{name: "update_phone/not found", given: active(addPhone("+44 20 7946 0958")), cmd: &person.UpdatePhone{Number: "+1 202 555 0142", Primary: ptrTrue()}, code: "component_not_found"},
		{name: "update_phone/nothing to change", given: active(addPhone("+44 20 7946 0958")), cmd: &person.UpdatePhone{Number: "+44 20 7946 0958", Primary: ptrTrue()}, code: "nothing_to_change"},
		{name: "update_phone/invalid number", given: active(addPhone("+44 20 7946 0958")), cmd: &person.UpdatePhone{Number: "x"}, code: "invalid_phone"},
		{name: "update_phone/invalid new number", given: active(addPhone("+44 20 7946 0958")), cmd: &person.UpdatePhone{Number: "+44 20 7946 0958", NewNumber: "12"}, code: "invalid_phone"},
		{name: "update_phone/invalid kind", given: active(addPhone("+44 20 7946 0958")), cmd: &person.UpdatePhone{Number: "+44 20 7946 0958", Kind: func() *person.PhoneKind { k := person.PhoneKind("fax"); return &k }()}, code: "invalid_phone"},

		// remove_phone
		{name: "remove_phone/accepted", given: active(addPhone("+44 20 7946 0958")), cmd: &person.RemovePhone{Number: "0044 20 7946 0958"}, want: []person.EventType{person.EventPhoneRemoved},
			check: func(t *testing.T, p *person.Person) {
				if len(p.Phones()) != 0 {
					t.Errorf("phones = %+v", p.Phones())
				}
			}},
		{name: "remove_phone/national spelling", given: active(&person.AddPhone{Number: "020 7946 0958", CountryCode: "44"}), cmd: &person.RemovePhone{Number: "020-7946-0958"}, want: []person.EventType{person.EventPhoneRemoved}},
		{name: "remove_phone/not found", given: active(), cmd: &person.RemovePhone{Number: "+44 20 7946 0958"}, code: "component_not_found"},
		{name: "remove_phone/invalid", given: active(), cmd: &person.RemovePhone{Number: ""}, code: "invalid_phone"},

		// add_address
		{name: "add_address/accepted", given: active(), cmd: addAddress("home", home()), want: []person.EventType{person.EventAddressAdded},
			check: func(t *testing.T, p *person.Person) {
				if a := p.Addresses(); len(a) != 1 || a[0].ID != "home" || a[0].Address.Country != "GB" {
					t.Errorf("addresses = %+v", a)
				}
			}},
		{name: "add_address/same id", given: active(addAddress("home", home())), cmd: addAddress("home", work()), code: "component_exists"},
		{name: "add_address/same place", given: active(addAddress("home", home())), cmd: addAddress("other", home()), code: "component_exists"},
		{name: "add_address/no city", given: active(), cmd: addAddress("home", person.Address{Country: "GB"}), code: "invalid_address"},
		{name: "add_address/bad country", given: active(), cmd: addAddress("home", person.Address{City: "London", Country: "GBR"}), code: "invalid_address"},
		{name: "add_address/bad kind", given: active(), cmd: addAddress("home", person.Address{Kind: "castle", City: "London", Country: "GB"}), code: "invalid_address"},
		{name: "add_address/too many street lines", given: active(), cmd: addAddress("home", person.Address{Street: []string{"a", "b", "c", "d", "e"}, City: "London", Country: "GB"}), code: "invalid_address"},
		{name: "add_address/bad id", given: active(), cmd: addAddress("my home", home()), code: "invalid_address"},

		// update_address
		{name: "update_address/accepted", given: active(addAddress("home", home())), cmd: &person.UpdateAddress{AddressID: "home", Address: work()},
			want: []person.EventType{person.EventAddressUpdated},
			check: func(t *testing.T, p *person.Person) {
				if a := p.Addresses(); len(a) != 1 || a[0].Address.City != "Cambridge" {
					t.Errorf("addresses = %+v", a)
				}
			}},
		{name: "update_address/kind only", given: active(addAddress("home", home())), cmd: &person.UpdateAddress{AddressID: "home", Address: func() person.Address { a := home(); a.Kind = person.AddressMailing; return a }()},
			want: []person.EventType{person.EventAddressUpdated}},
		{name: "update_address/not found", given: active(), cmd: &person.UpdateAddress{AddressID: "home", Address: home()}, code: "component_not_found"},
		{name: "update_address/nothing to change", given: active(addAddress("home", home())), cmd: &person.UpdateAddress{AddressID: "home", Address: home()}, code: "nothing_to_change"},
		{name: "update_address/same place as another", given: active(addAddress("home", home()), addAddress("work", work())), cmd: &person.UpdateAddress{AddressID: "work", Address: home()}, code: "component_exists"},
		{name: "update_address/invalid", given: active(addAddress("home", home())), cmd: &person.UpdateAddress{AddressID: "home", Address: person.Address{City: "London"}}, code: "invalid_address"},

		// remove_address
		{name: "remove_address/accepted", given: active(addAddress("home", home())), cmd: &person.RemoveAddress{AddressID: "home"}, want: []person.EventType{person.EventAddressRemoved}},
		{name: "remove_address/clears the location", given: onboardedTo(person.OnboardingFinalizing), cmd: &person.RemoveAddress{AddressID: "home"}, want: []person.EventType{person.EventAddressRemoved},
			check: func(t *testing.T, p *person.Person) {
				if p.LocationID() != "" {
					t.Errorf("location = %q", p.LocationID())
				}
			}},
		{name: "remove_address/id trimmed", given: active(addAddress("home", home())), cmd: &person.RemoveAddress{AddressID: " home "}, want: []person.EventType{person.EventAddressRemoved}},
		{name: "remove_address/not found", given: active(), cmd: &person.RemoveAddress{AddressID: "home"}, code: "component_not_found"},
		{name: "remove_address/invalid id", given: active(), cmd: &person.RemoveAddress{}, code: "invalid_address"},

		// add_skill
		{name: "add_skill/accepted", given: active(), cmd: &person.AddSkill{Skill: person.Skill{Name: " Go ", Proficiency: "EXPERT"}}, want: []person.EventType{skillAdded},
			check: func(t *testing.T, p *person.Person) {
				if s := p.Skills(); len(s) != 1 || s[0].Skill.Name != "Go" || s[0].Skill.Proficiency != person.Expert {
					t.Errorf("skills = %+v", s)
				}
			}},
		{name: "add_skill/same name other case", given: active(addSkill("Go")), cmd: addSkill("go"), code: "component_exists"},
		{name: "add_skill/bad proficiency", given: active(), cmd: &person.AddSkill{Skill: person.Skill{Name: "Go", Proficiency: "guru"}}, code: "invalid_skill"},
		{name: "add_skill/no name", given: active(), cmd: &person.AddSkill{}, code: "invalid_skill"},
		{name: "add_skill/bad years", given: active(), cmd: &person.AddSkill{Skill: person.Skill{Name: "Go", Years: -1}}, code: "invalid_skill"},

		// update_skill
		{name: "update_skill/accepted", given: active(addSkill("Go")), cmd: &person.UpdateSkill{Skill: person.Skill{Name: "GO", Proficiency: person.Expert, Years: 10}},
			want: []person.EventType{person.EventSkillUpdated},
			check: func(t *testing.T, p *person.Person) {
				if s := p.Skills(); s[0].Skill.Name != "Go" || s[0].Skill.Years != 10 || s[0].Skill.Proficiency != person.Expert {
					t.Errorf("skills = %+v", s)
				}
			}},
		{name: "update_skill/not found", given: active(), cmd: &person.UpdateSkill{Skill: person.Skill{Name: "Go"}}, code: "component_not_found"},
		{name: "update_skill/nothing to change", given: active(addSkill("Go")), cmd: &person.UpdateSkill{Skill: addSkill("go").Skill}, code: "nothing_to_change"},
		{name: "update_skill/invalid", given: active(addSkill("Go")), cmd: &person.UpdateSkill{Skill: person.Skill{Name: "Go", Years: 81}}, code: "invalid_skill"},

		// remove_skill
		{name: "remove_skill/accepted", given: active(addSkill("Go")), cmd: &person.RemoveSkill{Name: "go"}, want: []person.EventType{person.EventSkillRemoved},
			check: func(t *testing.T, p *person.Person) {
				if len(p.Skills()) != 0 {
					t.Errorf("skills = %+v", p.Skills())
				}
			}},
		{name: "remove_skill/not found", given: active(), cmd: &person.RemoveSkill{Name: "Go"}, code: "component_not_found"},
		{name: "remove_skill/no name", given: active(), cmd: &person.RemoveSkill{Name: " "}, code: "invalid_skill"},

		// endorse_skill
		{name: "endorse_skill/accepted", given: active(addSkill("Go")), cmd: &person.EndorseSkill{Name: "go", Endorser: " charles "}, want: []person.EventType{person.EventSkillEndorsed},
			check: func(t *testing.T, p *person.Person) {
				if s := p.Skills(); !slices.Equal(s[0].Endorsers, []string{"charles"}) {
					t.Errorf("skills = %+v", s)
				}
			}},
		{name: "endorse_skill/second endorser", given: active(addSkill("Go"), &person.EndorseSkill{Name: "Go", Endorser: "charles"}), cmd: &person.EndorseSkill{Name: "Go", Endorser: "mary"},
			want: []person.EventType{person.EventSkillEndorsed},
			check: func(t *testing.T, p *person.Person) {
				if s := p.Skills(); !slices.Equal(s[0].Endorsers, []string{"charles", "mary"}) {
					t.Errorf("skills = %+v", s)
				}
			}},
		{name: "endorse_skill/already endorsed", given: active(addSkill("Go"), &person.EndorseSkill{Name: "Go", Endorser: "charles"}), cmd: &person.EndorseSkill{Name: "GO", Endorser: "charles"}, code: "already_endorsed"},
		{name: "endorse_skill/skill not found", given: active(), cmd: &person.EndorseSkill{Name: "Go", Endorser: "charles"}, code: "component_not_found"},
		{name: "endorse_skill/no endorser", given: active(addSkill("Go")), cmd: &person.EndorseSkill{Name: "Go"}, code: "invalid_skill"},
		{name: "endorse_skill/no skill name", given: active(addSkill("Go")), cmd: &person.EndorseSkill{Endorser: "charles"}, code: "invalid_skill"},

		// add_employment
		{name: "add_employment/accepted", given: active(), cmd: addEmployment("ae"), want: []person.EventType{person.EventEmploymentAdded},
			check: func(t *testing.T, p *person.Person) {
				if e := p.Employments(); len(e) != 1 || e[0].ID != "ae" || !e[0].End.IsZero() {
					t.Errorf("employments = %+v", e)
				}
			}},
		{name: "add_employment/same id", given: active(addEmployment("ae")), cmd: addEmployment("ae"), code: "component_exists"},
		{name: "add_employment/no employer", given: active(), cmd: &person.AddEmployment{Employment: person.Employment{ID: "ae", Start: person.MustDate("1842-01-01")}}, code: "invalid_employment"},
		{name: "add_employment/no start", given: active(), cmd: &person.AddEmployment{Employment: person.Employment{ID: "ae", Employer: "AE"}}, code: "invalid_employment"},
		{name: "add_employment/end before start", given: active(), cmd: &person.AddEmployment{Employment: func() person.Employment {
			e := employment("ae")
			e.End = person.MustDate("1841-01-01")
			return e
		}()}, code: "invalid_employment"},
		{name: "add_employment/bad id", given: active(), cmd: addEmployment("a/e"), code: "invalid_employment"},

		// update_employment
		{name: "update_employment/accepted", given: active(addEmployment("ae")), cmd: &person.UpdateEmployment{Employment: func() person.Employment {
			e := employment("ae")
			e.Role = "Lead"
			return e
		}()}, want: []person.EventType{person.EventEmploymentUpdated},
			check: func(t *testing.T, p *person.Person) {
				if e := p.Employments(); e[0].Role != "Lead" {
					t.Errorf("employments = %+v", e)
				}
			}},
		{name: "update_employment/not found", given: active(), cmd: &person.UpdateEmployment{Employment: employment("ae")}, code: "component_not_found"},
		{name: "update_employment/nothing to change", given: active(addEmployment("ae")), cmd: &person.UpdateEmployment{Employment: employment("ae")}, code: "nothing_to_change"},
		{name: "update_employment/invalid", given: active(addEmployment("ae")), cmd: &person.UpdateEmployment{Employment: person.Employment{ID: "ae"}}, code: "invalid_employment"},

		// end_employment
		{name: "end_employment/accepted", given: active(addEmployment("ae")), cmd: &person.EndEmployment{EmploymentID: "ae", EndDate: person.MustDate("1850-01-01")},
			want: []person.EventType{person.EventEmploymentEnded},
			check: func(t *testing.T, p *person.Person) {
				if e := p.Employments(); e[0].End.String() != "1850-01-01" {
					t.Errorf("employments = %+v", e)
				}
			}},
		{name: "end_employment/already ended", given: active(addEmployment("ae"), &person.EndEmployment{EmploymentID: "ae", EndDate: person.MustDate("1850-01-01")}),
			cmd: &person.EndEmployment{EmploymentID: "ae", EndDate: person.MustDate("1851-01-01")}, code: "employment_already_ended"},
		{name: "end_employment/id trimmed", given: active(addEmployment("ae")), cmd: &person.EndEmployment{EmploymentID: " ae", EndDate: person.MustDate("1842-01-01")}, want: []person.EventType{person.EventEmploymentEnded}},
		{name: "end_employment/not found", given: active(), cmd: &person.EndEmployment{EmploymentID: "ae", EndDate: person.MustDate("1850-01-01")}, code: "component_not_found"},
		{name: "end_employment/before start", given: active(addEmployment("ae")), cmd: &person.EndEmployment{EmploymentID: "ae", EndDate: person.MustDate("1800-01-01")}, code: "invalid_employment"},
		{name: "end_employment/no date", given: active(addEmployment("ae")), cmd: &person.EndEmployment{EmploymentID: "ae"}, code: "invalid_employment"},
		{name: "end_employment/no id", given: active(addEmployment("ae")), cmd: &person.EndEmployment{EndDate: person.MustDate("1850-01-01")}, code: "invalid_employment"},

		// remove_employment
		{name: "remove_employment/accepted", given: active(addEmployment("ae")), cmd: &person.RemoveEmployment{EmploymentID: "ae"}, want: []person.EventType{person.EventEmploymentRemoved}},
		{name: "remove_employment/id trimmed", given: active(addEmployment("ae")), cmd: &person.RemoveEmployment{EmploymentID: "ae "}, want: []person.EventType{person.EventEmploymentRemoved}},
		{name: "remove_employment/not found", given: active(), cmd: &person.RemoveEmployment{EmploymentID: "ae"}, code: "component_not_found"},
		{name: "remove_employment/invalid id", given: active(), cmd: &person.RemoveEmployment{EmploymentID: long(65)}, code: "invalid_employment"},

		// add_social_profile
		{name: "add_social_profile/accepted", given: active(), cmd: &person.AddSocialProfile{SocialProfile: person.SocialProfile{Platform: " GitHub ", Handle: "@ada"}},
			want: []person.EventType{person.EventSocialProfileAdded},
			check: func(t *testing.T, p *person.Person) {
				if s := p.SocialProfiles(); len(s) != 1 || s[0].Platform != person.GitHub || s[0].Handle != "ada" {
					t.Errorf("profiles = %+v", s)
				}
			}},
		{name: "add_social_profile/same handle other case", given: active(addSocial("ada")), cmd: addSocial("@ADA"), code: "component_exists"},
		{name: "add_social_profile/same handle other platform", given: active(addSocial("ada")), cmd: &person.AddSocialProfile{SocialProfile: person.SocialProfile{Platform: person.GitLab, Handle: "ada"}},
			want: []person.EventType{person.EventSocialProfileAdded}},
		{name: "add_social_profile/unknown platform", given: active(), cmd: &person.AddSocialProfile{SocialProfile: person.SocialProfile{Platform: "myspace", Handle: "ada"}}, code: "invalid_social_profile"},
		{name: "add_social_profile/bad url", given: active(), cmd: &person.AddSocialProfile{SocialProfile: person.SocialProfile{Platform: person.GitHub, Handle: "ada", URL: "javascript:alert(1)"}}, code: "invalid_social_profile"},
		{name: "add_social_profile/no handle", given: active(), cmd: &person.AddSocialProfile{SocialProfile: person.SocialProfile{Platform: person.GitHub, Handle: "@"}}, code: "invalid_social_profile"},

		// update_social_profile
		{name: "update_social_profile/accepted", given: active(addSocial("ada")), cmd: &person.UpdateSocialProfile{SocialProfile: person.SocialProfile{Platform: person.GitHub, Handle: "ada", URL: "https://ada.dev"}},
			want: []person.EventType{person.EventSocialProfileUpdated},
			check: func(t *testing.T, p *person.Person) {
				if s := p.SocialProfiles(); len(s) != 1 || s[0].URL != "https://ada.dev" {
					t.Errorf("profiles = %+v", s)
				}
			}},
		{name: "update_social_profile/not found", given: active(), cmd: &person.UpdateSocialProfile{SocialProfile: social("ada")}, code: "component_not_found"},
		{name: "update_social_profile/nothing to change", given: active(addSocial("ada")), cmd: &person.UpdateSocialProfile{SocialProfile: social("ada")}, code: "nothing_to_change"},
		{name: "update_social_profile/invalid", given: active(addSocial("ada")), cmd: &person.UpdateSocialProfile{SocialProfile: person.SocialProfile{Platform: person.GitHub, Handle: "ada", URL: "ftp://x"}}, code: "invalid_social_profile"},

		// remove_social_profile
		{name: "remove_social_profile/accepted", given: active(addSocial("ada")), cmd: &person.RemoveSocialProfile{Platform: "github", Handle: "@Ada"}, want: []person.EventType{person.EventSocialProfileRemoved},
			check: func(t *testing.T, p *person.Person) {
				if len(p.SocialProfiles()) != 0 {
					t.Errorf("profiles = %+v", p.SocialProfiles())
				}
			}},
		{name: "remove_social_profile/not found", given: active(), cmd: &person.RemoveSocialProfile{Platform: person.GitHub, Handle: "ada"}, code: "component_not_found"},
		{name: "remove_social_profile/invalid", given: active(), cmd: &person.RemoveSocialProfile{Platform: "friendster", Handle: "ada"}, code: "invalid_social_profile"},

		// set_preferences
		{name: "set_preferences/accepted", given: active(), cmd: &person.SetPreferences{Preferences: person.Preferences{Language: "pt-BR", Timezone: "America/Sao_Paulo", ContactChannel: person.ChannelSMS}},
			want: []person.EventType{person.EventPreferencesSet},
			check: func(t *testing.T, p *person.Person) {
				if p.Preferences().Timezone != "America/Sao_Paulo" {
					t.Errorf("preferences = %+v", p.Preferences())
				}
			}},
		{name: "set_preferences/nothing to change", given: active(&person.SetPreferences{Preferences: person.Preferences{Language: "en"}}), cmd: &person.SetPreferences{Preferences: person.Preferences{Language: "en"}}, code: "nothing_to_change"},
		{name: "set_preferences/empty on a new person", given: active(), cmd: &person.SetPreferences{}, code: "nothing_to_change"},
		{name: "set_preferences/bad language", given: active(), cmd: &person.SetPreferences{Preferences: person.Preferences{Language: "english"}}, code: "invalid_preferences"},
		{name: "set_preferences/bad timezone", given: active(), cmd: &person.SetPreferences{Preferences: person.Preferences{Timezone: "London"}}, code: "invalid_preferences"},
		{name: "set_preferences/bad channel", given: active(), cmd: &person.SetPreferences{Preferences: person.Preferences{ContactChannel: "pigeon"}}, code: "invalid_preferences"},

		// record_consent
		{name: "record_consent/accepted", given: active(), cmd: &person.RecordConsent{Consent: person.Consent{Purpose: "marketing_email", Granted: true}},
			want: []person.EventType{person.EventConsentRecorded},
			check: func(t *testing.T, p *person.Person) {
				if c, ok := p.Consent("marketing_email"); !ok || !c.Granted {
					t.Errorf("consent = %+v, %v", c, ok)
				}
			}},
		{name: "record_consent/repeated decision is recorded", given: active(&person.RecordConsent{Consent: person.Consent{Purpose: "marketing_email"}}),
			cmd: &person.RecordConsent{Consent: person.Consent{Purpose: "marketing_email"}}, want: []person.EventType{person.EventConsentRecorded}},
		{name: "record_consent/archived", given: active(archive()), cmd: &person.RecordConsent{Consent: person.Consent{Purpose: "marketing_email"}}, want: []person.EventType{person.EventConsentRecorded}},
		{name: "record_consent/bad purpose", given: active(), cmd: &person.RecordConsent{Consent: person.Consent{Purpose: "Marketing Email"}}, code: "invalid_consent"},
		{name: "record_consent/deceased", given: active(death("1852-11-27")), cmd: &person.RecordConsent{Consent: person.Consent{Purpose: "marketing_email"}}, code: "not_allowed_in_state"},

		// set_attribute
		{name: "set_attribute/accepted", given: active(), cmd: setAttr("team", "engines\nand looms"), want: []person.EventType{person.EventAttributeSet},
			check: func(t *testing.T, p *person.Person) {
				if v, ok := p.Attribute("team"); !ok || v != "engines\nand looms" {
					t.Errorf("attribute = %q, %v", v, ok)
				}
			}},
		{name: "set_attribute/new value", given: active(setAttr("team", "engines")), cmd: setAttr("team", "looms"), want: []person.EventType{person.EventAttributeSet}},
		{name: "set_attribute/nothing to change", given: active(setAttr("team", "engines")), cmd: setAttr("team", "engines"), code: "nothing_to_change"},
		{name: "set_attribute/bad key", given: active(), cmd: setAttr("Team", "engines"), code: "invalid_attribute"},
		{name: "set_attribute/empty value", given: active(), cmd: setAttr("team", ""), code: "invalid_attribute"},
		{name: "set_attribute/too long", given: active(), cmd: setAttr("team", long(person.MaxAttributeValueLen+1)), code: "invalid_attribute"},

		// remove_attribute
		{name: "remove_attribute/accepted", given: active(setAttr("team", "engines")), cmd: &person.RemoveAttribute{Key: "team"}, want: []person.EventType{person.EventAttributeRemoved},
			check: func(t *testing.T, p *person.Person) {
				if _, ok := p.Attribute("team"); ok {
					t.Error("attribute still set")
				}
			}},
		{name: "remove_attribute/not found", given: active(), cmd: &person.RemoveAttribute{Key: "team"}, code: "component_not_found"},
		{name: "remove_attribute/bad key", given: active(), cmd: &person.RemoveAttribute{Key: "1team"}, code: "invalid_attribute"},

		// start_onboarding
		{name: "start_onboarding/accepted", given: active(), cmd: startOnb(), want: []person.EventType{person.EventOnboardingStarted},
			check: func(t *testing.T, p *person.Person) {
				if s, _ := p.Onboarding(); s != person.OnboardingStartedState {
					t.Errorf("onboarding = %s", s)
				}
			}},
		{name: "start_onboarding/already started", given: onboardedTo(person.OnboardingStartedState), cmd: startOnb(), code: "invalid_transition"},
		{name: "start_onboarding/completed", given: onboardedTo(person.OnboardingCompletedState), cmd: startOnb(), code: "invalid_transition"},
		{name: "start_onboarding/suspended", given: active(suspend()), cmd: startOnb(), code: "not_allowed_in_state"},
		{name: "start_onboarding/person not found", cmd: startOnb(), code: "person_not_found"},

		// request_identity_verification
		{name: "request_identity_verification/accepted", given: onboardedTo(person.OnboardingStartedState), cmd: requestID(), want: []person.EventType{onbAdvanced}},
		{name: "request_identity_verification/not started", given: active(), cmd: requestID(), code: "invalid_transition"},
		{name: "request_identity_verification/twice", given: onboardedTo(person.OnboardingAwaitingIdentity), cmd: requestID(), code: "invalid_transition"},

		// verify_identity
		{name: "verify_identity/accepted", given: onboardedTo(person.OnboardingAwaitingIdentity), cmd: &person.VerifyIdentity{IdentityID: " idp-42 "},
			want: []person.EventType{person.EventIdentityLinked, onbAdvanced},
			check: func(t *testing.T, p *person.Person) {
				if p.IdentityID() != "idp-42" {
					t.Errorf("identity = %q", p.IdentityID())
				}
			}},
		{name: "verify_identity/no identity id", given: onboardedTo(person.OnboardingAwaitingIdentity), cmd: &person.VerifyIdentity{IdentityID: "  "}, code: "invalid_identity"},
		{name: "verify_identity/bad identity id", given: onboardedTo(person.OnboardingAwaitingIdentity), cmd: &person.VerifyIdentity{IdentityID: "a\x01"}, code: "invalid_identity"},
		{name: "verify_identity/wrong step", given: onboardedTo(person.OnboardingStartedState), cmd: verifyID(), code: "invalid_transition"},

		// submit_basic_info
		{name: "submit_basic_info/accepted", given: onboardedTo(person.OnboardingCollectingBasicInfo), cmd: submitInfo(),
			want: []person.EventType{emailAdded, phoneAdded, onbAdvanced},
			check: func(t *testing.T, p *person.Person) {
				if e, ph := p.Emails(), p.Phones(); len(e) != 1 || e[0].Address != "ada@example.org" || len(ph) != 1 || ph[0].E164 != "+442079460958" || ph[0].Kind != person.PhoneMobile {
					t.Errorf("emails %+v phones %+v", e, ph)
				}
			}},
		{name: "submit_basic_info/known email and phone", given: append(active(addEmail("ADA@example.org"), addPhone("+44 20 7946 0958")), startOnb(), requestID(), verifyID()),
			cmd: submitInfo(), want: []person.EventType{onbAdvanced}},
		{name: "submit_basic_info/invalid email", given: onboardedTo(person.OnboardingCollectingBasicInfo), cmd: &person.SubmitBasicInfo{Email: "ada", Phone: "+44 20 7946 0958"}, code: "invalid_email"},
		{name: "submit_basic_info/invalid phone", given: onboardedTo(person.OnboardingCollectingBasicInfo), cmd: &person.SubmitBasicInfo{Email: "ada@example.org", Phone: "ring ring"}, code: "invalid_phone"},
		{name: "submit_basic_info/no phone", given: onboardedTo(person.OnboardingCollectingBasicInfo), cmd: &person.SubmitBasicInfo{Email: "ada@example.org"}, code: "invalid_phone"},
		{name: "submit_basic_info/wrong step", given: onboardedTo(person.OnboardingAwaitingIdentity), cmd: submitInfo(), code: "invalid_transition"},

		// set_up_components
		{name: "set_up_components/accepted", given: onboardedTo(person.OnboardingSettingUpComponents), cmd: setUp(),
			want: []person.EventType{skillAdded, skillAdded, person.EventEmploymentAdded, person.EventSocialProfileAdded, onbAdvanced},
			check: func(t *testing.T, p *person.Person) {
				if len(p.Skills()) != 2 || len(p.Employments()) != 1 || len(p.SocialProfiles()) != 1 {
					t.Errorf("skills %+v employments %+v profiles %+v", p.Skills(), p.Employments(), p.SocialProfiles())
				}
			}},
		{name: "set_up_components/nothing given", given: onboardedTo(person.OnboardingSettingUpComponents), cmd: &person.SetUpComponents{}, want: []person.EventType{onbAdvanced}},
		{name: "set_up_components/known skill skipped", given: append(active(addSkill("poetry")), startOnb(), requestID(), verifyID(), submitInfo()), cmd: setUp(),
			want: []person.EventType{skillAdded, person.EventEmploymentAdded, person.EventSocialProfileAdded, onbAdvanced}},
		{name: "set_up_components/same skill twice", given: onboardedTo(person.OnboardingSettingUpComponents),
			cmd: &person.SetUpComponents{Skills: []person.Skill{{Name: "Go"}, {Name: " go "}}}, code: "invalid_skill"},
		{name: "set_up_components/same profile twice", given: onboardedTo(person.OnboardingSettingUpComponents),
			cmd: &person.SetUpComponents{SocialProfiles: []person.SocialProfile{{Platform: person.GitHub, Handle: "ada"}, {Platform: "GitHub", Handle: "@Ada"}}}, code: "invalid_social_profile"},
		{name: "set_up_components/invalid skill", given: onboardedTo(person.OnboardingSettingUpComponents), cmd: &person.SetUpComponents{Skills: []person.Skill{{Name: "Go", Proficiency: "wizard"}}}, code: "invalid_skill"},
		{name: "set_up_components/invalid employment", given: onboardedTo(person.OnboardingSettingUpComponents), cmd: &person.SetUpComponents{Employment: &person.Employment{ID: "x"}}, code: "invalid_employment"},
		{name: "set_up_components/invalid profile", given: onboardedTo(person.OnboardingSettingUpComponents), cmd: &person.SetUpComponents{SocialProfiles: []person.SocialProfile{{Platform: "orkut", Handle: "ada"}}}, code: "invalid_social_profile"},
		{name: "set_up_components/too many skills", given: onboardedTo(person.OnboardingSettingUpComponents), cmd: &person.SetUpComponents{Skills: make([]person.Skill, 51)}, code: "invalid_command"},
		{name: "set_up_components/wrong step", given: onboardedTo(person.OnboardingCollectingBasicInfo), cmd: setUp(), code: "invalid_transition"},

		// assign_location
		{name: "assign_location/new address", given: onboardedTo(person.OnboardingAssigningLocation), cmd: assignLoc(),
			want: []person.EventType{person.EventAddressAdded, person.EventLocationAssigned, onbAdvanced},
			check: func(t *testing.T, p *person.Person) {
				if p.LocationID() != "home" || len(p.Addresses()) != 1 {
					t.Errorf("location %q addresses %+v", p.LocationID(), p.Addresses())
				}
			}},
		{name: "assign_location/known address", given: append(active(addAddress("home", home())), startOnb(), requestID(), verifyID(), submitInfo(), setUp()),
			cmd: &person.AssignLocation{AddressID: "home"}, want: []person.EventType{person.EventLocationAssigned, onbAdvanced}},
		{name: "assign_location/unknown address", given: onboardedTo(person.OnboardingAssigningLocation), cmd: &person.AssignLocation{AddressID: "home"}, code: "component_not_found"},
		{name: "assign_location/invalid address", given: onboardedTo(person.OnboardingAssigningLocation), cmd: &person.AssignLocation{AddressID: "home", Address: &person.Address{City: "London"}}, code: "invalid_address"},
		{name: "assign_location/invalid id", given: onboardedTo(person.OnboardingAssigningLocation), cmd: &person.AssignLocation{AddressID: "h o m e"}, code: "invalid_address"},
		{name: "assign_location/invalid address for a known id", given: append(active(addAddress("home", home())), startOnb(), requestID(), verifyID(), submitInfo(), setUp()),
			cmd: &person.AssignLocation{AddressID: "home", Address: &person.Address{Country: "GB"}}, code: "invalid_address"},
		{name: "assign_location/wrong step", given: onboardedTo(person.OnboardingSettingUpComponents), cmd: assignLoc(), code: "invalid_transition"},

		// complete_onboarding
		{name: "complete_onboarding/accepted", given: onboardedTo(person.OnboardingFinalizing), cmd: completeO(), want: []person.EventType{person.EventOnboardingCompleted},
			check: func(t *testing.T, p *person.Person) {
				if s, _ := p.Onboarding(); s != person.OnboardingCompletedState {
					t.Errorf("onboarding = %s", s)
				}
			}},
		{name: "complete_onboarding/too early", given: onboardedTo(person.OnboardingAssigningLocation), cmd: completeO(), code: "invalid_transition"},
		{name: "complete_onboarding/twice", given: onboardedTo(person.OnboardingCompletedState), cmd: completeO(), code: "invalid_transition"},

		// fail_onboarding
		{name: "fail_onboarding/accepted", given: onboardedTo(person.OnboardingCollectingBasicInfo), cmd: failO(" documents expired "),
			want: []person.EventType{person.EventOnboardingFailed, personSuspend},
			check: func(t *testing.T, p *person.Person) {
				if s, r := p.Onboarding(); s != person.OnboardingFailedState || r != "documents expired" || p.Lifecycle() != person.LifecycleSuspended {
					t.Errorf("onboarding %s %q, lifecycle %s", s, r, p.Lifecycle())
				}
			}},
		{name: "fail_onboarding/no reason", given: onboardedTo(person.OnboardingCollectingBasicInfo), cmd: failO(" "), code: "invalid_reason"},
		{name: "fail_onboarding/reason too long", given: onboardedTo(person.OnboardingCollectingBasicInfo), cmd: failO(long(501)), code: "invalid_reason"},
		{name: "fail_onboarding/not started", given: active(), cmd: failO("x"), code: "invalid_transition"},
		{name: "fail_onboarding/from started", given: onboardedTo(person.OnboardingStartedState), cmd: failO("x"), code: "invalid_transition"},
		{name: "fail_onboarding/completed", given: onboardedTo(person.OnboardingCompletedState), cmd: failO("x"), code: "invalid_transition"},
		{name: "fail_onboarding/already failed", given: onboardedTo(person.OnboardingFailedState), cmd: failO("x"), code: "not_allowed_in_state"},
		{name: "fail_onboarding/suspended", given: append(onboardedTo(person.OnboardingAwaitingIdentity), suspend()), cmd: failO("x"), code: "not_allowed_in_state"},

		// restart_onboarding
		{name: "restart_onboarding/accepted", given: onboardedTo(person.OnboardingFailedState), cmd: restartO(),
			want: []person.EventType{person.EventOnboardingRestarted, personReactive},
			check: func(t *testing.T, p *person.Person) {
				if s, r := p.Onboarding(); s != person.OnboardingStartedState || r != "" || p.Lifecycle() != person.LifecycleActive {
					t.Errorf("onboarding %s %q, lifecycle %s", s, r, p.Lifecycle())
				}
			}},
		{name: "restart_onboarding/reactivated by hand meanwhile", given: append(onboardedTo(person.OnboardingFailedState), reactivate()), cmd: restartO(),
			want: []person.EventType{person.EventOnboardingRestarted},
			check: func(t *testing.T, p *person.Person) {
				if s, _ := p.Onboarding(); s != person.OnboardingStartedState || p.Lifecycle() != person.LifecycleActive {
					t.Errorf("onboarding %s, lifecycle %s", s, p.Lifecycle())
				}
			}},
		{name: "restart_onboarding/suspended again for another reason", given: append(onboardedTo(person.OnboardingFailedState), reactivate(), suspend()), cmd: restartO(), code: "not_reactivatable",
			after: func(t *testing.T, p *person.Person, _ error) {
				if _, err := do(p, reactivate(), testEnv()); err != nil {
					t.Fatal(err)
				}
				if evs, err := do(p, restartO(), testEnv()); err != nil || !slices.Equal(eventTypes(evs), []person.EventType{person.EventOnboardingRestarted}) {
					t.Fatalf("restart after reactivation: %v %v", eventTypes(evs), err)
				}
			}},
		{name: "restart_onboarding/suspended but not failed", given: active(suspend()), cmd: restartO(), code: "invalid_transition"},
		{name: "restart_onboarding/active and not failed", given: onboardedTo(person.OnboardingAwaitingIdentity), cmd: restartO(), code: "invalid_transition"},
		{name: "restart_onboarding/deactivated", given: append(onboardedTo(person.OnboardingFailedState), deactivate()), cmd: restartO(), code: "not_reactivatable"},
		{name: "restart_onboarding/person not found", cmd: restartO(), code: "person_not_found"},

		// record_notification
		{name: "record_notification/accepted", given: active(), cmd: &person.RecordNotification{Kind: "welcome", Channel: person.ChannelEmail, Target: "ada@example.org"},
			want: []person.EventType{person.EventNotificationRecorded},
			check: func(t *testing.T, p *person.Person) {
				if !p.Notified("welcome") || p.Notified("farewell") {
					t.Error("notification not recorded")
				}
			}},
		{name: "record_notification/already notified", given: active(&person.RecordNotification{Kind: "welcome", Channel: person.ChannelEmail}),
			cmd: &person.RecordNotification{Kind: "welcome", Channel: person.ChannelSMS}, code: "already_notified"},
		{name: "record_notification/bad kind", given: active(), cmd: &person.RecordNotification{Kind: "Welcome!", Channel: person.ChannelEmail}, code: "invalid_command"},
		{name: "record_notification/bad channel", given: active(), cmd: &person.RecordNotification{Kind: "welcome", Channel: "fax"}, code: "invalid_preferences"},
		{name: "record_notification/deactivated", given: active(deactivate()), cmd: &person.RecordNotification{Kind: "welcome", Channel: person.ChannelEmail}, code: "not_allowed_in_state"},

		// flag_data_quality
		{name: "flag_data_quality/accepted", given: active(), cmd: &person.FlagDataQuality{Issue: "short_name", Field: "given_name", Value: "A"},
			want: []person.EventType{person.EventDataQualityFlagged},
			check: func(t *testing.T, p *person.Person) {
				if p.QualityFlags() != 1 {
					t.Errorf("flags = %d", p.QualityFlags())
				}
			}},
		{name: "flag_data_quality/deactivated", given: active(deactivate()), cmd: &person.FlagDataQuality{Issue: "short_name", Field: "given_name"}, want: []person.EventType{person.EventDataQualityFlagged}},
		{name: "flag_data_quality/bad issue", given: active(), cmd: &person.FlagDataQuality{Issue: "Short Name", Field: "given_name"}, code: "invalid_command"},
		{name: "flag_data_quality/bad value", given: active(), cmd: &person.FlagDataQuality{Issue: "short_name", Field: "given_name", Value: "\x00"}, code: "invalid_command"},
		{name: "flag_data_quality/archived", given: active(archive()), cmd: &person.FlagDataQuality{Issue: "short_name", Field: "given_name"}, code: "not_allowed_in_state"},

		// recommend_skills
		{name: "recommend_skills/accepted", given: active(addSkill("Go")), cmd: &person.RecommendSkills{Skills: []person.Skill{{Name: "go"}, {Name: "Rust"}, {Name: "rust"}, {Name: "Zig"}}, Source: "github"},
			want: []person.EventType{person.EventSkillsRecommended},
			check: func(t *testing.T, p *person.Person) {
				r := p.RecommendedSkills()
				if len(r) != 2 || r[0].Name != "Rust" || r[1].Name != "Zig" {
					t.Errorf("recommended = %+v", r)
				}
			}},
		{name: "recommend_skills/all known", given: active(addSkill("Go"), &person.RecommendSkills{Skills: []person.Skill{{Name: "Rust"}}}),
			cmd: &person.RecommendSkills{Skills: []person.Skill{{Name: "GO"}, {Name: "rust"}}}, code: "nothing_to_change"},
		{name: "recommend_skills/none", given: active(), cmd: &person.RecommendSkills{}, code: "invalid_skill"},
		{name: "recommend_skills/invalid skill", given: active(), cmd: &person.RecommendSkills{Skills: []person.Skill{{Name: ""}}}, code: "invalid_skill"},
		{name: "recommend_skills/bad source", given: active(), cmd: &person.RecommendSkills{Skills: []person.Skill{{Name: "Go"}}, Source: long(201)}, code: "invalid_command"},
	}
}

func TestCommands(t *testing.T) {
	for _, tc := range commandCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := newPerson(t, tc.given...)
			env := testEnv()
			if tc.env != nil {
				env = *tc.env
			}
			before := person.Snapshot(p)
			pl, err := p.Decide(tc.cmd, env)
			if after := person.Snapshot(p); after != before {
				t.Fatalf("Decide changed the person:\nbefore %s\nafter  %s", before, after)
			}
			// Deciding the same (now normalised) command again on the same
			// state, as a retry after a conflict does, gives the same outcome.
			if pl2, err2 := p.Decide(tc.cmd, env); person.CodeOf(err2) != person.CodeOf(err) || (err2 == nil) != (err == nil) || !reflect.DeepEqual(pl2, pl) {
				t.Fatalf("second decision differs: %v %v, then %v %v", payloadTypes(pl), err, payloadTypes(pl2), err2)
			}
			if tc.want == nil {
				if err == nil {
					t.Fatalf("accepted with %v, want rejection %q", payloadTypes(pl), tc.code)
				}
				if pl != nil {
					t.Errorf("rejection returned payloads %v", payloadTypes(pl))
				}
				if got := person.CodeOf(err); got != tc.code {
					t.Errorf("code = %q (%v), want %q", got, err, tc.code)
				}
				if tc.after != nil {
					tc.after(t, p, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v (code %q)", err, person.CodeOf(err))
			}
			if got := payloadTypes(pl); !slices.Equal(got, tc.want) {
				t.Fatalf("events = %v, want %v", got, tc.want)
			}
			v := p.Version()
			evs := person.NewEvents(p.ID(), v, person.Meta{CommandID: "the-command", At: now}, pl)
			for i := range evs {
				if err := p.Apply(&evs[i]); err != nil {
					t.Fatalf("apply %s: %v", evs[i].Type(), err)
				}
			}
			if p.Version() != v+uint64(len(pl)) || !p.Processed("the-command") {
				t.Errorf("version %d after %d events on %d; processed %v", p.Version(), len(pl), v, p.Processed("the-command"))
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

// TestCommandCasesCoverEveryType keeps the table complete: a new command
// type without an accepted and a rejected case fails here.
func TestCommandCasesCoverEveryType(t *testing.T) {
	accepted := map[person.CommandType]int{}
	rejected := map[person.CommandType]int{}
	names := map[string]bool{}
	for _, tc := range commandCases() {
		if names[tc.name] {
			t.Errorf("duplicate case name %q", tc.name)
		}
		names[tc.name] = true
		ct := tc.cmd.CommandType()
		if !strings.HasPrefix(tc.name, string(ct)+"/") {
			t.Errorf("case %q tests %s: name it %s/…", tc.name, ct, ct)
		}
		if tc.want != nil {
			accepted[ct]++
		} else {
			rejected[ct]++
		}
	}
	types := sortedCommandTypes()
	if len(types) != 46 {
		t.Errorf("%d command types; update this test and the table when adding one", len(types))
	}
	for _, ct := range types {
		if accepted[ct] == 0 {
			t.Errorf("%s: no accepted case", ct)
		}
		if rejected[ct] == 0 {
			t.Errorf("%s: no rejected case", ct)
		}
	}
}

// TestEveryRuleCodeIsTested: each rule error of the domain has a case.
func TestEveryRuleCodeIsTested(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range commandCases() {
		seen[tc.code] = true
	}
	for _, code := range []string{
		"person_not_found", "person_already_exists", "not_allowed_in_state", "name_change_not_active",
		"birth_date_already_set", "death_already_recorded", "not_reactivatable", "merge_source_not_active",
		"merge_target_not_found", "merge_into_self", "component_exists", "component_not_found",
		"already_endorsed", "employment_already_ended", "invalid_transition", "not_inactive",
		"nothing_to_change", "already_notified", "death_before_birth",
		"invalid_command", "invalid_person_id", "invalid_name", "invalid_email", "invalid_phone",
		"invalid_address", "invalid_skill", "invalid_employment", "invalid_social_profile",
		"invalid_preferences", "invalid_consent", "invalid_attribute", "invalid_date",
		"invalid_identity", "invalid_reason",
	} {
		if !seen[code] {
			t.Errorf("no case rejects with %q", code)
		}
	}
}

func TestDecideNilCommand(t *testing.T) {
	p := newPerson(t, active()...)
	if _, err := p.Decide(nil, testEnv()); person.CodeOf(err) != "invalid_command" {
		t.Fatalf("Decide(nil) = %v", err)
	}
	var typedNil *person.AddEmail
	if _, err := p.Decide(typedNil, testEnv()); person.CodeOf(err) != "invalid_command" {
		t.Fatalf("Decide(typed nil) = %v", err)
	}
}
