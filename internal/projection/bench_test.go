package projection

import (
	"encoding/json"
	"testing"
)

// benchApply applies a realistic history over and over, starting a fresh
// model at each pass; ns/op is per event.
func benchApply[M any, PM interface {
	*M
	Model
}](b *testing.B) {
	evs := realisticHistory(b)
	m := PM(new(M))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := i % len(evs)
		if k == 0 {
			m = PM(new(M))
		}
		if err := m.Apply(&evs[k]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSummaryApply(b *testing.B)    { benchApply[Summary](b) }
func BenchmarkOnboardingApply(b *testing.B) { benchApply[Onboarding](b) }

// BenchmarkSummaryDuplicate measures the refusal of a redelivered event.
func BenchmarkSummaryDuplicate(b *testing.B) {
	evs := realisticHistory(b)
	var s Summary
	if err := Replay(&s, evs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if s.Apply(&evs[3]) == nil {
			b.Fatal("applied a duplicate")
		}
	}
}

// BenchmarkSummaryStoredCycle is one projector step without the KV: decode
// the stored summary, apply the next event, encode it again (a person with
// a realistic history; ns/op is per event).
func BenchmarkSummaryStoredCycle(b *testing.B) {
	evs := realisticHistory(b)
	stored := make([][]byte, len(evs))
	var s Summary
	for i := range evs {
		stored[i], _ = json.Marshal(&s)
		if err := s.Apply(&evs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := i % len(evs)
		var m Summary
		if err := json.Unmarshal(stored[k], &m); err != nil {
			b.Fatal(err)
		}
		if err := m.Apply(&evs[k]); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(&m); err != nil {
			b.Fatal(err)
		}
	}
}
