package person_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

func TestDecodeCommandEmptyData(t *testing.T) {
	for _, ct := range person.CommandTypes() {
		for _, data := range []string{"", "  \n", "null", " null ", "{}", " {} \n"} {
			c, err := person.DecodeCommand(ct, []byte(data))
			if err != nil || c == nil || c.CommandType() != ct {
				t.Errorf("DecodeCommand(%s, %q) = %v, %v", ct, data, c, err)
			}
		}
	}
	if c, err := person.DecodeCommand(person.CmdAddEmail, nil); err != nil || c.(*person.AddEmail).Email != "" {
		t.Errorf("nil data: %v, %v", c, err)
	}
}

func TestDecodeCommandStrict(t *testing.T) {
	for _, ct := range person.CommandTypes() {
		for _, data := range []string{
			`{"no_such_field":1}`,                                  // unknown field
			`{} {}`, `{}}`, `{}]`, `{} x`, `{}null`, `{} 1`, `{},`, // trailing data
			`{`, `{"a"`, `[]`, `"x"`, `5`, `true`, `nul`, // not an object
		} {
			_, err := person.DecodeCommand(ct, []byte(data))
			if person.CodeOf(err) != "invalid_command" {
				t.Errorf("DecodeCommand(%s, %s) = %v, want invalid_command", ct, data, err)
			}
		}
	}
	for _, ct := range []person.CommandType{"", "drop_person", "Create_Person", "create_person "} {
		if _, err := person.DecodeCommand(ct, []byte(`{}`)); person.CodeOf(err) != "unknown_command" {
			t.Errorf("DecodeCommand(%q) = %v, want unknown_command", ct, err)
		}
	}
}

func TestDecodeCommandWrongTypes(t *testing.T) {
	tests := []struct {
		ct   person.CommandType
		data string
	}{
		{person.CmdAddEmail, `{"email":5}`},
		{person.CmdAddEmail, `{"email":"a@b.co","primary":"yes"}`},
		{person.CmdCreatePerson, `{"name":"Ada Lovelace"}`},
		{person.CmdCreatePerson, `{"name":{"given_name":"Ada","middle_names":"B"}}`},
		{person.CmdCreatePerson, `{"name":{"given_name":"Ada","nickname":"A"}}`}, // unknown nested field
		{person.CmdSetBirthDate, `{"birth_date":"10/12/1815"}`},
		{person.CmdSetBirthDate, `{"birth_date":18151210}`},
		{person.CmdAutoArchivePerson, `{"deactivated_version":-1}`},
		{person.CmdAutoArchivePerson, `{"deactivated_version":1.5}`},
		{person.CmdAutoArchivePerson, `{"deactivated_version":"3"}`},
		{person.CmdSetUpComponents, `{"skills":{"name":"Go"}}`},
		{person.CmdSetUpComponents, `{"employment":[]}`},
		{person.CmdUpdateEmail, `{"email":"a@b.co","verified":1}`},
		{person.CmdAddSkill, `{"name":"Go","years":"5"}`},
		{person.CmdAddSkill, `{"skill":{"name":"Go"}}`}, // the skill is inline
		{person.CmdAssignLocation, `{"address_id":"h","address":"London"}`},
		{person.CmdRecommendSkills, `{"skills":["Go"]}`},
		{person.CmdStartOnboarding, `{"reason":"x"}`},
	}
	for _, tc := range tests {
		if _, err := person.DecodeCommand(tc.ct, []byte(tc.data)); person.CodeOf(err) != "invalid_command" {
			t.Errorf("DecodeCommand(%s, %s) = %v, want invalid_command", tc.ct, tc.data, err)
		}
	}
}

// TestDecodeCommandWire decodes the wire examples of DESIGN.md.
func TestDecodeCommandWire(t *testing.T) {
	c := mustDecode(t, person.CmdCreatePerson, `{"name":{"given_name":"Ada","family_name":"Lovelace"},"source":"crm"}`)
	if cp := c.(*person.CreatePerson); cp.Name.GivenName != "Ada" || cp.Name.FamilyName != "Lovelace" || cp.Source != "crm" {
		t.Errorf("create_person = %+v", cp)
	}
	c = mustDecode(t, person.CmdAddEmail, `{"email":"ada@example.org","primary":true}`)
	if ae := c.(*person.AddEmail); ae.Email != "ada@example.org" || !ae.Primary {
		t.Errorf("add_email = %+v", ae)
	}
	c = mustDecode(t, person.CmdAddSkill, `{"name":"Go","proficiency":"expert","years":3}`)
	if as := c.(*person.AddSkill); as.Name != "Go" || as.Proficiency != person.Expert || as.Years != 3 {
		t.Errorf("add_skill = %+v", as)
	}
	c = mustDecode(t, person.CmdEndEmployment, `{"employment_id":"ae","end_date":"1850-01-01"}`)
	if ee := c.(*person.EndEmployment); ee.EndDate.String() != "1850-01-01" {
		t.Errorf("end_employment = %+v", ee)
	}
}

// TestDecodeCommandRoundTrip: every sample command survives JSON unchanged,
// so the wire names of every field decode strictly.
func TestDecodeCommandRoundTrip(t *testing.T) {
	p := newPerson(t, richNoBirth()...)
	for _, ct := range person.CommandTypes() {
		want := sample(ct, p)
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatalf("%s: %v", ct, err)
		}
		got, err := person.DecodeCommand(ct, b)
		if err != nil {
			t.Errorf("%s: DecodeCommand(%s): %v", ct, b, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: round trip\n got %#v\nwant %#v", ct, got, want)
		}
	}
}
