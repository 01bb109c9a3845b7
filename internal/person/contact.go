package person

import (
	"fmt"
	"strings"
)

// Email is a syntax-checked address. Address keeps the local part as given
// and lowercases the domain; Key is the fully lowercased form that identifies
// the component (an address is not added twice in another case).
type Email struct {
	Address  string `json:"email"`
	Verified bool   `json:"verified,omitempty"`
	Primary  bool   `json:"primary,omitempty"`
}

// ParseEmail checks the syntax of an address (RFC 5321 limits, a dotted
// domain of letters, digits and hyphens) and normalises it.
func ParseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 254 {
		return "", fmt.Errorf("%w: longer than 254 characters", ErrInvalidEmail)
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", fmt.Errorf("%w: %q needs a local part and a domain", ErrInvalidEmail, s)
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if len(local) > 64 {
		return "", fmt.Errorf("%w: local part longer than 64 characters", ErrInvalidEmail)
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return "", fmt.Errorf("%w: %q has a misplaced dot", ErrInvalidEmail, s)
	}
	for i := 0; i < len(local); i++ {
		if !isLocalChar(local[i]) {
			return "", fmt.Errorf("%w: %q has a character not allowed in the local part", ErrInvalidEmail, s)
		}
	}
	if err := checkDomain(domain); err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrInvalidEmail, s, err)
	}
	return local + "@" + domain, nil
}

// EmailKey is the identity of an email component.
func EmailKey(address string) string { return strings.ToLower(address) }

func isLocalChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0
}

func checkDomain(d string) error {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("domain needs a dot")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("domain label empty or too long")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("domain label starts or ends with a hyphen")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("domain has a character other than letters, digits and hyphens")
			}
		}
	}
	return nil
}

// ReservedEmailDomain reports whether an address's domain is one reserved for
// documentation and testing (RFC 2606, RFC 6761): syntactically valid but
// never deliverable. The data-quality policy flags such addresses.
func ReservedEmailDomain(address string) bool {
	d := strings.ToLower(address[strings.LastIndexByte(address, '@')+1:])
	switch d {
	case "example.com", "example.net", "example.org":
		return true
	}
	for _, tld := range []string{".test", ".example", ".invalid", ".localhost", ".local"} {
		if strings.HasSuffix(d, tld) {
			return true
		}
	}
	return false
}

// PhoneKind is what a phone number is used for.
type PhoneKind string

// The phone kinds.
const (
	PhoneMobile PhoneKind = "mobile"
	PhoneHome   PhoneKind = "home"
	PhoneWork   PhoneKind = "work"
	PhoneOther  PhoneKind = "other"
)

// ParsePhoneKind accepts the known kinds; empty means other.
func ParsePhoneKind(s string) (PhoneKind, error) {
	switch k := PhoneKind(s); k {
	case PhoneMobile, PhoneHome, PhoneWork, PhoneOther:
		return k, nil
	case "":
		return PhoneOther, nil
	default:
		return "", fmt.Errorf("%w: unknown phone kind %q", ErrInvalidPhone, s)
	}
}

// Phone is a phone number as given and, where it can be normalised, in E.164
// form. Key identifies the component.
type Phone struct {
	Number  string    `json:"number"`
	E164    string    `json:"e164,omitempty"`
	Kind    PhoneKind `json:"kind,omitempty"`
	Primary bool      `json:"primary,omitempty"`
}

// Key is the E.164 form when known, else the digits of the number.
func (p Phone) Key() string { return PhoneKey(p.Number, p.E164) }

// PhoneKey returns the identity of a phone component.
func PhoneKey(number, e164 string) string {
	if e164 != "" {
		return e164
	}
	return digits(number)
}

// NormalizePhone checks a number and returns its E.164 form where possible.
// Accepted: digits with the usual separators (space, dot, hyphen, slash,
// parentheses), an optional leading + or 00. International numbers (+ or 00)
// become E.164 when they have 8 to 15 digits and do not start with 0; a
// "(0)" after their country code is the trunk prefix and is dropped
// ("+44 (0)20 7946 0958" is +442079460958). A national number becomes E.164
// when countryCode (1–3 digits, as in "44") is given, dropping one trunk 0.
// Anything else with 4 to 20 digits is kept as given with an empty E.164 form.
func NormalizePhone(number, countryCode string) (e164 string, err error) {
	n := strings.TrimSpace(number)
	if n == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidPhone)
	}
	if len(n) > 40 {
		return "", fmt.Errorf("%w: longer than 40 characters", ErrInvalidPhone)
	}
	intl := false
	if n[0] == '+' {
		intl, n = true, n[1:]
	}
	var b strings.Builder
	trunk := -1 // digit index of a "(0)", the trunk prefix in "+44 (0)20 …"
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c == '(' && trunk < 0 && strings.HasPrefix(n[i:], "(0)"):
			trunk = b.Len()
			b.WriteByte('0')
			i += 2
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case strings.IndexByte(" .-/()", c) >= 0:
		default:
			return "", fmt.Errorf("%w: %q has a character other than digits and separators", ErrInvalidPhone, number)
		}
	}
	d := b.String()
	if !intl && strings.HasPrefix(d, "00") {
		intl, d, trunk = true, d[2:], trunk-2
	}
	if intl && trunk > 0 {
		// An international number never dials the trunk 0 after the
		// country code: "+44 (0)20 7946 0958" is +442079460958.
		d = d[:trunk] + d[trunk+1:]
	}
	if len(d) < 4 || len(d) > 20 {
		return "", fmt.Errorf("%w: %q needs 4 to 20 digits", ErrInvalidPhone, number)
	}
	if countryCode != "" {
		if len(countryCode) > 3 || digits(countryCode) != countryCode || countryCode[0] == '0' {
			return "", fmt.Errorf("%w: country code %q is not 1-3 digits", ErrInvalidPhone, countryCode)
		}
	}
	switch {
	case intl:
	case countryCode != "":
		d = countryCode + strings.TrimPrefix(d, "0")
	default:
		return "", nil
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", nil
	}
	return "+" + d, nil
}

// IsE164 reports whether s is in E.164 form: + and 8 to 15 digits, no leading 0.
func IsE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	return digits(s[1:]) == s[1:]
}

func digits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// AddressKind is what an address is used for.
type AddressKind string

// The address kinds.
const (
	AddressHome    AddressKind = "home"
	AddressWork    AddressKind = "work"
	AddressMailing AddressKind = "mailing"
	AddressOther   AddressKind = "other"
)

// Address is a postal address. Country is an ISO 3166-1 alpha-2 code.
type Address struct {
	Kind       AddressKind `json:"kind,omitempty"`
	Street     []string    `json:"street,omitempty"`
	City       string      `json:"city"`
	Region     string      `json:"region,omitempty"`
	PostalCode string      `json:"postal_code,omitempty"`
	Country    string      `json:"country"`
}

// NewAddress validates an address: city and country required, country two
// letters (uppercased), every part bounded free text, trimmed; blank street
// lines are dropped.
func NewAddress(a Address) (Address, error) {
	a.City = strings.TrimSpace(a.City)
	a.Region = strings.TrimSpace(a.Region)
	a.PostalCode = strings.TrimSpace(a.PostalCode)
	a.Country = strings.ToUpper(strings.TrimSpace(a.Country))
	var street []string // a new slice: the address never aliases its input
	for _, l := range a.Street {
		if l = strings.TrimSpace(l); l != "" {
			street = append(street, l)
		}
	}
	a.Street = street
	switch a.Kind {
	case AddressHome, AddressWork, AddressMailing, AddressOther:
	case "":
		a.Kind = AddressOther
	default:
		return Address{}, fmt.Errorf("%w: unknown kind %q", ErrInvalidAddress, a.Kind)
	}
	if a.City == "" {
		return Address{}, fmt.Errorf("%w: city is required", ErrInvalidAddress)
	}
	if len(a.Country) != 2 || a.Country[0] < 'A' || a.Country[0] > 'Z' || a.Country[1] < 'A' || a.Country[1] > 'Z' {
		return Address{}, fmt.Errorf("%w: country %q is not an ISO 3166-1 alpha-2 code", ErrInvalidAddress, a.Country)
	}
	if len(a.Street) > 4 {
		return Address{}, fmt.Errorf("%w: at most 4 street lines", ErrInvalidAddress)
	}
	for _, s := range append([]string{a.City, a.Region, a.PostalCode}, a.Street...) {
		if err := checkText(s, 200); err != nil {
			return Address{}, fmt.Errorf("%w: %w", ErrInvalidAddress, err)
		}
	}
	return a, nil
}

// Equal reports whether two addresses are the same place.
func (a Address) Equal(o Address) bool {
	if a.City != o.City || a.Region != o.Region || a.PostalCode != o.PostalCode ||
		a.Country != o.Country || len(a.Street) != len(o.Street) {
		return false
	}
	for i := range a.Street {
		if a.Street[i] != o.Street[i] {
			return false
		}
	}
	return true
}
