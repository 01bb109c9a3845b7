package person

import (
	"fmt"
	"strings"
)

// Channel is a way to contact a person.
type Channel string

// The channels.
const (
	ChannelEmail Channel = "email"
	ChannelPhone Channel = "phone"
	ChannelSMS   Channel = "sms"
	ChannelPost  Channel = "post"
	ChannelNone  Channel = "none"
)

// ParseChannel accepts the known channels.
func ParseChannel(s string) (Channel, error) {
	switch c := Channel(s); c {
	case ChannelEmail, ChannelPhone, ChannelSMS, ChannelPost, ChannelNone:
		return c, nil
	default:
		return "", fmt.Errorf("%w: unknown channel %q", ErrInvalidPreferences, s)
	}
}

// Preferences are how a person likes to be addressed and contacted.
type Preferences struct {
	Language       string  `json:"language,omitempty"` // BCP 47, e.g. "en" or "pt-BR"
	Timezone       string  `json:"timezone,omitempty"` // IANA, e.g. "Europe/London"
	ContactChannel Channel `json:"contact_channel,omitempty"`
}

// NewPreferences validates preferences. The checks are syntactic (no time
// zone database look-up), so decide stays pure and fast.
func NewPreferences(p Preferences) (Preferences, error) {
	if p.Language != "" && !isLanguageTag(p.Language) {
		return Preferences{}, fmt.Errorf("%w: language %q is not a BCP 47 tag", ErrInvalidPreferences, p.Language)
	}
	if p.Timezone != "" && !isTimezone(p.Timezone) {
		return Preferences{}, fmt.Errorf("%w: timezone %q is not an IANA name", ErrInvalidPreferences, p.Timezone)
	}
	if p.ContactChannel != "" {
		if _, err := ParseChannel(string(p.ContactChannel)); err != nil {
			return Preferences{}, err
		}
	}
	return p, nil
}

func isLanguageTag(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts[0]) < 2 || len(parts[0]) > 3 || len(parts) > 4 {
		return false
	}
	for i := 0; i < len(parts[0]); i++ { // the language subtag is letters only
		if c := parts[0][i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	for _, p := range parts {
		if p == "" || len(p) > 8 {
			return false
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

func isTimezone(s string) bool {
	if s == "UTC" {
		return true
	}
	if len(s) > 64 || !strings.Contains(s, "/") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/_-+", c) >= 0) {
			return false
		}
	}
	return s[0] != '/' && s[len(s)-1] != '/'
}

// Consent is a recorded decision about one purpose of processing.
type Consent struct {
	Purpose string `json:"purpose"` // snake_case, e.g. "marketing_email"
	Granted bool   `json:"granted"`
}

// NewConsent validates a consent's purpose.
func NewConsent(c Consent) (Consent, error) {
	if !isSnake(c.Purpose, 64) {
		return Consent{}, fmt.Errorf("%w: purpose %q is not snake_case of 1-64 characters", ErrInvalidConsent, c.Purpose)
	}
	return c, nil
}

// MaxAttributeValueLen bounds a free attribute's value, in bytes.
const MaxAttributeValueLen = 4096

// CheckAttribute validates a free attribute: a snake_case key and a bounded
// text value (an empty value removes the attribute).
func CheckAttribute(key, value string) error {
	if !isSnake(key, 64) {
		return fmt.Errorf("%w: key %q is not snake_case of 1-64 characters", ErrInvalidAttribute, key)
	}
	if len(value) > MaxAttributeValueLen {
		return fmt.Errorf("%w: value longer than %d bytes", ErrInvalidAttribute, MaxAttributeValueLen)
	}
	if err := checkText(strings.NewReplacer("\n", " ", "\t", " ").Replace(value), MaxAttributeValueLen); err != nil {
		return fmt.Errorf("%w: value %w", ErrInvalidAttribute, err)
	}
	return nil
}

// isSnake reports whether s is lowercase snake_case of 1 to max bytes,
// starting with a letter.
func isSnake(s string, max int) bool {
	if s == "" || len(s) > max || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
