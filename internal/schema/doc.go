// Package schema is the versioned wire codec of person events: one JSON
// object per NATS message, read at any schema version ever written and
// upcast, step by step, to the current payload types of package person.
//
// The wire form of an event:
//
//	{"event_id":"…","person_id":"…","version":3,"type":"person_created",
//	 "schema_version":3,"occurred_at":"2026-01-02T03:04:05.123456789Z",
//	 "correlation_id":"…","causation_id":"…","actor":"…",
//	 "trace":{"traceparent":"…"},"data":{…payload…}}
//
// The envelope maps to person.Event; "data" is the payload, whose shape
// depends on (type, schema_version). Encode always writes the current
// version of the type; Decode reads every version listed by Versions. A
// stored event is never rewritten by the codec: it keeps the version it was
// written with, and Upcast exists for a migration tool that wants to
// rewrite a stream.
//
// Reading is strict where ambiguity would hurt and lenient where the future
// needs room: the envelope must be one RFC 8259 object of valid UTF-8, with
// no duplicate envelope members, nested at most 64 levels, an event_id of
// at most MaxEventIDLen bytes and a person_id that person.ParseID accepts;
// unknown envelope members are ignored (a newer writer may add some), and
// "data" is read with encoding/json's rules (unknown members ignored, names
// matched case-insensitively when no exact match exists). null for an
// optional member means absent. Times are RFC 3339 and are normalised to
// UTC on decode. The codec checks the wire form, not the domain rules: an
// event is a recorded fact, and apply trusts it.
//
// Decode makes one pass of a hand-written scanner over the envelope (no
// reflection, no map of members) and one over "data" with a decoder planned
// per payload type at start-up (see payloadDecoder), into the shape of the
// stored version; upcasting then runs in memory on typed values, so an old
// event costs about what a current one does. All strings of an event share
// one allocation. Encode writes the envelope by hand and the payload with
// encoding/json.
//
// The package is pure: nothing of NATS, Watermill or OpenTelemetry.
package schema
