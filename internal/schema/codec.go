package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/personfleet/personfleet/internal/person"
)

// MaxEventSize bounds an encoded event, in bytes. It is the default maximum
// payload of a NATS server: anything larger could not have been published.
const MaxEventSize = 1 << 20

// MaxEventIDLen bounds an event id, in bytes. Event ids are deterministic
// UUIDs (person.EventID) and travel as the Nats-Msg-Id header.
const MaxEventIDLen = 256

// Header is an event's envelope without its payload: what a consumer needs
// to route, deduplicate or order an event without decoding it.
type Header struct {
	EventID       string
	PersonID      person.ID
	Version       uint64 // aggregate version
	Type          person.EventType
	SchemaVersion int // the version the event was written with
	CorrelationID string
	CausationID   string
}

// Encode writes e at the current schema version of its type. It refuses
// (ErrMalformed) an event Decode would refuse: no payload, an empty or
// over-long (MaxEventIDLen) event id, an invalid person id, version 0, an
// occurred-at outside the years 0000-9999 in UTC; a payload of an
// unregistered type is ErrUnknownType, and an encoding longer than
// MaxEventSize ErrTooLarge. Strings that are
// not valid UTF-8 are written with U+FFFD in place of the bad bytes, as
// encoding/json does. Trace entries are written in key order, so equal
// events encode to equal bytes.
func Encode(e *person.Event) ([]byte, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: nil event", ErrMalformed)
	}
	if e.Payload == nil {
		return nil, fmt.Errorf("%w: event %q has no payload", ErrMalformed, e.ID)
	}
	typ := e.Payload.EventType()
	ti, ok := types[string(typ)]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	if e.ID == "" || len(e.ID) > MaxEventIDLen {
		return nil, fmt.Errorf("%w: event_id must have 1 to %d bytes, has %d", ErrMalformed, MaxEventIDLen, len(e.ID))
	}
	if _, err := person.ParseID(string(e.PersonID)); err != nil {
		return nil, fmt.Errorf("%w: person_id: %w", ErrMalformed, err)
	}
	if e.Version == 0 {
		return nil, fmt.Errorf("%w: event %q has version 0", ErrMalformed, e.ID)
	}
	var at time.Time
	if !e.OccurredAt.IsZero() {
		var err error
		if at, err = normalizeTime(e.OccurredAt); err != nil {
			return nil, fmt.Errorf("%w: occurred_at %w", ErrMalformed, err)
		}
	}
	data, err := json.Marshal(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %s data: %w", ErrMalformed, typ, err)
	}
	if data[0] != '{' { // a nil pointer payload marshals to null
		return nil, fmt.Errorf("%w: %s data is %s, not an object", ErrMalformed, typ, data)
	}

	size := 200 + len(e.ID) + len(e.PersonID) + len(typ) + len(e.CorrelationID) +
		len(e.CausationID) + len(e.Actor) + len(data)
	for k, v := range e.Trace {
		size += len(k) + len(v) + 6
	}
	b := make([]byte, 0, size)
	b = append(b, `{"event_id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"person_id":"`...)
	b = append(b, e.PersonID...) // ParseID allows nothing that needs escaping
	b = append(b, `","version":`...)
	b = strconv.AppendUint(b, e.Version, 10)
	b = append(b, `,"type":"`...)
	b = append(b, typ...) // registered types are snake_case
	b = append(b, `","schema_version":`...)
	b = strconv.AppendInt(b, int64(ti.current), 10)
	if !at.IsZero() {
		b = append(b, `,"occurred_at":"`...)
		b = at.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if e.CorrelationID != "" {
		b = append(b, `,"correlation_id":`...)
		b = appendString(b, e.CorrelationID)
	}
	if e.CausationID != "" {
		b = append(b, `,"causation_id":`...)
		b = appendString(b, e.CausationID)
	}
	if e.Actor != "" {
		b = append(b, `,"actor":`...)
		b = appendString(b, e.Actor)
	}
	if len(e.Trace) > 0 {
		b = append(b, `,"trace":{`...)
		b = appendTrace(b, e.Trace)
		b = append(b, '}')
	}
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, '}')
	if len(b) > MaxEventSize {
		return nil, fmt.Errorf("%w: event %q encodes to %d bytes, the limit is %d", ErrTooLarge, e.ID, len(b), MaxEventSize)
	}
	return b, nil
}

func appendTrace(b []byte, trace map[string]string) []byte {
	if len(trace) == 1 {
		for k, v := range trace {
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, v)
		}
		return b
	}
	var buf [8]string
	keys := buf[:0]
	for k := range trace {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, trace[k])
	}
	return b
}

// Decode reads an event of any known type at any schema version Versions
// lists and returns it with the current payload type, upcast step by step.
// Errors wrap ErrTooLarge, ErrMalformed, ErrUnknownType or
// ErrUnknownVersion; all of them are permanent. Decode never panics and
// never keeps data (the event owns its strings).
func Decode(data []byte) (person.Event, error) {
	e, _, err := decode(data)
	return e, err
}

// Upcast rewrites an event at the current schema version of its type and
// reports the version it had, for a tool that migrates a stream. An event
// already current is validated (fully decoded) and returned as is: out is
// then data itself. Otherwise out is Encode of the decoded event: unknown
// envelope members are dropped and times written in UTC. from is the
// stored schema version, also on errors where the envelope could be read.
func Upcast(data []byte) (out []byte, from int, err error) {
	e, from, err := decode(data)
	if err != nil {
		return nil, from, err
	}
	if from == CurrentVersion(e.Type()) {
		return data, from, nil
	}
	out, err = Encode(&e)
	return out, from, err
}

// Peek reads and checks an event's header only: the envelope's syntax (the
// whole message is scanned), its ids, version, type and schema version —
// not its payload, occurred_at, actor or trace, which Decode checks. It is
// the cheap way to route a message. On ErrUnknownType and ErrUnknownVersion
// the returned header is still filled in, so a dead-letter report can say
// what arrived.
func Peek(data []byte) (Header, error) {
	var arena strings.Builder
	env, err := read(data, false, &arena)
	return env.h, err
}

func decode(data []byte) (person.Event, int, error) {
	var arena strings.Builder
	env, err := read(data, true, &arena)
	if err != nil {
		return person.Event{}, env.h.SchemaVersion, err
	}
	e := person.Event{
		ID:            env.h.EventID,
		PersonID:      env.h.PersonID,
		Version:       env.h.Version,
		OccurredAt:    env.occurredAt,
		CorrelationID: env.h.CorrelationID,
		CausationID:   env.h.CausationID,
		Actor:         env.actor,
		Trace:         env.trace,
	}
	p, err := env.payload(&e, &arena)
	if err != nil {
		return person.Event{}, env.h.SchemaVersion, err
	}
	e.Payload = p
	return e, env.h.SchemaVersion, nil
}

// envelope is a checked envelope, its data still raw.
type envelope struct {
	h          Header
	ti         *typeInfo
	occurredAt time.Time
	actor      string
	trace      map[string]string
	data       []byte
}

// payload unmarshals the data into the shape of its stored version and
// upcasts it; steps may move information into e's envelope.
func (env *envelope) payload(e *person.Event, arena *strings.Builder) (person.Payload, error) {
	ti, sv := env.ti, env.h.SchemaVersion
	if sv == ti.current {
		p := ti.newPayload()
		if err := ti.dec.decode(env.data, p, arena); err != nil {
			return nil, fmt.Errorf("%w: %s v%d data: %w", ErrMalformed, ti.typ, sv, err)
		}
		return p, nil
	}
	steps := ti.steps[sv-1:]
	v := steps[0].newIn()
	if err := steps[0].dec.decode(env.data, v, arena); err != nil {
		return nil, fmt.Errorf("%w: %s v%d data: %w", ErrMalformed, ti.typ, sv, err)
	}
	// Steps get a copy of the envelope on the heap, so e itself (on the
	// decoder's stack) does not escape on the common, current path.
	up := new(person.Event)
	*up = *e
	for _, s := range steps {
		var err error
		if v, err = s.up(up, v); err != nil {
			return nil, fmt.Errorf("%w: upcast %s: %w", ErrMalformed, s.name, err)
		}
	}
	*e = *up
	p, ok := v.(person.Payload)
	if !ok { // buildRegistry rules this out
		return nil, fmt.Errorf("%w: upcast of %s v%d gave %T", ErrMalformed, ti.typ, sv, v)
	}
	return p, nil
}

// Envelope members, as bits: seen (for duplicates) and present (not null).
const (
	fEventID uint16 = 1 << iota
	fPersonID
	fVersion
	fType
	fSchemaVersion
	fOccurredAt
	fCorrelationID
	fCausationID
	fActor
	fTrace
	fData
)

// rawEnvelope holds the spans of the envelope members in the message.
type rawEnvelope struct {
	seen, present             uint16
	eventID, personID, typ    str
	occurredAt, correlationID str
	causationID, actor        str
	version, schemaVersion    []byte // number text
	trace, data               []byte // object spans
}

// scanEnvelope checks the message's size, encoding and syntax and finds
// the envelope members.
func scanEnvelope(data []byte) (rawEnvelope, error) {
	var r rawEnvelope
	if len(data) > MaxEventSize {
		return r, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxEventSize)
	}
	if !utf8.Valid(data) {
		return r, fmt.Errorf("%w: not valid UTF-8", ErrMalformed)
	}
	l := lexer{b: data}
	if err := l.expect('{'); err != nil {
		return r, err
	}
	if err := l.object(func(key str) error { return r.member(&l, key) }); err != nil {
		return r, err
	}
	l.skipWS()
	if l.i != len(data) {
		return r, l.errorf("data after the event object")
	}
	return r, nil
}

// member consumes the value of one envelope member.
func (r *rawEnvelope) member(l *lexer, key str) error {
	k := key.bytes()
	var f uint16
	var s *str
	switch string(k) {
	case "event_id":
		f, s = fEventID, &r.eventID
	case "person_id":
		f, s = fPersonID, &r.personID
	case "type":
		f, s = fType, &r.typ
	case "occurred_at":
		f, s = fOccurredAt, &r.occurredAt
	case "correlation_id":
		f, s = fCorrelationID, &r.correlationID
	case "causation_id":
		f, s = fCausationID, &r.causationID
	case "actor":
		f, s = fActor, &r.actor
	case "version":
		f = fVersion
	case "schema_version":
		f = fSchemaVersion
	case "trace":
		f = fTrace
	case "data":
		f = fData
	default:
		_, err := l.skipValue(1)
		return err
	}
	if r.seen&f != 0 {
		return l.errorf("duplicate member %q", clip(k))
	}
	r.seen |= f
	c := l.peek()
	if c == 'n' {
		return l.literal("null") // null: as if absent
	}
	var err error
	switch {
	case s != nil:
		if c != '"' {
			return l.errorf("%s must be a string", k)
		}
		*s, err = l.readString()
	case f == fVersion || f == fSchemaVersion:
		if c != '-' && (c < '0' || c > '9') {
			return l.errorf("%s must be a number", k)
		}
		var n []byte
		if n, err = l.readNumber(); f == fVersion {
			r.version = n
		} else {
			r.schemaVersion = n
		}
	default: // trace, data
		if c != '{' {
			return l.errorf("%s must be an object", k)
		}
		var span []byte
		if span, err = l.skipValue(1); f == fTrace {
			r.trace = span
		} else {
			r.data = span
		}
	}
	if err != nil {
		return err
	}
	r.present |= f
	return nil
}

// read checks the envelope of data and turns it into Go values; full also
// reads what Peek skips (occurred_at, actor, trace). The strings are carved
// from arena, grown to hold the payload's strings too when full.
func read(data []byte, full bool, sb *strings.Builder) (envelope, error) {
	var env envelope
	r, err := scanEnvelope(data)
	if err != nil {
		return env, err
	}

	// One allocation holds every string of the event, envelope and
	// payload: they live as long as the event anyway.
	n := len(r.eventID.raw) + len(r.personID.raw) + len(r.correlationID.raw) + len(r.causationID.raw)
	if full {
		n += len(r.actor.raw) + len(r.trace) + len(r.data)
	}
	sb.Grow(n)
	put := func(s str) [2]int {
		a := sb.Len()
		sb.Write(s.bytes())
		return [2]int{a, sb.Len()}
	}
	eventID, personID := put(r.eventID), put(r.personID)
	corr, caus := put(r.correlationID), put(r.causationID)
	var actor [2]int
	var traceBuf [8][2][2]int
	trace := traceBuf[:0]
	if full {
		actor = put(r.actor)
		if r.present&fTrace != 0 {
			tl := lexer{b: r.trace}
			_ = tl.expect('{') // the span starts with '{'
			err := tl.object(func(key str) error {
				if tl.peek() != '"' {
					return fmt.Errorf("%w: trace value of %q is not a string", ErrMalformed, clip(key.bytes()))
				}
				v, err := tl.readString()
				trace = append(trace, [2][2]int{put(key), put(v)})
				return err
			})
			if err != nil {
				return env, err
			}
		}
	}
	all := sb.String()
	sub := func(s [2]int) string { return all[s[0]:s[1]] }

	h := &env.h
	h.EventID, h.CorrelationID, h.CausationID = sub(eventID), sub(corr), sub(caus)
	if h.EventID == "" {
		return env, fmt.Errorf("%w: missing event_id", ErrMalformed)
	}
	if len(h.EventID) > MaxEventIDLen {
		return env, fmt.Errorf("%w: event_id %q… longer than %d bytes", ErrMalformed, h.EventID[:32], MaxEventIDLen)
	}
	if r.present&fPersonID == 0 {
		return env, fmt.Errorf("%w: event %q: missing person_id", ErrMalformed, h.EventID)
	}
	if h.PersonID, err = person.ParseID(sub(personID)); err != nil {
		return env, fmt.Errorf("%w: event %q: %w", ErrMalformed, h.EventID, err)
	}
	if r.present&fVersion == 0 {
		return env, fmt.Errorf("%w: event %q: missing version", ErrMalformed, h.EventID)
	}
	v, ok := parseUint(r.version)
	if !ok || v == 0 {
		return env, fmt.Errorf("%w: event %q: version %s is not an integer from 1 to 2^64-1", ErrMalformed, h.EventID, r.version)
	}
	h.Version = v
	if len(r.typ.raw) == 0 {
		return env, fmt.Errorf("%w: event %q: missing type", ErrMalformed, h.EventID)
	}
	if r.present&fData == 0 {
		return env, fmt.Errorf("%w: event %q: missing data", ErrMalformed, h.EventID)
	}
	sv, err := parseSchemaVersion(r.schemaVersion, r.present&fSchemaVersion != 0)
	h.SchemaVersion = sv
	if err != nil {
		return env, fmt.Errorf("%w: event %q: %w", ErrMalformed, h.EventID, err)
	}
	typ := r.typ.bytes()
	ti, ok := types[string(typ)]
	if !ok {
		h.Type = person.EventType(typ)
		return env, fmt.Errorf("%w: event %q: %q", ErrUnknownType, h.EventID, clip(typ))
	}
	h.Type, env.ti = ti.typ, ti
	if r.present&fSchemaVersion == 0 {
		return env, fmt.Errorf("%w: event %q: missing schema_version", ErrUnknownVersion, h.EventID)
	}
	if sv < 1 || sv > ti.current {
		return env, fmt.Errorf("%w: event %q: %s schema_version %s (this reader knows v1 to v%d)",
			ErrUnknownVersion, h.EventID, ti.typ, r.schemaVersion, ti.current)
	}
	env.data = r.data
	if !full {
		return env, nil
	}

	env.actor = sub(actor)
	if len(trace) > 0 {
		env.trace = make(map[string]string, len(trace))
		for _, kv := range trace {
			k := sub(kv[0])
			if _, dup := env.trace[k]; dup {
				return env, fmt.Errorf("%w: event %q: duplicate trace key %q", ErrMalformed, h.EventID, k)
			}
			env.trace[k] = sub(kv[1])
		}
	}
	if r.present&fOccurredAt != 0 {
		var t time.Time
		if err := t.UnmarshalText(r.occurredAt.bytes()); err != nil {
			return env, fmt.Errorf("%w: event %q: occurred_at: %w", ErrMalformed, h.EventID, err)
		}
		if env.occurredAt, err = normalizeTime(t); err != nil {
			return env, fmt.Errorf("%w: event %q: occurred_at %w", ErrMalformed, h.EventID, err)
		}
	}
	return env, nil
}

// clip shortens text quoted in error messages: a hostile message must not
// turn into a megabyte of log.
func clip(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// parseUint reads a JSON number that is a non-negative integer.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false // sign, fraction or exponent
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// parseSchemaVersion reads schema_version: an integer (else malformed);
// absent, negative or huge values come back out of range (0, negative,
// math.MaxInt) for the caller to report as unknown versions.
func parseSchemaVersion(b []byte, present bool) (int, error) {
	if !present {
		return 0, nil
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("schema_version %s is not an integer", b)
		}
	}
	v, ok := parseUint(b)
	switch {
	case !ok || v > math.MaxInt:
		v = math.MaxInt
	case neg && v == 0:
		return -1, nil // "-0": not a version either
	}
	if neg {
		return -int(v), nil
	}
	return int(v), nil
}

// normalizeTime returns t in UTC without a monotonic reading, refusing
// times Encode could not write as RFC 3339.
func normalizeTime(t time.Time) (time.Time, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("%s lies outside the years 0000-9999 (UTC)", t.Format(time.RFC3339Nano))
	}
	return t, nil
}

// appendString appends s as a JSON string, escaping like encoding/json
// (without its HTML escaping) and writing U+FFFD for invalid UTF-8.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
