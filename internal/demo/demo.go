// Package demo is `make demo`: an embedded nats-server, the real worker
// binaries as separate processes (two command-worker replicas, one
// policy-worker, one projector), a realistic load through the public
// contract, and a readable summary checked against the event stream.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/natsdev"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/proc"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/verify"
)

// Options of a demo run.
type Options struct {
	Persons        int           // default 2000
	Producers      int           // concurrent producers, default 64
	CommandWorkers int           // command-worker replicas, default 2
	Inactivity     time.Duration // auto-archive delay, default 5 s (so the timers fire during the demo)
	BinDir         string        // where the worker binaries are
	KeepDir        bool          // keep the data and log directory
	Dir            string        // parent of the data directory (default: /dev/shm if present, else the temp dir)
	Out            io.Writer
}

func (o *Options) setDefaults() {
	if o.Persons <= 0 {
		o.Persons = 2000
	}
	if o.Producers <= 0 {
		o.Producers = 64
	}
	if o.CommandWorkers <= 0 {
		o.CommandWorkers = 2
	}
	if o.Inactivity <= 0 {
		o.Inactivity = 5 * time.Second
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
}

// Run runs the demo and prints its summary. It returns an error when
// anything the summary checks is wrong.
func Run(ctx context.Context, o Options) (err error) {
	o.setDefaults()
	began := time.Now()
	base := o.Dir
	if base == "" {
		base = tmpBase()
	}
	dir, err := os.MkdirTemp(base, "personfleet-demo-*")
	if err != nil {
		return err
	}
	defer func() {
		if o.KeepDir || err != nil {
			fmt.Fprintf(o.Out, "\ndata and worker logs kept in %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()
	srv, err := natsdev.Start(natsdev.Config{Dir: dir + "/jetstream"})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	fmt.Fprintf(o.Out, "personfleet demo — embedded nats-server at %s, JetStream in %s\n", srv.URL(), dir)

	env := map[string]string{
		"PERSONFLEET_SERVER": srv.URL(), "PERSONFLEET_LOG_FORMAT": "text", "PERSONFLEET_LOG_LEVEL": "warn",
		"PERSONFLEET_INACTIVITY_PERIOD": o.Inactivity.String(),
		"PERSONFLEET_HTTP_ADDR":         "127.0.0.1:0", // each process its own port
	}
	var procs []*proc.Proc
	defer func() {
		if len(procs) > 0 { // an early return: stop what runs
			_ = proc.StopAll(context.WithoutCancel(ctx), procs, 20*time.Second)
		}
	}()
	specs := []struct{ bin, name string }{{"policy-worker", "policy-worker"}, {"projector", "projector"}}
	for i := range o.CommandWorkers {
		specs = append(specs, struct{ bin, name string }{"command-worker", fmt.Sprintf("command-worker-%d", i+1)})
	}
	for _, s := range specs {
		p, err := proc.Start(o.BinDir, s.bin, s.name, dir, env)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	nc, err := nats.Connect(srv.URL(), nats.Name("personfleet-demo"))
	if err != nil {
		return err
	}
	defer nc.Close()
	names := contract.DefaultNames()
	cl, err := client.New(nc, names)
	if err != nil {
		return err
	}
	js := cl.JetStream()
	if err := waitBound(ctx, js, names, procs); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "fleet up: %d command-worker replicas, 1 policy-worker, 1 projector (separate processes) in %.1f s\n\n",
		o.CommandWorkers, time.Since(began).Seconds())

	// The load.
	t := newTally()
	run := fmt.Sprint(time.Now().UnixNano())
	loadStart := time.Now()
	drive(ctx, cl, run, o.Persons, o.Producers, t)
	loadTime := time.Since(loadStart)
	if len(t.errors) > 0 {
		return fmt.Errorf("load: %s", strings.Join(t.errors, "; "))
	}
	dupOK, err := resubmit(ctx, cl, personID(run, o.Persons))
	if err != nil {
		return err
	}
	if err := poison(nc, names, personID(run, o.Persons+1)); err != nil {
		return err
	}

	// Let the policies, timers and projections finish.
	settleStart := time.Now()
	if err := settle(ctx, js, names, t.deactivate, o.Inactivity+30*time.Second); err != nil {
		return err
	}
	settleTime := time.Since(settleStart)

	rep, err := verify.Run(ctx, js, names, verify.Options{ReadModels: true})
	if err != nil {
		return err
	}
	dlq, err := deadLetters(ctx, js, names)
	if err != nil {
		return err
	}
	stopErr := proc.StopAll(ctx, procs, 30*time.Second)
	procs = nil

	printSummary(o, t, loadTime, settleTime, rep, dlq, dupOK, stopErr, time.Since(began))
	var problems []error
	if !rep.OK() {
		problems = append(problems, errors.New("verification found problems"))
	}
	if stopErr != nil {
		problems = append(problems, stopErr)
	}
	if !dupOK {
		problems = append(problems, errors.New("a resubmitted command got a different answer"))
	}
	if n := rep.ByType[person.EventPersonArchived]; n != t.deactivate {
		problems = append(problems, fmt.Errorf("auto-archive: %d archived, %d deactivated", n, t.deactivate))
	}
	if len(dlq) != 1 {
		problems = append(problems, fmt.Errorf("dead letters: %d, want exactly the 1 poison message", len(dlq)))
	}
	return errors.Join(problems...)
}

// tmpBase is where the demo keeps its throw-away JetStream data: tmpfs
// (/dev/shm) when there is one. On an R1 file stream, nats-server stages
// every atomic batch (a multi-event decision) in files it fsyncs, which on
// a disk caps multi-event decisions at roughly a hundred a second; the
// demo's data is deleted at the end anyway. Options.Dir overrides.
func tmpBase() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return ""
}

// waitBound waits until every worker's consumer has a subscriber.
func waitBound(ctx context.Context, js jetstream.JetStream, names contract.Names, procs []*proc.Proc) error {
	want := map[string]string{
		store.ConsumerCommandWorker: names.CommandsStream(), store.ConsumerPolicyWorker: names.EventsStream(),
		store.ConsumerProjector: names.EventsStream(), store.ConsumerTimers: names.TimersStream(),
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range procs {
			if err := p.Exited(); err != nil {
				return err
			}
		}
		bound := 0
		for c, s := range want {
			if pc, err := js.PushConsumer(ctx, s, c); err == nil {
				if info, err := pc.Info(ctx); err == nil && info.PushBound {
					bound++
				}
			}
		}
		if bound == len(want) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("workers did not attach to their consumers within 30 s")
}

// settle waits until no consumer has work left and every armed timer has
// fired (each deactivated person archived).
func settle(ctx context.Context, js jetstream.JetStream, names contract.Names, archives int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	quiet := 0
	for time.Now().Before(deadline) {
		idle, err := consumersIdle(ctx, js, names)
		if err != nil {
			return err
		}
		archived, err := countEvents(ctx, js, names, person.EventPersonArchived)
		if err != nil {
			return err
		}
		if idle && archived >= archives {
			quiet++
			if quiet >= 3 {
				return nil
			}
		} else {
			quiet = 0
		}
		time.Sleep(200 * time.Millisecond)
	}
	busy, _ := backlog(ctx, js, names)
	return fmt.Errorf("the fleet did not settle within %s: %s", limit, busy)
}

func consumersIdle(ctx context.Context, js jetstream.JetStream, names contract.Names) (bool, error) {
	busy, err := backlog(ctx, js, names)
	return busy == "", err
}

// backlog describes the consumers that still have work ("" when none).
func backlog(ctx context.Context, js jetstream.JetStream, names contract.Names) (string, error) {
	var parts []string
	for c, s := range map[string]string{
		store.ConsumerCommandWorker: names.CommandsStream(), store.ConsumerPolicyWorker: names.EventsStream(),
		store.ConsumerProjector: names.EventsStream(), store.ConsumerTimers: names.TimersStream(),
	} {
		pc, err := js.PushConsumer(ctx, s, c)
		if err != nil {
			return "", err
		}
		info, err := pc.Info(ctx)
		if err != nil {
			return "", err
		}
		if info.NumPending > 0 || info.NumAckPending > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d pending, %d unacked", c, info.NumPending, info.NumAckPending))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "; "), nil
}

func countEvents(ctx context.Context, js jetstream.JetStream, names contract.Names, t person.EventType) (int, error) {
	s, err := js.Stream(ctx, names.EventsStream())
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(names.Prefix()+".events.*."+string(t)))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n, nil
}

func deadLetters(ctx context.Context, js jetstream.JetStream, names contract.Names) ([]contract.DeadLetter, error) {
	s, err := js.Stream(ctx, names.DLQStream())
	if err != nil {
		return nil, err
	}
	var out []contract.DeadLetter
	for seq := uint64(1); seq <= s.CachedInfo().State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		dl, err := contract.DecodeDeadLetter(m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, dl)
	}
	return out, nil
}

func printSummary(o Options, t *tally, load, settle time.Duration, rep verify.Report, dlq []contract.DeadLetter, dupOK bool, stopErr error, total time.Duration) {
	w := o.Out
	acc, rej, fail := t.byStatus[contract.StatusAccepted], t.byStatus[contract.StatusRejected], t.byStatus[contract.StatusFailed]
	fmt.Fprintf(w, "Load         %d persons, %d commands from %d concurrent producers in %.1f s (each waits for its result)\n", o.Persons, t.sent, o.Producers, load.Seconds())
	fmt.Fprintf(w, "Commands     accepted %d   rejected %d   failed %d\n", acc, rej, fail)
	if len(t.byCode) > 0 {
		fmt.Fprintf(w, "             rejected on purpose (bad data in the load): %s\n", counts(t.byCode))
	}
	fmt.Fprintf(w, "Throughput   %.0f commands/s end to end   latency p50 %s  p95 %s  p99 %s\n",
		float64(t.sent)/load.Seconds(), ms(t.percentile(50)), ms(t.percentile(95)), ms(t.percentile(99)))
	fmt.Fprintf(w, "Idempotency  a create_person resubmitted with the same command id: %s\n", okWord(dupOK, "one answer, no second append", "DIFFERENT ANSWER"))
	byType := map[string]int{}
	for k, v := range rep.ByType {
		byType[string(k)] = v
	}
	fmt.Fprintf(w, "Events       %d stored for %d persons\n             %s\n", rep.Events, rep.Persons, counts(byType))
	fmt.Fprintf(w, "Policies     welcome notifications %d, data-quality flags %d, skill recommendations %d (of %d git profiles), auto-archived %d of %d deactivated (durable timer, %s)\n",
		rep.ByType[person.EventNotificationRecorded], rep.ByType[person.EventDataQualityFlagged], rep.ByType[person.EventSkillsRecommended], t.gitProfile,
		rep.ByType[person.EventPersonArchived], t.deactivate, o.Inactivity)
	fmt.Fprintf(w, "Settling     policies, timers and projections done %.1f s after the load\n", settle.Seconds())
	fmt.Fprintf(w, "DLQ          %d entries\n", len(dlq))
	for _, d := range dlq {
		fmt.Fprintf(w, "             %s  %s  seq %d  attempts %d: %s\n", d.Worker, d.Subject, d.StreamSequence, d.Attempts, d.Error)
	}
	if rep.OK() {
		fmt.Fprintf(w, "Verification every event decodes, versions contiguous, no command appended twice, %d summaries and onboarding statuses equal a replay of the events: OK\n", rep.Persons)
	} else {
		fmt.Fprintf(w, "Verification FAILED:\n")
		for _, l := range slices.Concat(rep.Undecodable, rep.VersionProblems, rep.DuplicateCmds, rep.ReplayProblems, rep.ReadModelDiffs) {
			fmt.Fprintf(w, "             %s\n", l)
		}
	}
	fmt.Fprintf(w, "Lifecycle    %s\n", counts(rep.ByStatus))
	fmt.Fprintf(w, "Shutdown     %s\n", okWord(stopErr == nil, "every worker stopped cleanly on SIGTERM", fmt.Sprint(stopErr)))
	fmt.Fprintf(w, "Total        %.1f s\n", total.Seconds())
}

func counts(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func okWord(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}
