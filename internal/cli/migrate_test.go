package cli

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/schema"
	"github.com/personfleet/personfleet/internal/worker"
)

// Events as older releases wrote them (the shapes of
// internal/schema/testdata/golden): ada's at v1, bob's at v2.
var legacyEvents = []struct{ subject, body string }{
	{"person.events.ada.person_created", `{"event_id":"e-ada-1","person_id":"ada","version":1,"type":"person_created","schema_version":1,"correlation_id":"legacy-1","causation_id":"legacy-cmd-1","actor":"importer","data":{"full_name":"Ada King Lovelace","created_at":"2019-05-06T07:08:09Z"}}`},
	{"person.events.bob.person_created", `{"event_id":"e-bob-1","person_id":"bob","version":1,"type":"person_created","schema_version":2,"occurred_at":"2021-03-04T05:06:07.5+02:00","correlation_id":"c-bob-1","causation_id":"c-bob-1","actor":"crm","trace":{"traceparent":"` + traceparent + `"},"data":{"name":{"given_name":"Bob","family_name":"Babbage"},"source":"crm"}}`},
	{"person.events.ada.name_updated", `{"event_id":"e-ada-2","person_id":"ada","version":2,"type":"name_updated","schema_version":1,"correlation_id":"legacy-2","causation_id":"legacy-cmd-2","actor":"clerk","data":{"name":{"given_name":"Ada","family_name":"Lovelace","honorific":"Countess"},"previous":{"given_name":"Ada","middle_names":["King"],"family_name":"Lovelace"},"reason":"marriage","updated_at":"2019-07-08T09:10:11Z"}}`},
	{"person.events.ada.email_added", `{"event_id":"e-ada-3","person_id":"ada","version":3,"type":"email_added","schema_version":1,"occurred_at":"2019-08-01T10:00:00Z","correlation_id":"legacy-3","causation_id":"legacy-cmd-3","actor":"clerk","data":{"email":{"email":"ada@lovelace.example","verified":true,"primary":true},"first":true}}`},
	{"person.events.bob.name_updated", `{"event_id":"e-bob-2","person_id":"bob","version":2,"type":"name_updated","schema_version":2,"occurred_at":"2023-02-03T04:05:07Z","correlation_id":"c-bob-2","causation_id":"c-bob-2","actor":"crm","data":{"name":{"given_name":"Robert","family_name":"Babbage"},"previous":{"given_name":"Bob","family_name":"Babbage"},"change_reason":"full name"}}`},
}

func (f *fleet) seed(events []struct{ subject, body string }) {
	f.t.Helper()
	for _, e := range events {
		h, err := schema.Peek([]byte(e.body))
		m := nats.NewMsg(e.subject)
		m.Data = []byte(e.body)
		if err == nil {
			m.Header.Set(nats.MsgIdHdr, h.EventID)
		}
		if _, err := f.js.PublishMsg(context.Background(), m); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fleet) consumerInfo(stream, name string) *jetstream.ConsumerInfo {
	f.t.Helper()
	c, err := f.js.PushConsumer(context.Background(), stream, name)
	if err != nil {
		f.t.Fatalf("consumer %s on %s: %v", name, stream, err)
	}
	return c.CachedInfo()
}

// TestMigrateV1V2ToCurrent seeds v1 and v2 events next to current ones,
// checks that a dry run changes nothing, that --apply copies while the
// fleet runs but does not switch, that a second run catches up and
// switches, that the new stream verifies, and that the fleet reads it: a
// command to a migrated person is accepted at the right version.
func TestMigrateV1V2ToCurrent(t *testing.T) {
	f := newFleet(t)
	f.seed(legacyEvents)
	f.start(worker.CommandWorker, nil)
	f.start(worker.Projector, nil)
	f.mustCtl(ExitOK, "send", "create_person", "--person", "cy", "--set", "name.given_name=Cy", "--set", "name.family_name=Young")
	f.mustCtl(ExitOK, "send", "add_email", "--person", "cy", "--set", "email=cy@young.dev")
	projected := func() (bool, string) {
		ci := f.consumerInfo("PERSON_EVENTS", "projector")
		return ci.NumPending == 0 && ci.NumAckPending == 0, "projector behind"
	}
	eventually(t, "projector", 10*time.Second, projected)

	// Dry run: the report, and nothing changed.
	before := f.streamInfo("PERSON_EVENTS")
	out := f.mustCtl(ExitOK, "migrate", "--to-current")
	for _, want := range []string{"person_created", "upcast v1 → v3", "upcast v2 → v3", "upcast v1 → v2", "keep (current)",
		"3 events not at their current version would be upcast", "0 cannot be upcast", "PERSON_EVENTS_V2 (new)", "dry run: nothing changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run: no %q in\n%s", want, out)
		}
	}
	rep := mustJSON[migrateReport](t, f.mustCtl(ExitOK, "migrate", "--to-current", "--dry-run", "--json"))
	if rep.Events != 7 || rep.ToUpcast != 3 || rep.AtCurrent != 4 || rep.State != "planned" || rep.Target != "PERSON_EVENTS_V2" {
		t.Fatalf("dry-run report %+v", rep)
	}
	after := f.streamInfo("PERSON_EVENTS")
	if after.State.Msgs != before.State.Msgs || after.State.LastSeq != before.State.LastSeq || !slices.Equal(after.Config.Subjects, before.Config.Subjects) {
		t.Fatalf("the dry run changed PERSON_EVENTS: %+v → %+v", before.State, after.State)
	}
	if _, err := f.js.Stream(context.Background(), "PERSON_EVENTS_V2"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("the dry run created the target: %v", err)
	}

	// --apply while the fleet runs: copies, does not switch.
	code, out, errOut := f.ctl("migrate", "--to-current", "--apply", "--json")
	rep = mustJSON[migrateReport](t, out)
	if code != ExitFailure || rep.State != "copied" || rep.Copied != 7 || len(rep.Blockers) != 2 || !strings.Contains(errOut, "not switched while workers run") {
		t.Fatalf("apply with running workers: exit %d %+v\n%s", code, rep, errOut)
	}
	v2 := f.streamInfo("PERSON_EVENTS_V2")
	if v2.State.Msgs != 7 || !slices.Equal(v2.Config.Subjects, []string{"person.migrating.PERSON_EVENTS_V2.>"}) {
		t.Fatalf("target after the copy: %+v %v", v2.State, v2.Config.Subjects)
	}
	// The fleet goes on meanwhile: this event is appended to the old stream.
	f.mustCtl(ExitOK, "send", "create_person", "--person", "dan", "--set", "name.given_name=Dan", "--set", "name.family_name=Dare")
	eventually(t, "projector", 10*time.Second, projected)
	f.stopAll()

	// Second run: catches up (one event), verifies and switches.
	rep = mustJSON[migrateReport](t, f.mustCtl(ExitOK, "migrate", "--to-current", "--apply", "--json"))
	if rep.State != "switched" || rep.Copied != 1 || rep.CopiedBefore != 7 || rep.Verify == nil || !rep.Verify.OK() {
		t.Fatalf("switch report %+v", rep)
	}
	starts := map[string]uint64{}
	for _, c := range rep.Consumers {
		starts[c.Name] = c.NewStartSeq
	}
	// The projector had handled every event; the policy-worker none.
	if starts["projector"] != 9 || starts["policy-worker"] != 1 {
		t.Fatalf("consumer starts %v", starts)
	}
	src, v2 := f.streamInfo("PERSON_EVENTS"), f.streamInfo("PERSON_EVENTS_V2")
	if !slices.Equal(src.Config.Subjects, []string{"person.archived.PERSON_EVENTS.>"}) || src.State.Msgs != 8 {
		t.Fatalf("source after the switch: %v, %d msgs", src.Config.Subjects, src.State.Msgs)
	}
	for _, name := range []string{"projector", "policy-worker"} {
		if _, err := f.js.PushConsumer(context.Background(), "PERSON_EVENTS", name); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatalf("old consumer %s: %v", name, err)
		}
	}
	if !slices.Equal(v2.Config.Subjects, []string{"person.events.>"}) || v2.Config.SubjectTransform != nil || v2.State.Msgs != 8 ||
		v2.Config.Duplicates != src.Config.Duplicates || !v2.Config.DenyDelete || !v2.Config.AllowAtomicPublish {
		t.Fatalf("target after the switch: %v %+v %d msgs", v2.Config.Subjects, v2.Config.SubjectTransform, v2.State.Msgs)
	}
	// Same events, same order, same subjects and versions; all current.
	oldEvs, oldSubj := f.streamEvents("PERSON_EVENTS")
	newEvs, newSubj := f.streamEvents("PERSON_EVENTS_V2")
	if !reflect.DeepEqual(oldEvs, newEvs) || !slices.Equal(oldSubj, newSubj) {
		t.Fatalf("the migrated stream differs:\n%v\n%v", oldSubj, newSubj)
	}
	st, _ := f.js.Stream(context.Background(), "PERSON_EVENTS_V2")
	for seq := uint64(1); seq <= 8; seq++ {
		m, err := st.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		h, err := schema.Peek(m.Data)
		if err != nil || h.SchemaVersion != schema.CurrentVersion(h.Type) {
			t.Fatalf("seq %d: %+v %v (not current)", seq, h, err)
		}
		if m.Header.Get(nats.MsgIdHdr) != h.EventID || m.Header.Get(HeaderMigratedFromSeq) == "" {
			t.Fatalf("seq %d headers %v", seq, m.Header)
		}
	}
	if ci := f.consumerInfo("PERSON_EVENTS_V2", "projector"); ci.Config.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || ci.Config.OptStartSeq != 9 {
		t.Fatalf("projector consumer %+v", ci.Config)
	}

	// verify passes on the new stream, read models included.
	out = f.mustCtl(ExitOK, "verify", "--events-stream", "PERSON_EVENTS_V2", "--read-models")
	if !strings.Contains(out, "8 events of 4 persons (0 stored at an older schema version") || !strings.Contains(out, "OK") {
		t.Fatalf("verify:\n%s", out)
	}
	// Running again: nothing left to do, wherever it looks.
	if rep := mustJSON[migrateReport](t, f.mustCtl(ExitOK, "migrate", "--to-current", "--apply", "--json")); rep.State != "already_switched" || rep.Target != "PERSON_EVENTS_V2" {
		t.Fatalf("again: %+v", rep)
	}
	if rep := mustJSON[migrateReport](t, f.mustCtl(ExitOK, "migrate", "--to-current", "--apply", "--events-stream", "PERSON_EVENTS_V2", "--json")); rep.State != "nothing_to_do" {
		t.Fatalf("again on V2: %+v", rep)
	}
	// Provisioning with the new name keeps the consumers' start positions.
	f.mustCtl(ExitOK, "provision", "--events-stream", "PERSON_EVENTS_V2")
	if ci := f.consumerInfo("PERSON_EVENTS_V2", "projector"); ci.Config.OptStartSeq != 9 {
		t.Fatalf("provision moved the projector's start: %+v", ci.Config)
	}

	// The fleet reads the migrated stream.
	f.startCommandWorkerOn("PERSON_EVENTS_V2")
	r := mustJSON[contract.Result](t, f.mustCtl(ExitOK, "send", "update_name", "--person", "ada", "--json",
		"--set", "name.given_name=Augusta", "--set", "name.family_name=King", "--expected-version", "3"))
	if r.Status != contract.StatusAccepted || r.Version != 4 {
		t.Fatalf("update_name on a migrated person: %+v", r)
	}
	r = mustJSON[contract.Result](t, f.mustCtl(ExitOK, "send", "add_email", "--person", "bob", "--set", "email=bob@babbage.dev", "--json"))
	if r.Status != contract.StatusAccepted || r.Version != 3 {
		t.Fatalf("add_email on a migrated person: %+v", r)
	}
	if n := f.streamInfo("PERSON_EVENTS_V2").State.Msgs; n != 10 {
		t.Fatalf("V2 has %d events, want 10", n)
	}
	if n := f.streamInfo("PERSON_EVENTS").State.Msgs; n != 8 {
		t.Fatalf("the archive grew to %d", n)
	}
	f.mustCtl(ExitOK, "verify", "--events-stream", "PERSON_EVENTS_V2")
	// The projector reads the new stream too.
	f.start(worker.Projector, func(c *worker.Config) { c.EventsStream = "PERSON_EVENTS_V2" })
	eventually(t, "projection of the migrated stream", 10*time.Second, func() (bool, string) {
		out := f.mustCtl(ExitOK, "get", "ada", "--json", "--events-stream", "PERSON_EVENTS_V2")
		return strings.Contains(out, `"version": 4`), out
	})
}

// TestMigrateRefusesEventsThatCannotBeUpcast: an event of an unknown
// schema version is reported, fails the dry run and stops --apply before
// anything is written.
func TestMigrateRefusesEventsThatCannotBeUpcast(t *testing.T) {
	f := newFleet(t)
	f.seed(append(legacyEvents[:1:1], struct{ subject, body string }{
		"person.events.ada.name_updated",
		`{"event_id":"e-ada-2","person_id":"ada","version":2,"type":"name_updated","schema_version":9,"data":{}}`,
	}))
	code, out, _ := f.ctl("migrate", "--to-current")
	if code != ExitFailure || !strings.Contains(out, "cannot upcast: seq 2 on person.events.ada.name_updated") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	code, out, _ = f.ctl("migrate", "--to-current", "--apply", "--json")
	rep := mustJSON[migrateReport](t, out)
	if code != ExitFailure || len(rep.CannotUpcast) != 1 || rep.CannotUpcast[0].Version != 9 {
		t.Fatalf("apply: exit %d %+v", code, rep)
	}
	if _, err := f.js.Stream(context.Background(), "PERSON_EVENTS_V2"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("apply wrote a target: %v", err)
	}
	if code, _, _ := f.ctl("migrate"); code != ExitUsage {
		t.Fatalf("migrate without --to-current: exit %d", code)
	}
	if NextStreamName("PERSON_EVENTS") != "PERSON_EVENTS_V2" || NextStreamName("PERSON_EVENTS_V2") != "PERSON_EVENTS_V3" {
		t.Fatal("NextStreamName")
	}
}
