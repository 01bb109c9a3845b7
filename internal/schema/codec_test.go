package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

func TestCurrentVersions(t *testing.T) {
	want := map[person.EventType]int{person.EventPersonCreated: 3, person.EventNameUpdated: 2}
	for _, typ := range person.EventTypes() {
		w := want[typ]
		if w == 0 {
			w = 1
		}
		if got := CurrentVersion(typ); got != w {
			t.Errorf("CurrentVersion(%s) = %d, want %d", typ, got, w)
		}
	}
	if got := CurrentVersion("no_such_event"); got != 0 {
		t.Errorf("CurrentVersion(unknown) = %d, want 0", got)
	}

	vs := Versions()
	if n := len(person.EventTypes()) + 3; len(vs) != n {
		t.Errorf("Versions has %d entries, want %d", len(vs), n)
	}
	for _, tv := range []TypeVersion{
		{person.EventPersonCreated, 1, false}, {person.EventPersonCreated, 2, false}, {person.EventPersonCreated, 3, true},
		{person.EventNameUpdated, 1, false}, {person.EventNameUpdated, 2, true}, {person.EventEmailAdded, 1, true},
	} {
		if !slices.Contains(vs, tv) {
			t.Errorf("Versions lacks %+v", tv)
		}
	}
	if !slices.IsSortedFunc(vs, func(a, b TypeVersion) int {
		if a.Type != b.Type {
			return strings.Compare(string(a.Type), string(b.Type))
		}
		return a.Version - b.Version
	}) {
		t.Error("Versions is not sorted")
	}
}

// TestRoundTrip encodes a representative event of every type and decodes
// it back.
func TestRoundTrip(t *testing.T) {
	samples := sampleByType()
	for _, typ := range person.EventTypes() {
		t.Run(string(typ), func(t *testing.T) {
			p, ok := samples[typ]
			if !ok {
				t.Fatalf("no sample payload for %s: add one to samplePayloads", typ)
			}
			want := fixtureEvent(p)
			b, err := Encode(&want)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b) {
				t.Fatalf("Encode wrote invalid JSON: %s", b)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
			if reflect.TypeOf(p).Elem().Size() > 0 && got.Payload == want.Payload {
				t.Error("Decode returned the encoded payload pointer")
			}
		})
	}
}

// TestRoundTripEnvelopeEdges covers the optional envelope members and
// strings that need escaping.
func TestRoundTripEnvelopeEdges(t *testing.T) {
	for name, e := range map[string]person.Event{
		"minimal": {ID: "e", PersonID: "p", Version: 1, Payload: &person.OnboardingStarted{}},
		"escapes": {
			ID: "id \"quoted\" \\ back", PersonID: "P_1-x", Version: 1 << 63,
			OccurredAt:    time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			CorrelationID: "tab\there\nnewline\x00nul\x1f", CausationID: "ünïcödé 🎉 \u2028\u2029", Actor: "<script>&",
			Trace:   map[string]string{"traceparent": "00-1-2-01", "tracestate": "a=b,c=d", "baggage": "k=v", "": "empty key"},
			Payload: &person.AttributeSet{Key: "k", Value: "\"\\\u2028</script>"},
		},
		"offset time": {ID: "e", PersonID: "p", Version: 2, OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 5*3600)), Payload: &person.OnboardingStarted{}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(&e)
			if err != nil {
				t.Fatal(err)
			}
			var std map[string]any
			if err := json.Unmarshal(b, &std); err != nil {
				t.Fatalf("encoding/json cannot read %s: %v", b, err)
			}
			if std["actor"] != e.Actor && e.Actor != "" || std["event_id"] != e.ID {
				t.Errorf("encoding/json reads actor %q, event_id %q", std["actor"], std["event_id"])
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			if d := diffEvents(got, e); d != "" {
				t.Errorf("%s\n%s", d, b)
			}
		})
	}
}

func TestEncodeNormalises(t *testing.T) {
	e := person.Event{ID: "e", PersonID: "p", Version: 1, Actor: "bad \xff utf8", Payload: &person.OnboardingStarted{}}
	b, err := Encode(&e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Actor != "bad \ufffd utf8" {
		t.Errorf("Actor = %q, want the bad byte replaced by U+FFFD", got.Actor)
	}
	// Trace keys are sorted, so equal events encode to equal bytes.
	e.Trace = map[string]string{"c": "3", "a": "1", "b": "2"}
	b, _ = Encode(&e)
	if !bytes.Contains(b, []byte(`"trace":{"a":"1","b":"2","c":"3"}`)) {
		t.Errorf("trace not in key order: %s", b)
	}
}

func TestEncodeRefuses(t *testing.T) {
	ok := func() person.Event {
		return person.Event{ID: "e", PersonID: "p", Version: 1, Payload: &person.OnboardingStarted{}}
	}
	for name, tc := range map[string]struct {
		mod  func(*person.Event)
		want error
	}{
		"no payload":        {func(e *person.Event) { e.Payload = nil }, ErrMalformed},
		"nil payload":       {func(e *person.Event) { e.Payload = (*person.PersonCreated)(nil) }, ErrMalformed},
		"no event id":       {func(e *person.Event) { e.ID = "" }, ErrMalformed},
		"long event id":     {func(e *person.Event) { e.ID = strings.Repeat("e", MaxEventIDLen+1) }, ErrMalformed},
		"no person id":      {func(e *person.Event) { e.PersonID = "" }, ErrMalformed},
		"subject person id": {func(e *person.Event) { e.PersonID = "a.b" }, person.ErrInvalidPersonID},
		"version 0":         {func(e *person.Event) { e.Version = 0 }, ErrMalformed},
		"year 10000":        {func(e *person.Event) { e.OccurredAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, ErrMalformed},
		"year -1 in UTC": {func(e *person.Event) {
			e.OccurredAt = time.Date(0, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600))
		}, ErrMalformed},
		"too large": {func(e *person.Event) {
			e.Payload = &person.AttributeSet{Key: "k", Value: strings.Repeat("x", MaxEventSize)}
		}, ErrTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			e := ok()
			tc.mod(&e)
			b, err := Encode(&e)
			if !errors.Is(err, tc.want) || b != nil {
				t.Errorf("Encode = %s, %v; want %v", b, err, tc.want)
			}
		})
	}
	if _, err := Encode(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("Encode(nil) = %v", err)
	}
}

// validEvent is a current person_created event as a JSON object, to which
// the bad-input cases apply one change.
func validEvent(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(readGolden(tb, goldenPath(person.EventPersonCreated, 3)), &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func eventWith(tb testing.TB, mod func(m map[string]any)) []byte {
	tb.Helper()
	m := validEvent(tb)
	mod(m)
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func set(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
func del(k string) func(map[string]any)        { return func(m map[string]any) { delete(m, k) } }

func TestDecodeRejects(t *testing.T) {
	golden := readGolden(t, goldenPath(person.EventPersonCreated, 3))
	deep := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(golden, []byte(old)) {
			t.Fatalf("golden lacks %s", old)
		}
		return bytes.Replace(golden, []byte(old), []byte(new), 1)
	}
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"spaces", []byte(" \n"), ErrMalformed},
		{"null", []byte("null"), ErrMalformed},
		{"array", []byte("[]"), ErrMalformed},
		{"string", []byte(`"event"`), ErrMalformed},
		{"empty object", []byte("{}"), ErrMalformed},
		{"truncated", golden[:len(golden)/2], ErrMalformed},
		{"truncated by one", golden[:len(golden)-1], ErrMalformed},
		{"trailing comma", replace(`,"data"`, `,,"data"`), ErrMalformed},
		{"missing colon", replace(`"actor":`, `"actor" `), ErrMalformed},
		{"single quotes", replace(`"actor"`, `'actor'`), ErrMalformed},
		{"trailing garbage", append(slices.Clone(golden), 'x'), ErrMalformed},
		{"two events", append(slices.Clone(golden), golden...), ErrMalformed},
		{"bad escape", replace(`user:ada`, `user\x`), ErrMalformed},
		{"short unicode escape", replace(`user:ada`, `user\u12`), ErrMalformed},
		{"raw control character", replace(`user:ada`, "user\x01"), ErrMalformed},
		{"leading zero", replace(`"version":7`, `"version":07`), ErrMalformed},
		{"bare minus", replace(`"version":7`, `"version":-`), ErrMalformed},
		{"bad literal", replace(`"version":7`, `"version":nul`), ErrMalformed},
		{"invalid UTF-8 in envelope", replace(`user:ada`, "user\xff"), ErrMalformed},
		{"invalid UTF-8 in data", replace(`"Lovelace"`, "\"Love\xc3\x28\""), ErrMalformed},
		{"invalid UTF-8 in key", replace(`"import_id"`, "\"import\xe2\x82\""), ErrMalformed},
		{"deep nesting in data", replace(`"import_id":"crm-42"`, `"x":`+deep("[", "]", 100000)), ErrMalformed},
		{"deep objects in data", replace(`"import_id":"crm-42"`, `"x":`+deep(`{"a":`, "}", maxDepth)), ErrMalformed},
		{"deep nesting in unknown member", replace(`"actor"`, `"x":`+deep("[", "]", 5000)+`,"actor"`), ErrMalformed},
		{"duplicate member", replace(`"actor"`, `"event_id":"other","actor"`), ErrMalformed},
		{"duplicate trace key", replace(`"traceparent"`, `"traceparent":"x","traceparent"`), ErrMalformed},

		{"event_id number", eventWith(t, set("event_id", 5)), ErrMalformed},
		{"missing event_id", eventWith(t, del("event_id")), ErrMalformed},
		{"empty event_id", eventWith(t, set("event_id", "")), ErrMalformed},
		{"event_id too long", eventWith(t, set("event_id", strings.Repeat("e", MaxEventIDLen+1))), ErrMalformed},
		{"null event_id", eventWith(t, set("event_id", nil)), ErrMalformed},
		{"missing person_id", eventWith(t, del("person_id")), ErrMalformed},
		{"empty person_id", eventWith(t, set("person_id", "")), ErrMalformed},
		{"person_id with a dot", eventWith(t, set("person_id", "ada.lovelace")), person.ErrInvalidPersonID},
		{"person_id wildcard *", eventWith(t, set("person_id", "*")), person.ErrInvalidPersonID},
		{"person_id wildcard >", eventWith(t, set("person_id", ">")), person.ErrInvalidPersonID},
		{"person_id with space", eventWith(t, set("person_id", "ada lovelace")), person.ErrInvalidPersonID},
		{"person_id too long", eventWith(t, set("person_id", strings.Repeat("a", 65))), person.ErrInvalidPersonID},
		{"person_id number", eventWith(t, set("person_id", 42)), ErrMalformed},
		{"missing version", eventWith(t, del("version")), ErrMalformed},
		{"version 0", eventWith(t, set("version", 0)), ErrMalformed},
		{"version negative", eventWith(t, set("version", -1)), ErrMalformed},
		{"version fraction", eventWith(t, set("version", 1.5)), ErrMalformed},
		{"version exponent", replace(`"version":7`, `"version":7e0`), ErrMalformed},
		{"version string", eventWith(t, set("version", "7")), ErrMalformed},
		{"version overflow", replace(`"version":7`, `"version":18446744073709551616`), ErrMalformed},
		{"missing type", eventWith(t, del("type")), ErrMalformed},
		{"type number", eventWith(t, set("type", 1)), ErrMalformed},
		{"missing data", eventWith(t, del("data")), ErrMalformed},
		{"null data", eventWith(t, set("data", nil)), ErrMalformed},
		{"data string", eventWith(t, set("data", "{}")), ErrMalformed},
		{"data array", eventWith(t, set("data", []any{})), ErrMalformed},
		{"trace array", eventWith(t, set("trace", []any{"x"})), ErrMalformed},
		{"trace value number", eventWith(t, set("trace", map[string]any{"traceparent": 1})), ErrMalformed},
		{"occurred_at number", eventWith(t, set("occurred_at", 1700000000)), ErrMalformed},
		{"occurred_at not RFC 3339", eventWith(t, set("occurred_at", "2026-01-02 03:04:05")), ErrMalformed},
		{"occurred_at empty", eventWith(t, set("occurred_at", "")), ErrMalformed},
		{"occurred_at before year 0 in UTC", eventWith(t, set("occurred_at", "0000-01-01T00:00:00+01:00")), ErrMalformed},
		{"actor object", eventWith(t, set("actor", map[string]any{})), ErrMalformed},
		{"payload field wrong type", eventWith(t, set("data", map[string]any{"name": 5})), ErrMalformed},
		{"payload nested wrong type", eventWith(t, set("data", map[string]any{"name": map[string]any{"given_name": true}})), ErrMalformed},
		{"payload bad date", eventWith(t, func(m map[string]any) {
			m["type"] = "birth_date_set"
			m["schema_version"] = 1
			m["data"] = map[string]any{"birth_date": "10/12/1815"}
		}), person.ErrInvalidDate},
		{"v1 created_at not a time", eventWith(t, func(m map[string]any) {
			m["schema_version"] = 1
			delete(m, "occurred_at")
			m["data"] = map[string]any{"full_name": "Ada", "created_at": "yesterday"}
		}), ErrMalformed},
		{"v1 created_at out of range", eventWith(t, func(m map[string]any) {
			m["schema_version"] = 1
			delete(m, "occurred_at")
			m["data"] = map[string]any{"full_name": "Ada", "created_at": "0000-01-01T00:00:00+00:01"}
		}), ErrMalformed},

		{"unknown type", eventWith(t, set("type", "person_teleported")), ErrUnknownType},
		{"huge unknown type", eventWith(t, set("type", strings.Repeat("t", 100000))), ErrUnknownType},
		{"type in other case", eventWith(t, set("type", "Person_Created")), ErrUnknownType},
		{"schema_version 0", eventWith(t, set("schema_version", 0)), ErrUnknownVersion},
		{"schema_version 99", eventWith(t, set("schema_version", 99)), ErrUnknownVersion},
		{"schema_version 4", eventWith(t, set("schema_version", 4)), ErrUnknownVersion},
		{"schema_version 2 of a v1-only type", eventWith(t, set("type", "email_added")), ErrUnknownVersion},
		{"schema_version negative", eventWith(t, set("schema_version", -1)), ErrUnknownVersion},
		{"schema_version -0", replace(`"schema_version":3`, `"schema_version":-0`), ErrUnknownVersion},
		{"schema_version huge", replace(`"schema_version":3`, `"schema_version":99999999999999999999999`), ErrUnknownVersion},
		{"missing schema_version", eventWith(t, del("schema_version")), ErrUnknownVersion},
		{"schema_version fraction", replace(`"schema_version":3`, `"schema_version":3.0`), ErrMalformed},
		{"schema_version string", eventWith(t, set("schema_version", "3")), ErrMalformed},

		{"oversized", append(append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), MaxEventSize)...), `"}`...), ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, want %v\ninput: %.300s", err, tc.want, tc.in)
			}
			if !reflect.DeepEqual(e, person.Event{}) {
				t.Errorf("Decode returned %+v with its error", e)
			}
			if len(err.Error()) > 512 {
				t.Errorf("error message of %d bytes: %.200s…", len(err.Error()), err)
			}
			if _, _, uerr := Upcast(tc.in); !errors.Is(uerr, tc.want) {
				t.Errorf("Upcast = %v, want %v", uerr, tc.want)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	golden := readGolden(t, goldenPath(person.EventPersonCreated, 3))
	want, err := Decode(golden)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"whitespace everywhere": bytes.ReplaceAll(bytes.ReplaceAll(golden, []byte(","), []byte(" ,\n\t")), []byte(`":`), []byte("\"\r: ")),
		"escaped member names":  bytes.Replace(golden, []byte(`"event_id"`), []byte(`"event\u005fid"`), 1),
		"escaped values":        bytes.Replace(golden, []byte(`"user:ada@example.org"`), []byte(`"user\u003aada\u0040example.org"`), 1),
		"unknown members":       bytes.Replace(golden, []byte(`"actor"`), []byte(`"future":{"a":[1,2.5e3,true,false,null,"s"]},"actor"`), 1),
		"null optional members": bytes.Replace(golden, []byte(`"data"`), []byte(`"unused":null,"data"`), 1),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Decode(in)
			if err != nil {
				t.Fatalf("Decode(%s): %v", in, err)
			}
			if d := diffEvents(got, want); d != "" {
				t.Error(d)
			}
		})
	}

	// Null optional members read as absent.
	e, err := Decode(eventWith(t, func(m map[string]any) {
		for _, k := range []string{"occurred_at", "correlation_id", "causation_id", "actor", "trace"} {
			m[k] = nil
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !e.OccurredAt.IsZero() || e.CorrelationID != "" || e.CausationID != "" || e.Actor != "" || e.Trace != nil {
		t.Errorf("null members should read as absent: %+v", e)
	}

	// Surrogate pairs decode; a lone surrogate becomes U+FFFD, as in encoding/json.
	e, err = Decode(bytes.Replace(golden, []byte(`"user:ada@example.org"`), []byte(`"\ud83c\udf89 \ud800 \udc00x"`), 1))
	if err != nil {
		t.Fatal(err)
	}
	var std string
	_ = json.Unmarshal([]byte(`"\ud83c\udf89 \ud800 \udc00x"`), &std)
	if e.Actor != "🎉 \ufffd \ufffdx" || e.Actor != std {
		t.Errorf("Actor = %q, encoding/json reads %q", e.Actor, std)
	}
}

func TestV1EnvelopeTimeWins(t *testing.T) {
	in := eventWith(t, func(m map[string]any) {
		m["schema_version"] = 1
		m["occurred_at"] = "2020-01-01T00:00:00Z"
		m["data"] = map[string]any{"full_name": "  Grace   Brewster Murray Hopper ", "created_at": "2019-01-01T00:00:00Z"}
	})
	e, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC); !e.OccurredAt.Equal(want) {
		t.Errorf("OccurredAt = %v, want the envelope's %v", e.OccurredAt, want)
	}
	want := person.Name{GivenName: "Grace", MiddleNames: []string{"Brewster", "Murray"}, FamilyName: "Hopper"}
	if got := e.Payload.(*person.PersonCreated).Name; !got.Equal(want) {
		t.Errorf("Name = %+v, want %+v", got, want)
	}
}

func TestPeek(t *testing.T) {
	data := readGolden(t, goldenPath(person.EventPersonCreated, 1))
	h, err := Peek(data)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{
		EventID: "e1a7c0de-0001-4000-8000-000000000001", PersonID: fixturePerson, Version: 1,
		Type: person.EventPersonCreated, SchemaVersion: 1, CorrelationID: "legacy-import-2019", CausationID: "legacy-cmd-1",
	}
	if h != want {
		t.Errorf("Peek = %+v, want %+v", h, want)
	}

	// Peek does not read the payload...
	if _, err := Peek(eventWith(t, set("data", map[string]any{"name": 5}))); err != nil {
		t.Errorf("Peek checked the payload: %v", err)
	}
	// ...but reports what arrived when it cannot be read.
	h, err = Peek(eventWith(t, set("type", "person_teleported")))
	if !errors.Is(err, ErrUnknownType) || h.Type != "person_teleported" || h.PersonID != fixturePerson {
		t.Errorf("Peek(unknown type) = %+v, %v", h, err)
	}
	h, err = Peek(eventWith(t, set("schema_version", 9)))
	if !errors.Is(err, ErrUnknownVersion) || h.SchemaVersion != 9 || h.Type != person.EventPersonCreated {
		t.Errorf("Peek(unknown version) = %+v, %v", h, err)
	}
	if _, err := Peek(eventWith(t, set("person_id", "a.b"))); !errors.Is(err, ErrMalformed) {
		t.Errorf("Peek(bad person id) = %v", err)
	}
}

func TestUpcast(t *testing.T) {
	current := readGolden(t, goldenPath(person.EventPersonCreated, 3))
	out, from, err := Upcast(current)
	if err != nil || from != 3 || &out[0] != &current[0] {
		t.Errorf("Upcast(current) = %p, %d, %v; want the input back, 3", out, from, err)
	}

	v1 := readGolden(t, goldenPath(person.EventPersonCreated, 1))
	out, from, err = Upcast(v1)
	if err != nil || from != 1 {
		t.Fatalf("Upcast(v1) = %d, %v", from, err)
	}
	h, err := Peek(out)
	if err != nil || h.SchemaVersion != 3 {
		t.Errorf("upcast event has schema version %d, %v; want 3", h.SchemaVersion, err)
	}
	if !bytes.Contains(out, []byte(`"occurred_at":"2019-05-06T07:08:09Z"`)) || bytes.Contains(out, []byte("created_at")) || bytes.Contains(out, []byte("full_name")) {
		t.Errorf("upcast event: %s", out)
	}
	// An upcast event is current: upcasting again changes nothing.
	again, from, err := Upcast(out)
	if err != nil || from != 3 || !bytes.Equal(again, out) {
		t.Errorf("Upcast(upcast) = %s, %d, %v", again, from, err)
	}
	// The stored version is reported even when the event cannot be read.
	_, from, err = Upcast(eventWith(t, set("schema_version", 7)))
	if !errors.Is(err, ErrUnknownVersion) || from != 7 {
		t.Errorf("Upcast(v7) = %d, %v", from, err)
	}
}

// TestRegistryChecks proves buildRegistry refuses broken registries.
func TestRegistryChecks(t *testing.T) {
	pc, nu := person.EventPersonCreated, person.EventNameUpdated
	all := []person.EventType{pc, nu}
	for name, steps := range map[string][]step{
		"unknown type":          {upcaster(person.EventType("ghost"), 1, personCreatedV1toV2)},
		"gap":                   {upcaster(pc, 2, personCreatedV2toV3)},
		"duplicate":             {upcaster(pc, 1, personCreatedV1toV2), upcaster(pc, 1, personCreatedV1toV2)},
		"shape mismatch":        {upcaster(pc, 1, personCreatedV1toV2), upcaster(pc, 2, personCreatedV1toV2)},
		"not the current shape": {upcaster(pc, 1, personCreatedV1toV2)},
		"wrong type's payload":  {upcaster(nu, 1, personCreatedV2toV3)},
	} {
		if _, err := buildRegistry(all, steps); err == nil {
			t.Errorf("%s: buildRegistry accepted the steps", name)
		}
	}
	reg, err := buildRegistry(all, upcasters)
	if err != nil || reg[string(pc)].current != 3 || reg[string(nu)].current != 2 {
		t.Errorf("buildRegistry(upcasters) = %v", err)
	}
}
