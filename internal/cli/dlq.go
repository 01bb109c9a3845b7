package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/policy"
	"github.com/personfleet/personfleet/internal/projection"
	"github.com/personfleet/personfleet/internal/schema"
	"github.com/personfleet/personfleet/internal/store"
)

// HeaderRedrivenFrom marks a redriven message with the dead letter it came
// from: "<DLQ stream>:<sequence>".
const HeaderRedrivenFrom = "Person-Redriven-From"

// dlqEntry is one parked message: its place in the DLQ stream and the
// dead letter.
type dlqEntry struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	contract.DeadLetter
	// Malformed is set when the DLQ message is not a dead letter.
	Malformed string `json:"malformed,omitempty"`
}

func (e dlqEntry) header(name string) string {
	for k, v := range e.Headers {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func (a *app) dlqCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "dlq",
		Short: "Look at, redrive and purge the dead-letter queue (stream <PREFIX>_DLQ)",
		Long: `A message whose handler kept failing (or could never succeed) is parked on
<prefix>.dlq.<worker> with its original subject, payload and headers, the
error, the attempts and the failure times. dlq lists and shows them,
redrives them once the cause is fixed, and purges them.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCode(ExitUsage, errors.New("dlq needs a subcommand: list, show, redrive or purge"))
		},
	}
	c.AddCommand(a.dlqListCmd(), a.dlqShowCmd(), a.dlqRedriveCmd(), a.dlqPurgeCmd())
	return c
}

// readDLQ reads every dead letter (of one worker when worker is set).
func readDLQ(ctx context.Context, js jetstream.JetStream, names contract.Names, worker string) ([]dlqEntry, error) {
	st, err := js.Stream(ctx, names.DLQStream())
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", names.DLQStream(), err)
	}
	info := st.CachedInfo()
	if info.State.Msgs == 0 {
		return nil, nil
	}
	cfg := jetstream.OrderedConsumerConfig{}
	if worker != "" {
		cfg.FilterSubjects = []string{names.DLQ(worker)}
	}
	cons, err := js.OrderedConsumer(ctx, names.DLQStream(), cfg)
	if err != nil {
		return nil, err
	}
	if ci, err := cons.Info(ctx); err != nil {
		return nil, err
	} else if ci.NumPending == 0 {
		return nil, nil
	}
	var out []dlqEntry
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		last := uint64(0)
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			e := dlqEntry{Seq: meta.Sequence.Stream, Time: meta.Timestamp.UTC()}
			if dl, err := contract.DecodeDeadLetter(m.Data()); err != nil {
				e.Malformed = err.Error()
				e.Subject = m.Subject()
			} else {
				e.DeadLetter = dl
			}
			out = append(out, e)
			last = meta.Sequence.Stream
			if meta.NumPending == 0 {
				return out, batch.Error()
			}
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 || last >= info.State.LastSeq {
			return out, nil
		}
	}
}

// getDLQ reads one dead letter by its DLQ stream sequence.
func getDLQ(ctx context.Context, js jetstream.JetStream, names contract.Names, seq uint64) (dlqEntry, error) {
	st, err := js.Stream(ctx, names.DLQStream())
	if err != nil {
		return dlqEntry{}, fmt.Errorf("stream %s: %w", names.DLQStream(), err)
	}
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return dlqEntry{}, withCode(ExitFailure, fmt.Errorf("no dead letter at sequence %d", seq))
	}
	if err != nil {
		return dlqEntry{}, err
	}
	e := dlqEntry{Seq: m.Sequence, Time: m.Time.UTC()}
	if dl, err := contract.DecodeDeadLetter(m.Data); err != nil {
		e.Malformed = err.Error()
		e.Subject = m.Subject
	} else {
		e.DeadLetter = dl
	}
	return e, nil
}

func parseSeqs(args []string) ([]uint64, error) {
	out := make([]uint64, 0, len(args))
	for _, s := range args {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return nil, withCode(ExitUsage, fmt.Errorf("%q is not a DLQ sequence number", s))
		}
		out = append(out, n)
	}
	return out, nil
}

func (a *app) dlqListCmd() *cobra.Command {
	var worker string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the parked messages: sequence, worker, subject, error, attempts, time",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, done, err := a.connect()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
			defer cancel()
			entries, err := readDLQ(ctx, cl.JetStream(), cl.Names(), worker)
			if err != nil {
				return err
			}
			if a.json {
				if entries == nil {
					entries = []dlqEntry{}
				}
				return printJSON(a.out, entries)
			}
			t := newTable(a.out, "SEQ", "PARKED", "WORKER", "SUBJECT", "ATTEMPTS", "DELIVERIES", "CODE", "ERROR")
			for _, e := range entries {
				errText := e.Error
				if e.Malformed != "" {
					errText = "not a dead letter: " + e.Malformed
				}
				t.row(e.Seq, e.Time, e.Worker, e.Subject, e.Attempts, e.Deliveries, e.Code, truncate(errText, 80))
			}
			t.flush()
			fmt.Fprintf(a.out, "%d dead letters\n", len(entries))
			return nil
		},
	}
	c.Flags().StringVar(&worker, "worker", "", "only this worker's: command-worker, policy-worker or projector")
	return c
}

func (a *app) dlqShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show <seq>",
		Short: "Show one parked message in full, its payload decoded",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			seqs, err := parseSeqs(args)
			if err != nil {
				return err
			}
			cl, done, err := a.connect()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
			defer cancel()
			e, err := getDLQ(ctx, cl.JetStream(), cl.Names(), seqs[0])
			if err != nil {
				return err
			}
			var decoded json.RawMessage
			if json.Valid(e.Payload) {
				decoded = e.Payload
			}
			if a.json {
				return printJSON(a.out, struct {
					dlqEntry
					PayloadJSON json.RawMessage `json:"payload_json,omitempty"`
					PayloadText string          `json:"payload_text,omitempty"`
					Plan        redrivePlan     `json:"redrive"`
				}{e, decoded, textIfNotJSON(e.Payload, decoded), planRedrive(cl.Names(), e)})
			}
			t := newTable(a.out)
			t.row("seq", e.Seq)
			t.row("parked", e.Time)
			if e.Malformed != "" {
				t.row("malformed", e.Malformed)
			}
			t.row("worker", e.Worker)
			t.row("subject", e.Subject)
			t.row("stream", e.Stream)
			t.row("stream_sequence", e.StreamSequence)
			t.row("error", e.Error)
			t.row("code", e.Code)
			t.row("attempts", e.Attempts)
			t.row("deliveries", e.Deliveries)
			t.row("first_failure", e.FirstFailure)
			t.row("last_failure", e.LastFailure)
			p := planRedrive(cl.Names(), e)
			t.row("redrive", p.describe())
			t.flush()
			if len(e.Headers) > 0 {
				fmt.Fprintln(a.out, "\nheaders:")
				keys := make([]string, 0, len(e.Headers))
				for k := range e.Headers {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				ht := newTable(a.out)
				for _, k := range keys {
					ht.row("  "+k, strings.Join(e.Headers[k], ", "))
				}
				ht.flush()
			}
			fmt.Fprintf(a.out, "\npayload (%d bytes):\n", len(e.Payload))
			if decoded != nil {
				_ = printJSON(a.out, decoded)
			} else {
				fmt.Fprintf(a.out, "%q\n", e.Payload)
			}
			return nil
		},
	}
}

func textIfNotJSON(b []byte, decoded json.RawMessage) string {
	if decoded != nil {
		return ""
	}
	return string(b)
}

// The ways a dead letter is redriven.
const (
	// redriveRepublish publishes the original payload to the original
	// subject (a command, a fired timer): the worker gets it again with
	// fresh attempts.
	redriveRepublish = "republish"
	// redriveReproject rebuilds the person's read models from the event
	// store (a projector's event: republishing an event would append it
	// to the store a second time).
	redriveReproject = "reproject"
	// redrivePolicies runs the default policies over the stored event and
	// sends their commands, with the ids the policy-worker would have
	// given them (a policy-worker's event).
	redrivePolicies = "rerun_policies"
	// redriveSkip: nothing safe to do (not a dead letter, or an unknown kind).
	redriveSkip = "skip"
)

// redrivePlan is what redriving one dead letter would do.
type redrivePlan struct {
	Action   string `json:"action"`
	Subject  string `json:"subject,omitempty"`
	MsgID    string `json:"msg_id,omitempty"`
	PersonID string `json:"person_id,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func (p redrivePlan) describe() string {
	switch p.Action {
	case redriveRepublish:
		id := p.MsgID
		if id == "" {
			id = "none"
		}
		return fmt.Sprintf("republish to %s (Nats-Msg-Id %s)", p.Subject, id)
	case redriveReproject:
		return "rebuild the read models of " + p.PersonID + " from the event store"
	case redrivePolicies:
		return "run the policies over the stored event of " + p.PersonID
	}
	return "skip: " + p.Reason
}

// planRedrive decides how to redrive a dead letter.
//
// A command (or a fired timer) is republished to its original subject,
// with its original headers (trace context included) but not with its
// original Nats-Msg-Id: a command's Nats-Msg-Id is its command id, and the
// commands stream's duplicate window (10 min by default) may still hold it
// — the server would then drop the redriven message as a duplicate and
// nothing would happen. The redrive's id is "<original>-redrive-<DLQ
// sequence>": new to the window, yet the same for every redrive of this
// dead letter, so a redrive interrupted between the publish and the DLQ
// delete and run again is dropped the second time. The command id in the
// body is unchanged, so the fleet answers on the same result subject and
// the aggregate's memory of recent command ids still makes a command that
// was in fact processed append nothing. A message without a Nats-Msg-Id is
// republished without one.
//
// An event parked by the projector or the policy-worker is not
// republished: its subject is in the events stream, and publishing it
// again would append a second copy to the event store.
func planRedrive(names contract.Names, e dlqEntry) redrivePlan {
	if e.Malformed != "" {
		return redrivePlan{Action: redriveSkip, Reason: "not a dead letter"}
	}
	if e.Subject == "" {
		return redrivePlan{Action: redriveSkip, Reason: "no original subject"}
	}
	if e.Stream == names.EventsStream() || strings.HasPrefix(e.Subject, names.Prefix()+".events.") {
		h, err := schema.Peek(e.Payload)
		if err != nil {
			return redrivePlan{Action: redriveSkip, Reason: "the event does not decode: " + err.Error()}
		}
		switch e.Worker {
		case store.ConsumerProjector:
			return redrivePlan{Action: redriveReproject, PersonID: string(h.PersonID)}
		case store.ConsumerPolicyWorker:
			return redrivePlan{Action: redrivePolicies, PersonID: string(h.PersonID)}
		}
		return redrivePlan{Action: redriveSkip, Reason: "an event parked by " + e.Worker + ": republishing would append it again"}
	}
	p := redrivePlan{Action: redriveRepublish, Subject: e.Subject}
	if orig := e.header(nats.MsgIdHdr); orig != "" {
		p.MsgID = orig + "-redrive-" + strconv.FormatUint(e.Seq, 10)
	}
	return p
}

// redriveOutcome is what redriving one dead letter did.
type redriveOutcome struct {
	Seq       uint64           `json:"seq"`
	Plan      redrivePlan      `json:"plan"`
	Done      bool             `json:"done"`
	Deleted   bool             `json:"deleted"`
	Duplicate bool             `json:"duplicate,omitempty"` // the server had this redrive already
	StreamSeq uint64           `json:"stream_seq,omitempty"`
	Result    *contract.Result `json:"result,omitempty"` // with --wait, a command's final result
	Error     string           `json:"error,omitempty"`
}

func (a *app) dlqRedriveCmd() *cobra.Command {
	var all, dryRun, wait bool
	var worker string
	var inactivity time.Duration
	c := &cobra.Command{
		Use:   "redrive [<seq>…|--all] [--dry-run]",
		Short: "Send parked messages back to their workers, then delete them from the DLQ",
		Long: `redrive gives parked messages fresh attempts once the cause is fixed, and
deletes each dead letter it redrove (the DLQ stream allows deletes).

A command or a fired timer is republished to its original subject with its
original payload and headers (the W3C trace context included, so the trace
goes on), plus ` + HeaderRedrivenFrom + `: <DLQ stream>:<seq>. Its Nats-Msg-Id is
"<original Nats-Msg-Id>-redrive-<DLQ seq>", not the original: a command's
Nats-Msg-Id is its command id, and the commands stream's duplicate window may
still hold it, so the server would silently drop the redrive. The derived id
is the same on every run, so a redrive interrupted before its DLQ delete is
not sent twice; the command id in the body is unchanged, so the results go
to the same subject and the aggregate still answers a command it already
processed with "duplicate". A message that had no Nats-Msg-Id gets none.

An event parked by the projector is redriven by rebuilding that person's
read models from the event store (compare-and-set; never backwards); one
parked by the policy-worker by running the default policies over it and
sending their commands with the ids the policy-worker gives them (so the
fleet's own dedup applies; --inactivity-period must match the
policy-worker's). An event is never republished: that would append it to
the event store again.

--dry-run lists what would be done. --wait waits for each redriven
command's final result. Exit code 1 when a redrive failed (its dead letter
is kept).`,
		Example: `  personctl dlq redrive 17 18 --wait
  personctl dlq redrive --all --worker command-worker --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return withCode(ExitUsage, errors.New("give DLQ sequence numbers or --all (not both)"))
			}
			seqs, err := parseSeqs(args)
			if err != nil {
				return err
			}
			cl, done, err := a.connect()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
			defer cancel()
			js, names := cl.JetStream(), cl.Names()
			var entries []dlqEntry
			if all {
				if entries, err = readDLQ(ctx, js, names, worker); err != nil {
					return err
				}
			} else {
				for _, s := range seqs {
					e, err := getDLQ(ctx, js, names, s)
					if err != nil {
						return err
					}
					entries = append(entries, e)
				}
			}
			r := &redriver{a: a, cl: cl, inactivity: inactivity, wait: wait}
			var outs []redriveOutcome
			failed := 0
			for _, e := range entries {
				plan := planRedrive(names, e)
				o := redriveOutcome{Seq: e.Seq, Plan: plan}
				if !dryRun {
					r.redrive(ctx, e, &o)
					if !o.Done {
						failed++
					}
				}
				outs = append(outs, o)
			}
			if a.json {
				if outs == nil {
					outs = []redriveOutcome{}
				}
				_ = printJSON(a.out, outs)
			} else {
				a.printRedrive(outs, dryRun)
			}
			if failed > 0 {
				return withCode(ExitFailure, fmt.Errorf("%d of %d dead letters not redriven (kept in the DLQ)", failed, len(entries)))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "redrive every dead letter (of --worker, when given)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be redriven; change nothing")
	c.Flags().BoolVar(&wait, "wait", false, "wait for each redriven command's final result (up to --timeout)")
	c.Flags().StringVar(&worker, "worker", "", "with --all: only this worker's dead letters")
	c.Flags().DurationVar(&inactivity, "inactivity-period", policy.DefaultInactivityPeriod, "the policy-worker's auto-archive delay (for policy-worker dead letters)")
	return c
}

func (a *app) printRedrive(outs []redriveOutcome, dryRun bool) {
	if dryRun {
		t := newTable(a.out, "SEQ", "WOULD")
		for _, o := range outs {
			t.row(o.Seq, o.Plan.describe())
		}
		t.flush()
		fmt.Fprintf(a.out, "%d dead letters (dry run: nothing changed)\n", len(outs))
		return
	}
	t := newTable(a.out, "SEQ", "ACTION", "OUTCOME")
	for _, o := range outs {
		var out string
		switch {
		case !o.Done:
			out = "FAILED: " + o.Error
		case o.Duplicate:
			out = "redriven before (dropped as a duplicate); dead letter deleted"
		default:
			out = "done"
			if o.StreamSeq > 0 {
				out += fmt.Sprintf(" (stream seq %d)", o.StreamSeq)
			}
			out += "; dead letter deleted"
		}
		if o.Result != nil {
			out += "; result " + string(o.Result.Status)
			if o.Result.Error != nil {
				out += " " + o.Result.Error.Code
			}
		}
		t.row(o.Seq, o.Plan.describe(), out)
	}
	t.flush()
}

type redriver struct {
	a          *app
	cl         *client.Client
	inactivity time.Duration
	wait       bool
	events     *store.EventStore
}

func (r *redriver) redrive(ctx context.Context, e dlqEntry, o *redriveOutcome) {
	var err error
	switch o.Plan.Action {
	case redriveRepublish:
		err = r.republish(ctx, e, o)
	case redriveReproject:
		err = r.reproject(ctx, person.ID(o.Plan.PersonID))
	case redrivePolicies:
		err = r.rerunPolicies(ctx, e)
	default:
		err = errors.New(o.Plan.Reason)
	}
	if err != nil {
		o.Error = err.Error()
		return
	}
	o.Done = true
	st, err := r.cl.JetStream().Stream(ctx, r.cl.Names().DLQStream())
	if err == nil {
		err = st.DeleteMsg(ctx, e.Seq)
	}
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		o.Error = "redriven, but the dead letter was not deleted: " + err.Error()
		return
	}
	o.Deleted = true
}

func (r *redriver) republish(ctx context.Context, e dlqEntry, o *redriveOutcome) error {
	m := nats.NewMsg(e.Subject)
	m.Data = e.Payload
	for k, vs := range e.Headers {
		if strings.HasPrefix(strings.ToLower(k), "nats-") { // Msg-Id, Expected-*, Batch-*, Schedule-*, …: not carried over
			continue
		}
		for _, v := range vs {
			m.Header.Add(k, v)
		}
	}
	if o.Plan.MsgID != "" {
		m.Header.Set(nats.MsgIdHdr, o.Plan.MsgID)
	}
	m.Header.Set(HeaderRedrivenFrom, r.cl.Names().DLQStream()+":"+strconv.FormatUint(e.Seq, 10))
	var waiter *client.ResultWaiter
	cmdID := ""
	if r.wait {
		if _, _, err := r.cl.Names().ParseCommandSubject(e.Subject); err == nil {
			cmdID = contract.CommandIDOf(e.Payload)
		}
		if cmdID != "" {
			w, err := r.cl.AwaitResult(cmdID)
			if err != nil {
				return err
			}
			defer w.Stop()
			waiter = w
		}
	}
	ack, err := r.cl.JetStream().PublishMsg(ctx, m)
	if err != nil {
		return fmt.Errorf("republish to %s: %w", e.Subject, err)
	}
	o.StreamSeq, o.Duplicate = ack.Sequence, ack.Duplicate
	if waiter != nil && !ack.Duplicate {
		res, err := waiter.Final(ctx, nil)
		if err != nil {
			return fmt.Errorf("republished (stream seq %d), but %w", ack.Sequence, err)
		}
		o.Result = &res
	}
	return nil
}

func (r *redriver) eventStore() (*store.EventStore, error) {
	if r.events == nil {
		es, err := store.NewEventStore(r.cl.Conn(), r.cl.JetStream(), r.cl.Names(), 0)
		if err != nil {
			return nil, err
		}
		r.events = es
	}
	return r.events, nil
}

// reproject rebuilds a person's read models from the event store, with
// compare-and-set, never moving a record backwards.
func (r *redriver) reproject(ctx context.Context, id person.ID) error {
	es, err := r.eventStore()
	if err != nil {
		return err
	}
	history, err := es.History(ctx, id, 1)
	if err != nil {
		return err
	}
	if len(history) == 0 {
		return fmt.Errorf("person %s has no events", id)
	}
	names := r.cl.Names()
	var sum projection.Summary
	var onb projection.Onboarding
	if err := projection.Replay(&sum, history); err != nil {
		return err
	}
	if err := projection.Replay(&onb, history); err != nil {
		return err
	}
	sums, err := store.OpenReadModel[projection.Summary](ctx, r.cl.JetStream(), names.SummaryBucket(), 0)
	if err != nil {
		return err
	}
	onbs, err := store.OpenReadModel[projection.Onboarding](ctx, r.cl.JetStream(), names.OnboardingBucket(), 0)
	if err != nil {
		return err
	}
	if err := sums.Update(ctx, string(id), func(d *projection.Summary) (bool, error) {
		if d.Version >= sum.Version {
			return false, nil
		}
		*d = sum
		return true, nil
	}); err != nil {
		return err
	}
	return onbs.Update(ctx, string(id), func(d *projection.Onboarding) (bool, error) {
		if d.Version >= onb.Version {
			return false, nil
		}
		*d = onb
		return true, nil
	})
}

// rerunPolicies does what the policy-worker does with an event: run the
// default policies and send their commands (a durable timer for one that
// must wait), with the deterministic ids policy.Evaluate gives them.
func (r *redriver) rerunPolicies(ctx context.Context, e dlqEntry) error {
	ev, err := schema.Decode(e.Payload)
	if err != nil {
		return err
	}
	trace := map[string]string{}
	for _, k := range []string{"traceparent", "tracestate", "baggage"} {
		if v := e.header(k); v != "" {
			trace[k] = v
		}
	}
	if len(trace) == 0 {
		trace = ev.Trace
	}
	pub := store.NewPublisher(r.cl.JetStream(), r.cl.Names())
	for _, req := range policy.Evaluate(policy.Defaults(policy.Config{InactivityPeriod: r.inactivity}), &ev) {
		data, err := json.Marshal(req.Command)
		if err != nil {
			return err
		}
		env := contract.CommandEnvelope{
			CommandID: req.ID, Type: string(req.Command.CommandType()), PersonID: req.PersonID, Data: data,
			CorrelationID: req.CorrelationID, CausationID: req.CausationID, Actor: "policy:" + req.Policy,
			IssuedAt: ev.OccurredAt,
		}
		if !req.NotBefore.IsZero() && req.NotBefore.After(time.Now()) {
			if err := pub.Timer(ctx, req.PersonID, req.Policy, req.NotBefore, env, trace); err != nil {
				return err
			}
			continue
		}
		if _, err := pub.Command(ctx, env, trace); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) dlqPurgeCmd() *cobra.Command {
	var yes bool
	var worker string
	c := &cobra.Command{
		Use:   "purge [--yes]",
		Short: "Delete every parked message (of --worker, when given)",
		Long: `purge empties the DLQ stream (or one worker's subject of it). It refuses
without --yes, and says how many dead letters it would delete.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, done, err := a.connect()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
			defer cancel()
			names := cl.Names()
			st, err := cl.JetStream().Stream(ctx, names.DLQStream())
			if err != nil {
				return err
			}
			n := st.CachedInfo().State.Msgs
			var opts []jetstream.StreamPurgeOpt
			if worker != "" {
				entries, err := readDLQ(ctx, cl.JetStream(), names, worker)
				if err != nil {
					return err
				}
				n = uint64(len(entries))
				opts = append(opts, jetstream.WithPurgeSubject(names.DLQ(worker)))
			}
			if !yes {
				return withCode(ExitUsage, fmt.Errorf("purge would delete %d dead letters: add --yes", n))
			}
			if err := st.Purge(ctx, opts...); err != nil {
				return err
			}
			if a.json {
				return printJSON(a.out, map[string]any{"purged": n, "stream": names.DLQStream(), "worker": worker})
			}
			fmt.Fprintf(a.out, "purged %d dead letters from %s\n", n, names.DLQStream())
			return nil
		},
	}
	c.Flags().BoolVar(&yes, "yes", false, "really delete them")
	c.Flags().StringVar(&worker, "worker", "", "only this worker's dead letters")
	return c
}
