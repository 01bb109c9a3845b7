// Package policy holds the fleet's policies: pure functions from one
// recorded event to the commands it causes. It reads no clock and does no
// I/O; time comes from the event (OccurredAt), and a command that must wait
// carries the instant it may run (NotBefore) for the fleet to hold as a
// durable timer.
//
// Evaluate runs a set of policies over one event and gives every emitted
// command a deterministic id derived from (event id, policy name, index):
// a redelivered event yields the same command ids, so the command stream's
// dedup (Nats-Msg-Id) and the aggregate's memory of recent command ids make
// a policy act at most once per event.
package policy

import (
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/personfleet/personfleet/internal/person"
)

// Emit is one command a policy wants sent for the event's person.
type Emit struct {
	Command person.Command
	// NotBefore is the earliest instant the command may be handled. The zero
	// time means at once; otherwise the fleet must hold a durable timer (a
	// scheduled message) and deliver the command at that instant, or as soon
	// as possible after it.
	NotBefore time.Time
}

// Policy is a named reaction to events. React must be pure and
// deterministic (the same event gives the same commands, in the same order)
// and must return fresh commands on every call: the aggregate normalises a
// command in place when it decides it. Names must be unique within the set
// passed to Evaluate: they are part of every command id.
type Policy struct {
	Name  string
	React func(e *person.Event) []Emit
}

// Request is one command to send, with everything its envelope needs.
type Request struct {
	// ID is the command id: CommandID(event id, policy, index). Use it as
	// the command envelope's command_id and as Nats-Msg-Id.
	ID            string
	Policy        string // the policy's name; a natural actor for the command
	PersonID      person.ID
	Command       person.Command
	NotBefore     time.Time // zero: now; otherwise deliver at (or after) this instant
	CausationID   string    // the id of the event that caused the command
	CorrelationID string    // carried from the event (its own id when the event has none)
}

// commandNamespace seeds the name-based (v5) UUIDs of policy commands. It
// must never change: it is part of every id ever emitted.
var commandNamespace = uuid.MustParse("b3d7c0a2-61f4-5e8b-9c2d-7a1e4f5b8c36")

// CommandID is the deterministic id of the index-th command that the named
// policy emits for the event with id eventID: a name-based SHA-1 UUID
// (version 5) of the three, NUL-separated.
func CommandID(eventID, policyName string, index int) string {
	var buf [160]byte
	b := append(buf[:0], eventID...)
	b = append(b, 0)
	b = append(b, policyName...)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(index), 10)
	return uuid.NewSHA1(commandNamespace, b).String()
}

// Evaluate runs every policy over e, in order, and returns the commands
// to send (nil when none fires). It is deterministic: evaluating the same
// event again yields equal requests with the same ids.
func Evaluate(policies []Policy, e *person.Event) []Request {
	if e == nil || e.Payload == nil {
		return nil
	}
	var out []Request
	for i := range policies {
		p := &policies[i]
		if p.React == nil {
			continue
		}
		emits := p.React(e)
		if len(emits) == 0 {
			continue
		}
		if out == nil {
			out = make([]Request, 0, len(emits))
		}
		corr := e.CorrelationID
		if corr == "" {
			corr = e.ID
		}
		for j, em := range emits {
			if em.Command == nil {
				continue
			}
			out = append(out, Request{
				ID:            CommandID(e.ID, p.Name, j),
				Policy:        p.Name,
				PersonID:      e.PersonID,
				Command:       em.Command,
				NotBefore:     em.NotBefore,
				CausationID:   e.ID,
				CorrelationID: corr,
			})
		}
	}
	return out
}
