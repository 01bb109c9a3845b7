package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

// FuzzDecode: whatever the bytes, Decode returns an error wrapping one of
// the sentinels, or an event that Encode accepts and that decodes again to
// the same event (and encodes again to the same bytes). Decode must never
// accept what encoding/json rejects. Seeds: every golden file and every line
// of the replay history.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden files: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				f.Add(line)
			}
		}
		f.Add(b) // the pretty-printed ones whole
	}
	f.Add([]byte(`{"event_id":"e","person_id":"p","version":1,"type":"person_created","schema_version":1,"data":{"full_name":"\ud800 A\u00e9 B","created_at":"0001-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{"event_id":"e","person_id":"p","version":1,"type":"name_updated","schema_version":1,"occurred_at":null,"trace":{},"data":{"name":{"middle_names":[]},"updated_at":"2020-02-29T23:59:60+23:59"}}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) &&
				!errors.Is(err, ErrUnknownVersion) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decode error wraps no sentinel: %v", err)
			}
			if !reflect.DeepEqual(e, person.Event{}) {
				t.Fatalf("Decode returned %+v with its error", e)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Decode accepted what encoding/json rejects: %q", data)
		}
		h, err := Peek(data)
		if err != nil {
			t.Fatalf("Decode accepted what Peek rejects: %v", err)
		}
		if h.EventID != e.ID || h.PersonID != e.PersonID || h.Version != e.Version || h.Type != e.Type() ||
			h.CorrelationID != e.CorrelationID || h.CausationID != e.CausationID {
			t.Fatalf("Peek = %+v disagrees with Decode = %+v", h, e)
		}

		b, err := Encode(&e)
		if err != nil {
			t.Fatalf("Encode refused a decoded event: %v\nevent %+v", err, e)
		}
		e2, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(e)): %v\n%s", err, b)
		}
		if d := diffEvents(e2, e); d != "" {
			t.Fatalf("Decode(Encode(e)) differs: %s\ninput   %q\nencoded %s", d, data, b)
		}
		b2, err := Encode(&e2)
		if err != nil || !bytes.Equal(b2, b) {
			t.Fatalf("Encode is not stable: %v\n%s\n%s", err, b, b2)
		}

		out, from, err := Upcast(data)
		if err != nil || from != h.SchemaVersion {
			t.Fatalf("Upcast = %d, %v after Decode succeeded", from, err)
		}
		if from < CurrentVersion(h.Type) && !bytes.Equal(out, b) {
			t.Fatalf("Upcast wrote %s, Encode %s", out, b)
		}
	})
}
