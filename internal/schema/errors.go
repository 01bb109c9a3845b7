package schema

import "errors"

// Decode, Peek, Upcast and Encode return these sentinels, wrapped with
// details by %w: compare with errors.Is. Every one of them is permanent —
// the same bytes fail the same way on every attempt — so a consumer parks
// such a message (dead letter) at once instead of retrying it.
var (
	// ErrTooLarge: the message is longer than MaxEventSize.
	ErrTooLarge = errors.New("schema: event too large")
	// ErrMalformed: the bytes are not valid JSON (or not valid UTF-8, or
	// nested deeper than the codec reads), a field has the wrong type, a
	// required field (event_id, person_id, version, type, data) is missing,
	// the person id or a time is invalid, or the payload does not fit its
	// type. Encode returns it for an event it refuses to write for the
	// same reasons, so the store never holds what Decode cannot read.
	ErrMalformed = errors.New("schema: malformed event")
	// ErrUnknownType: the event type is not one this codec knows.
	ErrUnknownType = errors.New("schema: unknown event type")
	// ErrUnknownVersion: the schema version is missing, zero, negative or
	// newer than the current version of the event type (an event written by
	// a newer release: upgrade the reader, do not drop the event).
	ErrUnknownVersion = errors.New("schema: unknown schema version")
)
