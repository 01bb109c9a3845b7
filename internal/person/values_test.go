package person_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

// wantCode checks a value-object error: "" means no error.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := person.CodeOf(err); got != code {
		t.Fatalf("code = %q (err %v), want %q", got, err, code)
	}
	if code == "" && err != nil {
		t.Fatalf("err = %v", err)
	}
}

func TestParseEmail(t *testing.T) {
	tests := []struct {
		name, in, want, code string
	}{
		{"plain", "ada@example.org", "ada@example.org", ""},
		{"domain lowercased, local kept", " Ada.Lovelace+Notes@Example.ORG ", "Ada.Lovelace+Notes@example.org", ""},
		{"subdomain and hyphen", "a@mail.analytical-engines.co.uk", "a@mail.analytical-engines.co.uk", ""},
		{"special local characters", "o'brien!#$%&*/=?^_`{|}~-@x.io", "o'brien!#$%&*/=?^_`{|}~-@x.io", ""},
		{"numeric labels", "a@1.2", "a@1.2", ""},
		{"local part of 64", strings.Repeat("a", 64) + "@x.io", strings.Repeat("a", 64) + "@x.io", ""},
		{"empty", "", "", "invalid_email"},
		{"blank", "   ", "", "invalid_email"},
		{"no at", "ada.example.org", "", "invalid_email"},
		{"no local part", "@example.org", "", "invalid_email"},
		{"no domain", "ada@", "", "invalid_email"},
		{"domain without dot", "ada@localhost", "", "invalid_email"},
		{"two ats", "ada@home@example.org", "", "invalid_email"},
		{"leading dot", ".ada@example.org", "", "invalid_email"},
		{"trailing dot", "ada.@example.org", "", "invalid_email"},
		{"double dot", "a..da@example.org", "", "invalid_email"},
		{"space in local", "ada lovelace@example.org", "", "invalid_email"},
		{"quoted local", `"ada"@example.org`, "", "invalid_email"},
		{"non-ASCII local", "adä@example.org", "", "invalid_email"},
		{"space in domain", "ada@exa mple.org", "", "invalid_email"},
		{"underscore in domain", "ada@exa_mple.org", "", "invalid_email"},
		{"non-ASCII domain", "ada@exämple.org", "", "invalid_email"},
		{"empty label", "ada@example..org", "", "invalid_email"},
		{"trailing dot domain", "ada@example.org.", "", "invalid_email"},
		{"leading hyphen label", "ada@-example.org", "", "invalid_email"},
		{"trailing hyphen label", "ada@example-.org", "", "invalid_email"},
		{"label of 64", "ada@" + strings.Repeat("a", 64) + ".org", "", "invalid_email"},
		{"local part of 65", strings.Repeat("a", 65) + "@x.io", "", "invalid_email"},
		{"longer than 254", "a@" + strings.Repeat("abcdefghi.", 25) + "org", "", "invalid_email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := person.ParseEmail(tc.in)
			wantCode(t, err, tc.code)
			if got != tc.want {
				t.Errorf("ParseEmail(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if err != nil && !errors.Is(err, person.ErrInvalidEmail) {
				t.Errorf("not errors.Is ErrInvalidEmail: %v", err)
			}
		})
	}
	if person.EmailKey("Ada@Example.org") != "ada@example.org" {
		t.Error("EmailKey does not lowercase")
	}
	for addr, want := range map[string]bool{
		"a@example.org": true, "a@EXAMPLE.com": true, "a@foo.test": true, "a@x.invalid": true,
		"a@host.localhost": true, "a@x.local": true, "a@analytical.example": true,
		"a@example.co.uk": false, "a@gmail.com": false, "a@testing.org": false, "no-at": false,
	} {
		if got := person.ReservedEmailDomain(addr); got != want {
			t.Errorf("ReservedEmailDomain(%q) = %v", addr, got)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		name, number, cc, want, code string
	}{
		{"E.164 from +", "+44 20 7946 0958", "", "+442079460958", ""},
		{"E.164 from + with separators", "+1 (202) 555-0142", "", "+12025550142", ""},
		{"E.164 from 00", "0044 20 7946 0958", "", "+442079460958", ""},
		{"E.164 from 00 with dots", "00.44.20.7946.0958", "", "+442079460958", ""},
		{"country code ignored for international", "+44 20 7946 0958", "1", "+442079460958", ""},
		{"national with country code drops trunk 0", "020 7946 0958", "44", "+442079460958", ""},
		{"national without trunk 0", "202/555-0142", "1", "+12025550142", ""},
		{"trunk prefix (0) after +44", "+44 (0)20 7946 0958", "", "+442079460958", ""},
		{"trunk prefix (0) after 0044", "0044 (0) 20 7946 0958", "", "+442079460958", ""},
		{"national (0) kept", "(0)20 7946 0958", "", "", ""},
		{"national kept raw", "020 7946 0958", "", "", ""},
		{"short local number kept raw", "555 0142", "", "", ""},
		{"international too short for E.164", "+44 1234", "", "", ""},
		{"international too long for E.164", "+44 1234 5678 9012 34", "", "", ""},
		{"international starting with 0", "+0 20 7946 0958", "", "", ""},
		{"national too short with country code", "1234", "44", "", ""},
		{"four digits", "1234", "", "", ""},
		{"twenty digits", strings.Repeat("1", 20), "", "", ""},
		{"empty", "", "", "", "invalid_phone"},
		{"blank", "  ", "", "", "invalid_phone"},
		{"plus only", "+", "", "", "invalid_phone"},
		{"letters", "+44 20 SPY 0958", "", "", "invalid_phone"},
		{"extension", "+44 20 7946 0958 x12", "", "", "invalid_phone"},
		{"second plus", "++44 20 7946 0958", "", "", "invalid_phone"},
		{"plus in the middle", "44+20 7946 0958", "", "", "invalid_phone"},
		{"unicode digits", "٠٢٠ ٧٩٤٦", "", "", "invalid_phone"},
		{"three digits", "112", "", "", "invalid_phone"},
		{"twenty-one digits", strings.Repeat("1", 21), "", "", "invalid_phone"},
		{"00 leaves too few", "00 123", "", "", "invalid_phone"},
		{"longer than 40 characters", "+44 " + strings.Repeat("1 ", 19), "", "", "invalid_phone"},
		{"country code with plus", "020 7946 0958", "+44", "", "invalid_phone"},
		{"country code too long", "020 7946 0958", "4444", "", "invalid_phone"},
		{"country code starting with 0", "020 7946 0958", "04", "", "invalid_phone"},
		{"country code letters", "020 7946 0958", "uk", "", "invalid_phone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := person.NormalizePhone(tc.number, tc.cc)
			wantCode(t, err, tc.code)
			if got != tc.want {
				t.Errorf("NormalizePhone(%q, %q) = %q, want %q", tc.number, tc.cc, got, tc.want)
			}
			if got != "" && !person.IsE164(got) {
				t.Errorf("%q is not E.164", got)
			}
		})
	}
	for s, want := range map[string]bool{
		"+442079460958": true, "+12345678": true, "+123456789012345": true,
		"+1234567": false, "+1234567890123456": false, "442079460958": false, "+0442079460958": false,
		"+44 20 7946": false, "": false, "+": false,
	} {
		if person.IsE164(s) != want {
			t.Errorf("IsE164(%q) = %v", s, !want)
		}
	}
	if k := person.PhoneKey("020 7946 0958", ""); k != "02079460958" {
		t.Errorf("PhoneKey raw = %q", k)
	}
	if k := (person.Phone{Number: "020 7946 0958", E164: "+442079460958"}).Key(); k != "+442079460958" {
		t.Errorf("Key = %q", k)
	}
	for in, want := range map[string]person.PhoneKind{"": person.PhoneOther, "mobile": person.PhoneMobile, "home": person.PhoneHome, "work": person.PhoneWork, "other": person.PhoneOther} {
		if got, err := person.ParsePhoneKind(in); err != nil || got != want {
			t.Errorf("ParsePhoneKind(%q) = %q, %v", in, got, err)
		}
	}
	_, err := person.ParsePhoneKind("Mobile")
	wantCode(t, err, "invalid_phone")
}

func TestNewName(t *testing.T) {
	tests := []struct {
		name string
		in   person.Name
		want person.Name
		code string
	}{
		{"given only", person.Name{GivenName: "Ada"}, person.Name{GivenName: "Ada"}, ""},
		{"one character is valid", person.Name{GivenName: "A"}, person.Name{GivenName: "A"}, ""},
		{"every part trimmed, blank middles dropped",
			person.Name{GivenName: " Augusta ", FamilyName: " King ", MiddleNames: []string{" Ada ", "", "  "}, Preferred: " Ada ", Honorific: " Countess ", Suffix: " of Lovelace "},
			person.Name{GivenName: "Augusta", FamilyName: "King", MiddleNames: []string{"Ada"}, Preferred: "Ada", Honorific: "Countess", Suffix: "of Lovelace"}, ""},
		{"unicode", person.Name{GivenName: "Zoë", FamilyName: "Ångström"}, person.Name{GivenName: "Zoë", FamilyName: "Ångström"}, ""},
		{"200 characters", person.Name{GivenName: strings.Repeat("é", 200)}, person.Name{GivenName: strings.Repeat("é", 200)}, ""},
		{"no given name", person.Name{FamilyName: "King"}, person.Name{}, "invalid_name"},
		{"blank given name", person.Name{GivenName: "\t"}, person.Name{}, "invalid_name"},
		{"201 characters", person.Name{GivenName: strings.Repeat("a", 201)}, person.Name{}, "invalid_name"},
		{"control character", person.Name{GivenName: "Ada", FamilyName: "Love\x1blace"}, person.Name{}, "invalid_name"},
		{"invalid UTF-8", person.Name{GivenName: "Ada", Preferred: "\xc3"}, person.Name{}, "invalid_name"},
		{"bad honorific", person.Name{GivenName: "Ada", Honorific: "Dr\u0080"}, person.Name{}, "invalid_name"},
		{"bad suffix", person.Name{GivenName: "Ada", Suffix: strings.Repeat("I", 201)}, person.Name{}, "invalid_name"},
		{"bad middle name", person.Name{GivenName: "Ada", MiddleNames: []string{"B\x00"}}, person.Name{}, "invalid_name"},
		{"too many middle names", person.Name{GivenName: "Ada", MiddleNames: slices.Repeat([]string{"B"}, person.MaxMiddleNames+1)}, person.Name{}, "invalid_name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := person.NewName(tc.in)
			wantCode(t, err, tc.code)
			if !got.Equal(tc.want) {
				t.Errorf("NewName = %#v, want %#v", got, tc.want)
			}
		})
	}
	n := person.Name{GivenName: "Augusta", MiddleNames: []string{"Ada"}, FamilyName: "King", Preferred: "Ada", Honorific: "Countess", Suffix: "II"}
	if n.Display() != "Ada King" || n.Full() != "Countess Augusta Ada King II" {
		t.Errorf("Display %q Full %q", n.Display(), n.Full())
	}
	if (person.Name{GivenName: "Ada"}).Display() != "Ada" {
		t.Error("Display without family name")
	}
	for _, o := range []person.Name{
		{GivenName: "Augusta", MiddleNames: []string{"Adah"}, FamilyName: "King", Preferred: "Ada", Honorific: "Countess", Suffix: "II"},
		{GivenName: "Augusta", FamilyName: "King", Preferred: "Ada", Honorific: "Countess", Suffix: "II"},
		{GivenName: "Augusta", MiddleNames: []string{"Ada"}, FamilyName: "King", Honorific: "Countess", Suffix: "II"},
	} {
		if n.Equal(o) {
			t.Errorf("%#v equals %#v", n, o)
		}
	}
	if !(person.Name{GivenName: "A", MiddleNames: []string{}}).Equal(person.Name{GivenName: "A"}) {
		t.Error("empty and nil middle names differ")
	}
	for in, want := range map[string]person.Name{
		"":                       {},
		"Ada":                    {GivenName: "Ada"},
		" Ada  Lovelace ":        {GivenName: "Ada", FamilyName: "Lovelace"},
		"Augusta Ada Byron King": {GivenName: "Augusta", MiddleNames: []string{"Ada", "Byron"}, FamilyName: "King"},
	} {
		if got := person.ParseFullName(in); !got.Equal(want) {
			t.Errorf("ParseFullName(%q) = %#v", in, got)
		}
	}
}

func TestNewAddress(t *testing.T) {
	tests := []struct {
		name string
		in   person.Address
		want person.Address
		code string
	}{
		{"normalised", person.Address{City: " London ", Region: " Greater London ", PostalCode: " SW1Y 4JH ", Country: " gb "},
			person.Address{Kind: person.AddressOther, City: "London", Region: "Greater London", PostalCode: "SW1Y 4JH", Country: "GB"}, ""},
		{"kind and streets", person.Address{Kind: person.AddressMailing, Street: []string{"1", "2", "3", "4"}, City: "Paris", Country: "FR"},
			person.Address{Kind: person.AddressMailing, Street: []string{"1", "2", "3", "4"}, City: "Paris", Country: "FR"}, ""},
		{"street lines trimmed, blank ones dropped", person.Address{Street: []string{" 1 High St ", " ", "Flat 2"}, City: "Leeds", Country: "GB"},
			person.Address{Kind: person.AddressOther, Street: []string{"1 High St", "Flat 2"}, City: "Leeds", Country: "GB"}, ""},
		{"no city", person.Address{Country: "GB"}, person.Address{}, "invalid_address"},
		{"blank city", person.Address{City: "  ", Country: "GB"}, person.Address{}, "invalid_address"},
		{"no country", person.Address{City: "London"}, person.Address{}, "invalid_address"},
		{"alpha-3 country", person.Address{City: "London", Country: "GBR"}, person.Address{}, "invalid_address"},
		{"digit country", person.Address{City: "London", Country: "G1"}, person.Address{}, "invalid_address"},
		{"non-ASCII country", person.Address{City: "London", Country: "ßs"}, person.Address{}, "invalid_address"},
		{"unknown kind", person.Address{Kind: "Home", City: "London", Country: "GB"}, person.Address{}, "invalid_address"},
		{"five street lines", person.Address{Street: []string{"1", "2", "3", "4", "5"}, City: "London", Country: "GB"}, person.Address{}, "invalid_address"},
		{"street control", person.Address{Street: []string{"1\n2"}, City: "London", Country: "GB"}, person.Address{}, "invalid_address"},
		{"city too long", person.Address{City: strings.Repeat("x", 201), Country: "GB"}, person.Address{}, "invalid_address"},
		{"postal code invalid UTF-8", person.Address{City: "London", PostalCode: "\xff", Country: "GB"}, person.Address{}, "invalid_address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := person.NewAddress(tc.in)
			wantCode(t, err, tc.code)
			if !got.Equal(tc.want) || got.Kind != tc.want.Kind {
				t.Errorf("NewAddress = %#v, want %#v", got, tc.want)
			}
		})
	}
	a := person.Address{Kind: person.AddressHome, Street: []string{"1 High St"}, City: "Leeds", Country: "GB"}
	b := a
	b.Kind = person.AddressWork
	if !a.Equal(b) {
		t.Error("kind should not make another place")
	}
	for _, o := range []person.Address{
		{Street: []string{"2 High St"}, City: "Leeds", Country: "GB"},
		{Street: []string{"1 High St", "Flat 2"}, City: "Leeds", Country: "GB"},
		{Street: []string{"1 High St"}, City: "Leeds", Country: "IE"},
		{Street: []string{"1 High St"}, City: "Leeds", PostalCode: "LS1", Country: "GB"},
		{Street: []string{"1 High St"}, City: "Leeds", Region: "Yorkshire", Country: "GB"},
	} {
		if a.Equal(o) {
			t.Errorf("%#v equals %#v", a, o)
		}
	}
}

func TestNewSkill(t *testing.T) {
	tests := []struct {
		name string
		in   person.Skill
		want person.Skill
		code string
	}{
		{"defaults to beginner", person.Skill{Name: " Go "}, person.Skill{Name: "Go", Proficiency: person.Beginner}, ""},
		{"full", person.Skill{Name: "Go", Category: " lang ", Proficiency: "Expert", Years: 80}, person.Skill{Name: "Go", Category: "lang", Proficiency: person.Expert, Years: 80}, ""},
		{"no name", person.Skill{Name: " "}, person.Skill{}, "invalid_skill"},
		{"name too long", person.Skill{Name: strings.Repeat("x", 101)}, person.Skill{}, "invalid_skill"},
		{"category control", person.Skill{Name: "Go", Category: "\x00"}, person.Skill{}, "invalid_skill"},
		{"invented proficiency", person.Skill{Name: "Go", Proficiency: "master"}, person.Skill{}, "invalid_skill"},
		{"negative years", person.Skill{Name: "Go", Years: -1}, person.Skill{}, "invalid_skill"},
		{"81 years", person.Skill{Name: "Go", Years: 81}, person.Skill{}, "invalid_skill"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := person.NewSkill(tc.in)
			wantCode(t, err, tc.code)
			if got != tc.want {
				t.Errorf("NewSkill = %#v, want %#v", got, tc.want)
			}
		})
	}
	for in, want := range map[string]person.Proficiency{
		"": person.Beginner, "beginner": person.Beginner, "Intermediate": person.Intermediate, "ADVANCED": person.Advanced, "expert": person.Expert,
	} {
		got, err := person.ParseProficiency(in)
		if err != nil || got != want {
			t.Errorf("ParseProficiency(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"novice", "expert ", "5"} {
		_, err := person.ParseProficiency(in)
		if person.CodeOf(err) != "invalid_skill" {
			t.Errorf("ParseProficiency(%q) err = %v", in, err)
		}
	}
	if person.SkillKey(" GoLang ") != "golang" {
		t.Error("SkillKey")
	}
}

func TestNewEmployment(t *testing.T) {
	start := person.MustDate("2020-01-01")
	ok := person.Employment{ID: "acme-1", Employer: "Acme", Start: start}
	with := func(f func(*person.Employment)) person.Employment { e := ok; f(&e); return e }
	tests := []struct {
		name string
		in   person.Employment
		want person.Employment
		code string
	}{
		{"minimal", ok, ok, ""},
		{"trimmed", with(func(e *person.Employment) {
			e.ID, e.Employer, e.Role, e.Department = " acme-1 ", " Acme ", " Dev ", " R&D "
		}),
			with(func(e *person.Employment) { e.Role, e.Department = "Dev", "R&D" }), ""},
		{"ends the day it starts", with(func(e *person.Employment) { e.End = start }), with(func(e *person.Employment) { e.End = start }), ""},
		{"no id", with(func(e *person.Employment) { e.ID = "" }), person.Employment{}, "invalid_employment"},
		{"id with slash", with(func(e *person.Employment) { e.ID = "acme/1" }), person.Employment{}, "invalid_employment"},
		{"id of 65", with(func(e *person.Employment) { e.ID = strings.Repeat("a", 65) }), person.Employment{}, "invalid_employment"},
		{"no employer", with(func(e *person.Employment) { e.Employer = " " }), person.Employment{}, "invalid_employment"},
		{"role control", with(func(e *person.Employment) { e.Role = "a\tb" }), person.Employment{}, "invalid_employment"},
		{"department too long", with(func(e *person.Employment) { e.Department = strings.Repeat("x", 201) }), person.Employment{}, "invalid_employment"},
		{"no start", with(func(e *person.Employment) { e.Start = person.Date{} }), person.Employment{}, "invalid_employment"},
		{"end before start", with(func(e *person.Employment) { e.End = person.MustDate("2019-12-31") }), person.Employment{}, "invalid_employment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := person.NewEmployment(tc.in)
			wantCode(t, err, tc.code)
			if got != tc.want {
				t.Errorf("NewEmployment = %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestNewSocialProfile(t *testing.T) {
	tests := []struct {
		name string
		in   person.SocialProfile
		want person.SocialProfile
		code string
	}{
		{"normalised", person.SocialProfile{Platform: " GitHub ", Handle: " @ada ", URL: " https://github.com/ada "},
			person.SocialProfile{Platform: person.GitHub, Handle: "ada", URL: "https://github.com/ada"}, ""},
		{"http and no url", person.SocialProfile{Platform: "website", Handle: "ada.dev", URL: "http://ada.dev"},
			person.SocialProfile{Platform: person.Website, Handle: "ada.dev", URL: "http://ada.dev"}, ""},
		{"unknown platform", person.SocialProfile{Platform: "myspace", Handle: "ada"}, person.SocialProfile{}, "invalid_social_profile"},
		{"empty platform", person.SocialProfile{Handle: "ada"}, person.SocialProfile{}, "invalid_social_profile"},
		{"no handle", person.SocialProfile{Platform: person.X, Handle: " @ "}, person.SocialProfile{}, "invalid_social_profile"},
		{"handle too long", person.SocialProfile{Platform: person.X, Handle: strings.Repeat("a", 101)}, person.SocialProfile{}, "invalid_social_profile"},
		{"handle control", person.SocialProfile{Platform: person.X, Handle: "a\x00"}, person.SocialProfile{}, "invalid_social_profile"},
		{"url scheme", person.SocialProfile{Platform: person.X, Handle: "ada", URL: "javascript:alert(1)"}, person.SocialProfile{}, "invalid_social_profile"},
		{"url without host", person.SocialProfile{Platform: person.X, Handle: "ada", URL: "https:///ada"}, person.SocialProfile{}, "invalid_social_profile"},
		{"url unparsable", person.SocialProfile{Platform: person.X, Handle: "ada", URL: "https://[::1"}, person.SocialProfile{}, "invalid_social_profile"},
		{"url too long", person.SocialProfile{Platform: person.X, Handle: "ada", URL: "https://x.io/" + strings.Repeat("a", 500)}, person.SocialProfile{}, "invalid_social_profile"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := person.NewSocialProfile(tc.in)
			wantCode(t, err, tc.code)
			if got != tc.want {
				t.Errorf("NewSocialProfile = %#v, want %#v", got, tc.want)
			}
		})
	}
	for _, p := range []string{"github", "gitlab", "linkedin", "x", "mastodon", "website", " LinkedIn "} {
		if _, err := person.ParsePlatform(p); err != nil {
			t.Errorf("ParsePlatform(%q): %v", p, err)
		}
	}
	if _, err := person.ParsePlatform("twitter"); person.CodeOf(err) != "invalid_social_profile" {
		t.Errorf("ParsePlatform(twitter) = %v", err)
	}
	if person.SocialKey(person.GitHub, " @Ada") != "github:ada" || (person.SocialProfile{Platform: person.GitHub, Handle: "Ada"}).Key() != "github:ada" {
		t.Error("SocialKey")
	}
}

func TestNewPreferences(t *testing.T) {
	tests := []struct {
		name string
		in   person.Preferences
		code string
	}{
		{"empty", person.Preferences{}, ""},
		{"language only", person.Preferences{Language: "en"}, ""},
		{"full", person.Preferences{Language: "pt-BR", Timezone: "America/Sao_Paulo", ContactChannel: person.ChannelPost}, ""},
		{"three-part tag and deep zone", person.Preferences{Language: "zh-Hant-TW", Timezone: "America/Argentina/Buenos_Aires"}, ""},
		{"region digits", person.Preferences{Language: "es-419", Timezone: "America/Mexico_City"}, ""},
		{"UTC and Etc", person.Preferences{Language: "gsw", Timezone: "UTC"}, ""},
		{"Etc offset", person.Preferences{Timezone: "Etc/GMT+5", ContactChannel: person.ChannelNone}, ""},
		{"language too short", person.Preferences{Language: "e"}, "invalid_preferences"},
		{"language word", person.Preferences{Language: "english"}, "invalid_preferences"},
		{"language digits", person.Preferences{Language: "12-GB"}, "invalid_preferences"},
		{"empty subtag", person.Preferences{Language: "en--GB"}, "invalid_preferences"},
		{"five subtags", person.Preferences{Language: "en-a-b-c-d"}, "invalid_preferences"},
		{"underscore tag", person.Preferences{Language: "en_GB"}, "invalid_preferences"},
		{"zone without area", person.Preferences{Timezone: "London"}, "invalid_preferences"},
		{"zone with space", person.Preferences{Timezone: "Europe/New York"}, "invalid_preferences"},
		{"zone leading slash", person.Preferences{Timezone: "/Europe"}, "invalid_preferences"},
		{"zone trailing slash", person.Preferences{Timezone: "Europe/"}, "invalid_preferences"},
		{"zone too long", person.Preferences{Timezone: "Europe/" + strings.Repeat("a", 60)}, "invalid_preferences"},
		{"channel", person.Preferences{ContactChannel: "EMAIL"}, "invalid_preferences"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := person.NewPreferences(tc.in)
			wantCode(t, err, tc.code)
			if err == nil && got != tc.in {
				t.Errorf("NewPreferences = %#v", got)
			}
		})
	}
	for _, c := range []string{"email", "phone", "sms", "post", "none"} {
		if _, err := person.ParseChannel(c); err != nil {
			t.Errorf("ParseChannel(%q): %v", c, err)
		}
	}
}

func TestNewConsent(t *testing.T) {
	for purpose, code := range map[string]string{
		"marketing_email": "", "a": "", "analytics2": "", strings.Repeat("a", 64): "",
		"": "invalid_consent", "Marketing": "invalid_consent", "1st_party": "invalid_consent", "_x": "invalid_consent",
		"marketing-email": "invalid_consent", strings.Repeat("a", 65): "invalid_consent",
	} {
		t.Run(purpose, func(t *testing.T) {
			c, err := person.NewConsent(person.Consent{Purpose: purpose, Granted: true})
			wantCode(t, err, code)
			if err == nil && (c.Purpose != purpose || !c.Granted) {
				t.Errorf("NewConsent = %#v", c)
			}
		})
	}
}

func TestCheckAttribute(t *testing.T) {
	tests := []struct {
		name, key, value, code string
	}{
		{"simple", "team", "engines", ""},
		{"empty value", "team", "", ""},
		{"multi-line and tabs", "notes", "line 1\n\tline 2", ""},
		{"max length", "k", strings.Repeat("x", person.MaxAttributeValueLen), ""},
		{"uppercase key", "Team", "x", "invalid_attribute"},
		{"empty key", "", "x", "invalid_attribute"},
		{"key with dash", "team-name", "x", "invalid_attribute"},
		{"key too long", strings.Repeat("k", 65), "x", "invalid_attribute"},
		{"value too long", "k", strings.Repeat("x", person.MaxAttributeValueLen+1), "invalid_attribute"},
		{"NUL", "k", "a\x00b", "invalid_attribute"},
		{"carriage return", "k", "a\rb", "invalid_attribute"},
		{"invalid UTF-8", "k", "\xff", "invalid_attribute"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, person.CheckAttribute(tc.key, tc.value), tc.code)
		})
	}
}

func TestParseID(t *testing.T) {
	for in, code := range map[string]string{
		"0b9e3c1a-7f7e-4a1b-9d2e-5c6f7a8b9c0d": "", "a": "", "A_b-9": "", strings.Repeat("x", 64): "",
		"": "invalid_person_id", strings.Repeat("x", 65): "invalid_person_id", "a.b": "invalid_person_id",
		"a b": "invalid_person_id", "a*": "invalid_person_id", "a>": "invalid_person_id", "ä": "invalid_person_id",
	} {
		t.Run(in, func(t *testing.T) {
			id, err := person.ParseID(in)
			wantCode(t, err, code)
			if err == nil && string(id) != in {
				t.Errorf("ParseID = %q", id)
			}
		})
	}
}

func TestDate(t *testing.T) {
	d, err := person.ParseDate("1815-12-10")
	if err != nil || d.String() != "1815-12-10" || d.IsZero() {
		t.Fatalf("ParseDate = %v, %v", d, err)
	}
	if !d.Time().Equal(time.Date(1815, 12, 10, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Time = %v", d.Time())
	}
	for _, bad := range []string{"", "1815-12-32", "2023-02-29", "10/12/1815", "1815-12-10T00:00:00Z", " 1815-12-10"} {
		if _, err := person.ParseDate(bad); person.CodeOf(err) != "invalid_date" {
			t.Errorf("ParseDate(%q) = %v", bad, err)
		}
	}
	if !person.MustDate("2024-02-28").Before(person.MustDate("2024-02-29")) || person.MustDate("2024-02-29").Before(person.MustDate("2024-02-29")) {
		t.Error("Before")
	}
	// DateOf takes the civil date in the time's own zone.
	tokyo := time.FixedZone("JST", 9*3600)
	if got := person.DateOf(time.Date(2025, 6, 1, 23, 30, 0, 0, time.UTC).In(tokyo)); got.String() != "2025-06-02" {
		t.Errorf("DateOf = %s", got)
	}
	if got := person.DateOf(time.Date(2025, 6, 1, 23, 30, 0, 0, time.UTC)); got != person.MustDate("2025-06-01") {
		t.Errorf("DateOf = %s (comparable with ==: %v)", got, got == person.MustDate("2025-06-01"))
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("MustDate did not panic")
			}
		}()
		person.MustDate("nope")
	}()

	type doc struct {
		D   person.Date  `json:"d"`
		Opt person.Date  `json:"opt,omitzero"`
		P   *person.Date `json:"p,omitempty"`
	}
	b, err := json.Marshal(doc{D: d})
	if err != nil || string(b) != `{"d":"1815-12-10"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	b, _ = json.Marshal(doc{})
	if string(b) != `{"d":""}` {
		t.Errorf("zero Marshal = %s", b)
	}
	var got doc
	if err := json.Unmarshal([]byte(`{"d":"1815-12-10","opt":"","p":"2000-01-01"}`), &got); err != nil ||
		got.D != d || !got.Opt.IsZero() || got.P == nil || got.P.String() != "2000-01-01" {
		t.Errorf("Unmarshal = %+v, %v", got, err)
	}
	for _, bad := range []string{`{"d":"1815-13-01"}`, `{"d":18151210}`, `{"d":"10.12.1815"}`, `{"d":true}`} {
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
	// An employment's end date is omitted while unset.
	b, _ = json.Marshal(person.Employment{ID: "e", Employer: "E", Start: d})
	if strings.Contains(string(b), "end_date") {
		t.Errorf("Employment JSON = %s", b)
	}
}

func TestErrors(t *testing.T) {
	if person.CodeOf(nil) != "" || person.IsRejection(nil) {
		t.Error("nil is a rejection")
	}
	plain := errors.New("disk full")
	if person.CodeOf(plain) != "" || person.IsRejection(plain) {
		t.Error("plain error is a rejection")
	}
	wrapped := fmt.Errorf("outer: %w", fmt.Errorf("%w: details", person.ErrInvalidEmail))
	if person.CodeOf(wrapped) != "invalid_email" || !person.IsRejection(wrapped) || !errors.Is(wrapped, person.ErrInvalidEmail) {
		t.Errorf("wrapped: %q", person.CodeOf(wrapped))
	}
	if person.ErrInvalidEmail.Code() != "invalid_email" || person.ErrInvalidEmail.Error() == "" {
		t.Error("Code/Error")
	}
	joined := errors.Join(plain, person.ErrComponentExists)
	if person.CodeOf(joined) != "component_exists" {
		t.Errorf("joined: %q", person.CodeOf(joined))
	}
	// Every sentinel has a distinct snake_case code.
	codes := map[string]bool{}
	for _, e := range []*person.Error{
		person.ErrInvalidCommand, person.ErrUnknownCommand, person.ErrInvalidPersonID, person.ErrInvalidName, person.ErrInvalidEmail,
		person.ErrInvalidPhone, person.ErrInvalidAddress, person.ErrInvalidSkill, person.ErrInvalidEmployment, person.ErrInvalidSocial,
		person.ErrInvalidPreferences, person.ErrInvalidConsent, person.ErrInvalidAttribute, person.ErrInvalidDate, person.ErrInvalidIdentity,
		person.ErrInvalidReason, person.ErrPersonNotFound, person.ErrPersonAlreadyExists, person.ErrNotAllowedInState,
		person.ErrNameChangeNotActive, person.ErrBirthDateAlreadySet, person.ErrDeathAlreadyRecorded, person.ErrNotReactivatable,
		person.ErrMergeSourceNotActive, person.ErrMergeTargetNotFound, person.ErrMergeIntoSelf, person.ErrComponentExists,
		person.ErrComponentNotFound, person.ErrAlreadyEndorsed, person.ErrEmploymentEnded, person.ErrInvalidTransition,
		person.ErrNotInactive, person.ErrNothingToChange, person.ErrAlreadyNotified, person.ErrDeathBeforeBirth, person.ErrAggregateVersionOrder,
	} {
		c := e.Code()
		if codes[c] || c == "" || strings.Trim(c, "abcdefghijklmnopqrstuvwxyz_") != "" {
			t.Errorf("code %q duplicate or not snake_case", c)
		}
		codes[c] = true
	}
}

func TestParseLifecycleAndCommandType(t *testing.T) {
	for _, s := range []string{"active", "suspended", "deactivated", "archived", "deceased", "merged"} {
		if l, err := person.ParseLifecycle(s); err != nil || string(l) != s {
			t.Errorf("ParseLifecycle(%q) = %q, %v", s, l, err)
		}
	}
	for _, s := range []string{"", "none", "Active"} {
		if _, err := person.ParseLifecycle(s); err == nil {
			t.Errorf("ParseLifecycle(%q) accepted", s)
		}
	}
	for _, ct := range person.CommandTypes() {
		if got, err := person.ParseCommandType(string(ct)); err != nil || got != ct {
			t.Errorf("ParseCommandType(%q) = %q, %v", ct, got, err)
		}
	}
	if _, err := person.ParseCommandType("drop_person"); person.CodeOf(err) != "unknown_command" {
		t.Errorf("ParseCommandType(drop_person) = %v", err)
	}
	if !slices.IsSorted(person.CommandTypes()) || !slices.IsSorted(person.EventTypes()) {
		t.Error("type lists are not sorted")
	}
	for _, et := range person.EventTypes() {
		p, ok := person.NewPayload(et)
		if !ok || p.EventType() != et {
			t.Errorf("NewPayload(%q) = %T, %v", et, p, ok)
		}
	}
	if _, ok := person.NewPayload("person_vanished"); ok {
		t.Error("NewPayload of an unknown type")
	}
}
