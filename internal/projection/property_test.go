package projection

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

// kv is a stored read model: its JSON form, as in the KV bucket.
type kv[M any, PM interface {
	*M
	Model
}] struct {
	t      *testing.T
	stored []byte
}

func (s *kv[M, PM]) load() PM {
	m := PM(new(M))
	if s.stored != nil {
		if err := json.Unmarshal(s.stored, m); err != nil {
			s.t.Fatal(err)
		}
	}
	return m
}

func (s *kv[M, PM]) save(m PM) {
	b, err := json.Marshal(m)
	if err != nil {
		s.t.Fatal(err)
	}
	s.stored = b
}

// deliver feeds history to a stored model the way a projector under
// JetStream sees it: every event at least once, in a random order,
// redelivered at random (a crash after storing but before the ack), some
// applications lost (a crash before storing), gaps nak'ed and delivered
// again later. Every delivery loads the record from its JSON form, applies
// and stores it. It returns the final stored form.
func deliver[M any, PM interface {
	*M
	Model
}](t *testing.T, r *rand.Rand, history []person.Event, counts map[string]int) string {
	store := &kv[M, PM]{t: t}
	pending := make([]int, 0, 2*len(history))
	for i := range history {
		pending = append(pending, i)
		if r.IntN(4) == 0 {
			pending = append(pending, i) // published or delivered twice
		}
	}
	applied, lost := counts["applied"], counts["lost"]
	for steps := 0; len(pending) > 0; steps++ {
		if steps > 1000*len(history) {
			t.Fatalf("no convergence after %d deliveries", steps)
		}
		// Deliveries are mostly in order, with random overtaking.
		k := 0
		if r.IntN(3) == 0 {
			k = r.IntN(len(pending))
		}
		i := pending[k]
		m := store.load()
		err := m.Apply(&history[i])
		switch {
		case err == nil:
			counts["applied"]++
			switch r.IntN(10) {
			case 0: // crashed before storing: the delivery is retried
				counts["lost"]++
				continue
			case 1: // stored, crashed before the ack: redelivered
				store.save(m)
				counts["redelivered"]++
				pending = append(pending, i)
			default:
				store.save(m)
			}
		case errors.Is(err, ErrDuplicate):
			counts["duplicate"]++
		case errors.Is(err, ErrGap):
			counts["gap"]++
			continue // nak: stays pending
		default:
			t.Fatalf("delivery of version %d: %v", history[i].Version, err)
		}
		pending = slices.Delete(pending, k, k+1)
	}
	if counts["applied"]-applied-(counts["lost"]-lost) != len(history) {
		t.Fatalf("applied %d, lost %d, for %d events", counts["applied"]-applied, counts["lost"]-lost, len(history))
	}
	return string(store.stored)
}

func sequential(t *testing.T, m Model, history []person.Event) string {
	t.Helper()
	for i := range history {
		if err := m.Apply(&history[i]); err != nil {
			t.Fatal(err)
		}
	}
	return mustJSON(t, m)
}

// TestConvergence: any redelivery schedule gives exactly the sequential
// replay; so does replaying the history a second time.
func TestConvergence(t *testing.T) {
	histories := [][]person.Event{realisticHistory(t)}
	for seed := range uint64(30) {
		histories = append(histories, randomHistory(t, person.ID(fmt.Sprint("p", seed)), seed, 120).events)
	}
	counts := map[string]int{}
	for hi, h := range histories {
		var s Summary
		var o Onboarding
		wantS, wantO := sequential(t, &s, h), sequential(t, &o, h)

		// The whole history again: every event a duplicate, nothing changes.
		for i := range h {
			if err := s.Apply(&h[i]); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("history %d, second pass, version %d: %v", hi, h[i].Version, err)
			}
			if err := o.Apply(&h[i]); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("history %d, second pass, version %d: %v", hi, h[i].Version, err)
			}
		}
		if mustJSON(t, s) != wantS || mustJSON(t, o) != wantO {
			t.Fatalf("history %d: the second pass changed the models", hi)
		}

		for round := range uint64(5) {
			r := rand.New(rand.NewPCG(uint64(hi), round))
			if got := deliver[Summary](t, r, h, counts); got != wantS {
				t.Fatalf("history %d round %d: summary\n got %s\nwant %s", hi, round, got, wantS)
			}
			if got := deliver[Onboarding](t, r, h, counts); got != wantO {
				t.Fatalf("history %d round %d: onboarding\n got %s\nwant %s", hi, round, got, wantO)
			}
		}
	}
	t.Logf("deliveries: %v", counts)
	for _, k := range []string{"applied", "lost", "redelivered", "duplicate", "gap"} {
		if counts[k] == 0 {
			t.Errorf("the schedules never exercised %q", k)
		}
	}
}

// TestAgreesWithAggregate: after every event of random histories, the read
// models say what the aggregate rebuilt from the same events says.
func TestAgreesWithAggregate(t *testing.T) {
	seen := map[person.EventType]bool{}
	for seed := range uint64(60) {
		b := randomHistory(t, "p", seed+1000, 200)
		p := person.New("p")
		var s Summary
		var o Onboarding
		for i := range b.events {
			e := &b.events[i]
			seen[e.Type()] = true
			for _, m := range []Model{p, &s, &o} {
				if err := m.Apply(e); err != nil {
					t.Fatal(err)
				}
			}
			if err := agree(p, &s, &o); err != nil {
				t.Fatalf("seed %d, after event %d (%s): %v", seed, e.Version, e.Type(), err)
			}
		}
	}
	var missing []person.EventType
	for _, typ := range person.EventTypes() {
		if !seen[typ] {
			missing = append(missing, typ)
		}
	}
	slices.Sort(missing)
	// Events the generator cannot or rarely reach; every other one must occur.
	allowed := []person.EventType{person.EventSocialProfileAdded, person.EventSocialProfileUpdated,
		person.EventSocialProfileRemoved, person.EventPreferencesSet, person.EventAttributeRemoved,
		person.EventNotificationRecorded, person.EventAddressUpdated, person.EventSkillUpdated}
	for _, m := range missing {
		if !slices.Contains(allowed, m) {
			t.Errorf("random histories never produced %s", m)
		}
	}
}

func agree(p *person.Person, s *Summary, o *Onboarding) error {
	if s.Version != p.Version() || o.Version != p.Version() {
		return fmt.Errorf("versions %d %d, aggregate %d", s.Version, o.Version, p.Version())
	}
	if s.Lifecycle != string(p.Lifecycle()) || s.MergedInto != p.MergedInto() {
		return fmt.Errorf("lifecycle %s %s, aggregate %s %s", s.Lifecycle, s.MergedInto, p.Lifecycle(), p.MergedInto())
	}
	if s.DisplayName != p.Name().Display() || s.FullName != p.Name().Full() {
		return fmt.Errorf("names %q %q, aggregate %+v", s.DisplayName, s.FullName, p.Name())
	}
	emails := p.Emails()
	var addrs []string
	for _, m := range emails {
		addrs = append(addrs, m.Address)
	}
	if !slices.Equal(s.Emails, addrs) {
		return fmt.Errorf("emails %q, aggregate %q", s.Emails, addrs)
	}
	wantEmail := ""
	if i := slices.IndexFunc(emails, func(m person.Email) bool { return m.Primary }); i >= 0 {
		wantEmail = emails[i].Address
	} else if i := slices.IndexFunc(emails, func(m person.Email) bool { return m.Verified }); i >= 0 {
		wantEmail = emails[i].Address
	} else if len(emails) > 0 {
		wantEmail = emails[0].Address
	}
	if s.PrimaryEmail != wantEmail {
		return fmt.Errorf("primary email %q, want %q from %+v", s.PrimaryEmail, wantEmail, emails)
	}
	phones := p.Phones()
	if len(phones) != len(s.Detail.Phones) {
		return fmt.Errorf("phones %+v, aggregate %+v", s.Detail.Phones, phones)
	}
	for i, ph := range phones {
		d := s.Detail.Phones[i]
		if d.Key != ph.Key() || d.Number != ph.Number || d.E164 != ph.E164 || d.Primary != ph.Primary {
			return fmt.Errorf("phones %+v, aggregate %+v", s.Detail.Phones, phones)
		}
	}
	pick := -1
	if i := slices.IndexFunc(phones, func(ph person.Phone) bool { return ph.Primary }); i >= 0 {
		pick = i
	} else if i := slices.IndexFunc(phones, func(ph person.Phone) bool { return ph.E164 != "" }); i >= 0 {
		pick = i
	} else if len(phones) > 0 {
		pick = 0
	}
	wantPhone := ""
	if pick >= 0 {
		wantPhone = phones[pick].E164
		if wantPhone == "" {
			wantPhone = phones[pick].Number
		}
	}
	if s.PrimaryPhone != wantPhone {
		return fmt.Errorf("primary phone %q, want %q from %+v", s.PrimaryPhone, wantPhone, phones)
	}
	emps := p.Employments()
	if len(emps) != len(s.Detail.Employments) {
		return fmt.Errorf("employments %+v, aggregate %+v", s.Detail.Employments, emps)
	}
	var cur *person.Employment
	for i, m := range emps {
		d := s.Detail.Employments[i]
		if d.ID != m.ID || d.Employer != m.Employer || d.Role != m.Role || d.Start != m.Start || d.End != m.End {
			return fmt.Errorf("employments %+v, aggregate %+v", s.Detail.Employments, emps)
		}
		if m.End.IsZero() && (cur == nil || !m.Start.Before(cur.Start)) {
			cur = &emps[i]
		}
	}
	if cur == nil && (s.Employer != "" || s.Role != "") || cur != nil && (s.Employer != cur.Employer || s.Role != cur.Role) {
		return fmt.Errorf("current employment %q %q, aggregate %+v", s.Employer, s.Role, cur)
	}
	if s.SkillsCount != len(p.Skills()) {
		return fmt.Errorf("skills %d, aggregate %d", s.SkillsCount, len(p.Skills()))
	}
	if s.QualityFlags != p.QualityFlags() {
		return fmt.Errorf("quality flags %d, aggregate %d", s.QualityFlags, p.QualityFlags())
	}
	state, reason := p.Onboarding()
	if s.Onboarding != onboardingName(state) || o.State != onboardingName(state) || o.FailureReason != reason {
		return fmt.Errorf("onboarding %q / %q %q, aggregate %q %q", s.Onboarding, o.State, o.FailureReason, state, reason)
	}
	if o.IdentityLinked != (p.IdentityID() != "") || o.Location != p.LocationID() {
		return fmt.Errorf("identity %v location %q, aggregate %q %q", o.IdentityLinked, o.Location, p.IdentityID(), p.LocationID())
	}
	if !s.UpdatedAt.Equal(p.LastActivity()) {
		return fmt.Errorf("updated at %s, aggregate last activity %s", s.UpdatedAt, p.LastActivity())
	}
	return nil
}
