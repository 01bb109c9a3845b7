package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/config"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/natstest"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/projection"
	"github.com/personfleet/personfleet/internal/schema"
	"github.com/personfleet/personfleet/internal/worker"
)

// fleet runs workers in-process against one embedded server.
type fleet struct {
	t      *testing.T
	url    string
	nc     *nats.Conn
	js     jetstream.JetStream
	cl     *client.Client
	mu     sync.Mutex
	stops  []func()
	config func(*worker.Config)
}

func newFleet(t *testing.T, tweak func(*worker.Config)) *fleet {
	t.Helper()
	srv := natstest.Server(t)
	nc, js := natstest.Connect(t, srv.URL())
	cl, err := client.New(nc, contract.DefaultNames())
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, url: srv.URL(), nc: nc, js: js, cl: cl, config: tweak}
	t.Cleanup(f.stopAll)
	return f
}

func testConfig(kind worker.Kind, url string) worker.Config {
	return worker.Config{
		Kind: kind, NATS: config.NATS{URL: url}, Prefix: "person", Provision: true, StreamReplicas: 1,
		CommandsDedupWindow: 10 * time.Minute, ResultsMaxAge: time.Hour,
		AckWait: 10 * time.Second, MaxDeliver: 10, MaxAckPending: 1024, Concurrency: 8,
		Retry:        worker.RetryConfig{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2, MaxRetries: 3},
		CloseTimeout: 5 * time.Second, CacheSize: 1000, InactivityPeriod: time.Hour,
	}
}

// start runs one replica of a worker; the returned function stops it
// gracefully and waits.
func (f *fleet) start(kind worker.Kind) func() {
	f.t.Helper()
	cfg := testConfig(kind, f.url)
	if f.config != nil {
		f.config(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testLogOut(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() { done <- worker.Run(ctx, cfg, log) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				f.t.Errorf("%s stopped with %v", kind, err)
			}
		})
	}
	f.mu.Lock()
	f.stops = append(f.stops, stop)
	f.mu.Unlock()
	f.waitConsumer(kind)
	return stop
}

func (f *fleet) stopAll() {
	f.mu.Lock()
	stops := f.stops
	f.mu.Unlock()
	for _, s := range stops {
		s()
	}
}

// waitConsumer waits until the worker's consumer has a bound subscriber.
func (f *fleet) waitConsumer(kind worker.Kind) {
	f.t.Helper()
	stream := map[worker.Kind]string{worker.CommandWorker: "PERSON_COMMANDS", worker.PolicyWorker: "PERSON_EVENTS", worker.Projector: "PERSON_EVENTS"}[kind]
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := f.js.PushConsumer(context.Background(), stream, string(kind))
		if err == nil {
			if info, err := c.Info(context.Background()); err == nil && info.PushBound {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("%s never bound to its consumer", kind)
}

func (f *fleet) do(id person.ID, cmd person.Command) contract.Result {
	f.t.Helper()
	env, err := client.NewCommand(id, cmd)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.doEnv(env)
}

func (f *fleet) doEnv(env contract.CommandEnvelope) contract.Result {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := f.cl.Do(ctx, env, nil, nil)
	if err != nil {
		f.t.Fatalf("%s %s: %v", env.Type, env.PersonID, err)
	}
	return r
}

// history reads a person's events straight from the stream.
func (f *fleet) history(id person.ID) []person.Event {
	f.t.Helper()
	ctx := context.Background()
	cons, err := f.js.OrderedConsumer(ctx, "PERSON_EVENTS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"person.events." + string(id) + ".>"}})
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []person.Event
	for range info.NumPending {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			f.t.Fatal(err)
		}
		e, err := schema.Decode(m.Data())
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not reached in %s: %s", what, d, last)
}

func (f *fleet) summary(id person.ID) (projection.Summary, error) {
	var s projection.Summary
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := f.cl.Query(ctx, "get", worker.PersonQuery{PersonID: id}, &s)
	return s, err
}

func TestFleetEndToEnd(t *testing.T) {
	f := newFleet(t, nil)
	f.start(worker.CommandWorker)
	f.start(worker.PolicyWorker)
	f.start(worker.Projector)

	id := person.ID("ada")
	r := f.do(id, &person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}, Source: "crm"})
	if r.Status != contract.StatusAccepted || r.Version != 1 || len(r.Events) != 1 || r.Events[0].Type != person.EventPersonCreated {
		t.Fatalf("create: %+v", r)
	}
	r = f.do(id, &person.AddEmail{Email: "ada@example.org"})
	if r.Status != contract.StatusAccepted || r.Version != 2 {
		t.Fatalf("add_email: %+v", r)
	}
	r = f.do(id, &person.AddEmail{Email: "not-an-email"})
	if r.Status != contract.StatusRejected || r.Error == nil || r.Error.Code != "invalid_email" {
		t.Fatalf("bad email: %+v", r)
	}
	r = f.do("nobody", &person.AddEmail{Email: "x@y.org"})
	if r.Status != contract.StatusRejected || r.Error.Code != "person_not_found" {
		t.Fatalf("unknown person: %+v", r)
	}
	// Policies: the first email gets a welcome notification; example.org is
	// a reserved domain, flagged by data quality.
	eventually(t, "policy effects", 15*time.Second, func() (bool, string) {
		types := map[person.EventType]int{}
		for _, e := range f.history(id) {
			types[e.Type()]++
		}
		return types[person.EventNotificationRecorded] == 1 && types[person.EventDataQualityFlagged] == 1, fmt.Sprint(types)
	})
	// Read model converges and is served by the query service.
	eventually(t, "summary", 15*time.Second, func() (bool, string) {
		s, err := f.summary(id)
		if err != nil {
			return false, err.Error()
		}
		want := uint64(len(f.history(id)))
		return s.Version == want && s.PrimaryEmail == "ada@example.org" && s.QualityFlags == 1, fmt.Sprintf("%+v (want version %d)", s, want)
	})
	if _, err := f.summary("nobody"); err == nil {
		t.Fatal("summary of nobody: want not found")
	}
}

func testLogOut() io.Writer {
	if testing.Verbose() {
		return os.Stderr
	}
	return io.Discard
}
