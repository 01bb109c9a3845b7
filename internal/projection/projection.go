// Package projection holds the read-model reducers: pure folds of a
// person's events into the records the query side serves (the person
// summary and the onboarding status). They read no clock and do no I/O;
// times come from the events' OccurredAt.
//
// Every read model remembers the aggregate version it has applied, and
// Apply takes only the next one:
//
//   - e.Version == Version+1 (the first event has version 1): applied, nil;
//   - e.Version <= Version: ErrDuplicate, nothing changes (a redelivery:
//     ack it and move on);
//   - e.Version > Version+1: ErrGap, nothing changes (an earlier event is
//     still missing: do not ack; let it be redelivered after the gap fills,
//     or rebuild from the event store).
//
// Every event advances the version, also those whose content a model does
// not use, so the stored version always equals the person's aggregate
// version. Because the version travels with the record (a JSON document
// in a KV bucket), a projector that loads the record, applies and stores
// it with compare-and-set on the KV revision converges to exactly what a
// sequential replay gives, whatever the redeliveries, replicas and
// restarts.
//
// Apply has a pointer receiver and mutates the model in place; it changes
// nothing when it returns an error. Models are not safe for concurrent use.
package projection

import (
	"errors"
	"fmt"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

var (
	// ErrDuplicate: the event's version was already applied.
	ErrDuplicate = errors.New("projection: event already applied")
	// ErrGap: the event is ahead of the read model; an earlier one is missing.
	ErrGap = errors.New("projection: event version ahead of the read model")
	// ErrInvalidEvent: the event can never be applied (no payload, version
	// 0, or another person's event). It is permanent: dead-letter it.
	ErrInvalidEvent = errors.New("projection: invalid event")
)

// Model is a read model fed one event at a time.
type Model interface {
	Apply(e *person.Event) error
}

var (
	_ Model = (*Summary)(nil)
	_ Model = (*Onboarding)(nil)
)

// Replay applies a history, oldest first; it stops at the first error.
// Duplicates are skipped, as a redelivering consumer would.
func Replay(m Model, history []person.Event) error {
	for i := range history {
		if err := m.Apply(&history[i]); err != nil && !errors.Is(err, ErrDuplicate) {
			return err
		}
	}
	return nil
}

// admit checks that e is the next event of the model of person *id at
// version; on success it fills in *id for a fresh model.
func admit(id *person.ID, version uint64, e *person.Event) error {
	switch {
	case e == nil:
		return fmt.Errorf("%w: nil event", ErrInvalidEvent)
	case e.Payload == nil:
		return fmt.Errorf("%w: event %s (version %d) has no payload", ErrInvalidEvent, e.ID, e.Version)
	case e.Version == 0:
		return fmt.Errorf("%w: event %s has version 0", ErrInvalidEvent, e.ID)
	case *id != "" && e.PersonID != *id:
		return fmt.Errorf("%w: event %s belongs to person %s, not %s", ErrInvalidEvent, e.ID, e.PersonID, *id)
	case e.Version <= version:
		return fmt.Errorf("%w: event %s has version %d, read model of %s is at %d", ErrDuplicate, e.ID, e.Version, e.PersonID, version)
	case e.Version > version+1:
		return fmt.Errorf("%w: event %s has version %d, read model of %s is at %d", ErrGap, e.ID, e.Version, e.PersonID, version)
	}
	*id = e.PersonID
	return nil
}

// at is the event's time, normalised to UTC (so it survives JSON unchanged).
func at(e *person.Event) time.Time { return e.OccurredAt.UTC() }

// OnboardingNotStarted is the onboarding state of a person whose workflow
// never started (the domain's OnboardingNone).
const OnboardingNotStarted = "none"

func onboardingName(s person.OnboardingState) string {
	if s == person.OnboardingNone {
		return OnboardingNotStarted
	}
	return string(s)
}
