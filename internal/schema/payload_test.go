package schema

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/personfleet/personfleet/internal/person"
)

// shape is one payload shape the codec reads: a current payload type or
// the input of an upcast step.
type shape struct {
	name    string
	newPtr  func() any
	dec     payloadDecoder
	planned bool
}

func shapes() []shape {
	var out []shape
	for _, tv := range Versions() {
		ti := types[string(tv.Type)]
		name := fmt.Sprintf("%s_v%d", tv.Type, tv.Version)
		if tv.Current {
			out = append(out, shape{name, func() any { return ti.newPayload() }, ti.dec, ti.planned})
		} else {
			s := ti.steps[tv.Version-1]
			out = append(out, shape{name, s.newIn, s.dec, s.planned})
		}
	}
	return out
}

// TestPayloadShapesArePlanned: every shape in use gets the fast decoder; a
// payload change that falls back to encoding/json fails here (and says why
// in newPayloadDecoder's plan).
func TestPayloadShapesArePlanned(t *testing.T) {
	for _, s := range shapes() {
		if !s.planned {
			_, err := planType(reflect.TypeOf(s.newPtr()).Elem(), map[reflect.Type]*plan{})
			t.Errorf("%s falls back to encoding/json: %v", s.name, err)
		}
	}
}

func TestPlanRefusesUnsupportedShapes(t *testing.T) {
	type embedded struct{ A string }
	type Promoted struct{ X string }
	for name, v := range map[string]any{
		"map":       &struct{ M map[string]string }{},
		"float":     &struct{ F float64 }{},
		"pointer":   &struct{ P *string }{},
		"interface": &struct{ I any }{},
		"bytes":     &struct{ B []byte }{},
		"string option": &struct {
			N int `json:",string"`
		}{},
		"name clash": &struct {
			X string
			Promoted
		}{},
		"fold clash": &struct {
			A string `json:"name"`
			B string `json:"NAME"`
		}{},
		"json.Unmarshaler": &struct{ R json.RawMessage }{},
		"embedded pointer": &struct{ *embedded }{},
	} {
		if _, planned := newPayloadDecoder(reflect.TypeOf(v)); planned {
			t.Errorf("%s: planned, want the encoding/json fallback", name)
		}
	}
	// The fallback decodes like encoding/json.
	dec, _ := newPayloadDecoder(reflect.TypeOf(&struct{ M map[string]string }{}))
	var v struct{ M map[string]string }
	if err := dec.decode([]byte(`{"M":{"a":"b"}}`), &v, nil); err != nil || v.M["a"] != "b" {
		t.Errorf("fallback decoded %+v, %v", v, err)
	}
}

// TestPayloadDecoderMatchesEncodingJSON runs hand-picked edge cases through
// both decoders for every shape.
func TestPayloadDecoderMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		`{}`, `null`, `[]`, `"x"`, `1`, `true`,
		`{"name":{"given_name":"A","family_name":"B"},"name":{"given_name":"C"}}`,
		`{"name":{"middle_names":["a","b","c"]},"name":{"middle_names":["d"]},"name":{"middle_names":null}}`,
		`{"NAME":{"Given_Name":"case"},"Source_System":"s","import_id":"exact","IMPORT_ID":"folded"}`,
		`{"name":{"given_name":"\u212aelvin"},"\u212aey":"k","key":"v"}`,
		`{"name":{"given_name":1}}`, `{"name":[]}`, `{"name":"x"}`, `{"name":{"middle_names":"x"}}`,
		`{"skills":[{"name":"a","years":1},{"name":"b"}],"skills":[{"name":"c"}],"skills":[{"name":"d"},{"name":"e"}]}`,
		`{"skills":[{"years":1.0}]}`, `{"skills":[{"years":-0}]}`, `{"skills":[{"years":1e2}]}`,
		`{"skills":[{"years":99999999999999999999}]}`, `{"skills":[{"years":"1"}]}`, `{"skills":[null,{"years":null}]}`,
		`{"birth_date":"1815-12-10"}`, `{"birth_date":""}`, `{"birth_date":null}`, `{"birth_date":18151210}`,
		`{"birth_date":"1815\u002d12-10"}`, `{"birth_date":"10/12/1815"}`, `{"birth_date":{}}`,
		`{"created_at":"2019-05-06T07:08:09Z"}`, `{"created_at":"2019\u002d05-06T07:08:09Z"}`, `{"created_at":null}`,
		`{"created_at":1}`, `{"created_at":""}`, `{"updated_at":"2019-05-06T07:08:09.123+01:00"}`,
		`{"automatic":true,"automatic":false}`, `{"automatic":"true"}`, `{"automatic":null}`,
		`{"address_id":"home","address":{"street":["a","b"],"city":"c"}}`, `{"address":{"street":[1]}}`,
		`{"email":{"email":"a@b.c","primary":true},"first":true}`,
		`{"unknown":{"deep":[[[{"x":[1,2,{"y":null}]}]]]},"reason":"r"}`,
		`{"from":"started","to":"finalizing","reason":"\ud800\udc00 \ud800 x"}`,
	}
	for _, s := range shapes() {
		for _, in := range inputs {
			if msg := compareDecoders(s, []byte(in)); msg != "" {
				t.Errorf("%s %s: %s", s.name, in, msg)
			}
		}
	}
}

// compareDecoders decodes data with a shape's decoder and encoding/json and
// describes any difference. data must be valid JSON (the envelope scan
// guarantees it before a payload decoder runs).
func compareDecoders(s shape, data []byte) string {
	got, want := s.newPtr(), s.newPtr()
	errGot := s.dec.decode(data, got, nil)
	errWant := json.Unmarshal(data, want)
	if (errGot == nil) != (errWant == nil) {
		return fmt.Sprintf("planned error %v, encoding/json error %v", errGot, errWant)
	}
	if errGot == nil && !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("planned %+v, encoding/json %+v", got, want)
	}
	return ""
}

// FuzzPayloadDecoder holds the planned decoders to encoding/json on any
// valid JSON, for every shape.
func FuzzPayloadDecoder(f *testing.F) {
	all := shapes()
	for i, s := range all {
		b, err := os.ReadFile(filepath.Join(goldenDir, s.name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(b, &env); err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), []byte(env.Data))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		if !utf8.Valid(data) || !json.Valid(data) {
			return
		}
		l := lexer{b: data}
		if _, err := l.skipValue(0); err != nil {
			return // deeper than the codec reads
		}
		s := all[int(which)%len(all)]
		if msg := compareDecoders(s, data); msg != "" {
			t.Fatalf("%s: %s\ninput %s", s.name, msg, data)
		}
	})
}

// TestPayloadDecoderAllocations keeps the fast path fast: decoding the
// golden person_created payload allocates its strings and little else.
func TestPayloadDecoderAllocations(t *testing.T) {
	data := []byte(`{"name":{"given_name":"Ada","family_name":"Lovelace","middle_names":["King"],"honorific":"Countess"},"source_system":"crm","import_id":"crm-42"}`)
	ti := types[string(person.EventPersonCreated)]
	allocs := testing.AllocsPerRun(100, func() {
		p := ti.newPayload()
		if err := ti.dec.decode(data, p, nil); err != nil {
			t.Fatal(err)
		}
	})
	// payload struct, 6 strings, the middle-names slice.
	if allocs > 8 {
		t.Errorf("%v allocations per decode, want at most 8", allocs)
	}
}
