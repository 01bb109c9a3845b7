package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/projection"
	"github.com/personfleet/personfleet/internal/verify"
	"github.com/personfleet/personfleet/internal/worker"
)

// TestVerify: a stream the fleet wrote verifies, read models included;
// broken histories and a tampered read model are each found, listed, and
// make verify exit 1.
func TestVerify(t *testing.T) {
	f := newFleet(t)
	f.seed(legacyEvents)
	f.start(worker.CommandWorker, nil)
	f.start(worker.Projector, nil)
	for _, args := range [][]string{
		{"send", "create_person", "--person", "eve", "--set", "name.given_name=Eve", "--set", "name.family_name=Ng"},
		{"send", "start_onboarding", "--person", "eve"},
		{"send", "request_identity_verification", "--person", "eve"},
		{"send", "fail_onboarding", "--person", "eve", "--set", "reason=no papers"},
		{"send", "restart_onboarding", "--person", "eve"},
	} {
		f.mustCtl(ExitOK, args...)
	}
	eventually(t, "projector", 10*time.Second, func() (bool, string) {
		ci := f.consumerInfo("PERSON_EVENTS", "projector")
		return ci.NumPending == 0 && ci.NumAckPending == 0, "behind"
	})
	out := f.mustCtl(ExitOK, "verify", "--read-models")
	if !strings.Contains(out, "of 3 persons") || !strings.Contains(out, "3 stored at an older schema version") || !strings.Contains(out, "OK:") {
		t.Fatalf("verify:\n%s", out)
	}

	// Break things: an event before its person exists, a gap, a command
	// appended twice, an onboarding step from the wrong state, a read model
	// that lies.
	f.seed([]struct{ subject, body string }{
		{"person.events.zed.email_added", `{"event_id":"e-zed-1","person_id":"zed","version":1,"type":"email_added","schema_version":1,"causation_id":"z1","data":{"email":{"email":"z@zed.dev"}}}`},
		{"person.events.ada.skill_added", `{"event_id":"e-ada-9","person_id":"ada","version":9,"type":"skill_added","schema_version":1,"causation_id":"a9","data":{"skill":{"name":"Go"}}}`},
		{"person.events.bob.attribute_set", `{"event_id":"e-bob-3","person_id":"bob","version":3,"type":"attribute_set","schema_version":1,"causation_id":"c-bob-1","data":{"key":"k","value":"v"}}`},
		{"person.events.eve.onboarding_advanced", `{"event_id":"e-eve-x","person_id":"eve","version":8,"type":"onboarding_advanced","schema_version":1,"causation_id":"ex","data":{"from":"finalizing","to":"completed"}}`},
	})
	eventually(t, "projector", 10*time.Second, func() (bool, string) {
		ci := f.consumerInfo("PERSON_EVENTS", "projector")
		return ci.NumPending == 0, "behind"
	})
	kv, err := f.js.KeyValue(context.Background(), "person_summary")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	var s projection.Summary
	_ = json.Unmarshal(e.Value(), &s)
	s.DisplayName = "Mallory"
	b, _ := json.Marshal(s)
	if _, err := kv.Put(context.Background(), "bob", b); err != nil {
		t.Fatal(err)
	}

	code, out, _ := f.ctl("verify", "--read-models")
	if code != ExitFailure {
		t.Fatalf("verify of a broken stream: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"version problems (1)", "ada: event 4 has version 9, want 4",
		"commands appended twice (1)", "bob: command c-bob-1 decided twice",
		"invalid transitions", "zed: version 1 (command z1): [email_added] (from add_email or submit_basic_info) not allowed in lifecycle none",
		"eve: version 8: onboarding_advanced from finalizing, but the workflow was in started",
		"read-model differences", "bob: summary at version 3 differs",
		"FAILED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify: no %q in\n%s", want, out)
		}
	}
	code, out, _ = f.ctl("verify", "--json", "--max-problems", "1")
	rep := mustJSON[verify.Report](t, out)
	if code != ExitFailure || rep.OK() || len(rep.TransitionProblems) != 1 || !rep.Truncated || rep.ReadModelsRead {
		t.Fatalf("verify --json: exit %d %+v", code, rep)
	}
	if code, _, errOut := f.ctl("verify", "--stream", "NO_SUCH_STREAM"); code != ExitFailure || !strings.Contains(errOut, "NO_SUCH_STREAM") {
		t.Fatalf("unknown stream: exit %d %s", code, errOut)
	}
}
