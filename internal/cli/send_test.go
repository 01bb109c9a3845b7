package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/projection"
	"github.com/personfleet/personfleet/internal/worker"
)

// TestSendWatchQueryStatus drives a running fleet (command-worker,
// projector) with send and watch, reads it back with get, onboarding,
// list and search, and looks at it with status.
func TestSendWatchQueryStatus(t *testing.T) {
	f := newFleet(t)
	f.start(worker.CommandWorker, nil)
	f.start(worker.Projector, nil)

	t.Run("send streams the final result", func(t *testing.T) {
		out := f.mustCtl(ExitOK, "send", "create_person", "--person", "ada",
			"--data", `{"name":{"given_name":"Ada","family_name":"Lovelace"},"source":"crm"}`)
		if !strings.Contains(out, "accepted") || !strings.Contains(out, "version 1") || !strings.Contains(out, "person_created@1") {
			t.Fatalf("send output: %q", out)
		}
	})
	t.Run("set flags build the data; JSON lines", func(t *testing.T) {
		out := f.mustCtl(ExitOK, "send", "add_email", "--person", "ada", "--set", "email=ada@lovelace.dev", "--set", "primary:=true", "--json")
		r := mustJSON[contract.Result](t, out)
		if r.Status != contract.StatusAccepted || r.Version != 2 || !r.Final {
			t.Fatalf("result %+v", r)
		}
	})
	t.Run("a rejection exits 3 with its code", func(t *testing.T) {
		code, out, _ := f.ctl("send", "add_email", "--person", "ada", "--set", "email=not-an-email")
		if code != ExitRejected || !strings.Contains(out, "rejected") || !strings.Contains(out, "invalid_email") {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
	t.Run("expected version", func(t *testing.T) {
		code, out, _ := f.ctl("send", "update_name", "--person", "ada", "--expected-version", "7",
			"--set", "name.given_name=Augusta", "--set", "name.family_name=King")
		if code != ExitRejected || !strings.Contains(out, "version_conflict") {
			t.Fatalf("exit %d, output %q", code, out)
		}
		f.mustCtl(ExitOK, "send", "update_name", "--person", "ada", "--expected-version", "2",
			"--set", "name.given_name=Ada", "--set", "name.family_name=King")
	})
	t.Run("a resubmitted command id answers duplicate", func(t *testing.T) {
		args := []string{"send", "set_attribute", "--person", "ada", "--command-id", "cmd-attr-1", "--set", "key=team", "--set", "value=blue", "--json"}
		first := mustJSON[contract.Result](t, f.mustCtl(ExitOK, args...))
		again := mustJSON[contract.Result](t, f.mustCtl(ExitOK, args...))
		if first.Version != 4 || again.Version != first.Version || again.CommandID != "cmd-attr-1" {
			t.Fatalf("first %+v, again %+v", first, again)
		}
	})
	t.Run("envelope file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "env.json")
		env := `{"command_id":"env-file-1","type":"create_person","person_id":"bob","data":{"name":{"given_name":"Bob","family_name":"Babbage"}}}`
		if err := os.WriteFile(path, []byte(env), 0o600); err != nil {
			t.Fatal(err)
		}
		out := f.mustCtl(ExitOK, "send", "--file", path, "--json")
		if r := mustJSON[contract.Result](t, out); r.CommandID != "env-file-1" || r.PersonID != "bob" {
			t.Fatalf("result %+v", r)
		}
	})
	t.Run("async then watch", func(t *testing.T) {
		id := strings.TrimSpace(f.mustCtl(ExitOK, "send", "add_email", "--person", "bob", "--set", "email=bob@babbage.dev", "--async"))
		if !contract.IsValidToken(id) || strings.Contains(id, " ") {
			t.Fatalf("async printed %q", id)
		}
		out := f.mustCtl(ExitOK, "watch", id)
		if !strings.Contains(out, "accepted") || !strings.Contains(out, id) {
			t.Fatalf("watch: %q", out)
		}
		code, _, _ := f.ctl("watch", "no-such-command", "--timeout", "300ms")
		if code != ExitFailure {
			t.Fatalf("watch of an unknown command: exit %d", code)
		}
	})
	t.Run("usage errors exit 2", func(t *testing.T) {
		for _, args := range [][]string{
			{"send"},
			{"send", "no_such_command", "--person", "ada"},
			{"send", "add_email"},
			{"send", "add_email", "--person", "not a token"},
			{"send", "add_email", "--person", "ada", "--data", "[1,2]"},
			{"send", "add_email", "--person", "ada", "--set", "novalue"},
			{"send", "add_email", "--person", "ada", "--set", "primary:=notjson"},
			{"--events-stream", "bad.name", "send", "add_email", "--person", "ada"},
			{"list", "--lifecycle", "bogus"},
			{"search"},
			{"no-such-subcommand"},
			{"send", "--no-such-flag"},
		} {
			if code, _, errOut := f.ctl(args...); code != ExitUsage {
				t.Errorf("personctl %s: exit %d, want 2 (%s)", strings.Join(args, " "), code, errOut)
			}
		}
	})

	// The read side converges.
	eventually(t, "projections", 15*time.Second, func() (bool, string) {
		code, out, errOut := f.ctl("get", "bob", "--json")
		if code != 0 {
			return false, errOut
		}
		s := mustJSON[projection.Summary](t, out)
		return s.Version == 2, fmt.Sprint(s.Version)
	})
	t.Run("get", func(t *testing.T) {
		out := f.mustCtl(ExitOK, "get", "ada")
		for _, want := range []string{"person_id", "ada", "Ada King", "active", "ada@lovelace.dev"} {
			if !strings.Contains(out, want) {
				t.Errorf("get: no %q in\n%s", want, out)
			}
		}
		s := mustJSON[projection.Summary](t, f.mustCtl(ExitOK, "get", "ada", "--json"))
		if s.Version != 4 || s.PrimaryEmail != "ada@lovelace.dev" {
			t.Fatalf("summary %+v", s)
		}
		if code, _, errOut := f.ctl("get", "nobody"); code != ExitFailure || !strings.Contains(errOut, "not found") {
			t.Fatalf("get nobody: exit %d %q", code, errOut)
		}
	})
	t.Run("onboarding", func(t *testing.T) {
		f.mustCtl(ExitOK, "send", "start_onboarding", "--person", "bob")
		f.mustCtl(ExitOK, "send", "request_identity_verification", "--person", "bob")
		eventually(t, "onboarding", 10*time.Second, func() (bool, string) {
			out := f.mustCtl(ExitOK, "onboarding", "bob", "--json")
			o := mustJSON[projection.Onboarding](t, out)
			return o.State == "awaiting_identity_verification" && len(o.Steps) == 2, out
		})
		out := f.mustCtl(ExitOK, "onboarding", "bob")
		if !strings.Contains(out, "STEP") || !strings.Contains(out, "awaiting_identity_verification") {
			t.Fatalf("onboarding table:\n%s", out)
		}
	})
	t.Run("list and search", func(t *testing.T) {
		r := mustJSON[listReply](t, f.mustCtl(ExitOK, "list", "--lifecycle", "active", "--json"))
		if r.Total != 2 || len(r.Persons) != 2 {
			t.Fatalf("list: %+v", r)
		}
		r = mustJSON[listReply](t, f.mustCtl(ExitOK, "list", "--limit", "1", "--json"))
		if r.Total != 2 || len(r.Persons) != 1 {
			t.Fatalf("list --limit 1: %+v", r)
		}
		out := f.mustCtl(ExitOK, "list")
		if !strings.Contains(out, "PERSON_ID") || !strings.Contains(out, "2 of 2") {
			t.Fatalf("list table:\n%s", out)
		}
		r = mustJSON[listReply](t, f.mustCtl(ExitOK, "search", "--email", "BOB@babbage.dev", "--json"))
		if r.Total != 1 || r.Persons[0].PersonID != "bob" {
			t.Fatalf("search: %+v", r)
		}
		if out := f.mustCtl(ExitOK, "list", "--lifecycle", "archived"); !strings.Contains(out, "0 of 0") {
			t.Fatalf("list archived:\n%s", out)
		}
	})
	t.Run("status", func(t *testing.T) {
		st := mustJSON[fleetStatus](t, f.mustCtl(ExitOK, "status", "--json"))
		streams := map[string]streamStatus{}
		for _, s := range st.Streams {
			streams[s.Name] = s
		}
		if ev := streams["PERSON_EVENTS"]; ev.Messages == 0 || len(st.Missing) != 0 {
			t.Fatalf("streams %+v missing %v", st.Streams, st.Missing)
		}
		bound := map[string]bool{}
		for _, c := range st.Consumers {
			bound[c.Stream+"/"+c.Name] = c.Bound
		}
		if !bound["PERSON_COMMANDS/command-worker"] || !bound["PERSON_EVENTS/projector"] {
			t.Fatalf("consumers %+v", st.Consumers)
		}
		if len(st.Buckets) != 2 || st.Buckets[0].Values != 2 {
			t.Fatalf("buckets %+v", st.Buckets)
		}
		if len(st.Services) != 1 || len(st.Services[0].Endpoints) != 4 {
			t.Fatalf("services %+v", st.Services)
		}
		out := f.mustCtl(ExitOK, "status")
		for _, want := range []string{"STREAMS", "CONSUMERS", "BUCKETS", "QUERY SERVICE", "PERSON_COMMANDS", "person_summary"} {
			if !strings.Contains(out, want) {
				t.Errorf("status: no %q in\n%s", want, out)
			}
		}
	})
}

// TestHelpEverywhere checks that every command has help text and that
// asking for it exits 0.
func TestHelpEverywhere(t *testing.T) {
	root := newRoot(io.Discard, io.Discard, nil)
	var paths [][]string
	var visit func(prefix []string, cmds []*cobra.Command)
	visit = func(prefix []string, cmds []*cobra.Command) {
		for _, c := range cmds {
			if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
				continue
			}
			p := append(append([]string{}, prefix...), c.Name())
			if c.Short == "" {
				t.Errorf("%s has no short help", strings.Join(p, " "))
			}
			paths = append(paths, p)
			visit(p, c.Commands())
		}
	}
	visit(nil, root.Commands())
	if len(paths) < 18 {
		t.Fatalf("only %d commands: %v", len(paths), paths)
	}
	for _, p := range paths {
		code, out, errOut := runCtl(t, append(p, "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: exit %d\n%s%s", strings.Join(p, " "), code, out, errOut)
		}
	}
}
