package cli

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/projection"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/worker"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// park simulates a command whose first processing failed transiently: it
// went through the commands stream (so its command id is in the duplicate
// window), was parked in the DLQ with its headers, and its producer got a
// "failed" result — what the command-worker does after its retries.
// With viaStream false only the dead letter is written (a worker may be
// running, and would take the command).
func (f *fleet) park(id person.ID, cmd person.Command, viaStream bool) (contract.CommandEnvelope, uint64) {
	f.t.Helper()
	ctx := context.Background()
	env, err := client.NewCommand(id, cmd)
	if err != nil {
		f.t.Fatal(err)
	}
	body, _ := json.Marshal(env)
	names := f.cl.Names()
	m := nats.NewMsg(names.Command(id, cmd.CommandType()))
	m.Data = body
	m.Header.Set(nats.MsgIdHdr, env.CommandID)
	m.Header.Set("traceparent", traceparent)
	ack := &jetstream.PubAck{Sequence: 1000} // a sequence the commands stream never had
	if viaStream {
		if ack, err = f.js.PublishMsg(ctx, m); err != nil {
			f.t.Fatal(err)
		}
		cmds, err := f.js.Stream(ctx, names.CommandsStream())
		if err != nil {
			f.t.Fatal(err)
		}
		if err := cmds.DeleteMsg(ctx, ack.Sequence); err != nil { // consumed, acked after parking
			f.t.Fatal(err)
		}
	}
	pub := store.NewPublisher(f.js, names)
	now := time.Now().UTC()
	dl := contract.DeadLetter{
		Worker: store.ConsumerCommandWorker, Subject: m.Subject, Stream: names.CommandsStream(), StreamSequence: ack.Sequence,
		Headers: map[string][]string{"Nats-Msg-Id": {env.CommandID}, "traceparent": {traceparent}, "Nats-Expected-Stream": {"stale"}},
		Payload: body, Error: "event store: append: nats: timeout", Attempts: 4, Deliveries: 1,
		FirstFailure: now.Add(-time.Second), LastFailure: now,
	}
	if err := pub.DeadLetter(ctx, dl, map[string]string{"traceparent": traceparent}); err != nil {
		f.t.Fatal(err)
	}
	if err := pub.Result(ctx, contract.Result{CommandID: env.CommandID, PersonID: id, Type: env.Type, Status: contract.StatusFailed, Final: true,
		Error: &contract.ResultError{Code: "dead_lettered", Message: dl.Error}, At: now}, nil); err != nil {
		f.t.Fatal(err)
	}
	st, err := f.js.Stream(ctx, names.DLQStream())
	if err != nil {
		f.t.Fatal(err)
	}
	return env, st.CachedInfo().State.LastSeq
}

func TestDLQRedriveAfterTheCauseIsFixed(t *testing.T) {
	f := newFleet(t)
	env, seq := f.park("grace", &person.CreatePerson{Name: person.Name{GivenName: "Grace", FamilyName: "Hopper"}}, true)
	f.start(worker.CommandWorker, nil)
	seqArg := strconv.FormatUint(seq, 10)
	wantID := env.CommandID + "-redrive-" + seqArg

	// Why the redrive needs its own Nats-Msg-Id: the original one is still
	// in the commands stream's duplicate window, and the server drops it.
	m := nats.NewMsg(f.cl.Names().Command("grace", person.CmdCreatePerson))
	m.Data = []byte(`{}`)
	m.Header.Set(nats.MsgIdHdr, env.CommandID)
	if ack, err := f.js.PublishMsg(context.Background(), m); err != nil || !ack.Duplicate {
		t.Fatalf("republishing with the original id: %+v %v (want a duplicate)", ack, err)
	}

	entries := mustJSON[[]dlqEntry](t, f.mustCtl(ExitOK, "dlq", "list", "--json"))
	if len(entries) != 1 || entries[0].Seq != seq || entries[0].Worker != "command-worker" || entries[0].Attempts != 4 ||
		entries[0].Subject != "person.commands.grace.create_person" {
		t.Fatalf("dlq list: %+v", entries)
	}
	out := f.mustCtl(ExitOK, "dlq", "list")
	if !strings.Contains(out, "person.commands.grace.create_person") || !strings.Contains(out, "1 dead letters") {
		t.Fatalf("dlq list:\n%s", out)
	}
	out = f.mustCtl(ExitOK, "dlq", "show", seqArg)
	for _, want := range []string{"Grace", "traceparent", "republish to person.commands.grace.create_person (Nats-Msg-Id " + wantID + ")"} {
		if !strings.Contains(out, want) {
			t.Errorf("dlq show: no %q in\n%s", want, out)
		}
	}
	if code, _, _ := f.ctl("dlq", "show", "999"); code != ExitFailure {
		t.Fatalf("dlq show 999: exit %d", code)
	}

	// A dry run changes nothing.
	out = f.mustCtl(ExitOK, "dlq", "redrive", "--all", "--dry-run")
	if !strings.Contains(out, wantID) || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run:\n%s", out)
	}
	if n := f.streamInfo("PERSON_DLQ").State.Msgs; n != 1 {
		t.Fatalf("after the dry run the DLQ has %d messages", n)
	}
	if evs, _ := f.streamEvents("PERSON_EVENTS"); len(evs) != 0 {
		t.Fatalf("after the dry run: %d events", len(evs))
	}

	// The redrive: accepted by the running fleet, trace context kept, the
	// dead letter gone.
	outs := mustJSON[[]redriveOutcome](t, f.mustCtl(ExitOK, "dlq", "redrive", seqArg, "--wait", "--json"))
	if len(outs) != 1 || !outs[0].Done || !outs[0].Deleted || outs[0].Result == nil ||
		outs[0].Result.Status != contract.StatusAccepted || outs[0].Result.Version != 1 || outs[0].Plan.MsgID != wantID {
		t.Fatalf("redrive: %+v (result %+v)", outs, outs[0].Result)
	}
	if n := f.streamInfo("PERSON_DLQ").State.Msgs; n != 0 {
		t.Fatalf("after the redrive the DLQ has %d messages", n)
	}
	evs, _ := f.streamEvents("PERSON_EVENTS")
	if len(evs) != 1 || evs[0].PersonID != "grace" || evs[0].CausationID != env.CommandID || evs[0].Trace["traceparent"] != traceparent {
		t.Fatalf("events after the redrive: %+v", evs)
	}
	// The producer's result stream now ends accepted.
	r, ok, err := f.cl.LastResult(context.Background(), env.CommandID)
	if err != nil || !ok || r.Status != contract.StatusAccepted {
		t.Fatalf("last result: %+v %v %v", r, ok, err)
	}

	// watch shows the whole story: failed, then accepted after the redrive.
	out = f.mustCtl(ExitOK, "watch", env.CommandID)
	if !strings.Contains(out, "failed") || !strings.Contains(out, "dead_lettered") || !strings.Contains(out, "accepted") {
		t.Fatalf("watch after the redrive:\n%s", out)
	}

	// Redriving a dead letter that is gone fails; purge needs --yes.
	if code, _, _ := f.ctl("dlq", "redrive", seqArg); code != ExitFailure {
		t.Fatalf("second redrive: exit %d", code)
	}
	f.park("other", &person.CreatePerson{Name: person.Name{GivenName: "Alan", FamilyName: "Turing"}}, false)
	if code, _, errOut := f.ctl("dlq", "purge"); code != ExitUsage || !strings.Contains(errOut, "would delete 1") {
		t.Fatalf("purge without --yes: exit %d %q", code, errOut)
	}
	f.mustCtl(ExitOK, "dlq", "purge", "--yes")
	if n := f.streamInfo("PERSON_DLQ").State.Msgs; n != 0 {
		t.Fatalf("after the purge the DLQ has %d messages", n)
	}
	if code, _, _ := f.ctl("dlq", "redrive"); code != ExitUsage {
		t.Fatalf("redrive without sequences: exit %d", code)
	}
}

// TestDLQRedriveProjectorEvent: an event the projector parked is redriven
// by rebuilding the person's read models from the store, never by
// appending it again.
func TestDLQRedriveProjectorEvent(t *testing.T) {
	f := newFleet(t)
	f.start(worker.CommandWorker, nil)
	f.mustCtl(ExitOK, "send", "create_person", "--person", "lin", "--set", "name.given_name=Lin", "--set", "name.family_name=Yu")
	f.mustCtl(ExitOK, "send", "add_email", "--person", "lin", "--set", "email=lin@yu.dev")
	evs, subjects := f.streamEvents("PERSON_EVENTS")
	st, _ := f.js.Stream(context.Background(), "PERSON_EVENTS")
	raw, err := st.GetMsg(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	pub := store.NewPublisher(f.js, f.cl.Names())
	if err := pub.DeadLetter(context.Background(), contract.DeadLetter{Worker: store.ConsumerProjector, Subject: subjects[1], Stream: "PERSON_EVENTS",
		StreamSequence: 2, Payload: raw.Data, Error: "read model put: timeout", Attempts: 4, Deliveries: 1}, nil); err != nil {
		t.Fatal(err)
	}
	out := f.mustCtl(ExitOK, "dlq", "redrive", "--all", "--dry-run")
	if !strings.Contains(out, "rebuild the read models of lin") {
		t.Fatalf("dry run:\n%s", out)
	}
	f.mustCtl(ExitOK, "dlq", "redrive", "--all")
	rm, err := store.OpenReadModel[projection.Summary](context.Background(), f.js, "person_summary", 0)
	if err != nil {
		t.Fatal(err)
	}
	s, ok, err := rm.Get(context.Background(), "lin")
	if err != nil || !ok || s.Version != 2 || s.PrimaryEmail != "lin@yu.dev" {
		t.Fatalf("summary after the redrive: %+v %v %v", s, ok, err)
	}
	if after, _ := f.streamEvents("PERSON_EVENTS"); len(after) != len(evs) {
		t.Fatalf("the redrive appended events: %d, was %d", len(after), len(evs))
	}
	if n := f.streamInfo("PERSON_DLQ").State.Msgs; n != 0 {
		t.Fatalf("DLQ has %d messages", n)
	}
}
