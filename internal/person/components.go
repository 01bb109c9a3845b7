package person

import (
	"fmt"
	"net/url"
	"strings"
)

// Proficiency is a skill level, Beginner to Expert. It cannot be invented:
// ParseProficiency accepts only these four.
type Proficiency string

// The proficiency levels, in order.
const (
	Beginner     Proficiency = "beginner"
	Intermediate Proficiency = "intermediate"
	Advanced     Proficiency = "advanced"
	Expert       Proficiency = "expert"
)

// ParseProficiency accepts the four levels; empty means beginner.
func ParseProficiency(s string) (Proficiency, error) {
	switch p := Proficiency(strings.ToLower(s)); p {
	case Beginner, Intermediate, Advanced, Expert:
		return p, nil
	case "":
		return Beginner, nil
	default:
		return "", fmt.Errorf("%w: unknown proficiency %q", ErrInvalidSkill, s)
	}
}

// Skill is a named ability. Key (the lowercased name) identifies it.
type Skill struct {
	Name        string      `json:"name"`
	Category    string      `json:"category,omitempty"`
	Proficiency Proficiency `json:"proficiency,omitempty"`
	Years       int         `json:"years,omitempty"`
}

// NewSkill validates a skill.
func NewSkill(s Skill) (Skill, error) {
	s.Name = strings.TrimSpace(s.Name)
	s.Category = strings.TrimSpace(s.Category)
	if s.Name == "" {
		return Skill{}, fmt.Errorf("%w: name is required", ErrInvalidSkill)
	}
	if err := checkText(s.Name, 100); err != nil {
		return Skill{}, fmt.Errorf("%w: name %w", ErrInvalidSkill, err)
	}
	if err := checkText(s.Category, 100); err != nil {
		return Skill{}, fmt.Errorf("%w: category %w", ErrInvalidSkill, err)
	}
	p, err := ParseProficiency(string(s.Proficiency))
	if err != nil {
		return Skill{}, err
	}
	s.Proficiency = p
	if s.Years < 0 || s.Years > 80 {
		return Skill{}, fmt.Errorf("%w: years %d outside 0..80", ErrInvalidSkill, s.Years)
	}
	return s, nil
}

// SkillKey is the identity of a skill component.
func SkillKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// Employment is a position held at an organisation. ID identifies it (chosen
// by the client, unique per person).
type Employment struct {
	ID         string `json:"employment_id"`
	Employer   string `json:"employer"`
	Role       string `json:"role,omitempty"`
	Department string `json:"department,omitempty"`
	Start      Date   `json:"start_date"`
	End        Date   `json:"end_date,omitzero"`
}

// NewEmployment validates an employment.
func NewEmployment(e Employment) (Employment, error) {
	e.ID = strings.TrimSpace(e.ID)
	e.Employer = strings.TrimSpace(e.Employer)
	e.Role = strings.TrimSpace(e.Role)
	e.Department = strings.TrimSpace(e.Department)
	if err := checkKey(e.ID); err != nil {
		return Employment{}, fmt.Errorf("%w: employment_id %w", ErrInvalidEmployment, err)
	}
	if e.Employer == "" {
		return Employment{}, fmt.Errorf("%w: employer is required", ErrInvalidEmployment)
	}
	for _, s := range []string{e.Employer, e.Role, e.Department} {
		if err := checkText(s, 200); err != nil {
			return Employment{}, fmt.Errorf("%w: %w", ErrInvalidEmployment, err)
		}
	}
	if e.Start.IsZero() {
		return Employment{}, fmt.Errorf("%w: start_date is required", ErrInvalidEmployment)
	}
	if !e.End.IsZero() && e.End.Before(e.Start) {
		return Employment{}, fmt.Errorf("%w: end_date before start_date", ErrInvalidEmployment)
	}
	return e, nil
}

// Platform is a social network or web presence. It cannot be invented.
type Platform string

// The platforms.
const (
	GitHub   Platform = "github"
	GitLab   Platform = "gitlab"
	LinkedIn Platform = "linkedin"
	X        Platform = "x"
	Mastodon Platform = "mastodon"
	Website  Platform = "website"
)

// ParsePlatform accepts the known platforms (lowercase).
func ParsePlatform(s string) (Platform, error) {
	switch p := Platform(strings.ToLower(strings.TrimSpace(s))); p {
	case GitHub, GitLab, LinkedIn, X, Mastodon, Website:
		return p, nil
	default:
		return "", fmt.Errorf("%w: unknown platform %q", ErrInvalidSocial, s)
	}
}

// SocialProfile is a person's handle on a platform; (platform, handle)
// identifies it.
type SocialProfile struct {
	Platform Platform `json:"platform"`
	Handle   string   `json:"handle"`
	URL      string   `json:"url,omitempty"`
}

// NewSocialProfile validates a profile; a URL, when given, must be http(s).
func NewSocialProfile(p SocialProfile) (SocialProfile, error) {
	pl, err := ParsePlatform(string(p.Platform))
	if err != nil {
		return SocialProfile{}, err
	}
	p.Platform = pl
	p.Handle = strings.TrimPrefix(strings.TrimSpace(p.Handle), "@")
	if p.Handle == "" {
		return SocialProfile{}, fmt.Errorf("%w: handle is required", ErrInvalidSocial)
	}
	if err := checkText(p.Handle, 100); err != nil {
		return SocialProfile{}, fmt.Errorf("%w: handle %w", ErrInvalidSocial, err)
	}
	if p.URL = strings.TrimSpace(p.URL); p.URL != "" {
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(p.URL) > 500 {
			return SocialProfile{}, fmt.Errorf("%w: url %q is not an http(s) URL", ErrInvalidSocial, p.URL)
		}
	}
	return p, nil
}

// Key identifies a profile.
func (p SocialProfile) Key() string { return SocialKey(p.Platform, p.Handle) }

// SocialKey returns the identity of a social profile component.
func SocialKey(pl Platform, handle string) string {
	return string(pl) + ":" + strings.ToLower(strings.TrimPrefix(strings.TrimSpace(handle), "@"))
}

// checkKey validates a client-chosen component id: 1 to 64 characters of
// letters, digits, '-', '_' and '.'.
func checkKey(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("must have 1 to 64 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%q may hold only letters, digits, '-', '_' and '.'", s)
		}
	}
	return nil
}
