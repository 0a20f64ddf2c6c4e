// Package password is a port of RestComm Connect's password strength check,
// restcomm/restcomm.identity/src/main/java/org/restcomm/connect/identity/passwords/JavascriptPasswordValidator.java
// (RestComm/Restcomm-Connect), which evaluates an embedded JavaScript function
// through the JVM script engine. The port reproduces that script's score
// exactly, quirks included (its own tests' scores are this package's table tests): lengths and
// indices are UTF-16 code units, the letter/digit classes are ASCII only and
// lower-casing follows JavaScript's String.prototype.toLowerCase.
package password

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf16"
)

// Strong reports whether RestComm accepts p: the script did not throw and
// the score is at least 50.
func Strong(p string) bool {
	score, ok := Score(p)
	return ok && score >= 50
}

// Score returns RestComm's 0-100 strength score of p. ok is false when
// RestComm's script throws, which happens for every password containing at
// least one of ( ) [ * + ? \ (see repeats); RestComm then rejects the
// password whatever its score, and Score returns 0.
//
// p is read as UTF-8; each invalid byte counts as U+FFFD.
func Score(p string) (score int, ok bool) {
	if p == "" { // `if (p)`: the empty string is falsy
		return 0, true
	}
	runes := []rune(p)
	s := utf16.Encode(runes)
	low := toLowerJS(runes)
	n := len(s)

	var upper, lower, digits, syms, middle int
	for i, u := range s {
		switch {
		case isUpper(u):
			upper++
		case isLower(u):
			lower++
		case isDigit(u):
			digits++
			if i > 0 && i < n-1 { // p.slice(1, -1)
				middle++
			}
		case isSymbol(u):
			syms++
			if i > 0 && i < n-1 {
				middle++
			}
		}
	}

	req := 0
	for _, c := range []int{upper, lower, digits, syms} {
		if c > 0 {
			req++
		}
	}
	if n >= 8 {
		req++
	}
	if req < 3 {
		req = 0
	}

	// Overlapping pairs: the script matches /(?=([a-z]{2}))/g, a lookahead.
	consec := 0
	for i := 0; i+1 < n; i++ {
		a, b := s[i], s[i+1]
		if isLower(a) && isLower(b) || isUpper(a) && isUpper(b) || isDigit(a) && isDigit(b) {
			consec++
		}
	}

	// The letter triples are searched in the lower-cased password both ways;
	// digit and symbol triples forwards in p but backwards in the lower-cased
	// p, as the script does (lower-casing never touches those characters).
	lowStr := string(utf16.Decode(low))
	seq := sequences(lowStr, lowStr, "abcdefghijklmnopqrstuvwxyz") +
		sequences(p, lowStr, "01234567890") +
		sequences(p, lowStr, `\!@#$%&/()=?¿`)

	repeated, ok := repeats(low)
	if !ok {
		return 0, false
	}

	strength := 4 * n
	if upper > 0 {
		strength += 2 * (n - upper)
	}
	if lower > 0 {
		strength += 2 * (n - lower)
	}
	if upper > 0 || lower > 0 {
		strength += 4 * digits
	}
	strength += 6*syms + 2*middle + 2*req - 2*consec - 3*seq
	if digits == n { // /^[0-9]*$/
		strength -= n
	}
	if upper+lower == n { // /^([a-z]|[A-Z])*$/
		strength -= n
	}
	f := float64(strength)
	if repeated > 0 {
		// Same floating-point operations, in the same order, as the script.
		f -= float64(repeated) / float64(n) * 10
	}
	return int(max(0, min(100, roundJS(f)))), true
}

// repeats ports the script's repetition count: for every distinct code unit
// c of the lower-cased password, `_p.match(new RegExp(c, 'g')).length` is
// added when it exceeds 1. Because c is compiled as a regular expression,
// some characters do not count themselves: '.' matches every code unit except
// line terminators, '|' (an empty alternation) matches len(low)+1 empty
// strings, '^' and '$' match once. len(low) is the lower-cased length, which
// can exceed len(p) (see toLowerJS). The RegExp is built for every character,
// even one that occurs once, and ( ) [ * + ? \ are syntax errors on their
// own, so any of them makes the script throw (ok=false). { } ] are literals
// (Annex B in V8; the same in Nashorn per the spec).
func repeats(low []uint16) (repeated int, ok bool) {
	counts := make(map[uint16]int)
	terminators := 0
	for _, u := range low {
		counts[u]++
		switch u {
		case '\n', '\r', '\u2028', '\u2029':
			terminators++
		}
	}
	for u, c := range counts {
		switch u {
		case '(', ')', '[', '*', '+', '?', '\\':
			return 0, false
		case '.':
			c = len(low) - terminators
		case '|':
			c = len(low) + 1
		case '^', '$':
			c = 1
		}
		if c > 1 {
			repeated += c
		}
	}
	return repeated, true
}

// sequences counts the three-character windows of alphabet found forwards in
// fwd or reversed in back, each window at most once. The alphabets hold BMP
// characters only, so searching UTF-8 equals searching UTF-16.
func sequences(fwd, back, alphabet string) int {
	a := []rune(alphabet)
	n := 0
	for i := 0; i+3 <= len(a); i++ {
		w := a[i : i+3]
		if strings.Contains(fwd, string(w)) || strings.Contains(back, string([]rune{w[2], w[1], w[0]})) {
			n++
		}
	}
	return n
}

// roundJS is JavaScript's Math.round: nearest integer, halves towards +Inf.
func roundJS(f float64) float64 {
	r := math.Floor(f)
	if f-r >= 0.5 {
		r++
	}
	return r
}

func isUpper(u uint16) bool { return 'A' <= u && u <= 'Z' }
func isLower(u uint16) bool { return 'a' <= u && u <= 'z' }
func isDigit(u uint16) bool { return '0' <= u && u <= '9' }

// isSymbol is the script's class [$-/:-?{-~!^_`\[\]]; note that # @ \ " and
// space are not in it.
func isSymbol(u uint16) bool {
	switch {
	case '$' <= u && u <= '/', ':' <= u && u <= '?', '{' <= u && u <= '~':
		return true
	}
	return strings.ContainsRune("!^_`[]", rune(u))
}

// toLowerJS lower-cases like String.prototype.toLowerCase and returns UTF-16.
// Beyond the simple per-character mapping (unicode.ToLower) that means the
// two full-case-mapping rules for lower case: U+0130 becomes "i\u0307" (one
// code unit longer, which shifts the '.' and '|' counts), and a capital sigma
// ending a word becomes final sigma ς (which matters for the repeat count).
func toLowerJS(rs []rune) []uint16 {
	out := make([]rune, 0, len(rs))
	for i, r := range rs {
		switch {
		case r == '\u0130':
			out = append(out, 'i', '\u0307')
		case r == 'Σ' && finalSigma(rs, i):
			out = append(out, 'ς')
		default:
			out = append(out, unicode.ToLower(r))
		}
	}
	return utf16.Encode(out)
}

// finalSigma is Unicode's Final_Sigma condition (as ICU, hence V8, applies
// it): a cased letter precedes rs[i] and none follows, skipping
// case-ignorable characters in both directions.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && caseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !cased(rs[j]) {
		return false
	}
	k := i + 1
	for k < len(rs) && caseIgnorable(rs[k]) {
		k++
	}
	return k == len(rs) || !cased(rs[k])
}

// cased is the Unicode Cased property.
func cased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// caseIgnorable is the Unicode Case_Ignorable property; the listed
// punctuation is Word_Break MidLetter, MidNumLet and Single_Quote.
func caseIgnorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk) ||
		strings.ContainsRune("\u003A\u00B7\u0387\u055F\u05F4\u2027\uFE13\uFE55\uFF1A"+ // MidLetter
			"\u002E\u2018\u2019\u2024\uFE52\uFF07\uFF0E"+ // MidNumLet
			"'", r) // Single_Quote
}
