package schema

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

var update = flag.Bool("update", false, "rewrite the golden files of current schema versions from the expectations in the tests")

const goldenDir = "testdata/golden"

func goldenPath(t person.EventType, v int) string {
	return filepath.Join(goldenDir, fmt.Sprintf("%s_v%d.json", t, v))
}

func readGolden(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// oldVersionExpectations is what every golden file of an old schema version
// must decode to: written out by hand from the upcasting rules, not derived
// from the code under test.
func oldVersionExpectations() map[string]person.Event {
	created := func(at time.Time, p *person.PersonCreated) person.Event {
		return person.Event{
			ID: "e1a7c0de-0001-4000-8000-000000000001", PersonID: fixturePerson, Version: 1, OccurredAt: at,
			CorrelationID: "legacy-import-2019", CausationID: "legacy-cmd-1", Actor: "importer",
			Payload: p,
		}
	}
	return map[string]person.Event{
		// v1: full_name split (first word given, last family, middle between),
		// created_at moved into the envelope, no source.
		goldenPath(person.EventPersonCreated, 1): created(
			time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC),
			&person.PersonCreated{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace", MiddleNames: []string{"King"}}},
		),
		// v2: structured name kept, source becomes source_system; its
		// occurred_at is in +02:00 and reads back in UTC.
		goldenPath(person.EventPersonCreated, 2): func() person.Event {
			e := created(time.Date(2021, 3, 4, 3, 6, 7, 500000000, time.UTC), &person.PersonCreated{
				Name:         person.Name{GivenName: "Ada", FamilyName: "Lovelace", Honorific: "Countess"},
				SourceSystem: "crm",
			})
			e.Trace = map[string]string{"traceparent": fixtureTraceparent}
			return e
		}(),
		// v1: reason becomes change_reason, updated_at moves into the envelope.
		goldenPath(person.EventNameUpdated, 1): {
			ID: "e1a7c0de-0002-4000-8000-000000000002", PersonID: fixturePerson, Version: 2,
			OccurredAt:    time.Date(2019, 7, 8, 9, 10, 11, 0, time.UTC),
			CorrelationID: "legacy-cmd-2", CausationID: "legacy-cmd-2", Actor: "clerk",
			Payload: &person.NameUpdated{
				Name:         person.Name{GivenName: "Ada", FamilyName: "Lovelace", Honorific: "Countess"},
				Previous:     person.Name{GivenName: "Ada", FamilyName: "Byron"},
				ChangeReason: "marriage",
			},
		},
	}
}

// TestGolden reads every (type, version) the codec claims to read from its
// golden file and compares the result with the expectation written in the
// tests. Current versions must also encode to exactly their golden bytes,
// so an accidental change of the wire format fails here.
func TestGolden(t *testing.T) {
	samples := sampleByType()
	old := oldVersionExpectations()
	for _, tv := range Versions() {
		name := goldenPath(tv.Type, tv.Version)
		t.Run(fmt.Sprintf("%s_v%d", tv.Type, tv.Version), func(t *testing.T) {
			var want person.Event
			if tv.Current {
				p, ok := samples[tv.Type]
				if !ok {
					t.Fatalf("no sample payload for %s", tv.Type)
				}
				want = fixtureEvent(p)
				if *update {
					b, err := Encode(&want)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				var ok bool
				if want, ok = old[name]; !ok {
					t.Fatalf("no expectation for old version file %s: add one to oldVersionExpectations", name)
				}
			}
			data := readGolden(t, name)

			h, err := Peek(data)
			if err != nil {
				t.Fatalf("Peek: %v", err)
			}
			if h.SchemaVersion != tv.Version || h.Type != tv.Type || h.EventID != want.ID || h.PersonID != want.PersonID || h.Version != want.Version {
				t.Errorf("Peek = %+v, want %s v%d of event %s", h, tv.Type, tv.Version, want.ID)
			}

			got, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if d := diffEvents(got, want); d != "" {
				t.Fatalf("Decode: %s", d)
			}

			wantBytes, err := Encode(&want)
			if err != nil {
				t.Fatal(err)
			}
			if tv.Current && !bytes.Equal(wantBytes, data) {
				t.Errorf("Encode changed the wire format of %s v%d:\n got %s\nwant %s\n(run go test -update only if the change is intended and a new schema version was added)", tv.Type, tv.Version, wantBytes, data)
			}
			out, from, err := Upcast(data)
			if err != nil || from != tv.Version || !bytes.Equal(out, wantBytes) {
				t.Errorf("Upcast = %s, %d, %v; want %s, %d", out, from, err, wantBytes, tv.Version)
			}
		})
	}
}

// TestGoldenFilesAreAllRead fails on a golden file no version explains
// (a stray or misnamed file would otherwise be silently untested).
func TestGoldenFilesAreAllRead(t *testing.T) {
	known := map[string]bool{filepath.Join(goldenDir, "history_mixed.jsonl"): true}
	for _, tv := range Versions() {
		known[goldenPath(tv.Type, tv.Version)] = true
	}
	files, err := filepath.Glob(filepath.Join(goldenDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !known[f] {
			t.Errorf("golden file %s matches no (type, version) the codec reads", f)
		}
	}
	if len(files) != len(known) {
		t.Errorf("%d golden files, want %d", len(files), len(known))
	}
}

// TestGoldenReplay replays a recorded history of mixed schema versions —
// written by three releases of the writer — and checks the person it
// rebuilds.
func TestGoldenReplay(t *testing.T) {
	f, err := os.Open(filepath.Join(goldenDir, "history_mixed.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var history []person.Event
	var old, current int
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, MaxEventSize)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		e, from, err := decode(b)
		if err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		if from < CurrentVersion(e.Type()) {
			old++
		} else {
			current++
		}
		history = append(history, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if old < 2 || current < 2 {
		t.Fatalf("history should mix versions, has %d old and %d current events", old, current)
	}

	p, err := person.Rehydrate(fixturePerson, history)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Version(); got != 12 {
		t.Errorf("Version = %d, want 12", got)
	}
	wantName := person.Name{GivenName: "Ada", FamilyName: "Lovelace", MiddleNames: []string{"Augusta"}, Honorific: "Countess"}
	if !p.Name().Equal(wantName) {
		t.Errorf("Name = %+v, want %+v", p.Name(), wantName)
	}
	if sys, imp := p.Source(); sys != "" || imp != "" {
		t.Errorf("Source = %q, %q; a v1 person_created has none", sys, imp)
	}
	if p.Lifecycle() != person.LifecycleActive || p.LifecycleVersion() != 11 {
		t.Errorf("Lifecycle = %s since v%d, want active since v11 (reactivated)", p.Lifecycle(), p.LifecycleVersion())
	}
	wantEmails := []person.Email{
		{Address: "ada@lovelace.example", Verified: true},
		{Address: "countess@lovelace.example", Primary: true},
	}
	if got := p.Emails(); len(got) != 2 || got[0] != wantEmails[0] || got[1] != wantEmails[1] {
		t.Errorf("Emails = %+v, want %+v", got, wantEmails)
	}
	if got := p.Phones(); len(got) != 1 || got[0].E164 != "+442079460958" {
		t.Errorf("Phones = %+v", got)
	}
	if got := p.Skills(); len(got) != 1 || got[0].Skill.Name != "Mathematics" || len(got[0].Endorsers) != 1 || got[0].Endorsers[0] != "charles-babbage" {
		t.Errorf("Skills = %+v", got)
	}
	if got := p.BirthDate(); got != person.MustDate("1815-12-10") {
		t.Errorf("BirthDate = %v", got)
	}
	if v, ok := p.Attribute("notebook"); !ok || v != "Note G" {
		t.Errorf("Attribute(notebook) = %q, %v", v, ok)
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC); !p.LastActivity().Equal(want) {
		t.Errorf("LastActivity = %v, want %v", p.LastActivity(), want)
	}
	// The v1 events' times came out of their payloads.
	if want := time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC); !history[0].OccurredAt.Equal(want) {
		t.Errorf("person_created v1 OccurredAt = %v, want created_at %v", history[0].OccurredAt, want)
	}
	if want := time.Date(2019, 7, 8, 9, 10, 11, 0, time.UTC); !history[1].OccurredAt.Equal(want) {
		t.Errorf("name_updated v1 OccurredAt = %v, want updated_at %v", history[1].OccurredAt, want)
	}
	if !p.Processed("legacy-cmd-1") || !p.Processed("cmd-12") {
		t.Error("causation ids of old and new events should be remembered")
	}
}
