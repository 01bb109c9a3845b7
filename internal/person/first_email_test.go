package person_test

import (
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

// The welcome policy keys on EmailAdded.First: it must mark the first
// email ever, not "no email right now".
func TestEmailAddedFirstIsFirstEver(t *testing.T) {
	p := person.New("p")
	var firsts []bool
	for i, c := range []person.Command{
		&person.CreatePerson{Name: person.Name{GivenName: "Ada"}},
		&person.AddEmail{Email: "a@b.org"},
		&person.RemoveEmail{Email: "a@b.org"},
		&person.AddEmail{Email: "c@d.org"},
	} {
		pls, err := p.Decide(c, person.Env{})
		if err != nil {
			t.Fatalf("%s: %v", c.CommandType(), err)
		}
		for _, e := range person.NewEvents("p", p.Version(), person.Meta{CommandID: string(rune('a' + i))}, pls) {
			if ea, ok := e.Payload.(*person.EmailAdded); ok {
				firsts = append(firsts, ea.First)
				if !ea.Email.Primary {
					t.Errorf("%s: the only email must be primary", ea.Email.Address)
				}
			}
			if err := p.Apply(&e); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(firsts) != 2 || !firsts[0] || firsts[1] {
		t.Fatalf("First flags %v, want [true false]", firsts)
	}
}
