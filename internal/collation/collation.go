// Package collation says when two strings are equal to RestComm's
// database. RestComm never compares logins itself: it runs
// `WHERE email_address = ?` and `WHERE sid = ?` and lets the database's
// collation decide. MariaDB's default for RestComm's latin1 tables
// (latin1_swedish_ci) ignores case, a few accents and trailing spaces;
// HSQLDB's default compares exactly. The gateway keeps its indexes under
// the source's rule, so a Rule turns a string into its key: two strings
// are equal under the rule exactly when their keys are equal.
package collation

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Rule is one way of comparing strings. The zero Rule is Exact.
type Rule struct {
	name string
	// weights maps a latin1 byte to its weight class's representative;
	// nil: no single-byte folding.
	weights *[256]byte
	// pad: trailing spaces are ignored (SQL's PAD SPACE).
	pad bool
	// unicodeFold: case is folded rune by rune (an approximation of a
	// Unicode _ci collation the package has no table for).
	unicodeFold bool
}

var (
	// Exact compares byte for byte: HSQLDB's default, MariaDB's
	// binary and *_nopad_bin collations.
	Exact = Rule{name: "exact"}
	// ExactPad compares byte for byte but ignores trailing spaces:
	// MariaDB's *_bin collations.
	ExactPad = Rule{name: "exact_pad", pad: true}
	// Latin1SwedishCI is MariaDB's default collation of a latin1 table,
	// the one RestComm's own MariaDB script ends up with.
	Latin1SwedishCI = Rule{name: "latin1_swedish_ci", weights: &latin1SwedishReps, pad: true}
	// UnicodeCI ignores case (Unicode simple folding) and trailing
	// spaces: the approximation used for a case-insensitive collation
	// other than latin1_swedish_ci.
	UnicodeCI = Rule{name: "unicode_ci", unicodeFold: true, pad: true}
	// UnicodeCINoPad is UnicodeCI keeping trailing spaces: a NO PAD
	// case-insensitive collation (MySQL 8's *_0900_ai_ci, MariaDB's
	// *_nopad_ci).
	UnicodeCINoPad = Rule{name: "unicode_ci_nopad", unicodeFold: true}
)

// Name is the rule's name, as Parse reads it back.
func (r Rule) Name() string {
	if r.name == "" {
		return Exact.name
	}
	return r.name
}

func (r Rule) String() string { return r.Name() }

// FoldsCase reports whether the rule ignores case.
func (r Rule) FoldsCase() bool { return r.weights != nil || r.unicodeFold }

// IgnoresTrailingSpaces reports whether trailing spaces are ignored.
func (r Rule) IgnoresTrailingSpaces() bool { return r.pad }

// Approximate reports whether the rule only approximates the collation it
// was read from (a case-insensitive collation without a table here).
func (r Rule) Approximate() bool { return r.unicodeFold }

// Names lists the rules Parse accepts.
var Names = []string{Exact.name, ExactPad.name, Latin1SwedishCI.name, UnicodeCI.name, UnicodeCINoPad.name}

// Parse reads a rule's name, or a MariaDB/MySQL collation name.
func Parse(name string) (Rule, error) {
	for _, r := range []Rule{Exact, ExactPad, Latin1SwedishCI, UnicodeCI, UnicodeCINoPad} {
		if name == r.name {
			return r, nil
		}
	}
	return FromMariaDB(name)
}

// FromMariaDB is the rule of a MariaDB/MySQL collation, as named in
// information_schema.COLUMNS.COLLATION_NAME.
func FromMariaDB(collation string) (Rule, error) {
	c := strings.ToLower(strings.TrimSpace(collation))
	nopad := strings.Contains(c, "_nopad_") || strings.Contains(c, "_0900_") || strings.HasPrefix(c, "uca1400_") && strings.Contains(c, "_nopad")
	switch {
	case c == "latin1_swedish_ci":
		return Latin1SwedishCI, nil
	case c == "binary" || strings.HasSuffix(c, "_bin") && nopad:
		return Exact, nil
	case strings.HasSuffix(c, "_bin") || strings.HasSuffix(c, "_cs"):
		return ExactPad, nil
	case strings.HasSuffix(c, "_ci") || strings.Contains(c, "_ci_") || strings.HasSuffix(c, "_ai_ci"):
		if nopad {
			return UnicodeCINoPad, nil
		}
		return UnicodeCI, nil
	}
	return Rule{}, fmt.Errorf("collation %q: unknown; name one of %s, or a MariaDB collation ending in _ci, _cs or _bin",
		collation, strings.Join(Names, ", "))
}

// Key is s as the rule sees it: Key(a) == Key(b) exactly when the database
// finds a = b.
func (r Rule) Key(s string) string {
	switch {
	case r.weights != nil:
		s = r.latin1Key(s)
	case r.unicodeFold:
		s = strings.Map(foldRune, s)
	}
	if r.pad {
		s = strings.TrimRight(s, " ")
	}
	return s
}

// Equal reports whether the database finds a = b.
func (r Rule) Equal(a, b string) bool { return r.Key(a) == r.Key(b) }

// SID is the key under which an account with that SID is stored: RestComm
// makes every SID "AC" followed by 32 lower-case hexadecimal digits, so a
// rule that ignores case finds it by any spelling that folds to that
// form. Under a rule that keeps case, SID is id (trailing spaces dropped
// when the rule ignores them).
func (r Rule) SID(id string) string {
	if !r.FoldsCase() {
		if r.pad {
			return strings.TrimRight(id, " ")
		}
		return id
	}
	k := r.Key(id)
	if len(k) != 34 {
		return id
	}
	b := []byte(k)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			if i < 2 {
				b[i] = c - 'a' + 'A'
			}
		case 'A' <= c && c <= 'Z':
			if i >= 2 {
				b[i] = c - 'A' + 'a'
			}
		case '0' <= c && c <= '9':
		default:
			return id
		}
	}
	return string(b)
}

func foldRune(c rune) rune { return unicode.ToLower(unicode.ToUpper(c)) }

// latin1Key maps every character that latin1 can hold to the
// representative of its weight class; others are kept (the database
// cannot store them, so they match nothing stored).
func (r Rule) latin1Key(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		if x, ok := Latin1Byte(c); ok {
			b.WriteRune(Latin1Rune(r.weights[x]))
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// MariaDB's latin1 is Windows-1252, with the five bytes 1252 leaves
// undefined mapped to the C1 controls of the same value.
var cp1252High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

// Latin1Byte is the byte of MariaDB's latin1 character set that holds c,
// if there is one.
func Latin1Byte(c rune) (byte, bool) {
	switch {
	case c < 0x80 || 0xA0 <= c && c <= 0xFF:
		return byte(c), true
	case c == utf8.RuneError:
		return 0, false
	}
	for i, x := range cp1252High {
		if x == c {
			return byte(0x80 + i), true
		}
	}
	return 0, false
}

// Latin1Rune is the character a byte of MariaDB's latin1 holds.
func Latin1Rune(b byte) rune {
	if 0x80 <= b && b < 0xA0 {
		return cp1252High[b-0x80]
	}
	return rune(b)
}

// Latin1 reports whether MariaDB's latin1 can hold every character of s
// (RestComm's tables are latin1), and if not, the first one it cannot.
func Latin1(s string) (rune, bool) {
	for i, c := range s {
		if c == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return c, false
			}
		}
		if _, ok := Latin1Byte(c); !ok {
			return c, false
		}
	}
	return 0, true
}

// latin1SwedishReps: for each latin1 byte, the representative of its
// weight class under latin1_swedish_ci (the class's highest ASCII member,
// else its lowest byte). Weights as MariaDB's WEIGHT_STRING gives them;
// TestLatin1SwedishMatchesMariaDB checks every pair against a real server.
var latin1SwedishReps = func() [256]byte {
	var w [256]byte
	for i := range w {
		w[i] = byte(i)
	}
	for c := 'a'; c <= 'z'; c++ {
		w[c] = byte(c - 'a' + 'A')
	}
	same := map[byte]byte{
		0xC0: 'A', 0xC1: 'A', 0xC2: 'A', 0xC3: 'A', 0xC4: '\\', 0xC5: '[', 0xC6: '\\', 0xC7: 'C',
		0xC8: 'E', 0xC9: 'E', 0xCA: 'E', 0xCB: 'E', 0xCC: 'I', 0xCD: 'I', 0xCE: 'I', 0xCF: 'I',
		0xD0: 'D', 0xD1: 'N', 0xD2: 'O', 0xD3: 'O', 0xD4: 'O', 0xD5: 'O', 0xD6: ']',
		0xD9: 'U', 0xDA: 'U', 0xDB: 'U', 0xDC: 'Y', 0xDD: 'Y',
		0xE0: 'A', 0xE1: 'A', 0xE2: 'A', 0xE3: 'A', 0xE4: '\\', 0xE5: '[', 0xE6: '\\', 0xE7: 'C',
		0xE8: 'E', 0xE9: 'E', 0xEA: 'E', 0xEB: 'E', 0xEC: 'I', 0xED: 'I', 0xEE: 'I', 0xEF: 'I',
		0xF0: 'D', 0xF1: 'N', 0xF2: 'O', 0xF3: 'O', 0xF4: 'O', 0xF5: 'O', 0xF6: ']',
		0xF8: 0xD8, 0xF9: 'U', 0xFA: 'U', 0xFB: 'U', 0xFC: 'Y', 0xFD: 'Y', 0xFE: 0xDE,
	}
	for b, x := range same {
		w[b] = x
	}
	// weight → representative: the highest ASCII member, else the lowest
	var rep [256]int
	for i := range rep {
		rep[i] = -1
	}
	for i := 255; i >= 0; i-- {
		k := w[i]
		switch {
		case rep[k] < 0, i < 0x80 && (rep[k] >= 0x80 || i > rep[k]), rep[k] >= 0x80 && i < rep[k]:
			rep[k] = i
		}
	}
	var out [256]byte
	for i := range out {
		out[i] = byte(rep[w[i]])
	}
	return out
}()
