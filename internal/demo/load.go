package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
)

// tally counts what the load produced.
type tally struct {
	mu         sync.Mutex
	sent       int
	byStatus   map[contract.Status]int
	byCode     map[string]int
	duplicates int
	latencies  []time.Duration
	deactivate int
	gitProfile int
	errors     []string
}

func newTally() *tally {
	return &tally{byStatus: map[contract.Status]int{}, byCode: map[string]int{}}
}

func (t *tally) record(r contract.Result, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent++
	t.byStatus[r.Status]++
	if r.Error != nil {
		t.byCode[r.Error.Code]++
	}
	if r.Duplicate {
		t.duplicates++
	}
	t.latencies = append(t.latencies, d)
}

func (t *tally) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.errors) < 10 {
		t.errors = append(t.errors, err.Error())
	}
}

// percentile of the recorded latencies (p in 0..100).
func (t *tally) percentile(p float64) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.latencies) == 0 {
		return 0
	}
	s := slices.Clone(t.latencies)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

var (
	givenNames  = []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia", "Niklaus", "Frances", "John"}
	familyNames = []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Perlman", "Wirth", "Allen", "Backus"}
	cities      = []struct{ city, country string }{{"London", "GB"}, {"Zurich", "CH"}, {"Austin", "US"}, {"Lisbon", "PT"}, {"Nairobi", "KE"}}
	languages   = []string{"Go", "Rust", "Python", "TypeScript", "Haskell", "C"}
)

// personID is the demo's deterministic id of person i.
func personID(run string, i int) person.ID {
	return person.ID(uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%s/%d", run, i)).String())
}

// step is one command of a person's script; optional ones may be rejected
// on purpose (bad data) and the script goes on.
type step struct {
	cmd person.Command
}

// script is what one person goes through: creation, the whole onboarding
// workflow (some with bad data on the way), and for some a git profile or
// a deactivation that arms the auto-archive timer.
func script(i int) []step {
	given, family := givenNames[i%len(givenNames)], familyNames[(i/len(givenNames))%len(familyNames)]
	if i%50 == 7 {
		given = given[:1] // too short: the data-quality policy flags it
	}
	email := fmt.Sprintf("%s.%s.%d@personfleet.dev", given, family, i)
	phone := fmt.Sprintf("+44 20 7946 %04d", i%10000)
	if i%10 == 3 {
		phone = fmt.Sprintf("020 7946 %04d", i%10000) // national, no country code: flagged
	}
	c := cities[i%len(cities)]
	s := []step{
		{&person.CreatePerson{Name: person.Name{GivenName: given, FamilyName: family}, Source: "demo", ImportID: fmt.Sprint(i)}},
		{&person.StartOnboarding{}},
		{&person.RequestIdentityVerification{}},
	}
	if i%100 == 11 { // identity never verified: the guard rejects, the workflow fails
		return append(s,
			step{&person.VerifyIdentity{IdentityID: ""}},
			step{&person.FailOnboarding{Reason: "identity not verified"}},
		)
	}
	s = append(s, step{&person.VerifyIdentity{IdentityID: fmt.Sprintf("idv-%d", i)}})
	if i%40 == 5 { // a typo first: rejected, then corrected
		s = append(s, step{&person.SubmitBasicInfo{Email: "not-an-email", Phone: phone}})
	}
	s = append(s,
		step{&person.SubmitBasicInfo{Email: email, Phone: phone}},
		step{&person.SetUpComponents{
			Skills:     []person.Skill{{Name: "Mathematics", Proficiency: person.Advanced}, {Name: "Writing"}},
			Employment: &person.Employment{ID: "main", Employer: "Analytical Engines Ltd", Role: "Engineer", Start: person.MustDate("2020-01-01")},
		}},
		step{&person.AssignLocation{AddressID: "home", Address: &person.Address{City: c.city, Country: c.country}}},
		step{&person.CompleteOnboarding{}},
	)
	if i%5 == 0 {
		langs, _ := json.Marshal(map[string][]string{"languages": {languages[i%len(languages)], languages[(i+1)%len(languages)]}})
		s = append(s, step{&person.SetAttribute{Key: "git_profile", Value: string(langs)}})
	}
	if i%20 == 9 {
		s = append(s, step{&person.DeactivatePerson{Reason: "left the programme"}})
	}
	return s
}

// drive runs the scripts of n persons with `producers` concurrent
// producers; each person's commands are sent one after the other, each
// waiting for its final result (as a careful client does: commands of one
// person are ordered only if the producer waits).
func drive(ctx context.Context, cl *client.Client, run string, n, producers int, t *tally) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id := personID(run, i)
				for _, s := range script(i) {
					env, err := client.NewCommand(id, s.cmd)
					if err != nil {
						t.fail(err)
						return
					}
					env.Actor = "demo"
					start := time.Now()
					r, err := cl.Do(ctx, env, nil, nil)
					if err != nil {
						t.fail(err)
						break
					}
					t.record(r, time.Since(start))
					switch s.cmd.(type) {
					case *person.DeactivatePerson:
						t.count(&t.deactivate, r)
					case *person.SetAttribute:
						t.count(&t.gitProfile, r)
					}
				}
			}
		}()
	}
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

func (t *tally) count(n *int, r contract.Result) {
	if r.Status == contract.StatusAccepted {
		t.mu.Lock()
		*n++
		t.mu.Unlock()
	}
}

// resubmit sends an already-processed create_person again with the same
// command id: the commands stream drops it (Nats-Msg-Id) and the client
// reads the original result. It returns whether the fleet answered with
// the original result.
func resubmit(ctx context.Context, cl *client.Client, id person.ID) (bool, error) {
	env, err := client.NewCommand(id, &person.CreatePerson{Name: person.Name{GivenName: "Twice"}})
	if err != nil {
		return false, err
	}
	first, err := cl.Do(ctx, env, nil, nil)
	if err != nil {
		return false, err
	}
	again, err := cl.Do(ctx, env, nil, nil)
	if err != nil {
		return false, err
	}
	return first.Status == again.Status && first.Version == again.Version, nil
}

// poison publishes a command nobody can answer (no command id, no
// Nats-Msg-Id): the command-worker parks it in the dead-letter queue and
// goes on.
func poison(nc *nats.Conn, names contract.Names, id person.ID) error {
	m := nats.NewMsg(names.Command(id, person.CmdCreatePerson))
	m.Data = []byte(`{"type":"create_person","person_id":"` + string(id) + `","data":{"name":{"given_name":"Nobody"}}}`)
	if err := nc.PublishMsg(m); err != nil {
		return err
	}
	return nc.Flush()
}
