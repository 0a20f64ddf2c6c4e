package render

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// replacementChar is what a Go string's invalid UTF-8 byte becomes. RestComm
// never sees raw bytes: the servlet container decodes request parameters as
// UTF-8 and substitutes U+FFFD for malformed input, and U+FFFD is a defined,
// non-control char that both XStream and Gson then write raw. One U+FFFD per
// invalid byte (Go's own convention) keeps the output valid UTF-8 always.
const replacementChar = "\uFFFD"

// undefinedBMP is java8Undefined expanded to a 64 Ki-bit set (8 KiB) so that
// the per-rune test in the XML escaper is a single load.
var undefinedBMP = func() (set [1 << 16 / 64]uint64) {
	for _, r := range java8Undefined {
		for c := uint32(r[0]); c <= uint32(r[1]); c++ {
			set[c>>6] |= 1 << (c & 63)
		}
	}
	return set
}()

// xmlPlain marks the bytes copied without a further look: ASCII that
// XStream 1.4.2 PrettyPrintWriter (XML_QUIRKS mode, the XppDriver default)
// writes raw. It escapes & < > " ' and every ISO control char except TAB and
// LF (so CR and NUL too). Bytes >= 0x80 start a rune that needs decoding.
var xmlPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	t['\t'], t['\n'] = true, true
	for _, c := range `&<>"'` {
		t[c] = false
	}
	return t
}()

// xmlEscapeRune reports whether PrettyPrintWriter.writeText would emit the
// UTF-16 unit r as a character reference: anything failing
// "Character.isDefined(c) && !Character.isISOControl(c)". Supplementary
// runes are never escaped because Java sees two surrogate chars, and
// surrogates are "defined" (category Cs).
func xmlEscapeRune(r rune) bool {
	if r >= 0x10000 {
		return false
	}
	if r < 0xa0 {
		return r < 0x20 || r >= 0x7f // ISO controls: C0, DEL and C1
	}
	return undefinedBMP[r>>6]&(1<<(uint(r)&63)) != 0
}

// appendXMLText appends s escaped as XStream 1.4.2 PrettyPrintWriter writes
// element text in XML_QUIRKS mode. The named entities come first in its
// switch; TAB and LF are raw; everything else that is a control or
// undefined char becomes &#x{Integer.toHexString(c)}; (lower case, no
// padding), which covers NUL -> &#x0; and CR -> &#xd;. Quirks mode means it
// never refuses a char, so &#x0;, &#x1;... and &#xfffe; are emitted even
// though strict XML 1.0 parsers reject those references; RestComm clients
// receive exactly that, so we do the same.
func appendXMLText(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if xmlPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[last:i]...)
			switch c {
			case '&':
				dst = append(dst, "&amp;"...)
			case '<':
				dst = append(dst, "&lt;"...)
			case '>':
				dst = append(dst, "&gt;"...)
			case '"':
				dst = append(dst, "&quot;"...)
			case '\'':
				dst = append(dst, "&apos;"...)
			default:
				dst = appendCharRef(dst, rune(c))
			}
			i++
			last = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[last:i]...)
			dst = append(dst, replacementChar...)
			i++
			last = i
			continue
		}
		if xmlEscapeRune(r) {
			dst = append(dst, s[last:i]...)
			dst = appendCharRef(dst, r)
			last = i + size
		}
		i += size
	}
	return append(dst, s[last:]...)
}

// appendCharRef appends &#x{hex}; with lower-case hex and no zero padding,
// as Integer.toHexString produces it.
func appendCharRef(dst []byte, r rune) []byte {
	dst = append(dst, "&#x"...)
	dst = strconv.AppendUint(dst, uint64(r), 16)
	return append(dst, ';')
}

// jsonReplacement is Gson 2.3.1 JsonWriter's HTML_SAFE_REPLACEMENT_CHARS
// (Gson's default is htmlSafe): C0 controls as \u00xx with lower-case hex
// (String.format("\\u%04x")), the short forms \b \t \n \f \r, \" and \\, and
// < > & = ' as unicode escapes. DEL and everything >= 0x80 are raw except
// U+2028/U+2029 (handled in appendJSONString).
var jsonReplacement = func() (t [utf8.RuneSelf]string) {
	const hex = "0123456789abcdef"
	for c := 0; c < 0x20; c++ {
		t[c] = `\u00` + string(hex[c>>4]) + string(hex[c&0xf])
	}
	t['"'] = `\"`
	t['\\'] = `\\`
	t['\t'] = `\t`
	t['\b'] = `\b`
	t['\n'] = `\n`
	t['\r'] = `\r`
	t['\f'] = `\f`
	t['<'] = `\u003c`
	t['>'] = `\u003e`
	t['&'] = `\u0026`
	t['='] = `\u003d`
	t['\''] = `\u0027`
	return t
}()

// jsonPlain marks the bytes copied without a further look: ASCII with no
// jsonReplacement. Bytes >= 0x80 start a rune that needs decoding.
var jsonPlain = func() (t [256]bool) {
	for c, rep := range jsonReplacement {
		t[c] = rep == ""
	}
	return t
}()

// appendJSONString appends s as a quoted JSON string escaped exactly as
// Gson 2.3.1 JsonWriter.string does with htmlSafe on.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONChars(dst, s)
	return append(dst, '"')
}

// appendJSONChars is appendJSONString without the quotes, for values that
// are constant ASCII (nothing Gson escapes) around a variable part.
func appendJSONChars(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[last:i]...)
			dst = append(dst, jsonReplacement[c]...)
			i++
			last = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[last:i]...)
			dst = append(dst, replacementChar...)
			last = i + 1
		case r == '\u2028':
			dst = append(dst, s[last:i]...)
			dst = append(dst, `\u2028`...)
			last = i + size
		case r == '\u2029':
			dst = append(dst, s[last:i]...)
			dst = append(dst, `\u2029`...)
			last = i + size
		}
		i += size
	}
	return append(dst, s[last:]...)
}

// FormatDate renders t as RestComm does, new SimpleDateFormat("EEE, d MMM
// yyyy HH:mm:ss Z", Locale.US), e.g. "Tue, 24 Apr 2012 00:00:00 +0000".
// The JVM zone is assumed to be UTC (RestComm writes its dates in its JVM's zone; the gateway assumes UTC), so t is always converted to UTC.
func FormatDate(t time.Time) string {
	var b [40]byte
	return string(appendDate(b[:0], t))
}

// appendDate is FormatDate without the allocation. The output is pure ASCII
// with nothing XML or Gson would escape, so callers append it unescaped.
func appendDate(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hh, mm, ss := t.Clock()
	dst = append(dst, t.Weekday().String()[:3]...)
	dst = append(dst, ", "...)
	dst = strconv.AppendInt(dst, int64(day), 10) // "d": not zero padded
	dst = append(dst, ' ')
	dst = append(dst, month.String()[:3]...)
	dst = append(dst, ' ')
	// "yyyy" is the year of era, zero padded to at least four digits; the
	// era itself is not printed (so 1 BC, Go year 0, prints as 0001). Dates
	// before the 1582 Gregorian cutover would be Julian in Java; RestComm
	// dates are creation times, so that case is deliberately not modelled.
	if year <= 0 {
		year = 1 - year
	}
	for p := 1000; p > 1 && year < p; p /= 10 {
		dst = append(dst, '0')
	}
	dst = strconv.AppendInt(dst, int64(year), 10)
	dst = append(dst, ' ')
	dst = append2(dst, hh)
	dst = append(dst, ':')
	dst = append2(dst, mm)
	dst = append(dst, ':')
	dst = append2(dst, ss)
	return append(dst, " +0000"...) // "Z" in UTC
}

func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}
