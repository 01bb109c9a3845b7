package person_test

import (
	"fmt"
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

// BenchmarkDecideAddEmail decides a typical command on a person with a
// realistic state (onboarded, a few components of every kind).
func BenchmarkDecideAddEmail(b *testing.B) {
	p := newPerson(b, rich()...)
	env := testEnv()
	cmd := &person.AddEmail{Email: "Ada.New@Example.org", Verified: true}
	b.ReportAllocs()
	for b.Loop() {
		cmd.Email = "Ada.New@Example.org"
		pl, err := p.Decide(cmd, env)
		if err != nil || len(pl) != 1 {
			b.Fatal(pl, err)
		}
	}
}

func BenchmarkDecideCreate(b *testing.B) {
	p := person.New(pid)
	env := testEnv()
	cmd := &person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace", MiddleNames: []string{"Augusta"}}, Source: "crm"}
	b.ReportAllocs()
	for b.Loop() {
		pl, err := p.Decide(cmd, env)
		if err != nil || len(pl) != 1 {
			b.Fatal(pl, err)
		}
	}
}

// BenchmarkApply applies one component event (an email update) to a rich
// person, each with the next version and a fresh command id.
func BenchmarkApply(b *testing.B) {
	p := newPerson(b, rich()...)
	ids := make([]string, 256)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%d", i)
	}
	payloads := []person.Payload{
		&person.EmailUpdated{Email: person.Email{Address: "ada.work@analytical.example", Verified: true}},
		&person.EmailUpdated{Email: person.Email{Address: "ada.work@analytical.example"}},
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		e := person.Event{ID: ids[i%len(ids)], PersonID: pid, Version: p.Version() + 1, OccurredAt: now, CausationID: ids[i%len(ids)], Payload: payloads[i%2]}
		if err := p.Apply(&e); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// history100 is a 100-event history of typical commands.
func history100(b *testing.B) []person.Event {
	_, h := build(b, rich()...)
	p, _ := person.Rehydrate(pid, h)
	for i := 0; len(h) < 100; i++ {
		var c person.Command
		switch i % 5 {
		case 0:
			c = setAttr("note", fmt.Sprintf("n%d", i))
		case 1:
			c = addEmail(fmt.Sprintf("ada%d@example.org", i))
		case 2:
			c = &person.RemoveEmail{Email: fmt.Sprintf("ada%d@example.org", i-1)}
		case 3:
			c = &person.EndorseSkill{Name: "Go", Endorser: fmt.Sprintf("e%d", i)}
		case 4:
			c = &person.RecordConsent{Consent: person.Consent{Purpose: "marketing_email", Granted: i%2 == 0}}
		}
		h = append(h, mustDo(b, p, c)...)
	}
	return h[:100]
}

func BenchmarkRehydrate100(b *testing.B) {
	h := history100(b)
	b.ReportAllocs()
	for b.Loop() {
		p, err := person.Rehydrate(pid, h)
		if err != nil || p.Version() != 100 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/event")
}
