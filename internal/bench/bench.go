// Package bench is `personctl bench` (make bench-e2e): the fleet's real
// binaries as processes on an embedded nats-server, driven end to end, side
// by side with a baseline that does the same JetStream operations per
// command with plain nats.go and no framework, in the same run.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/natsdev"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/proc"
	"github.com/personfleet/personfleet/internal/schema"
	"github.com/personfleet/personfleet/internal/store"
)

// Options of a benchmark run.
type Options struct {
	Commands       int           // commands in the timed phase (default 20,000)
	Persons        int           // persons they are spread over (default 2,000)
	Producers      int           // concurrent producers, each waiting for its result (default 64)
	CommandWorkers int           // command-worker replicas (default 1)
	Concurrency    int           // messages in flight per worker process (default 64)
	CatchUpEvents  int           // events pre-filled for the projector catch-up (default 100,000; 0: skip)
	LatencyRun     time.Duration // length of the half-rate latency run (default 10 s; 0: skip)
	Baseline       bool          // run the plain nats.go baseline too
	BinDir         string
	Dir            string // parent of the data directory (default: the temp dir)
	SyncAlways     bool   // the embedded server fsyncs every write (durability's cost)
	Out            io.Writer
}

func (o *Options) setDefaults() {
	if o.Commands <= 0 {
		o.Commands = 20000
	}
	if o.Persons <= 0 {
		o.Persons = 2000
	}
	if o.Producers <= 0 {
		o.Producers = 64
	}
	if o.CommandWorkers <= 0 {
		o.CommandWorkers = 1
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
}

// Phase is one measured run of commands.
type Phase struct {
	Commands  int           `json:"commands"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	PerSecond float64       `json:"per_second"`
	P50       time.Duration `json:"p50_ns"`
	P95       time.Duration `json:"p95_ns"`
	P99       time.Duration `json:"p99_ns"`
	Failed    int           `json:"failed"`
}

// ProcessUsage is one worker process's cost.
type ProcessUsage struct {
	Name         string        `json:"name"`
	CPU          time.Duration `json:"cpu_ns"`
	CPUPer1000   time.Duration `json:"cpu_per_1000_commands_ns"`
	PeakRSSBytes int64         `json:"peak_rss_bytes"`
}

// Report is what a run measured.
type Report struct {
	Options Options `json:"-"`
	// Fleet is the command path alone (command-workers only), what the
	// baseline does too; Full is the same load with the policy-worker and
	// the projector running alongside on the same cores.
	Fleet         Phase          `json:"fleet"`
	Full          Phase          `json:"full_fleet"`
	Baseline      *Phase         `json:"baseline,omitempty"`
	Ratio         float64        `json:"fleet_to_baseline"`
	HalfRate      *Phase         `json:"half_rate,omitempty"`
	PolicyEvents  float64        `json:"policy_events_per_second"`
	ProjectorRate float64        `json:"projector_events_per_second"`
	ProjectionLag time.Duration  `json:"projection_lag_ns"`
	Processes     []ProcessUsage `json:"processes"`
	CatchUp       float64        `json:"projector_catch_up_per_second,omitempty"`
	PlainConsume  float64        `json:"plain_consume_per_second,omitempty"`
	CatchUpRatio  float64        `json:"catch_up_ratio,omitempty"`
}

// Run runs the benchmark and prints its report.
func Run(ctx context.Context, o Options) (Report, error) {
	o.setDefaults()
	rep := Report{Options: o}
	dir, err := os.MkdirTemp(o.Dir, "personfleet-bench-*")
	if err != nil {
		return rep, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	srv, err := natsdev.Start(natsdev.Config{Dir: dir + "/jetstream", SyncAlways: o.SyncAlways})
	if err != nil {
		return rep, err
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.URL(), nats.Name("personfleet-bench"))
	if err != nil {
		return rep, err
	}
	defer nc.Close()
	fmt.Fprintf(o.Out, "bench: embedded nats-server (file storage in %s), %d command-worker(s) × concurrency %d, policy-worker, projector; %d producers\n",
		dir, o.CommandWorkers, o.Concurrency, o.Producers)

	if err := fleetPhase(ctx, srv.URL(), nc, dir, o, &rep); err != nil {
		return rep, err
	}
	if o.Baseline {
		if err := baselinePhase(ctx, nc, o, &rep); err != nil {
			return rep, err
		}
		rep.Ratio = rep.Fleet.PerSecond / rep.Baseline.PerSecond
	}
	if o.CatchUpEvents > 0 {
		if err := catchUpPhase(ctx, srv.URL(), nc, dir, o, &rep); err != nil {
			return rep, err
		}
	}
	print(o.Out, rep)
	return rep, nil
}

func workerEnv(url string, o Options) map[string]string {
	return map[string]string{
		"PERSONFLEET_SERVER": url, "PERSONFLEET_LOG_LEVEL": "warn", "PERSONFLEET_LOG_FORMAT": "text",
		"PERSONFLEET_HTTP_ADDR": "127.0.0.1:0", "PERSONFLEET_CONCURRENCY": fmt.Sprint(o.Concurrency),
	}
}

func fleetPhase(ctx context.Context, url string, nc *nats.Conn, dir string, o Options, rep *Report) error {
	names := contract.DefaultNames()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	var procs []*proc.Proc
	defer func() { _ = proc.StopAll(context.WithoutCancel(ctx), procs, 30*time.Second) }()
	start := func(bin string) error {
		p, err := proc.Start(o.BinDir, bin, fmt.Sprintf("%s-%d", bin, len(procs)), dir, workerEnv(url, o))
		if err == nil {
			procs = append(procs, p)
		}
		return err
	}
	for range o.CommandWorkers {
		if err := start("command-worker"); err != nil {
			return err
		}
	}
	if err := waitBound(ctx, js, names, store.ConsumerCommandWorker); err != nil {
		return err
	}
	cl, err := client.New(nc, names)
	if err != nil {
		return err
	}
	// Untimed: the persons exist before the timed phases.
	if _, err := drive(ctx, cl, o.Persons, o.Producers, 0, func(i int) (person.ID, person.Command) {
		return personID(i), &person.CreatePerson{Name: person.Name{GivenName: "Bench", FamilyName: fmt.Sprint(i)}}
	}); err != nil {
		return err
	}
	// 1. The command path alone, as the baseline.
	if rep.Fleet, err = drive(ctx, cl, o.Commands, o.Producers, 0, attributeCommand(o.Persons)); err != nil {
		return err
	}
	// 2. The policy-worker and the projector catch up on those events.
	events, err := streamMsgs(ctx, js, names.EventsStream())
	if err != nil {
		return err
	}
	followStart := time.Now()
	for _, bin := range []string{"policy-worker", "projector"} {
		if err := start(bin); err != nil {
			return err
		}
	}
	if err := waitBound(ctx, js, names, store.ConsumerPolicyWorker, store.ConsumerProjector); err != nil {
		return err
	}
	if err := waitIdle(ctx, js, names, 5*time.Minute); err != nil {
		return err
	}
	rep.ProjectorRate = float64(events) / time.Since(followStart).Seconds()
	rep.PolicyEvents = rep.ProjectorRate
	// 3. The whole fleet at once: the same load with everything running.
	before := usage(procs)
	if rep.Full, err = drive(ctx, cl, o.Commands, o.Producers, 0, attributeCommand(o.Persons)); err != nil {
		return err
	}
	loadEnd := time.Now()
	if err := waitIdle(ctx, js, names, 5*time.Minute); err != nil {
		return err
	}
	rep.ProjectionLag = time.Since(loadEnd)
	after := usage(procs)
	for i, p := range procs {
		cpu := after[i].CPU - before[i].CPU
		rep.Processes = append(rep.Processes, ProcessUsage{
			Name: p.Name(), CPU: cpu, CPUPer1000: cpu * 1000 / time.Duration(o.Commands), PeakRSSBytes: after[i].PeakRSS,
		})
	}
	if o.LatencyRun > 0 {
		rate := rep.Fleet.PerSecond / 2
		n := int(rate * o.LatencyRun.Seconds())
		half, err := drive(ctx, cl, n, o.Producers, rate, attributeCommand(o.Persons))
		if err != nil {
			return err
		}
		rep.HalfRate = &half
	}
	return nil
}

func baselinePhase(ctx context.Context, nc *nats.Conn, o Options, rep *Report) error {
	names, _ := contract.NewNames("base")
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := store.Provision(ctx, js, store.Settings{Names: names}, "none"); err != nil {
		return err
	}
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range o.CommandWorkers {
		bnc, err := nats.Connect(nc.ConnectedUrl())
		if err != nil {
			return err
		}
		defer bnc.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = runBaseline(bctx, bnc, names, o.Concurrency)
		}()
	}
	cl, err := client.New(nc, names)
	if err != nil {
		return err
	}
	p, err := drive(ctx, cl, o.Commands, o.Producers, 0, attributeCommand(o.Persons))
	cancel()
	wg.Wait()
	if err != nil {
		return err
	}
	rep.Baseline = &p
	return nil
}

// catchUpPhase pre-fills an events stream and times the projector reading
// it from the start, against plain consumption (pull, ack) of the same
// stream.
func catchUpPhase(ctx context.Context, url string, nc *nats.Conn, dir string, o Options, rep *Report) error {
	names, _ := contract.NewNames("catchup")
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := store.Provision(ctx, js, store.Settings{Names: names}, "none"); err != nil {
		return err
	}
	if err := prefill(ctx, js, names, o.CatchUpEvents); err != nil {
		return err
	}
	// Plain consumption: a pull consumer acking every message.
	start := time.Now()
	cons, err := js.CreateOrUpdateConsumer(ctx, names.EventsStream(), jetstream.ConsumerConfig{Durable: "plain", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4096})
	if err != nil {
		return err
	}
	got := 0
	for got < o.CatchUpEvents {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		for m := range batch.Messages() {
			if _, err := schema.Decode(m.Data()); err != nil { // the same decode the projector does
				return err
			}
			_ = m.Ack()
			got++
		}
		if batch.Error() != nil {
			return batch.Error()
		}
	}
	rep.PlainConsume = float64(got) / time.Since(start).Seconds()

	env := workerEnv(url, o)
	env["PERSONFLEET_PREFIX"] = "catchup"
	start = time.Now()
	p, err := proc.Start(o.BinDir, "projector", "projector-catchup", dir, env)
	if err != nil {
		return err
	}
	defer func() { _ = p.Stop(30 * time.Second) }()
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		info, err := consumerInfo(ctx, js, names.EventsStream(), store.ConsumerProjector)
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Consumer >= uint64(o.CatchUpEvents) {
			rep.CatchUp = float64(o.CatchUpEvents) / time.Since(start).Seconds()
			rep.CatchUpRatio = rep.CatchUp / rep.PlainConsume
			return nil
		}
		if err := p.Exited(); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("projector catch-up did not finish in 10 minutes")
}

// prefill publishes n events of n/10 persons (a creation and nine
// attribute changes each) asynchronously.
func prefill(ctx context.Context, js jetstream.JetStream, names contract.Names, n int) error {
	const perPerson = 10
	at := time.Now().UTC()
	for i := 0; i < n; i++ {
		id := person.ID(fmt.Sprintf("cu-%06d", i/perPerson))
		v := uint64(i%perPerson) + 1
		var pl person.Payload = &person.AttributeSet{Key: "k", Value: fmt.Sprint(v)}
		if v == 1 {
			pl = &person.PersonCreated{Name: person.Name{GivenName: "Catch", FamilyName: "Up"}}
		}
		e := person.Event{ID: fmt.Sprintf("cu-%d", i), PersonID: id, Version: v, OccurredAt: at, CausationID: fmt.Sprintf("c-%d", i), Payload: pl}
		data, err := schema.Encode(&e)
		if err != nil {
			return err
		}
		if _, err := js.PublishAsync(names.Event(id, e.Type()), data); err != nil {
			return err
		}
		if i%4096 == 4095 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-time.After(time.Minute):
		return errors.New("prefill: acks did not arrive")
	}
}

func personID(i int) person.ID { return person.ID(fmt.Sprintf("bench-%06d", i)) }

// attributeCommand is the timed workload: one single-event command
// (set_attribute with a fresh value) on person i mod persons.
func attributeCommand(persons int) func(i int) (person.ID, person.Command) {
	return func(i int) (person.ID, person.Command) {
		return personID(i % persons), &person.SetAttribute{Key: "bench", Value: fmt.Sprint(i)}
	}
}

// drive sends n commands from `producers` concurrent producers, each
// waiting for its final result; rate > 0 paces the sends (open loop at that
// many commands per second).
func drive(ctx context.Context, cl *client.Client, n, producers int, rate float64, gen func(int) (person.ID, person.Command)) (Phase, error) {
	var next atomic.Int64
	lat := make([]time.Duration, n)
	var failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if rate > 0 {
					due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
				id, c := gen(i)
				env, err := client.NewCommand(id, c)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				t0 := time.Now()
				cctx, cancel := context.WithTimeout(ctx, time.Minute)
				r, err := cl.Do(cctx, env, nil, nil)
				cancel()
				lat[i] = time.Since(t0)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				if r.Status != contract.StatusAccepted {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Phase{}, firstErr
	}
	el := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
	return Phase{Commands: n, Elapsed: el, PerSecond: float64(n) / el.Seconds(), P50: pct(0.50), P95: pct(0.95), P99: pct(0.99), Failed: int(failed.Load())}, nil
}

func usage(procs []*proc.Proc) []procUsage {
	out := make([]procUsage, len(procs))
	for i, p := range procs {
		out[i], _ = readUsage(p.Pid())
	}
	return out
}

func streamMsgs(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.Msgs, nil
}

func consumerInfo(ctx context.Context, js jetstream.JetStream, stream, consumer string) (*jetstream.ConsumerInfo, error) {
	pc, err := js.PushConsumer(ctx, stream, consumer)
	if err != nil {
		return nil, err
	}
	return pc.Info(ctx)
}

func waitBound(ctx context.Context, js jetstream.JetStream, names contract.Names, consumers ...string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		bound := 0
		for _, c := range consumers {
			stream := names.EventsStream()
			if c == store.ConsumerCommandWorker {
				stream = names.CommandsStream()
			}
			if info, err := consumerInfo(ctx, js, stream, c); err == nil && info.PushBound {
				bound++
			}
		}
		if bound == len(consumers) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("workers did not attach within 30 s")
}

// waitIdle waits until the fleet's three consumers have nothing pending.
func waitIdle(ctx context.Context, js jetstream.JetStream, names contract.Names, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		idle := true
		for c, s := range map[string]string{store.ConsumerCommandWorker: names.CommandsStream(), store.ConsumerPolicyWorker: names.EventsStream(), store.ConsumerProjector: names.EventsStream()} {
			info, err := consumerInfo(ctx, js, s, c)
			if err != nil {
				return err
			}
			if info.NumPending > 0 || info.NumAckPending > 0 {
				idle = false
			}
		}
		if idle {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the fleet did not go idle within %s", limit)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func print(w io.Writer, r Report) {
	f := r.Fleet
	fmt.Fprintf(w, "\nfleet     %7.0f commands/s  command path alone (%d commands in %.1f s; p50 %s p95 %s p99 %s; not accepted %d)\n",
		f.PerSecond, f.Commands, f.Elapsed.Seconds(), ms(f.P50), ms(f.P95), ms(f.P99), f.Failed)
	fmt.Fprintf(w, "full      %7.0f commands/s  the same with the policy-worker and projector running (p50 %s p99 %s)\n",
		r.Full.PerSecond, ms(r.Full.P50), ms(r.Full.P99))
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "baseline  %7.0f commands/s  (plain nats.go: consume, append with expected sequence, result, ack; p50 %s p99 %s)\n",
			b.PerSecond, ms(b.P50), ms(b.P99))
		fmt.Fprintf(w, "ratio     %7.0f %%          fleet / baseline\n", r.Ratio*100)
	}
	if h := r.HalfRate; h != nil {
		fmt.Fprintf(w, "half rate %7.0f commands/s  latency p50 %s p95 %s p99 %s\n", h.PerSecond, ms(h.P50), ms(h.P95), ms(h.P99))
	}
	fmt.Fprintf(w, "events    %7.0f events/s through the policy-worker and the projector (catching up); projection lag after the full run %s\n", r.ProjectorRate, ms(r.ProjectionLag))
	for _, p := range r.Processes {
		fmt.Fprintf(w, "process   %-18s CPU %6.2f s per 1,000 commands (full run)   peak RSS %5.1f MiB\n", p.Name, p.CPUPer1000.Seconds(), float64(p.PeakRSSBytes)/(1<<20))
	}
	if r.CatchUp > 0 {
		fmt.Fprintf(w, "catch-up  %7.0f events/s projector over a pre-filled stream vs %.0f events/s plain consumption (%.0f %%)\n",
			r.CatchUp, r.PlainConsume, r.CatchUpRatio*100)
	}
}

// JSON renders the report.
func (r Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }
