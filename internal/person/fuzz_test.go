package person_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

// fuzzHistories are the histories of the persons FuzzDecodeAndDecide
// decides against (rehydrated per input).
func fuzzHistories(tb testing.TB) [][]person.Event {
	var out [][]person.Event
	for _, cmds := range [][]person.Command{
		active(),
		rich(),
		onboardedTo(person.OnboardingCollectingBasicInfo),
		onboardedTo(person.OnboardingAssigningLocation),
		append(rich(), suspend()),
		append(rich(), deactivate()),
		onboardedTo(person.OnboardingFailedState),
		nil, // not created
	} {
		_, h := build(tb, cmds...)
		out = append(out, h)
	}
	return out
}

func FuzzDecodeAndDecide(f *testing.F) {
	types := person.CommandTypes()
	histories := fuzzHistories(f)
	// Seeds: every sample command against every person, and a few oddities.
	sp := newPerson(f, richNoBirth()...)
	for i, ct := range types {
		b, _ := json.Marshal(sample(ct, sp))
		for s := range histories {
			f.Add(uint16(s*len(types)+i), b)
		}
		f.Add(uint16(i), []byte(`{}`))
		f.Add(uint16(i), []byte(`{"unknown":true}`))
	}
	f.Add(uint16(0), []byte(`{"name":{"given_name":"\u0000"}}`))
	f.Add(uint16(1), []byte(`{}}`))
	f.Add(uint16(2), []byte(`null`))

	f.Fuzz(func(t *testing.T, kind uint16, data []byte) {
		ct := types[int(kind)%len(types)]
		history := histories[int(kind)/len(types)%len(histories)]
		cmd, err := person.DecodeCommand(ct, data)
		if err != nil {
			if person.CodeOf(err) != "invalid_command" {
				t.Fatalf("DecodeCommand error without invalid_command: %v", err)
			}
			return
		}
		p, err := person.Rehydrate(pid, history)
		if err != nil {
			t.Fatal(err)
		}
		before := person.Snapshot(p)
		pl, err := p.Decide(cmd, testEnv())
		if person.Snapshot(p) != before {
			t.Fatalf("Decide changed the person")
		}
		// Deciding the (now normalised) command again on the same state, as
		// a retry after a conflict does, gives the same outcome.
		pl2, err2 := p.Decide(cmd, testEnv())
		if person.CodeOf(err) != person.CodeOf(err2) || (err == nil) != (err2 == nil) || !reflect.DeepEqual(pl, pl2) {
			t.Fatalf("second decision differs: %v %v / %v %v", payloadTypes(pl), err, payloadTypes(pl2), err2)
		}
		if err != nil {
			if !person.IsRejection(err) {
				t.Fatalf("rejection without a code: %v", err)
			}
			if pl != nil {
				t.Fatalf("payloads with a rejection")
			}
			return
		}
		if len(pl) == 0 {
			t.Fatal("accepted without events")
		}
		v := p.Version()
		evs := person.NewEvents(pid, v, person.Meta{CommandID: "fuzz", At: now}, pl)
		for i := range evs {
			if err := p.Apply(&evs[i]); err != nil {
				t.Fatalf("Apply %s: %v", evs[i].Type(), err)
			}
		}
		if p.Version() != v+uint64(len(evs)) || !p.Processed("fuzz") {
			t.Fatalf("version %d after %d events on %d", p.Version(), len(evs), v)
		}
		// The new state agrees with a rehydration of the whole history.
		q, err := person.Rehydrate(pid, append(slices.Clone(history), evs...))
		if err != nil || person.Snapshot(q) != person.Snapshot(p) {
			t.Fatalf("rehydration differs: %v", err)
		}
		// Invariants of every state.
		if p.Exists() && p.Name().GivenName == "" {
			t.Fatal("a person without a given name")
		}
		keys := map[string]bool{}
		for _, s := range p.Skills() {
			k := person.SkillKey(s.Skill.Name)
			if keys[k] {
				t.Fatalf("skill %q twice", k)
			}
			keys[k] = true
		}
		primaries := 0
		for _, e := range p.Emails() {
			if e.Primary {
				primaries++
			}
		}
		if primaries > 1 {
			t.Fatalf("%d primary emails", primaries)
		}
	})
}
