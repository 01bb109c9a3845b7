package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/worker"
)

// TestImport10kRerunWithoutDuplicates imports 10,000 persons (a tenth with
// an email, two of them invalid), then imports the same file again: the
// second run creates nothing, appends nothing, and reports the same two
// row errors.
func TestImport10kRerunWithoutDuplicates(t *testing.T) {
	const rows = 10000
	bad := map[int]bool{777: true, 4242: true}
	var b strings.Builder
	b.WriteString("import_id,given_name,family_name,email\n")
	for i := 1; i <= rows; i++ {
		email := ""
		switch {
		case bad[i]:
			email = "not-an-email"
		case i%10 == 0:
			email = fmt.Sprintf("p%d@mail.example.org", i)
		}
		fmt.Fprintf(&b, "crm-%05d,Given%d,Family%d,%s\n", i, i, i, email)
	}
	path := filepath.Join(t.TempDir(), "persons.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFleet(t)
	f.start(worker.CommandWorker, func(c *worker.Config) { c.Concurrency = 64 })

	run := func() importReport {
		t.Helper()
		start := time.Now()
		code, out, errOut := f.ctl("import", path, "--source", "crm", "--concurrency", "64", "--json")
		if code != ExitFailure || !strings.Contains(errOut, "2 of 10000 rows failed") {
			t.Fatalf("import: exit %d (want 1: two bad rows)\n%s\n%s", code, errOut, out)
		}
		rep := mustJSON[importReport](t, out)
		t.Logf("import: %d rows in %s: created %d, already %d, failed %d; commands %+v",
			rep.Processed, time.Since(start).Round(time.Millisecond), rep.Created, rep.Already, rep.Failed, rep.Commands)
		if rep.Rows != rows || rep.Processed != rows || !rep.Complete || rep.Failed != 2 || len(rep.Errors) != 2 {
			t.Fatalf("report: %+v", rep)
		}
		for i, row := range []int{777, 4242} {
			e := rep.Errors[i]
			if e.Row != row+1 || e.Code != "invalid_email" || e.Command != "add_email" || e.PersonID == "" {
				t.Errorf("error %d: %+v (want line %d, invalid_email)", i, e, row+1)
			}
		}
		return rep
	}
	countEvents := func() uint64 { return f.streamInfo("PERSON_EVENTS").State.Msgs }

	first := run()
	wantEvents := uint64(rows + rows/10) // every create, every valid email (rows 777 and 4242 are created; their email is rejected)
	if first.Created != rows-2 || first.Already != 0 || countEvents() != wantEvents {
		t.Fatalf("first run: created %d, already %d, events %d (want %d)", first.Created, first.Already, countEvents(), wantEvents)
	}
	second := run()
	if second.Created != 0 || second.Already != rows-2 || second.Commands.Accepted != 0 {
		t.Fatalf("second run: %+v", second)
	}
	if n := countEvents(); n != wantEvents {
		t.Fatalf("the second run appended: %d events, want %d", n, wantEvents)
	}
	// The ids are the documented ones: the person of row 1.
	ids := ImportKey("crm", &importRow{ImportID: "crm-00001"})
	out := f.mustCtl(ExitOK, "send", "set_attribute", "--person", string(ids.PersonID), "--set", "key=row", "--set", "value=1")
	if !strings.Contains(out, "version 2") {
		t.Fatalf("row 1's person: %s", out)
	}
}

// TestImportJSONL covers the JSON-lines form, full names, phones and a
// malformed line, and the human report.
func TestImportJSONL(t *testing.T) {
	f := newFleet(t)
	f.start(worker.CommandWorker, nil)
	lines := strings.Join([]string{
		`{"import_id":"a1","full_name":"Ada King Lovelace","email":"ada@lovelace.dev","phone":"020 7946 0958","country_code":"44"}`,
		`# a comment`,
		`{"name":{"given_name":"Charles","family_name":"Babbage"},"phone":"+442079460959"}`,
		`{"import_id":"a3","unknown_column":1}`,
		`{"given_name":"Grace","family_name":"Hopper","email":"grace@navy.example.org"}`,
	}, "\n")
	path := filepath.Join(t.TempDir(), "persons.jsonl")
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := f.ctl("import", path)
	if code != ExitFailure || !strings.Contains(out, "created 3") || !strings.Contains(out, "malformed_row") || !strings.Contains(out, "unknown_column") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = f.ctl("import", path)
	if code != ExitFailure || !strings.Contains(out, "created 0   already imported 3   failed 1") {
		t.Fatalf("re-run: exit %d:\n%s", code, out)
	}
	evs, _ := f.streamEvents("PERSON_EVENTS")
	if len(evs) != 3+2+2 { // 3 creates, 2 emails, 2 phones
		t.Fatalf("%d events", len(evs))
	}
	id := ImportKey("import", &importRow{ImportID: "a1"}).PersonID
	s := f.mustCtl(ExitOK, "send", "set_attribute", "--person", string(id), "--set", "key=x", "--set", "value=y", "--json")
	if !strings.Contains(s, `"version":4`) {
		t.Fatalf("a1 is not at version 3 before: %s", s)
	}
	if code, _, _ := f.ctl("import", filepath.Join(t.TempDir(), "x.txt")); code != ExitUsage {
		t.Fatalf("unknown format: exit %d", code)
	}
	csvPath := filepath.Join(t.TempDir(), "bad.csv")
	_ = os.WriteFile(csvPath, []byte("import_id,nickname\n1,x\n"), 0o600)
	if code, _, errOut := f.ctl("import", csvPath); code != ExitUsage || !strings.Contains(errOut, "nickname") {
		t.Fatalf("unknown column: exit %d %s", code, errOut)
	}
}
