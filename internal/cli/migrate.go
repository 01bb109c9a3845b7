package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/schema"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/verify"
)

// Headers and stream metadata of a migration.
const (
	// HeaderMigratedFromSeq, on every copied event, is its sequence in the
	// source stream: the last copied event says where a resumed copy goes on.
	HeaderMigratedFromSeq = "Person-Migrated-From-Seq"
	// HeaderMigratedFrom names the source stream.
	HeaderMigratedFrom = "Person-Migrated-From"

	metaSource     = "personfleet.migrated_from"   // on the target: its source stream
	metaState      = "personfleet.migration_state" // on the target: copying, switched
	metaArchivedTo = "personfleet.archived_to"     // on the source, after the switch
	metaDedup      = "personfleet.duplicates"      // on the target: the source's duplicate window, restored at the switch

	stateCopying  = "copying"
	stateSwitched = "switched"
)

type migrateOptions struct {
	toCurrent bool
	dryRun    bool
	apply     bool
	target    string
}

// typeVersionCount is how many events of a type are stored at a version.
type typeVersionCount struct {
	Type    person.EventType `json:"type"`
	Version int              `json:"schema_version"`
	Current int              `json:"current_version"`
	Events  int              `json:"events"`
}

// upcastProblem is an event that cannot be upcast.
type upcastProblem struct {
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	Type    string `json:"type,omitempty"`
	Version int    `json:"schema_version,omitempty"`
	Error   string `json:"error"`
}

// migrateReport is what migrate found and did.
type migrateReport struct {
	Stream       string             `json:"stream"`
	Target       string             `json:"target"`
	DryRun       bool               `json:"dry_run"`
	Events       int                `json:"events"`
	LastSeq      uint64             `json:"last_seq"`
	Counts       []typeVersionCount `json:"counts"`
	ToUpcast     int                `json:"to_upcast"`
	AtCurrent    int                `json:"at_current"`
	CannotUpcast []upcastProblem    `json:"cannot_upcast"`
	// State: planned (dry run), nothing_to_do, copied (waiting for the
	// workers to stop), switched, already_switched, failed.
	State        string           `json:"state"`
	TargetExists bool             `json:"target_exists"`
	CopiedBefore uint64           `json:"resumed_after_source_seq,omitempty"`
	Copied       int              `json:"copied"`
	Verify       *verify.Report   `json:"verify,omitempty"`
	Consumers    []consumerSwitch `json:"consumers,omitempty"`
	Blockers     []string         `json:"blockers,omitempty"`
	Next         string           `json:"next,omitempty"`
}

// consumerSwitch is one worker consumer recreated on the target.
type consumerSwitch struct {
	Name           string `json:"name"`
	OldAckFloor    uint64 `json:"old_ack_floor"`
	NewStartSeq    uint64 `json:"new_start_seq"`
	AlreadyCreated bool   `json:"already_created,omitempty"`
}

func (a *app) migrateCmd() *cobra.Command {
	var o migrateOptions
	c := &cobra.Command{
		Use:   "migrate --to-current [--dry-run | --apply] [--target NAME]",
		Short: "Rewrite the event store at the current schema versions (dry run by default)",
		Long: `migrate reads every event of the events stream (<PREFIX>_EVENTS, or
--events-stream) and reports how many events of each type are stored at each
schema version, how many are not at their type's current version, and every
event that cannot be upcast. That is all it does without --apply (the
default is --dry-run): nothing is written.

With --apply it writes the upcast history to a new stream (--target,
default <stream>_V2, _V3, …), in the source's order, so every person's
events keep their versions; verifies the new stream (every event decodes
and is current, versions contiguous, valid transitions, no command twice);
and switches the fleet to it:

  1. the copy runs while the fleet runs: the new stream captures a
     temporary subject space (<prefix>.migrating.<TARGET>.>) and a subject
     transform stores every copied event under its real subject;
  2. the switch needs every worker stopped (scale the command-worker,
     policy-worker and projector to 0): migrate checks that no consumer has
     a bound subscriber, and otherwise stops after the copy (exit 1) — run
     it again once they are stopped;
  3. it copies the events appended since (catch-up) and verifies;
  4. it recreates the policy-worker and projector consumers on the new
     stream, each starting after the last event its old consumer had
     acknowledged, and deletes the old ones;
  5. it moves <prefix>.events.> to the new stream (the old one keeps its
     events under <prefix>.archived.<OLD>.>, as an archive);
  6. restart the workers with --events-stream <TARGET>
     (PERSONFLEET_EVENTS_STREAM), and personctl with the same.

It is resumable: every copied event carries its source sequence
(header ` + HeaderMigratedFromSeq + `), and a run after an interruption
continues after the target's last event; every switch step checks whether
it was done. See docs/migrate.md.

Exit codes: 0 done (or, dry run, nothing wrong), 1 events that cannot be
upcast, a failed verification, or workers still running at the switch.`,
		Example: `  personctl migrate --to-current                 # dry run: the report
  personctl migrate --to-current --apply         # copy, then switch when the workers are stopped
  PERSONFLEET_EVENTS_STREAM=PERSON_EVENTS_V2 command-worker …`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !o.toCurrent {
				return withCode(ExitUsage, errors.New("migrate needs --to-current (the only migration there is)"))
			}
			if o.apply && cmd.Flags().Changed("dry-run") && o.dryRun {
				return withCode(ExitUsage, errors.New("--dry-run and --apply exclude each other"))
			}
			if o.target != "" && !contract.IsValidStreamName(o.target) {
				return withCode(ExitUsage, fmt.Errorf("--target %q is not a valid stream name", o.target))
			}
			cl, done, err := a.connect()
			if err != nil {
				return err
			}
			defer done()
			m := &migrator{a: a, js: cl.JetStream(), names: cl.Names()}
			rep, err := m.run(cmd.Context(), o)
			if rep != nil {
				if a.json {
					_ = printJSON(a.out, rep)
				} else {
					a.printMigrate(rep)
				}
			}
			return err
		},
	}
	c.Flags().BoolVar(&o.toCurrent, "to-current", false, "upcast every event to its type's current schema version")
	c.Flags().BoolVar(&o.dryRun, "dry-run", true, "report only; change nothing (the default)")
	c.Flags().BoolVar(&o.apply, "apply", false, "write the new stream, verify it and switch the fleet to it")
	c.Flags().StringVar(&o.target, "target", "", "name of the new stream (default: <stream>_V2, or the next _V<n>)")
	return c
}

// NextStreamName is the default migration target of a stream:
// PERSON_EVENTS → PERSON_EVENTS_V2, PERSON_EVENTS_V2 → PERSON_EVENTS_V3.
func NextStreamName(stream string) string {
	if m := versionSuffix.FindStringSubmatch(stream); m != nil {
		n, _ := strconv.Atoi(m[2])
		return m[1] + "_V" + strconv.Itoa(n+1)
	}
	return stream + "_V2"
}

var versionSuffix = regexp.MustCompile(`^(.*)_V(\d+)$`)

type migrator struct {
	a     *app
	js    jetstream.JetStream
	names contract.Names
}

func (m *migrator) tempSubjects(target string) string {
	return m.names.Prefix() + ".migrating." + target + ".>"
}

func (m *migrator) archiveSubjects(source string) string {
	return m.names.Prefix() + ".archived." + source + ".>"
}

func (m *migrator) run(ctx context.Context, o migrateOptions) (*migrateReport, error) {
	source := m.names.EventsStream()
	rep := &migrateReport{Stream: source, DryRun: !o.apply, CannotUpcast: []upcastProblem{}, Counts: []typeVersionCount{}}
	src, err := m.js.Stream(ctx, source)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", source, err)
	}
	srcInfo := src.CachedInfo()
	if to := srcInfo.Config.Metadata[metaArchivedTo]; to != "" {
		// Archived by a migration: switched, or interrupted mid-switch.
		tgt, err := m.js.Stream(ctx, to)
		if err == nil && slices.Contains(tgt.CachedInfo().Config.Subjects, m.names.Events()) {
			rep.Target, rep.State = to, "already_switched"
			rep.Next = fmt.Sprintf("%s was migrated to %s: run the fleet and personctl with --events-stream %s", source, to, to)
			return rep, nil
		}
		if o.target == "" {
			o.target = to
		}
	}
	rep.Target = o.target
	if rep.Target == "" {
		rep.Target = NextStreamName(source)
	}
	if rep.Target == source {
		return nil, withCode(ExitUsage, errors.New("--target is the source stream"))
	}
	if err := m.scan(ctx, source, rep); err != nil {
		return rep, err
	}
	tgt, err := m.js.Stream(ctx, rep.Target)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return rep, err
	default:
		rep.TargetExists = true
		cfg := tgt.CachedInfo().Config
		if cfg.Metadata[metaSource] != source {
			return rep, withCode(ExitFailure, fmt.Errorf("stream %s exists and is not a migration of %s: give another --target", rep.Target, source))
		}
		if last, err := lastCopied(ctx, tgt); err == nil {
			rep.CopiedBefore = last
		}
	}
	if len(rep.CannotUpcast) > 0 {
		rep.State = "failed"
		return rep, withCode(ExitFailure, fmt.Errorf("%d events cannot be upcast: fix or remove them first (nothing was written)", len(rep.CannotUpcast)))
	}
	if !o.apply {
		rep.State = "planned"
		if rep.ToUpcast == 0 && !rep.TargetExists {
			rep.State = "nothing_to_do"
		}
		return rep, nil
	}
	if rep.ToUpcast == 0 && !rep.TargetExists {
		rep.State = "nothing_to_do"
		return rep, nil
	}
	return rep, m.apply(ctx, rep, srcInfo)
}

// scan reads every event of the source: counts by type and version, and
// the events that cannot be upcast.
func (m *migrator) scan(ctx context.Context, source string, rep *migrateReport) error {
	counts := map[person.EventType]map[int]int{}
	bar := m.a.newProgress(0, "scan "+source, "events")
	defer bar.finish()
	err := readStream(ctx, m.js, source, 1, func(total uint64) { bar.setTotal(int64(total)) }, func(msg jetstream.Msg, seq uint64) error {
		rep.Events++
		rep.LastSeq = seq
		bar.add(1)
		h, perr := schema.Peek(msg.Data())
		_, from, err := schema.Upcast(msg.Data())
		if err != nil {
			p := upcastProblem{Seq: seq, Subject: msg.Subject(), Error: err.Error(), Version: from}
			if perr == nil || h.Type != "" {
				p.Type = string(h.Type)
			}
			rep.CannotUpcast = append(rep.CannotUpcast, p)
			return nil
		}
		if counts[h.Type] == nil {
			counts[h.Type] = map[int]int{}
		}
		counts[h.Type][from]++
		if from < schema.CurrentVersion(h.Type) {
			rep.ToUpcast++
		} else {
			rep.AtCurrent++
		}
		return nil
	})
	if err != nil {
		return err
	}
	for t, byVer := range counts {
		for v, n := range byVer {
			rep.Counts = append(rep.Counts, typeVersionCount{Type: t, Version: v, Current: schema.CurrentVersion(t), Events: n})
		}
	}
	sort.Slice(rep.Counts, func(i, j int) bool {
		if rep.Counts[i].Type != rep.Counts[j].Type {
			return rep.Counts[i].Type < rep.Counts[j].Type
		}
		return rep.Counts[i].Version < rep.Counts[j].Version
	})
	return nil
}

// readStream calls fn for every message of a stream from sequence from, in
// order, up to the last message when it starts (total is called with the
// number of messages to read).
func readStream(ctx context.Context, js jetstream.JetStream, stream string, from uint64, total func(uint64), fn func(m jetstream.Msg, seq uint64) error) error {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	info := st.CachedInfo()
	last := info.State.LastSeq
	if info.State.Msgs == 0 || from > last {
		if total != nil {
			total(0)
		}
		return nil
	}
	if total != nil {
		n := info.State.Msgs
		if from > info.State.FirstSeq {
			n = last - from + 1
		}
		total(n)
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
	})
	if err != nil {
		return err
	}
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return err
			}
			seq := meta.Sequence.Stream
			if seq > last {
				return nil
			}
			if err := fn(msg, seq); err != nil {
				return err
			}
			if seq == last {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("reading %s: no message after sequence %d before %d", stream, from, last)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// lastCopied reads the source sequence of the target's last event (0 when
// it has none).
func lastCopied(ctx context.Context, tgt jetstream.Stream) (uint64, error) {
	info, err := tgt.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	msg, err := tgt.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(msg.Header.Get(HeaderMigratedFromSeq), 10, 64)
}

func (m *migrator) apply(ctx context.Context, rep *migrateReport, srcInfo *jetstream.StreamInfo) error {
	source := srcInfo.Config.Name
	tgt, err := m.ensureTarget(ctx, rep, srcInfo.Config)
	if err != nil {
		return err
	}
	if tgt.CachedInfo().Config.Metadata[metaState] == stateSwitched && slices.Contains(tgt.CachedInfo().Config.Subjects, m.names.Events()) {
		rep.State = "already_switched"
		rep.Next = fmt.Sprintf("run the fleet and personctl with --events-stream %s", rep.Target)
		return nil
	}
	// 1. Copy while the fleet runs.
	if err := m.copy(ctx, source, tgt, rep); err != nil {
		return err
	}
	// 2. The switch needs every worker stopped.
	if rep.Blockers, err = m.blockers(ctx, source); err != nil {
		return err
	}
	if len(rep.Blockers) > 0 {
		rep.State = "copied"
		rep.Next = "stop every command-worker, policy-worker and projector (scale them to 0), then run `personctl migrate --to-current --apply` again: it copies what was appended since and switches"
		return withCode(ExitFailure, fmt.Errorf("copied to %s; not switched while workers run: %s", rep.Target, strings.Join(rep.Blockers, "; ")))
	}
	// 3. Archive the source (no append can reach it any more), copy what
	// was appended since, and verify; a failed verification gives the
	// source its subjects back.
	if err := m.archiveSource(ctx, source, rep.Target); err != nil {
		return err
	}
	if err := m.copy(ctx, source, tgt, rep); err != nil {
		return err
	}
	if err := m.verify(ctx, source, rep); err != nil {
		if rerr := m.restoreSource(ctx, source); rerr != nil {
			return errors.Join(err, fmt.Errorf("restoring %s's subjects: %w", source, rerr))
		}
		return err
	}
	// 4. Consumers on the new stream, after what the old ones acknowledged.
	if err := m.switchConsumers(ctx, source, tgt, rep); err != nil {
		return err
	}
	// 5. The target owns <prefix>.events.>.
	if err := m.takeSubjects(ctx, tgt); err != nil {
		return err
	}
	rep.State = "switched"
	rep.Next = fmt.Sprintf("restart the workers with --events-stream %s (PERSONFLEET_EVENTS_STREAM=%s); use the same with personctl. %s stays as an archive on %s",
		rep.Target, rep.Target, source, m.archiveSubjects(source))
	return nil
}

// ensureTarget creates the target stream (the source's settings, a
// temporary subject space, a subject transform to the real subjects), or
// returns the existing one.
func (m *migrator) ensureTarget(ctx context.Context, rep *migrateReport, src jetstream.StreamConfig) (jetstream.Stream, error) {
	if rep.TargetExists {
		return m.js.Stream(ctx, rep.Target)
	}
	temp := m.tempSubjects(rep.Target)
	cfg := jetstream.StreamConfig{
		Name:        rep.Target,
		Description: fmt.Sprintf("person events: the event store (migrated from %s to the current schema versions)", src.Name),
		Subjects:    []string{temp},
		SubjectTransform: &jetstream.SubjectTransformConfig{
			Source: temp, Destination: m.names.Events(),
		},
		Retention: src.Retention, MaxConsumers: src.MaxConsumers, MaxMsgs: src.MaxMsgs, MaxBytes: src.MaxBytes,
		Discard: src.Discard, MaxAge: src.MaxAge, MaxMsgsPerSubject: src.MaxMsgsPerSubject, MaxMsgSize: src.MaxMsgSize,
		Storage: src.Storage, Replicas: src.Replicas, Duplicates: copyDedupWindow, Placement: src.Placement,
		DenyDelete: src.DenyDelete, DenyPurge: src.DenyPurge, AllowDirect: src.AllowDirect,
		AllowAtomicPublish: src.AllowAtomicPublish, Compression: src.Compression,
		Metadata: map[string]string{metaSource: src.Name, metaState: stateCopying,
			metaDedup: src.Duplicates.String()},
	}
	st, err := m.js.CreateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", rep.Target, err)
	}
	return st, nil
}

// copyDedupWindow is the target's duplicate window while it is copied
// into: the copy's safety is the expected last sequence of every publish,
// and a long window would keep every copied event id in the server's
// memory. The switch restores the source's window.
const copyDedupWindow = 5 * time.Second

// copyWindow bounds the asynchronous publishes in flight.
const copyWindow = 256

// copy appends to the target, upcast, every source event after the last
// one copied, in order. Each publish expects the target's last sequence,
// so two copies can never interleave; each copied event carries its source
// sequence for a resumed copy.
func (m *migrator) copy(ctx context.Context, source string, tgt jetstream.Stream, rep *migrateReport) error {
	from, err := lastCopied(ctx, tgt)
	if err != nil {
		return fmt.Errorf("%s: where the copy stopped: %w", rep.Target, err)
	}
	info, err := tgt.Info(ctx)
	if err != nil {
		return err
	}
	expect := info.State.LastSeq
	prefix := m.names.Prefix() + ".events."
	temp := strings.TrimSuffix(m.tempSubjects(rep.Target), ">")
	bar := m.a.newProgress(0, "copy to "+rep.Target, "events")
	defer bar.finish()
	var pending []jetstream.PubAckFuture
	wait := func() error {
		for _, f := range pending {
			select {
			case ack := <-f.Ok():
				if ack.Duplicate {
					return fmt.Errorf("copy to %s: event %s was already in the target's duplicate window: the source holds it twice (run verify)", rep.Target, f.Msg().Header.Get(nats.MsgIdHdr))
				}
			case err := <-f.Err():
				return fmt.Errorf("copy to %s (source seq %s): %w", rep.Target, f.Msg().Header.Get(HeaderMigratedFromSeq), err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		pending = pending[:0]
		return nil
	}
	err = readStream(ctx, m.js, source, from+1, func(total uint64) { bar.setTotal(int64(total)) }, func(msg jetstream.Msg, seq uint64) error {
		out, _, err := schema.Upcast(msg.Data())
		if err != nil {
			return withCode(ExitFailure, fmt.Errorf("source seq %d on %s cannot be upcast: %w", seq, msg.Subject(), err))
		}
		rest, ok := strings.CutPrefix(msg.Subject(), prefix)
		if !ok {
			return withCode(ExitFailure, fmt.Errorf("source seq %d: subject %s is not an event subject", seq, msg.Subject()))
		}
		pm := nats.NewMsg(temp + rest)
		pm.Data = out
		for k, vs := range msg.Headers() {
			if skipHeader(k) {
				continue
			}
			for _, v := range vs {
				pm.Header.Add(k, v)
			}
		}
		pm.Header.Set(HeaderMigratedFrom, source)
		pm.Header.Set(HeaderMigratedFromSeq, strconv.FormatUint(seq, 10))
		f, err := m.js.PublishMsgAsync(pm, jetstream.WithExpectLastSequence(expect))
		if err != nil {
			return fmt.Errorf("copy to %s: %w", rep.Target, err)
		}
		expect++
		pending = append(pending, f)
		rep.Copied++
		bar.add(1)
		if len(pending) >= copyWindow {
			return wait()
		}
		return nil
	})
	if err != nil {
		_ = wait()
		return err
	}
	return wait()
}

// skipHeader drops the headers of the original append that must not be
// replayed: optimistic-concurrency expectations and atomic-batch markers.
func skipHeader(k string) bool {
	l := strings.ToLower(k)
	return strings.HasPrefix(l, "nats-expected-") || strings.HasPrefix(l, "nats-batch-") ||
		l == strings.ToLower(HeaderMigratedFrom) || l == strings.ToLower(HeaderMigratedFromSeq)
}

// blockers lists the worker consumers that still have a bound subscriber.
func (m *migrator) blockers(ctx context.Context, source string) ([]string, error) {
	var out []string
	check := func(stream, name string) error {
		c, err := m.js.PushConsumer(ctx, stream, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if c.CachedInfo().PushBound {
			out = append(out, fmt.Sprintf("consumer %s on %s has a bound subscriber", name, stream))
		}
		return nil
	}
	for _, c := range [][2]string{
		{m.names.CommandsStream(), store.ConsumerCommandWorker},
		{source, store.ConsumerPolicyWorker},
		{source, store.ConsumerProjector},
		{m.names.TimersStream(), store.ConsumerTimers},
	} {
		if err := check(c[0], c[1]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *migrator) verify(ctx context.Context, source string, rep *migrateReport) error {
	src, err := m.js.Stream(ctx, source)
	if err != nil {
		return err
	}
	want := int(src.CachedInfo().State.Msgs)
	names, err := m.names.WithEventsStream(rep.Target)
	if err != nil {
		return err
	}
	bar := m.a.newProgress(0, "verify "+rep.Target, "events")
	v, err := verify.Run(ctx, m.js, names, verify.Options{Stream: rep.Target, Progress: func(done, total uint64) {
		bar.setTotal(int64(total))
		bar.set(int64(done))
	}})
	bar.finish()
	if err != nil {
		return fmt.Errorf("verify %s: %w", rep.Target, err)
	}
	rep.Verify = &v
	var problems []string
	if !v.OK() {
		problems = append(problems, fmt.Sprintf("%d problems", v.Problems()))
	}
	if v.Upcast > 0 {
		problems = append(problems, fmt.Sprintf("%d events not at their current version", v.Upcast))
	}
	if v.Events != want {
		problems = append(problems, fmt.Sprintf("%d events, the source has %d", v.Events, want))
	}
	if len(problems) > 0 {
		rep.State = "failed"
		return withCode(ExitFailure, fmt.Errorf("verification of %s failed (%s): not switched", rep.Target, strings.Join(problems, ", ")))
	}
	return nil
}

// switchConsumers recreates the policy-worker's and the projector's
// consumers on the target, each starting at the first event its old
// consumer had not acknowledged (the handlers are idempotent, so an event
// acknowledged out of order and delivered again changes nothing), and
// deletes the old ones. A worker whose consumer never existed gets it
// when it starts (from the first event).
func (m *migrator) switchConsumers(ctx context.Context, source string, tgt jetstream.Stream, rep *migrateReport) error {
	for _, name := range []string{store.ConsumerPolicyWorker, store.ConsumerProjector} {
		if _, err := m.js.PushConsumer(ctx, rep.Target, name); err == nil {
			rep.Consumers = append(rep.Consumers, consumerSwitch{Name: name, AlreadyCreated: true})
		} else {
			if !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return err
			}
			old, err := m.js.PushConsumer(ctx, source, name)
			if errors.Is(err, jetstream.ErrConsumerNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			info := old.CachedInfo()
			start, err := firstCopiedAfter(ctx, tgt, info.AckFloor.Stream)
			if err != nil {
				return err
			}
			cfg := info.Config
			cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = jetstream.DeliverByStartSequencePolicy, start, nil
			cfg.Metadata = withMeta(cfg.Metadata, "personfleet.migrated_from", source)
			if _, err := m.js.CreatePushConsumer(ctx, rep.Target, cfg); err != nil {
				return fmt.Errorf("consumer %s on %s: %w", name, rep.Target, err)
			}
			rep.Consumers = append(rep.Consumers, consumerSwitch{Name: name, OldAckFloor: info.AckFloor.Stream, NewStartSeq: start})
		}
		if err := m.js.DeleteConsumer(ctx, source, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("delete consumer %s on %s: %w", name, source, err)
		}
	}
	return nil
}

// firstCopiedAfter finds, by binary search, the target sequence of the
// first copied event whose source sequence is above srcSeq (the target's
// last sequence + 1 when there is none).
func firstCopiedAfter(ctx context.Context, tgt jetstream.Stream, srcSeq uint64) (uint64, error) {
	info, err := tgt.Info(ctx)
	if err != nil {
		return 0, err
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq+1
	if info.State.Msgs == 0 {
		return hi, nil
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		msg, err := tgt.GetMsg(ctx, mid)
		if err != nil {
			return 0, fmt.Errorf("target seq %d: %w", mid, err)
		}
		from, err := strconv.ParseUint(msg.Header.Get(HeaderMigratedFromSeq), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("target seq %d has no %s: %w", mid, HeaderMigratedFromSeq, err)
		}
		if from > srcSeq {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// archiveSource moves the source stream to an archive subject space: it
// keeps every event it holds, and captures no new one.
func (m *migrator) archiveSource(ctx context.Context, source, target string) error {
	st, err := m.js.Stream(ctx, source)
	if err != nil {
		return err
	}
	cfg := st.CachedInfo().Config
	archive := m.archiveSubjects(source)
	if len(cfg.Subjects) == 1 && cfg.Subjects[0] == archive {
		return nil
	}
	cfg.Subjects = []string{archive}
	cfg.Metadata = withMeta(cfg.Metadata, metaArchivedTo, target)
	if _, err := m.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("archive %s: %w", source, err)
	}
	return nil
}

// restoreSource undoes archiveSource.
func (m *migrator) restoreSource(ctx context.Context, source string) error {
	st, err := m.js.Stream(ctx, source)
	if err != nil {
		return err
	}
	cfg := st.CachedInfo().Config
	cfg.Subjects = []string{m.names.Events()}
	cfg.Metadata = withMeta(cfg.Metadata, metaArchivedTo, "")
	delete(cfg.Metadata, metaArchivedTo)
	_, err = m.js.UpdateStream(ctx, cfg)
	return err
}

// takeSubjects gives the target the real event subjects, without the
// transform.
func (m *migrator) takeSubjects(ctx context.Context, tgt jetstream.Stream) error {
	info, err := tgt.Info(ctx)
	if err != nil {
		return err
	}
	cfg := info.Config
	cfg.Subjects = []string{m.names.Events()}
	cfg.SubjectTransform = nil
	if d, err := time.ParseDuration(cfg.Metadata[metaDedup]); err == nil && d > 0 {
		cfg.Duplicates = d
	}
	cfg.Metadata = withMeta(cfg.Metadata, metaState, stateSwitched)
	if _, err := m.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("switch %s to %s: %w", cfg.Name, m.names.Events(), err)
	}
	return nil
}

func withMeta(m map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for mk, mv := range m {
		if !strings.HasPrefix(mk, "_nats") { // the server's own
			out[mk] = mv
		}
	}
	out[k] = v
	return out
}

func (a *app) printMigrate(r *migrateReport) {
	fmt.Fprintf(a.out, "stream %s: %d events (last seq %d)\n", r.Stream, r.Events, r.LastSeq)
	if len(r.Counts) > 0 {
		t := newTable(a.out, "TYPE", "SCHEMA_VERSION", "EVENTS", "CHANGE")
		for _, c := range r.Counts {
			change := "keep (current)"
			if c.Version < c.Current {
				change = fmt.Sprintf("upcast v%d → v%d", c.Version, c.Current)
			}
			t.row(c.Type, c.Version, c.Events, change)
		}
		t.flush()
	}
	fmt.Fprintf(a.out, "%d events not at their current version would be upcast; %d are current; %d cannot be upcast\n",
		r.ToUpcast, r.AtCurrent, len(r.CannotUpcast))
	for _, p := range r.CannotUpcast {
		fmt.Fprintf(a.out, "  cannot upcast: seq %d on %s (%s v%d): %s\n", p.Seq, p.Subject, p.Type, p.Version, p.Error)
	}
	exists := "new"
	if r.TargetExists {
		exists = fmt.Sprintf("exists, copied up to source seq %d", r.CopiedBefore)
	}
	fmt.Fprintf(a.out, "target %s (%s)\n", r.Target, exists)
	switch r.State {
	case "planned":
		fmt.Fprintln(a.out, "dry run: nothing changed; --apply migrates")
	case "nothing_to_do":
		fmt.Fprintln(a.out, "nothing to migrate: every event is at its type's current version")
	}
	if r.Copied > 0 || r.State == "copied" || r.State == "switched" {
		fmt.Fprintf(a.out, "copied %d events to %s\n", r.Copied, r.Target)
	}
	if r.Verify != nil {
		fmt.Fprintf(a.out, "verified %s: %d events of %d persons, %d problems\n", r.Target, r.Verify.Events, r.Verify.Persons, r.Verify.Problems())
	}
	for _, c := range r.Consumers {
		if c.AlreadyCreated {
			fmt.Fprintf(a.out, "consumer %s on %s: created before\n", c.Name, r.Target)
			continue
		}
		fmt.Fprintf(a.out, "consumer %s on %s: starts at seq %d (old consumer acknowledged up to source seq %d)\n", c.Name, r.Target, c.NewStartSeq, c.OldAckFloor)
	}
	for _, b := range r.Blockers {
		fmt.Fprintf(a.out, "blocked: %s\n", b)
	}
	if r.State == "switched" {
		fmt.Fprintf(a.out, "switched: %s now holds %s\n", r.Target, "the event subjects")
	}
	if r.Next != "" {
		fmt.Fprintf(a.out, "next: %s\n", r.Next)
	}
}
