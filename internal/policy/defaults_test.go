package policy

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

type policyCase struct {
	name string
	pl   person.Payload
	want []Emit
}

func runCases(t *testing.T, react func(*person.Event) []Emit, cases []policyCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := react(ev(c.pl))
			if len(got) == 0 && len(c.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %s\nwant %s", show(got), show(c.want))
			}
		})
	}
}

func show(es []Emit) string {
	s := "["
	for _, e := range es {
		s += " " + string(e.Command.CommandType()) + ":" + jsonOf(e.Command)
		if !e.NotBefore.IsZero() {
			s += "@" + e.NotBefore.Format(time.RFC3339)
		}
	}
	return s + " ]"
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func emits(cmds ...person.Command) []Emit {
	out := make([]Emit, len(cmds))
	for i, c := range cmds {
		out[i] = Emit{Command: c}
	}
	return out
}

func dq(issue, field, value string) *person.FlagDataQuality {
	return &person.FlagDataQuality{Issue: issue, Field: field, Value: value}
}

func TestWelcome(t *testing.T) {
	runCases(t, welcome, []policyCase{
		{"first email", &person.EmailAdded{Email: person.Email{Address: "Ada@example.org", Primary: true}, First: true},
			emits(&person.RecordNotification{Kind: "welcome", Channel: person.ChannelEmail, Target: "Ada@example.org"})},
		{"second email", &person.EmailAdded{Email: person.Email{Address: "ada@example.org"}}, nil},
		{"email updated", &person.EmailUpdated{Email: person.Email{Address: "ada@example.org", Primary: true}}, nil},
		{"person created", &person.PersonCreated{Name: person.Name{GivenName: "Ada"}}, nil},
	})
}

func TestDataQuality(t *testing.T) {
	runCases(t, dataQuality, []policyCase{
		{"created, names fine", &person.PersonCreated{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}}, nil},
		{"created, no family name", &person.PersonCreated{Name: person.Name{GivenName: "Ada"}}, nil},
		{"created, short given", &person.PersonCreated{Name: person.Name{GivenName: "A", FamilyName: "Lovelace"}},
			emits(dq("name_too_short", "given_name", "A"))},
		{"created, both short", &person.PersonCreated{Name: person.Name{GivenName: "A", FamilyName: "L"}},
			emits(dq("name_too_short", "given_name", "A"), dq("name_too_short", "family_name", "L"))},
		{"created, two runes of CJK", &person.PersonCreated{Name: person.Name{GivenName: "小林", FamilyName: "李"}},
			emits(dq("name_too_short", "family_name", "李"))},
		{"created, short middle and preferred not checked", &person.PersonCreated{Name: person.Name{GivenName: "Ada", MiddleNames: []string{"B"}, Preferred: "A"}}, nil},
		{"renamed to short family", &person.NameUpdated{Name: person.Name{GivenName: "Ada", FamilyName: "L"}, Previous: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}},
			emits(dq("name_too_short", "family_name", "L"))},
		{"renamed, short given unchanged", &person.NameUpdated{Name: person.Name{GivenName: "A", FamilyName: "Byron"}, Previous: person.Name{GivenName: "A", FamilyName: "Lovelace"}}, nil},
		{"renamed to fine", &person.NameUpdated{Name: person.Name{GivenName: "Ada", FamilyName: "Byron"}, Previous: person.Name{GivenName: "A", FamilyName: "L"}}, nil},
		{"phone with E.164", &person.PhoneAdded{Phone: person.Phone{Number: "+44 20 7946 0000", E164: "+442079460000"}}, nil},
		{"phone without E.164", &person.PhoneAdded{Phone: person.Phone{Number: "020 7946 0000"}},
			emits(dq("phone_not_e164", "phone", "020 7946 0000"))},
		{"phone renumbered without E.164", &person.PhoneUpdated{Key: "+442079460000", Phone: person.Phone{Number: "020 7946 0001"}},
			emits(dq("phone_not_e164", "phone", "020 7946 0001"))},
		{"phone kind changed, same number", &person.PhoneUpdated{Key: "02079460000", Phone: person.Phone{Number: "020 7946 0000", Kind: person.PhoneHome}}, nil},
		{"phone renumbered with E.164", &person.PhoneUpdated{Key: "02079460000", Phone: person.Phone{Number: "+44 20 7946 0001", E164: "+442079460001"}}, nil},
		{"email reserved", &person.EmailAdded{Email: person.Email{Address: "ada@example.org"}},
			emits(dq("email_reserved_domain", "email", "ada@example.org"))},
		{"email reserved tld", &person.EmailAdded{Email: person.Email{Address: "ada@lab.test"}},
			emits(dq("email_reserved_domain", "email", "ada@lab.test"))},
		{"email fine", &person.EmailAdded{Email: person.Email{Address: "ada@analytical.engine.uk"}}, nil},
		{"email updated (address never changes)", &person.EmailUpdated{Email: person.Email{Address: "ada@example.org", Verified: true}}, nil},
		{"unrelated", &person.SkillAdded{Skill: person.Skill{Name: "C"}}, nil},
	})
}

func skills(names ...string) []person.Skill {
	out := make([]person.Skill, len(names))
	for i, n := range names {
		out[i] = person.Skill{Name: n, Category: "programming_language", Proficiency: person.Beginner}
	}
	return out
}

func rec(names ...string) []Emit {
	return emits(&person.RecommendSkills{Skills: skills(names...), Source: "git_profile"})
}

func TestSkillRecommendation(t *testing.T) {
	many := ""
	var manyWant []string
	for i := range 30 {
		n := "lang" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		many += n + ","
		if i < 20 {
			manyWant = append(manyWant, titleCase(n))
		}
	}
	attr := func(v string) person.Payload { return &person.AttributeSet{Key: "git_profile", Value: v} }
	runCases(t, recommendSkills, []policyCase{
		{"json list", attr(`{"url":"https://github.com/ada","languages":["Go","Rust"]}`), rec("Go", "Rust")},
		{"json canonical and dedup", attr(`{"languages":["golang","GO","c++","CPP","typescript","elixir "]}`), rec("Go", "C++", "TypeScript", "Elixir")},
		{"json size map, largest first", attr(`{"languages":{"Rust":800,"Go":120000,"Shell":800}}`), rec("Go", "Rust", "Shell")},
		{"bare json array", attr(`["python","Java"]`), rec("Python", "Java")},
		{"plain list", attr("go, rust"), rec("Go", "Rust")},
		{"plain list unknown title-cased", attr("go,  brainfuck ,visual  basic, emacs lisp, mojo lang"), rec("Go", "Brainfuck", "Visual Basic", "Emacs Lisp", "Mojo Lang")},
		{"single language", attr("Rust"), rec("Rust")},
		{"junk entries skipped", attr("go, https://github.com/ada, , 1234, <script>, rust"), rec("Go", "Rust")},
		{"at most 20", attr(many), rec(manyWant...)},
		{"empty", attr(""), nil},
		{"blank", attr("  ,  , "), nil},
		{"json without languages", attr(`{"url":"https://github.com/ada"}`), nil},
		{"json empty languages", attr(`{"languages":[]}`), nil},
		{"broken json", attr(`{"languages":["Go",`), nil},
		{"json wrong type", attr(`{"languages":"Go"}`), nil},
		{"only a url", attr("https://github.com/ada"), nil},
		{"other attribute", &person.AttributeSet{Key: "favourite_language", Value: "go"}, nil},
		{"attribute removed", &person.AttributeRemoved{Key: "git_profile"}, nil},
	})
}

func TestAutoArchive(t *testing.T) {
	react := autoArchive(48 * time.Hour)
	runCases(t, react, []policyCase{
		{"deactivated", &person.PersonDeactivated{Reason: "left"},
			[]Emit{{Command: &person.AutoArchivePerson{DeactivatedVersion: 7}, NotBefore: t0.Add(48 * time.Hour)}}},
		{"suspended", &person.PersonSuspended{}, nil},
		{"archived", &person.PersonArchived{}, nil},
		{"reactivated", &person.PersonReactivated{}, nil},
	})
	e := ev(&person.PersonDeactivated{})
	e.OccurredAt = time.Time{}
	if got := react(e); got != nil {
		t.Fatalf("an event without a time armed a timer: %s", show(got))
	}
}

func TestCanonicalLanguage(t *testing.T) {
	for in, want := range map[string]string{
		"go": "Go", "Golang": "Go", "C#": "C#", "f#": "F#", "objective-c": "Objective-C",
		"JAVASCRIPT": "JavaScript", "common  lisp": "Common Lisp", "élan": "Élan", "x": "X",
	} {
		if got, ok := canonicalLanguage(in); !ok || got != want {
			t.Errorf("canonicalLanguage(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", " ", "42", "a/b", "http://x", "a\x00b", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnop"} {
		if got, ok := canonicalLanguage(in); ok {
			t.Errorf("canonicalLanguage(%q) = %q, want rejected", in, got)
		}
	}
	// Every canonical name is a valid skill name, and maps to itself.
	for alias, c := range knownLanguages {
		if got, ok := canonicalLanguage(c); !ok || got != c {
			t.Errorf("canonical %q (of %q) maps to %q %v", c, alias, got, ok)
		}
		if _, err := person.NewSkill(person.Skill{Name: c}); err != nil {
			t.Errorf("%q: %v", c, err)
		}
	}
}
