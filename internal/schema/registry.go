package schema

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"

	"github.com/personfleet/personfleet/internal/person"
)

// step upcasts the data of one event type from one schema version to the
// next. It works on typed values, not on JSON: Decode unmarshals the stored
// data once, into the shape of the version it was written with, then runs
// the steps up to the current version in memory.
type step struct {
	typ     person.EventType
	from    int
	in, out reflect.Type   // *From and *To, checked once at start-up
	newIn   func() any     // an empty *From to unmarshal stored data into
	dec     payloadDecoder // reads stored data into a *From
	planned bool           // dec is a planned decoder, not encoding/json
	up      func(*person.Event, any) (any, error)
	name    string // for error messages: "person_created v1→v2"
}

// upcaster registers one step: f turns the data of event type t at schema
// version from (shape From) into the data of version from+1 (shape To).
// The step for the last version must produce the current payload type of
// package person. f may also move information into the envelope e (its
// Payload is nil while steps run), as v1 person_created does with
// created_at. f must not keep e. An error from f (a plain error: the
// decoder wraps it in ErrMalformed with the step's name) rejects the event.
func upcaster[From, To any](t person.EventType, from int, f func(e *person.Event, in *From) (*To, error)) step {
	return step{
		typ:   t,
		from:  from,
		in:    reflect.TypeFor[*From](),
		out:   reflect.TypeFor[*To](),
		newIn: func() any { return new(From) },
		up: func(e *person.Event, v any) (any, error) {
			out, err := f(e, v.(*From))
			if err != nil {
				return nil, err
			}
			if out == nil {
				return nil, fmt.Errorf("upcaster returned nothing")
			}
			return out, nil
		},
		name: fmt.Sprintf("%s v%d→v%d", t, from, from+1),
	}
}

// typeInfo is what the codec knows about one event type.
type typeInfo struct {
	typ     person.EventType
	current int
	steps   []step         // steps[v-1] upcasts v to v+1
	dec     payloadDecoder // reads current data into the current payload
	planned bool           // dec is a planned decoder, not encoding/json
}

// newPayload returns an empty current payload of the type.
func (ti *typeInfo) newPayload() person.Payload {
	p, _ := person.NewPayload(ti.typ)
	return p
}

// types maps every event type's name to what the codec knows about it.
var types = mustBuildRegistry(person.EventTypes(), upcasters)

// mustBuildRegistry checks the upcasters against the payload types of
// package person: every event type known, steps contiguous from v1, each
// step's output the next step's input and the last one's output the current
// payload type. A broken registry is a programming error caught at start-up
// (and by the package's tests), never at the first old event in production.
func mustBuildRegistry(all []person.EventType, steps []step) map[string]*typeInfo {
	reg, err := buildRegistry(all, steps)
	if err != nil {
		panic(err)
	}
	return reg
}

func buildRegistry(all []person.EventType, steps []step) (map[string]*typeInfo, error) {
	reg := make(map[string]*typeInfo, len(all))
	for _, t := range all {
		reg[string(t)] = &typeInfo{typ: t, current: 1}
	}
	steps = slices.Clone(steps)
	slices.SortFunc(steps, func(a, b step) int {
		return cmp.Or(cmp.Compare(a.typ, b.typ), cmp.Compare(a.from, b.from))
	})
	for _, ti := range reg {
		ti.dec, ti.planned = newPayloadDecoder(reflect.TypeOf(ti.newPayload()))
	}
	for _, s := range steps {
		s.dec, s.planned = newPayloadDecoder(s.in)
		ti, ok := reg[string(s.typ)]
		if !ok {
			return nil, fmt.Errorf("schema: upcaster %s: unknown event type", s.name)
		}
		if s.from != ti.current {
			return nil, fmt.Errorf("schema: upcaster %s: want a step from v%d (steps must be contiguous from v1)", s.name, ti.current)
		}
		if n := len(ti.steps); n > 0 && ti.steps[n-1].out != s.in {
			return nil, fmt.Errorf("schema: upcaster %s takes %v, the previous step gives %v", s.name, s.in, ti.steps[n-1].out)
		}
		ti.steps = append(ti.steps, s)
		ti.current++
	}
	for _, ti := range reg {
		n := len(ti.steps)
		if n == 0 {
			continue
		}
		if want := reflect.TypeOf(ti.newPayload()); ti.steps[n-1].out != want {
			return nil, fmt.Errorf("schema: upcaster %s gives %v, the current payload is %v", ti.steps[n-1].name, ti.steps[n-1].out, want)
		}
	}
	return reg, nil
}

// CurrentVersion is the schema version Encode writes for event type t, or
// 0 when t is not a known event type.
func CurrentVersion(t person.EventType) int {
	if ti, ok := types[string(t)]; ok {
		return ti.current
	}
	return 0
}

// TypeVersion is one schema version of one event type.
type TypeVersion struct {
	Type    person.EventType
	Version int
	Current bool // Encode writes this version; older ones are upcast on Decode
}

// Versions lists, for tooling (migration reports, golden-file coverage),
// every (type, schema version) Decode reads, sorted by type then version.
func Versions() []TypeVersion {
	out := make([]TypeVersion, 0, len(types)+8)
	for _, ti := range types {
		for v := 1; v <= ti.current; v++ {
			out = append(out, TypeVersion{Type: ti.typ, Version: v, Current: v == ti.current})
		}
	}
	slices.SortFunc(out, func(a, b TypeVersion) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Version, b.Version))
	})
	return out
}
