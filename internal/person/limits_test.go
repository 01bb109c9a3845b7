package person_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

func TestComponentLimits(t *testing.T) {
	cases := []struct {
		name  string
		limit int // commands accepted before the one that crosses it
		nth   func(i int) person.Command
	}{
		{"emails", person.MaxComponents, func(i int) person.Command { return addEmail(fmt.Sprintf("a%d@mail.test", i)) }},
		{"skills", person.MaxComponents - 1, // "go" is held already
			func(i int) person.Command { return addSkill(fmt.Sprintf("skill %d", i)) }},
		{"addresses", person.MaxComponents, func(i int) person.Command {
			a := home()
			a.Street = []string{fmt.Sprintf("%d Long Road", i+1)}
			return addAddress(fmt.Sprintf("addr-%d", i), a)
		}},
		{"attributes", person.MaxAttributes, func(i int) person.Command {
			return &person.SetAttribute{Key: fmt.Sprintf("k%d", i), Value: "v"}
		}},
		{"consents", person.MaxConsents, func(i int) person.Command {
			return &person.RecordConsent{Consent: person.Consent{Purpose: fmt.Sprintf("purpose_%d", i), Granted: true}}
		}},
		{"endorsers", person.MaxEndorsers, func(i int) person.Command {
			return &person.EndorseSkill{Name: "go", Endorser: fmt.Sprintf("friend-%d", i)}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPerson(t, active(addSkill("go"))...)
			for i := range c.limit {
				if _, err := do(p, c.nth(i), testEnv()); err != nil {
					t.Fatalf("#%d within the limit: %v", i, err)
				}
			}
			v := p.Version()
			_, err := p.Decide(c.nth(c.limit), testEnv())
			if !errors.Is(err, person.ErrLimitExceeded) || person.CodeOf(err) != "limit_exceeded" {
				t.Fatalf("after %d: %v, want limit_exceeded", c.limit, err)
			}
			if p.Version() != v {
				t.Fatal("a rejected decision changed the person")
			}
			// Changing what is held stays allowed at the limit.
			if c.name == "attributes" {
				mustDo(t, p, &person.SetAttribute{Key: "k0", Value: "changed"})
			}
		})
	}
}

func TestHistoryLimitKeepsTheEnding(t *testing.T) {
	p := newPerson(t, active()...)
	for i := 0; p.Version() < person.MaxEvents-person.ReservedEvents; i++ {
		mustDo(t, p, &person.SetAttribute{Key: "counter", Value: fmt.Sprint(i)})
	}
	_, err := p.Decide(&person.SetAttribute{Key: "counter", Value: "one more"}, testEnv())
	if person.CodeOf(err) != "limit_exceeded" {
		t.Fatalf("an ordinary command at %d events: %v, want limit_exceeded", p.Version(), err)
	}
	mustDo(t, p, &person.ArchivePerson{Reason: "history full"})
	if p.Lifecycle() != person.LifecycleArchived {
		t.Fatalf("lifecycle %s after archive at the limit", p.Lifecycle())
	}
}
