// Package javacompat reads and answers as RestComm's Java stack does:
// forms as Jersey 1 reads them (java.net.URLDecoder, the body's Charset),
// e-mail addresses as JavaMail 1.4 parses them, Java's String.trim and
// length, and RestComm's content negotiation. It knows nothing of Caddy or
// of accounts: the gateway's RestComm compatibility in one place.
package javacompat

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Request bodies and query strings, read the way Jersey 1 reads them for
// RestComm: a form body by BaseFormProvider (tokens split on '&', each
// decoded by java.net.URLDecoder in the body's Charset), a query string by
// UriComponent.decodeQuery (the same, always UTF-8). Only the first value
// of a repeated key counts: RestComm reads every parameter with getFirst.

// Params holds the first value of each parameter. A key given without '='
// has the value "" (Jersey's MultivaluedMapImpl turns the null into "").
type Params map[string]string

func (p Params) Get(key string) (string, bool) {
	v, ok := p[key]
	return v, ok
}

// ErrMalformed is a '%' escape that java.net.URLDecoder refuses.
var ErrMalformed = errors.New("malformed percent-encoding")

// Charset decodes bytes to a string the way a java.nio.Charset.Charset
// does, replacing what it cannot map with U+FFFD.
type Charset func([]byte) string

// LookupCharset is Charset.forName for the charsets a form body may name;
// ok is false for anything else.
func LookupCharset(name string) (cs Charset, ok bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "utf-8", "utf8", "unicode-1-1-utf-8":
		return DecodeUTF8, true
	case "iso-8859-1", "iso8859-1", "iso8859_1", "iso_8859-1", "iso_8859_1", "iso_8859-1:1987",
		"8859_1", "latin1", "l1", "cp819", "ibm819", "ibm-819", "819", "csisolatin1", "iso-ir-100":
		return decodeLatin1, true
	case "us-ascii", "ascii", "us", "iso646-us", "iso_646.irv:1983", "ansi_x3.4-1968",
		"ansi_x3.4-1986", "cp367", "ibm367", "csascii", "646", "ascii7", "iso-ir-6", "default":
		return decodeASCII, true
	}
	return nil, false
}

// DecodeUTF8 replaces each byte that is not part of a valid UTF-8 sequence
// with U+FFFD, as new String(bytes, UTF_8) does for malformed input.
func DecodeUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		sb.WriteRune(r) // utf8.RuneError for an invalid byte
		b = b[size:]
	}
	return sb.String()
}

func decodeLatin1(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}

func decodeASCII(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		if c < 0x80 {
			rs[i] = rune(c)
		} else {
			rs[i] = utf8.RuneError
		}
	}
	return string(rs)
}

// ParseParams reads "k=v&k2=v2" as Jersey does: tokens split on '&' (empty
// tokens skipped), a token without '=' is a key with the value "", a token
// starting with '=' is dropped, keys and values are URL-decoded; the first
// value of a key wins. The text must already be decoded from its Charset;
// cs decodes the bytes of %XX escapes.
func ParseParams(text string, cs Charset) (Params, error) {
	out := Params{}
	for _, tok := range strings.Split(text, "&") {
		if tok == "" {
			continue
		}
		k, v, hasEq := strings.Cut(tok, "=")
		if hasEq && k == "" {
			continue
		}
		key, err := URLDecode(k, cs)
		if err != nil {
			return nil, err
		}
		val := ""
		if hasEq {
			if val, err = URLDecode(v, cs); err != nil {
				return nil, err
			}
		}
		if _, seen := out[key]; !seen {
			out[key] = val
		}
	}
	return out, nil
}

// URLDecode is java.net.URLDecoder.decode: '+' is a space, each run of
// %XX escapes is one byte sequence decoded with cs, and an escape whose two
// characters Integer.parseInt(…, 16) refuses or reads as negative is an
// error — so "%+1" is the byte 0x01 and "%-0" the byte 0x00, as in Java.
func URLDecode(s string, cs Charset) (string, error) {
	if !strings.ContainsAny(s, "+%") {
		return s, nil
	}
	var sb strings.Builder
	sb.Grow(len(s))
	var buf []byte
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '+':
			sb.WriteByte(' ')
			i++
		case '%':
			buf = buf[:0]
			for i+2 < len(s) && s[i] == '%' {
				v, ok := javaHexByte(s[i+1 : i+3])
				if !ok {
					return "", ErrMalformed
				}
				buf = append(buf, v)
				i += 3
			}
			if i < len(s) && s[i] == '%' { // an incomplete trailing escape
				return "", ErrMalformed
			}
			sb.WriteString(cs(buf))
		default:
			sb.WriteByte(c)
			i++
		}
	}
	return sb.String(), nil
}

// javaHexByte is Integer.parseInt(two, 16) cast to a byte, refusing what
// URLDecoder refuses: anything unparsable, and negative values.
func javaHexByte(two string) (byte, bool) {
	digits, neg := two, false
	switch two[0] {
	case '+':
		digits = two[1:]
	case '-':
		digits, neg = two[1:], true
	}
	v := 0
	for i := 0; i < len(digits); i++ {
		d := hexDigit(digits[i])
		if d < 0 {
			return 0, false
		}
		v = v*16 + d
	}
	if len(digits) == 0 || (neg && v != 0) {
		return 0, false
	}
	return byte(v), true
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// Trim is String.trim: it strips every character up to U+0020.
func Trim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

// Length is String.length: UTF-16 code units.
func Length(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}
