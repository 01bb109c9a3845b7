// Package contract is the fleet's public wire contract: subjects, stream and
// bucket names, the JSON envelopes of commands, results and dead letters,
// and the headers. Anything that talks to the fleet (the workers, personctl,
// a plain `nats` CLI user) goes through these names and shapes, documented
// in the README.
package contract

import (
	"fmt"
	"strings"

	"github.com/personfleet/personfleet/internal/person"
)

// DefaultPrefix starts every subject; stream and bucket names derive from it.
const DefaultPrefix = "person"

// Names derives every subject, stream, consumer and bucket name from one
// prefix, so two fleets can share a NATS account with different prefixes.
type Names struct {
	prefix string
	// eventsStream overrides the events stream's name (empty: derived from
	// the prefix). After `personctl migrate --apply` the fleet's events live
	// in a new stream (PERSON_EVENTS_V2, …) that owns the same subjects.
	eventsStream string
}

// NewNames validates a prefix: one subject token, lowercase letters, digits
// and '_' (it is uppercased for stream names).
func NewNames(prefix string) (Names, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return Names{}, fmt.Errorf("contract: prefix %q may hold only lowercase letters, digits and '_'", prefix)
		}
	}
	return Names{prefix: prefix}, nil
}

// WithEventsStream returns names whose events stream is name instead of
// <PREFIX>_EVENTS (an empty name restores the default). The subjects do
// not change: only the stream that owns <prefix>.events.> does. Workers
// and personctl take it as --events-stream ($PERSONFLEET_EVENTS_STREAM)
// after an event migration switched the fleet to a new stream.
func (n Names) WithEventsStream(name string) (Names, error) {
	if name != "" && !IsValidStreamName(name) {
		return n, fmt.Errorf("contract: events stream %q: a stream name is 1 to 255 characters, without spaces, '.', '*', '>', '/' or '\\'", name)
	}
	n.eventsStream = name
	return n, nil
}

// IsValidStreamName reports whether s can name a JetStream stream.
func IsValidStreamName(s string) bool {
	return s != "" && len(s) <= 255 && !strings.ContainsAny(s, " \t\r\n.*>/\\")
}

// DefaultNames uses DefaultPrefix.
func DefaultNames() Names { return Names{prefix: DefaultPrefix} }

// Prefix is the subject prefix.
func (n Names) Prefix() string { return n.prefix }

func (n Names) stream(kind string) string { return strings.ToUpper(n.prefix) + "_" + kind }

// Streams.
func (n Names) CommandsStream() string { return n.stream("COMMANDS") }
func (n Names) EventsStream() string {
	if n.eventsStream != "" {
		return n.eventsStream
	}
	return n.stream("EVENTS")
}
func (n Names) ResultsStream() string { return n.stream("RESULTS") }
func (n Names) DLQStream() string     { return n.stream("DLQ") }
func (n Names) TimersStream() string  { return n.stream("TIMERS") }

// KV buckets of the read models.
func (n Names) SummaryBucket() string    { return n.prefix + "_summary" }
func (n Names) OnboardingBucket() string { return n.prefix + "_onboarding" }

// Command is person.commands.<person_id>.<command_type>.
func (n Names) Command(id person.ID, t person.CommandType) string {
	return n.prefix + ".commands." + string(id) + "." + string(t)
}

// Commands matches every command.
func (n Names) Commands() string { return n.prefix + ".commands.>" }

// Event is person.events.<person_id>.<event_type>.
func (n Names) Event(id person.ID, t person.EventType) string {
	return n.prefix + ".events." + string(id) + "." + string(t)
}

// EventsOf matches every event of one person (the optimistic-concurrency
// filter of an append).
func (n Names) EventsOf(id person.ID) string { return n.prefix + ".events." + string(id) + ".>" }

// Events matches every event.
func (n Names) Events() string { return n.prefix + ".events.>" }

// Result is person.results.<command_id>.
func (n Names) Result(commandID string) string { return n.prefix + ".results." + commandID }

// Results matches every result.
func (n Names) Results() string { return n.prefix + ".results.>" }

// DLQ is person.dlq.<worker>.
func (n Names) DLQ(worker string) string { return n.prefix + ".dlq." + worker }

// DLQs matches every dead letter.
func (n Names) DLQs() string { return n.prefix + ".dlq.>" }

// TimerArmed is person.timers.armed.<person_id>.<timer>: the subject a
// scheduled (durable) timer message lives on until the server fires it.
func (n Names) TimerArmed(id person.ID, name string) string {
	return n.prefix + ".timers.armed." + string(id) + "." + name
}

// TimerFired is person.timers.fired.<person_id>.<timer>: where the server
// publishes a timer when it fires.
func (n Names) TimerFired(id person.ID, name string) string {
	return n.prefix + ".timers.fired." + string(id) + "." + name
}

// TimersFired matches every fired timer.
func (n Names) TimersFired() string { return n.prefix + ".timers.fired.>" }

// Timers matches every timer subject.
func (n Names) Timers() string { return n.prefix + ".timers.>" }

// Query is person.query.<name>: the request/reply query service.
func (n Names) Query(name string) string { return n.prefix + ".query." + name }

// QueryPrefix is the query service's subject prefix.
func (n Names) QueryPrefix() string { return n.prefix + ".query" }

// ParseCommandSubject splits person.commands.<person_id>.<command_type>.
func (n Names) ParseCommandSubject(subject string) (person.ID, string, error) {
	rest, ok := strings.CutPrefix(subject, n.prefix+".commands.")
	if !ok {
		return "", "", fmt.Errorf("%w: %q is not a command subject", ErrSubjectMismatch, subject)
	}
	id, typ, ok := strings.Cut(rest, ".")
	if !ok || id == "" || typ == "" || strings.Contains(typ, ".") {
		return "", "", fmt.Errorf("%w: %q is not <prefix>.commands.<person_id>.<command_type>", ErrSubjectMismatch, subject)
	}
	return person.ID(id), typ, nil
}

// IsValidToken reports whether s can be one subject token: no dots,
// wildcards or whitespace, 1 to 128 bytes.
func IsValidToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	return !strings.ContainsAny(s, ".*> \t\r\n")
}
