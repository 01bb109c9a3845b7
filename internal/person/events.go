package person

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// EventType names an event on the wire (snake_case): person.events.<id>.<type>.
type EventType string

// Payload is the domain content of one event. Each payload type knows its
// EventType and how it changes a Person (apply never fails: decide checked
// everything before the event existed).
type Payload interface {
	EventType() EventType
	apply(p *Person, e *Event)
}

// Event is a recorded fact about one person: the envelope every event
// carries plus its payload. The schema version is not here: it belongs to
// the serialised form (package schema), which always reads into the current
// payload types.
type Event struct {
	ID            string            // deterministic: derived from the causing command id and the index
	PersonID      ID                // the aggregate
	Version       uint64            // aggregate version after this event, 1 for the first
	OccurredAt    time.Time         // when the decision was taken
	CorrelationID string            // the conversation this belongs to (first command's id by default)
	CausationID   string            // the command that caused it
	Actor         string            // who asked (user, service or policy name)
	Trace         map[string]string // W3C trace context (traceparent, tracestate, baggage)
	Payload       Payload
}

// Type is the payload's event type.
func (e *Event) Type() EventType { return e.Payload.EventType() }

// Meta is what the caller knows about the command that produced a decision;
// NewEvents stamps it on every event.
type Meta struct {
	CommandID     string
	CorrelationID string
	Actor         string
	At            time.Time
	Trace         map[string]string
}

// eventNamespace seeds the name-based (v5) UUIDs of events.
var eventNamespace = uuid.MustParse("4f0a1c3e-8e0b-5d43-9a7e-2b1f6c7d9e10")

// EventID is the deterministic id of the index-th event caused by commandID:
// a command redelivered and decided again yields the same ids, which is what
// makes the event store's dedup (Nats-Msg-Id) work.
func EventID(commandID string, index int) string {
	return uuid.NewSHA1(eventNamespace, []byte(commandID+"#"+strconv.Itoa(index))).String()
}

// NewEvents wraps the payloads of a decision into events numbered after
// version (the aggregate's version the decision was made on).
func NewEvents(id ID, version uint64, m Meta, payloads []Payload) []Event {
	corr := m.CorrelationID
	if corr == "" {
		corr = m.CommandID
	}
	out := make([]Event, len(payloads))
	for i, pl := range payloads {
		out[i] = Event{
			ID:            EventID(m.CommandID, i),
			PersonID:      id,
			Version:       version + uint64(i) + 1,
			OccurredAt:    m.At,
			CorrelationID: corr,
			CausationID:   m.CommandID,
			Actor:         m.Actor,
			Trace:         m.Trace,
			Payload:       pl,
		}
	}
	return out
}
