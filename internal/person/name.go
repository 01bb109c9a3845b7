package person

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNamePartLen bounds every part of a name, in characters.
const MaxNamePartLen = 200

// MaxMiddleNames bounds the number of middle names.
const MaxMiddleNames = 20

// Name is a person's legal name. GivenName is required; every other part is
// optional. Names of one character are valid here (the data-quality policy
// flags them); empty, over-long or control-character names are not.
type Name struct {
	GivenName   string   `json:"given_name"`
	FamilyName  string   `json:"family_name,omitempty"`
	MiddleNames []string `json:"middle_names,omitempty"`
	Preferred   string   `json:"preferred_name,omitempty"`
	Honorific   string   `json:"honorific,omitempty"`
	Suffix      string   `json:"suffix,omitempty"`
}

// NewName validates and normalises (trims) a name.
func NewName(n Name) (Name, error) {
	out := Name{
		GivenName:  strings.TrimSpace(n.GivenName),
		FamilyName: strings.TrimSpace(n.FamilyName),
		Preferred:  strings.TrimSpace(n.Preferred),
		Honorific:  strings.TrimSpace(n.Honorific),
		Suffix:     strings.TrimSpace(n.Suffix),
	}
	if out.GivenName == "" {
		return Name{}, fmt.Errorf("%w: given name is required", ErrInvalidName)
	}
	for _, m := range n.MiddleNames {
		if m = strings.TrimSpace(m); m != "" {
			out.MiddleNames = append(out.MiddleNames, m)
		}
	}
	parts := []struct{ field, v string }{
		{"given name", out.GivenName}, {"family name", out.FamilyName}, {"preferred name", out.Preferred},
		{"honorific", out.Honorific}, {"suffix", out.Suffix},
	}
	for _, p := range parts {
		if err := checkText(p.v, MaxNamePartLen); err != nil {
			return Name{}, fmt.Errorf("%w: %s %w", ErrInvalidName, p.field, err)
		}
	}
	if len(out.MiddleNames) > MaxMiddleNames {
		return Name{}, fmt.Errorf("%w: more than %d middle names", ErrInvalidName, MaxMiddleNames)
	}
	for _, m := range out.MiddleNames {
		if err := checkText(m, MaxNamePartLen); err != nil {
			return Name{}, fmt.Errorf("%w: middle name %w", ErrInvalidName, err)
		}
	}
	return out, nil
}

// ParseFullName splits a single full-name string into given, middle and
// family names the way schema v1 events need it: the first word is the given
// name, the last (when there are two or more) the family name.
func ParseFullName(full string) Name {
	f := strings.Fields(full)
	switch len(f) {
	case 0:
		return Name{}
	case 1:
		return Name{GivenName: f[0]}
	default:
		n := Name{GivenName: f[0], FamilyName: f[len(f)-1]}
		if len(f) > 2 {
			n.MiddleNames = append([]string(nil), f[1:len(f)-1]...)
		}
		return n
	}
}

// Display is the name a person is addressed by: the preferred name, or the
// given name, followed by the family name.
func (n Name) Display() string {
	first := n.Preferred
	if first == "" {
		first = n.GivenName
	}
	if n.FamilyName == "" {
		return first
	}
	return first + " " + n.FamilyName
}

// Full is the complete legal name: honorific, given, middle, family, suffix.
func (n Name) Full() string {
	parts := make([]string, 0, 5+len(n.MiddleNames))
	for _, p := range []string{n.Honorific, n.GivenName} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	parts = append(parts, n.MiddleNames...)
	for _, p := range []string{n.FamilyName, n.Suffix} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// Equal reports whether two names are the same in every part.
func (n Name) Equal(o Name) bool {
	if n.GivenName != o.GivenName || n.FamilyName != o.FamilyName || n.Preferred != o.Preferred ||
		n.Honorific != o.Honorific || n.Suffix != o.Suffix || len(n.MiddleNames) != len(o.MiddleNames) {
		return false
	}
	for i := range n.MiddleNames {
		if n.MiddleNames[i] != o.MiddleNames[i] {
			return false
		}
	}
	return true
}

// checkText rejects invalid UTF-8, control characters and text longer than
// max characters. It is shared by every free-text field of the domain.
func checkText(s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("is not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > max {
		return fmt.Errorf("is longer than %d characters", max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains a control character")
		}
	}
	return nil
}
