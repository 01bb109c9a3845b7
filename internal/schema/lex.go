package schema

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of objects and arrays in a message. The
// deepest payload is three levels below the envelope; the bound keeps room
// for growth while refusing pathological input before encoding/json (or a
// recursive scanner) spends stack on it.
const maxDepth = 64

// lexer is a strict, allocation-free scanner of RFC 8259 JSON over a byte
// slice. It validates syntax and reports the spans of values; turning spans
// into Go values is left to the caller, so fields nobody reads cost nothing
// but the scan. The input must already be valid UTF-8 (readEnvelope checks).
type lexer struct {
	b []byte
	i int
}

// carve returns a string's content as a Go string: from the arena when
// there is one (one allocation serves every string of an event), else as
// a fresh allocation. A strings.Builder never rewrites bytes it has
// written, so strings carved from it stay valid as it grows. (The arena is
// not a field of the lexer: escape analysis would then send it, and the
// builder with it, to the heap.)
func carve(arena *strings.Builder, s str) string {
	if arena == nil {
		return string(s.bytes())
	}
	a := arena.Len()
	arena.Write(s.bytes())
	return arena.String()[a:]
}

func (l *lexer) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrMalformed, fmt.Sprintf(format, args...), l.i)
}

func (l *lexer) skipWS() {
	i := l.i
	for i < len(l.b) && isSpace[l.b[i]] {
		i++
	}
	l.i = i
}

// isSpace marks JSON whitespace; stopsString marks the bytes that end the
// fast scan of a string (quote, backslash, control characters).
var isSpace, stopsString = func() (sp, st [256]bool) {
	sp[' '], sp['\t'], sp['\n'], sp['\r'] = true, true, true, true
	for c := range 0x20 {
		st[c] = true
	}
	st['"'], st['\\'] = true, true
	return sp, st
}()

// peek returns the next non-space byte without consuming it, or 0 at the end.
func (l *lexer) peek() byte {
	if l.i < len(l.b) && l.b[l.i] > ' ' { // compact JSON: no space to skip
		return l.b[l.i]
	}
	l.skipWS()
	if l.i < len(l.b) {
		return l.b[l.i]
	}
	return 0
}

// expect consumes the byte c after optional spaces.
func (l *lexer) expect(c byte) error {
	if l.peek() != c {
		if l.i >= len(l.b) {
			return l.errorf("unexpected end of input, want %q", c)
		}
		return l.errorf("unexpected %q, want %q", l.b[l.i], c)
	}
	l.i++
	return nil
}

// str is a JSON string as found in the input: its bytes between the quotes
// and whether they hold escapes (then they need unescape).
type str struct {
	raw []byte
	esc bool
}

// bytes returns the string's content, unescaping only when needed.
func (s str) bytes() []byte {
	if !s.esc {
		return s.raw
	}
	return unescape(s.raw)
}

// readString consumes a string; the lexer is on its opening quote.
func (l *lexer) readString() (str, error) {
	if l.i >= len(l.b) || l.b[l.i] != '"' {
		return str{}, l.errorf("want a string")
	}
	start := l.i + 1
	i := start
	// Eight bytes at a time while none is a quote, a backslash or a
	// control character (a false alarm only ends the fast loop early).
	for i+8 <= len(l.b) {
		x := binary.LittleEndian.Uint64(l.b[i:])
		if hasZeroByte(x^(lsb*'"'))|hasZeroByte(x^(lsb*'\\'))|((x-lsb*0x20)&^x&msb) != 0 {
			break
		}
		i += 8
	}
	for i < len(l.b) && !stopsString[l.b[i]] {
		i++
	}
	if i < len(l.b) && l.b[i] == '"' { // the common case: no escapes
		l.i = i + 1
		return str{raw: l.b[start:i]}, nil
	}
	l.i = i
	esc := false
	for l.i < len(l.b) {
		c := l.b[l.i]
		switch {
		case c == '"':
			s := str{raw: l.b[start:l.i], esc: esc}
			l.i++
			return s, nil
		case c == '\\':
			esc = true
			l.i++
			if l.i >= len(l.b) {
				return str{}, l.errorf("unterminated escape")
			}
			switch l.b[l.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				l.i++
			case 'u':
				if l.i+5 > len(l.b) {
					return str{}, l.errorf("short \\u escape")
				}
				for _, h := range l.b[l.i+1 : l.i+5] {
					if hexVal(h) < 0 {
						return str{}, l.errorf("bad \\u escape")
					}
				}
				l.i += 5
			default:
				return str{}, l.errorf("bad escape \\%c", l.b[l.i])
			}
		case c < 0x20:
			return str{}, l.errorf("control character in string")
		default:
			l.i++
		}
	}
	return str{}, l.errorf("unterminated string")
}

// readNumber consumes a number and returns its text.
func (l *lexer) readNumber() ([]byte, error) {
	start := l.i
	if l.i < len(l.b) && l.b[l.i] == '-' {
		l.i++
	}
	switch {
	case l.i < len(l.b) && l.b[l.i] == '0':
		l.i++
	case l.i < len(l.b) && l.b[l.i] >= '1' && l.b[l.i] <= '9':
		l.digits()
	default:
		return nil, l.errorf("bad number")
	}
	if l.i < len(l.b) && l.b[l.i] == '.' {
		l.i++
		if l.digits() == 0 {
			return nil, l.errorf("bad fraction")
		}
	}
	if l.i < len(l.b) && (l.b[l.i] == 'e' || l.b[l.i] == 'E') {
		l.i++
		if l.i < len(l.b) && (l.b[l.i] == '+' || l.b[l.i] == '-') {
			l.i++
		}
		if l.digits() == 0 {
			return nil, l.errorf("bad exponent")
		}
	}
	return l.b[start:l.i], nil
}

func (l *lexer) digits() int {
	n := 0
	for l.i < len(l.b) && l.b[l.i] >= '0' && l.b[l.i] <= '9' {
		l.i++
		n++
	}
	return n
}

// literal consumes true, false or null.
func (l *lexer) literal(word string) error {
	if len(l.b)-l.i < len(word) || string(l.b[l.i:l.i+len(word)]) != word {
		return l.errorf("bad literal")
	}
	l.i += len(word)
	return nil
}

// skipValue consumes any value after optional spaces and returns its span.
// depth is the nesting level of the value's container.
func (l *lexer) skipValue(depth int) ([]byte, error) {
	c := l.peek()
	start := l.i
	var err error
	switch {
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return nil, l.errorf("nested deeper than %d levels", maxDepth)
		}
		err = l.skipContainer(depth + 1)
	case c == '"':
		_, err = l.readString()
	case c == 't':
		err = l.literal("true")
	case c == 'f':
		err = l.literal("false")
	case c == 'n':
		err = l.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, err = l.readNumber()
	case c == 0 && l.i >= len(l.b):
		err = l.errorf("unexpected end of input")
	default:
		err = l.errorf("unexpected %q", c)
	}
	if err != nil {
		return nil, err
	}
	return l.b[start:l.i], nil
}

// skipContainer consumes an object or array; the lexer is on its opening
// bracket.
func (l *lexer) skipContainer(depth int) error {
	open := l.b[l.i]
	l.i++
	if open == '[' {
		if l.peek() == ']' {
			l.i++
			return nil
		}
		for {
			if _, err := l.skipValue(depth); err != nil {
				return err
			}
			switch l.peek() {
			case ',':
				l.i++
			case ']':
				l.i++
				return nil
			default:
				return l.errorf("want ',' or ']'")
			}
		}
	}
	return l.object(func(str) error {
		_, err := l.skipValue(depth)
		return err
	})
}

// object consumes the members of an object whose '{' was just consumed,
// calling member for each key with the lexer before the member's value;
// member must consume the value.
func (l *lexer) object(member func(key str) error) error {
	if l.peek() == '}' {
		l.i++
		return nil
	}
	for {
		if l.peek() != '"' {
			return l.errorf("want a member name")
		}
		key, err := l.readString()
		if err != nil {
			return err
		}
		if err := l.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch l.peek() {
		case ',':
			l.i++
		case '}':
			l.i++
			return nil
		default:
			return l.errorf("want ',' or '}'")
		}
	}
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func hex4(b []byte) rune {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// unescape decodes the escapes of a string the lexer validated. Like
// encoding/json, it turns a lone or mismatched UTF-16 surrogate into U+FFFD.
func unescape(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+7 <= len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					r2 = hex4(raw[i+3 : i+7])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, raw[i])
		}
		i++
	}
	return out
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasZeroByte reports (as a non-zero value) whether a byte of x is zero.
func hasZeroByte(x uint64) uint64 { return (x - lsb) &^ x & msb }
