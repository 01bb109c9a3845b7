package schema

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// A payloadDecoder reads "data" into a pointer to a payload struct. The
// codec builds one per payload shape at start-up: a plan of the struct's
// JSON fields (found by reflection once) driven by the package's lexer, so
// decoding does no name hashing, no per-byte state machine and no second
// validation pass — the envelope scan already checked the syntax. It
// follows encoding/json's rules for the shapes payloads use (names matched
// exactly, then case-insensitively; unknown members skipped; null leaves a
// value alone and empties a slice; a repeated member decodes over the
// previous one; encoding.TextUnmarshaler for types such as person.Date and
// time.Time), and the fuzz tests hold it to encoding/json. A shape it does
// not support (maps, pointers, floats, interfaces, json.Unmarshaler
// implementations, ",string" options, ambiguous names) makes the codec use
// encoding/json for that payload type instead: the zero payloadDecoder.
type payloadDecoder struct {
	plan *plan // nil: encoding/json
}

// newPayloadDecoder returns the decoder for values of ptrType (a pointer to
// a struct) and whether it is planned rather than encoding/json.
func newPayloadDecoder(ptrType reflect.Type) (payloadDecoder, bool) {
	if ptrType.Kind() != reflect.Pointer {
		return payloadDecoder{}, false
	}
	p, err := planType(ptrType.Elem(), map[reflect.Type]*plan{})
	if err != nil {
		return payloadDecoder{}, false
	}
	return payloadDecoder{plan: p}, true
}

// decode reads data into ptr; strings are carved from arena when it is not
// nil.
func (d payloadDecoder) decode(data []byte, ptr any, arena *strings.Builder) error {
	if d.plan == nil {
		return json.Unmarshal(data, ptr)
	}
	l := lexer{b: data}
	return d.plan.decode(&l, reflect.ValueOf(ptr).Elem(), arena)
}

type planKind uint8

const (
	planString planKind = iota
	planBool
	planInt
	planUint
	planSlice
	planStruct
	planText // encoding.TextUnmarshaler
	planTime // time.Time
)

// plan says how to decode one Go type.
type plan struct {
	kind   planKind
	typ    reflect.Type
	elem   *plan       // planSlice
	fields []fieldPlan // planStruct
}

// fieldPlan is one JSON member of a struct.
type fieldPlan struct {
	name  string
	index []int // through embedded structs
	plan  *plan
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	timeType            = reflect.TypeFor[time.Time]()
)

// planType builds the plan of type t. plans holds the types being planned,
// so recursive types terminate.
func planType(t reflect.Type, plans map[reflect.Type]*plan) (*plan, error) {
	if p, ok := plans[t]; ok {
		return p, nil
	}
	p := &plan{typ: t}
	plans[t] = p
	pt := reflect.PointerTo(t)
	switch {
	case t == timeType:
		p.kind = planTime
		return p, nil
	case pt.Implements(jsonUnmarshalerType):
		return nil, fmt.Errorf("%v implements json.Unmarshaler", t)
	case pt.Implements(textUnmarshalerType):
		p.kind = planText
		return p, nil
	}
	switch t.Kind() {
	case reflect.String:
		p.kind = planString
	case reflect.Bool:
		p.kind = planBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind = planInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		p.kind = planUint
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil, fmt.Errorf("%v: []byte is base64 in encoding/json", t)
		}
		elem, err := planType(t.Elem(), plans)
		if err != nil {
			return nil, err
		}
		p.kind, p.elem = planSlice, elem
	case reflect.Struct:
		fields, err := planFields(t, plans)
		if err != nil {
			return nil, err
		}
		p.kind, p.fields = planStruct, fields
	default:
		return nil, fmt.Errorf("%v: kind %v not supported", t, t.Kind())
	}
	return p, nil
}

// planFields lists the JSON members of struct t the way encoding/json
// does for the shapes payloads use: exported fields, named by their json
// tag or Go name, embedded untagged structs flattened; "-" skipped.
func planFields(t reflect.Type, plans map[reflect.Type]*plan) ([]fieldPlan, error) {
	var out []fieldPlan
	seen := map[string]bool{}
	var walk func(t reflect.Type, index []int) error
	walk = func(t reflect.Type, index []int) error {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if strings.Contains(","+opts+",", ",string,") {
				return fmt.Errorf("%v.%s: the string option is not supported", t, f.Name)
			}
			idx := append(append([]int(nil), index...), i)
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					return fmt.Errorf("%v.%s: embedded pointer not supported", t, f.Name)
				}
				if ft.Kind() == reflect.Struct {
					if err := walk(ft, idx); err != nil {
						return err
					}
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if seen[name] {
				return fmt.Errorf("%v: two fields named %q", t, name)
			}
			seen[name] = true
			fp, err := planType(f.Type, plans)
			if err != nil {
				return err
			}
			out = append(out, fieldPlan{name: name, index: idx, plan: fp})
		}
		return nil
	}
	if err := walk(t, nil); err != nil {
		return nil, err
	}
	for i, f := range out {
		for _, g := range out[:i] {
			if strings.EqualFold(f.name, g.name) {
				// encoding/json would pick by a rule of precedence the
				// plan does not model.
				return nil, fmt.Errorf("%v: fields %q and %q differ only in case", t, g.name, f.name)
			}
		}
	}
	return out, nil
}

// decode reads the lexer's next value into v (addressable), with
// encoding/json's semantics; a JSON value of the wrong kind is an error.
// Strings are carved from arena (see carve).
func (p *plan) decode(l *lexer, v reflect.Value, arena *strings.Builder) error {
	c := l.peek()
	if c == 'n' {
		// null leaves a value alone and empties a slice.
		if p.kind == planSlice {
			v.SetZero()
		}
		return l.literal("null")
	}
	switch p.kind {
	case planString:
		if c == '"' {
			s, err := l.readString()
			if err == nil {
				v.SetString(carve(arena, s))
			}
			return err
		}
	case planBool:
		if c == 't' || c == 'f' {
			v.SetBool(c == 't')
			if c == 't' {
				return l.literal("true")
			}
			return l.literal("false")
		}
	case planInt:
		if c == '-' || c >= '0' && c <= '9' {
			n, err := intLiteral(l, p.typ)
			if err != nil {
				return err
			}
			i, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil || v.OverflowInt(i) {
				return fmt.Errorf("number %s overflows %v", n, p.typ)
			}
			v.SetInt(i)
			return nil
		}
	case planUint:
		if c == '-' || c >= '0' && c <= '9' {
			n, err := intLiteral(l, p.typ)
			if err != nil {
				return err
			}
			u, err := strconv.ParseUint(string(n), 10, 64)
			if err != nil || v.OverflowUint(u) {
				return fmt.Errorf("number %s does not fit %v", n, p.typ)
			}
			v.SetUint(u)
			return nil
		}
	case planText:
		if c == '"' {
			s, err := l.readString()
			if err != nil {
				return err
			}
			return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText(s.bytes())
		}
	case planTime:
		// As time.Time's UnmarshalJSON: strict RFC 3339, read without
		// unescaping, so an escaped string fails as in encoding/json.
		if c == '"' {
			s, err := l.readString()
			if err != nil {
				return err
			}
			return v.Addr().Interface().(*time.Time).UnmarshalText(s.raw)
		}
	case planSlice:
		if c == '[' {
			return p.decodeSlice(l, v, arena)
		}
	case planStruct:
		if c == '{' {
			l.i++
			return l.object(func(key str) error {
				f := findField(p.fields, key.bytes())
				if f == nil {
					_, err := l.skipValue(0)
					return err
				}
				var fv reflect.Value
				if len(f.index) == 1 {
					fv = v.Field(f.index[0])
				} else {
					fv = v.FieldByIndex(f.index)
				}
				if err := f.plan.decode(l, fv, arena); err != nil {
					return fmt.Errorf("%s: %w", f.name, err)
				}
				return nil
			})
		}
	}
	return typeError(l, p.typ)
}

// decodeSlice decodes an array into the slice in place, exactly as
// encoding/json does: existing elements are decoded over (a repeated
// member merges), the slice grows or is truncated to the array's length,
// and [] gives an empty, non-nil slice.
func (p *plan) decodeSlice(l *lexer, v reflect.Value, arena *strings.Builder) error {
	l.i++ // '['
	i := 0
	if l.peek() == ']' {
		l.i++
	} else {
		for {
			if i >= v.Cap() {
				v.Grow(1)
			}
			if i >= v.Len() {
				v.SetLen(i + 1)
			}
			if err := p.elem.decode(l, v.Index(i), arena); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
			i++
			c := l.peek()
			if c == ']' {
				l.i++
				break
			}
			if c != ',' {
				return l.errorf("want ',' or ']'")
			}
			l.i++
		}
	}
	if i < v.Len() {
		v.SetLen(i)
	}
	if i == 0 {
		v.Set(reflect.MakeSlice(p.typ, 0, 0))
	}
	return nil
}

// findField matches a member name exactly, else case-insensitively (the
// first such field, as encoding/json does).
func findField(fields []fieldPlan, k []byte) *fieldPlan {
	for i := range fields {
		if fields[i].name == string(k) {
			return &fields[i]
		}
	}
	for i := range fields {
		if bytes.EqualFold([]byte(fields[i].name), k) {
			return &fields[i]
		}
	}
	return nil
}

// intLiteral reads a number that must be an integer.
func intLiteral(l *lexer, t reflect.Type) ([]byte, error) {
	n, err := l.readNumber()
	if err != nil {
		return nil, err
	}
	if bytes.ContainsAny(n, ".eE") {
		return nil, fmt.Errorf("number %s is not an integer (%v)", n, t)
	}
	return n, nil
}

// typeError reports a JSON value of the wrong kind.
func typeError(l *lexer, t reflect.Type) error {
	var kind string
	switch l.peek() {
	case '{':
		kind = "object"
	case '[':
		kind = "array"
	case '"':
		kind = "string"
	case 't', 'f':
		kind = "bool"
	default:
		kind = "number"
	}
	return fmt.Errorf("cannot read a JSON %s into %v", kind, t)
}
