package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/personfleet/personfleet/internal/person"
)

// Headers the fleet reads or writes besides the W3C trace context ones
// (traceparent, tracestate, baggage).
const (
	HeaderMsgID        = "Nats-Msg-Id" // idempotent publish: the command id on commands
	HeaderCorrelation  = "Correlation-Id"
	HeaderCausation    = "Causation-Id"
	HeaderSchedule     = "Nats-Schedule"        // durable timers (nats-server >= 2.12)
	HeaderScheduleTgt  = "Nats-Schedule-Target" // where a fired timer is published
	HeaderEventType    = "Person-Event-Type"
	HeaderSchemaVer    = "Person-Schema-Version"
	HeaderCommandType  = "Person-Command-Type"
	HeaderPersonID     = "Person-Id"
	HeaderResultStatus = "Person-Result-Status"
)

// MaxCommandSize bounds a command message's body. Larger bodies are
// rejected (too_large) before any JSON is parsed.
const MaxCommandSize = 64 << 10

// Error is a permanent, coded rejection by the contract layer (the
// envelope, not the domain). Like person.Error, its code travels in
// rejected results.
type Error struct {
	code string
	msg  string
}

func (e *Error) Error() string { return e.msg }

// Code is the machine-readable reason.
func (e *Error) Code() string { return e.code }

// Envelope errors.
var (
	ErrMalformed       = &Error{"malformed_json", "malformed JSON"}
	ErrTooLarge        = &Error{"too_large", "message too large"}
	ErrMissingID       = &Error{"missing_command_id", "command_id is required"}
	ErrSubjectMismatch = &Error{"subject_mismatch", "subject and body disagree"}
	ErrVersionConflict = &Error{"version_conflict", "the person is not at the expected version"}
)

// Code returns the machine-readable code of a rejection (contract or
// domain), or "" for an error that is not a permanent rejection.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.code
	}
	return person.CodeOf(err)
}

// IsPermanent reports whether err is a coded rejection: retrying the same
// message can never succeed.
func IsPermanent(err error) bool { return Code(err) != "" }

// CommandEnvelope is the JSON body of a command message.
type CommandEnvelope struct {
	CommandID     string          `json:"command_id"`
	Type          string          `json:"type"`
	PersonID      person.ID       `json:"person_id"`
	Data          json.RawMessage `json:"data,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	CausationID   string          `json:"causation_id,omitempty"`
	Actor         string          `json:"actor,omitempty"`
	// ExpectedVersion, when set, rejects the command (version_conflict)
	// unless the person is at exactly this version: client-side optimistic
	// concurrency on top of the fleet's own.
	ExpectedVersion *uint64   `json:"expected_version,omitempty"`
	IssuedAt        time.Time `json:"issued_at,omitzero"`
}

// Command is a decoded, validated command.
type Command struct {
	Envelope CommandEnvelope
	Command  person.Command
}

// DecodeCommand reads a command message received on subject. It checks the
// size, the JSON, the ids, that subject and body agree on the person and
// the type, and decodes the data strictly into the domain command. Every
// error is permanent (Code(err) != "").
func (n Names) DecodeCommand(subject string, body []byte) (Command, error) {
	if len(body) > MaxCommandSize {
		return Command{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(body), MaxCommandSize)
	}
	var env CommandEnvelope
	if err := strict(body, &env); err != nil {
		return Command{}, err
	}
	if !IsValidToken(env.CommandID) {
		return Command{}, fmt.Errorf("%w: %q must be one subject token (a UUID is best)", ErrMissingID, env.CommandID)
	}
	if _, err := person.ParseID(string(env.PersonID)); err != nil {
		return Command{}, err
	}
	t, err := person.ParseCommandType(env.Type)
	if err != nil {
		return Command{}, err
	}
	if subject != "" {
		sid, styp, err := n.ParseCommandSubject(subject)
		if err != nil {
			return Command{}, err
		}
		if sid != env.PersonID || styp != env.Type {
			return Command{}, fmt.Errorf("%w: subject says %s/%s, body says %s/%s", ErrSubjectMismatch, sid, styp, env.PersonID, env.Type)
		}
	}
	c, err := person.DecodeCommand(t, env.Data)
	if err != nil {
		return Command{}, err
	}
	return Command{Envelope: env, Command: c}, nil
}

// CommandIDOf extracts a command id from a body too broken to decode, so a
// rejection can still be sent to person.results.<command_id>. It returns ""
// when no usable id is found.
func CommandIDOf(body []byte) string {
	var probe struct {
		CommandID string `json:"command_id"`
	}
	if len(body) > MaxCommandSize || json.Unmarshal(body, &probe) != nil || !IsValidToken(probe.CommandID) {
		return ""
	}
	return probe.CommandID
}

func strict(body []byte, v any) error {
	if !utf8.Valid(body) {
		// encoding/json would silently turn the bad bytes into U+FFFD.
		return fmt.Errorf("%w: invalid UTF-8", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	return nil
}

// Status of a command's result.
type Status string

// The statuses. Only received is not final.
const (
	StatusReceived Status = "received"
	StatusAccepted Status = "accepted"
	StatusRejected Status = "rejected"
	StatusFailed   Status = "failed"
)

// EventRef names one appended event in a result.
type EventRef struct {
	EventID string           `json:"event_id"`
	Type    person.EventType `json:"type"`
	Version uint64           `json:"version"`
}

// ResultError explains a rejected or failed command.
type ResultError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Result is one message of a command's result stream on
// person.results.<command_id>; the last one has Final set.
type Result struct {
	CommandID string       `json:"command_id"`
	PersonID  person.ID    `json:"person_id,omitempty"`
	Type      string       `json:"type,omitempty"`
	Status    Status       `json:"status"`
	Final     bool         `json:"final"`
	Version   uint64       `json:"version,omitempty"`
	Events    []EventRef   `json:"events,omitempty"`
	Error     *ResultError `json:"error,omitempty"`
	// Duplicate marks the answer to a command already processed: its
	// events were appended before and nothing new was appended now.
	Duplicate bool      `json:"duplicate,omitempty"`
	At        time.Time `json:"at"`
}

// DeadLetter is the JSON body of a message parked in person.dlq.<worker>.
type DeadLetter struct {
	Worker         string              `json:"worker"`
	Subject        string              `json:"subject"`
	Stream         string              `json:"stream,omitempty"`
	StreamSequence uint64              `json:"stream_sequence,omitempty"`
	Headers        map[string][]string `json:"headers,omitempty"`
	Payload        []byte              `json:"payload"` // base64 in JSON
	Error          string              `json:"error"`
	Code           string              `json:"code,omitempty"` // set when the failure was a permanent rejection
	Attempts       int                 `json:"attempts"`       // handler attempts in the last delivery
	Deliveries     uint64              `json:"deliveries"`     // JetStream deliveries of the message
	FirstFailure   time.Time           `json:"first_failure"`
	LastFailure    time.Time           `json:"last_failure"`
}

// DecodeDeadLetter reads a dead letter's JSON body.
func DecodeDeadLetter(b []byte) (DeadLetter, error) {
	var d DeadLetter
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%w: dead letter: %w", ErrMalformed, err)
	}
	return d, nil
}
