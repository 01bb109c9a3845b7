package schema

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

// The benchmarks use the golden person_created events: a full envelope with
// trace context and a structured name, about 600 bytes.

func BenchmarkEncode(b *testing.B) {
	e := fixtureEvent(sampleByType()[person.EventPersonCreated])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(&e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCurrent(b *testing.B) {
	benchmarkDecode(b, readGolden(b, goldenPath(person.EventPersonCreated, 3)))
}

// BenchmarkDecodeUpcastV1toV3 reads a person_created v1 event (two upcast
// steps: full-name split, created_at into the envelope, source fields).
func BenchmarkDecodeUpcastV1toV3(b *testing.B) {
	benchmarkDecode(b, readGolden(b, goldenPath(person.EventPersonCreated, 1)))
}

func benchmarkDecode(b *testing.B, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPeek(b *testing.B) {
	data := readGolden(b, goldenPath(person.EventPersonCreated, 3))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Peek(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineStdlibDecode is the obvious implementation — one
// encoding/json pass over an envelope struct with json.RawMessage data,
// then one over the payload — kept as the yardstick for Decode.
func BenchmarkBaselineStdlibDecode(b *testing.B) {
	data := readGolden(b, goldenPath(person.EventPersonCreated, 3))
	type wire struct {
		EventID       string            `json:"event_id"`
		PersonID      string            `json:"person_id"`
		Version       uint64            `json:"version"`
		Type          string            `json:"type"`
		SchemaVersion int               `json:"schema_version"`
		OccurredAt    time.Time         `json:"occurred_at"`
		CorrelationID string            `json:"correlation_id"`
		CausationID   string            `json:"causation_id"`
		Actor         string            `json:"actor"`
		Trace         map[string]string `json:"trace"`
		Data          json.RawMessage   `json:"data"`
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var w wire
		if err := json.Unmarshal(data, &w); err != nil {
			b.Fatal(err)
		}
		var p person.PersonCreated
		if err := json.Unmarshal(w.Data, &p); err != nil {
			b.Fatal(err)
		}
	}
}
