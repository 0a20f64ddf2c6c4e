package caddymodule

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Request bodies and query strings, read the way Jersey 1 reads them for
// RestComm: a form body by BaseFormProvider (tokens split on '&', each
// decoded by java.net.URLDecoder in the body's charset), a query string by
// UriComponent.decodeQuery (the same, always UTF-8). Only the first value
// of a repeated key counts: RestComm reads every parameter with getFirst.

// typeForm is the one body type RestComm's Accounts methods consume
// (@Consumes(APPLICATION_FORM_URLENCODED)).
const typeForm = "application/x-www-form-urlencoded"

// params holds the first value of each parameter. A key given without '='
// has the value "" (Jersey's MultivaluedMapImpl turns the null into "").
type params map[string]string

func (p params) get(key string) (string, bool) {
	v, ok := p[key]
	return v, ok
}

// errMalformed is a '%' escape that java.net.URLDecoder refuses.
var errMalformed = errors.New("malformed percent-encoding")

// charset decodes bytes to a string the way a java.nio.charset.Charset
// does, replacing what it cannot map with U+FFFD.
type charset func([]byte) string

// lookupCharset is Charset.forName for the charsets a form body may name;
// ok is false for anything else.
func lookupCharset(name string) (cs charset, ok bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "utf-8", "utf8", "unicode-1-1-utf-8":
		return decodeUTF8, true
	case "iso-8859-1", "iso8859-1", "iso8859_1", "iso_8859-1", "iso_8859_1", "iso_8859-1:1987",
		"8859_1", "latin1", "l1", "cp819", "ibm819", "ibm-819", "819", "csisolatin1", "iso-ir-100":
		return decodeLatin1, true
	case "us-ascii", "ascii", "us", "iso646-us", "iso_646.irv:1983", "ansi_x3.4-1968",
		"ansi_x3.4-1986", "cp367", "ibm367", "csascii", "646", "ascii7", "iso-ir-6", "default":
		return decodeASCII, true
	}
	return nil, false
}

// decodeUTF8 replaces each byte that is not part of a valid UTF-8 sequence
// with U+FFFD, as new String(bytes, UTF_8) does for malformed input.
func decodeUTF8(b []byte) string {
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

// parseParams reads "k=v&k2=v2" as Jersey does: tokens split on '&' (empty
// tokens skipped), a token without '=' is a key with the value "", a token
// starting with '=' is dropped, keys and values are URL-decoded; the first
// value of a key wins. The text must already be decoded from its charset;
// cs decodes the bytes of %XX escapes.
func parseParams(text string, cs charset) (params, error) {
	out := params{}
	for _, tok := range strings.Split(text, "&") {
		if tok == "" {
			continue
		}
		k, v, hasEq := strings.Cut(tok, "=")
		if hasEq && k == "" {
			continue
		}
		key, err := urlDecode(k, cs)
		if err != nil {
			return nil, err
		}
		val := ""
		if hasEq {
			if val, err = urlDecode(v, cs); err != nil {
				return nil, err
			}
		}
		if _, seen := out[key]; !seen {
			out[key] = val
		}
	}
	return out, nil
}

// urlDecode is java.net.URLDecoder.decode: '+' is a space, each run of
// %XX escapes is one byte sequence decoded with cs, and an escape whose two
// characters Integer.parseInt(…, 16) refuses or reads as negative is an
// error — so "%+1" is the byte 0x01 and "%-0" the byte 0x00, as in Java.
func urlDecode(s string, cs charset) (string, error) {
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
					return "", errMalformed
				}
				buf = append(buf, v)
				i += 3
			}
			if i < len(s) && s[i] == '%' { // an incomplete trailing escape
				return "", errMalformed
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

// bodyState is what became of reading a request's form body.
type bodyState int

const (
	bodyUnread     bodyState = iota
	bodyOK                   // form holds the parameters
	bodyNoType               // no Content-Type: 415 when the form is read
	bodyNotForm              // Content-Type is not a form: 415
	bodyBadCharset           // a charset Java would not know: 415
	bodyTooLarge             // more than maxBodyLength bytes: 413
	bodyMalformed            // a bad % escape: 400
	bodyUnreadable           // the client's body failed mid-read: 400
)

// formBody reads and parses x's form body once; later calls return the
// same result. It reads at most maxBodyLength bytes whatever the
// Content-Length says, so a lying or chunked body cannot exhaust memory.
func (x *exchange) formBody() (params, bodyState) {
	f := &x.req
	if f.body != bodyUnread {
		return f.form, f.body
	}
	f.body = readForm(x.w, x.r, &f.form)
	return f.form, f.body
}

func readForm(w http.ResponseWriter, r *http.Request, out *params) bodyState {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return bodyNoType
	}
	mt, ps, err := mime.ParseMediaType(ct)
	if errors.Is(err, mime.ErrInvalidMediaParameter) {
		err = nil // the type is readable; Jersey ignores parameters it cannot parse
	}
	if err != nil || !strings.EqualFold(mt, typeForm) {
		return bodyNotForm
	}
	cs, ok := lookupCharset(ps["charset"])
	if !ok {
		return bodyBadCharset
	}
	if r.ContentLength > maxBodyLength {
		return bodyTooLarge
	}
	var raw []byte
	if r.Body != nil {
		raw, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyLength))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return bodyTooLarge
		case err != nil:
			return bodyUnreadable
		}
	}
	p, err := parseParams(cs(raw), cs)
	if err != nil {
		return bodyMalformed
	}
	*out = p
	return bodyOK
}

// bodyProblem turns a failed body read into the response RestComm gives,
// at the stage it gives it: 413 with the body length filter; 415 with
// Jersey's routing for a Content-Type that is not a form; and when the
// entity is read, just before the method runs (readStage: after the
// @RolesAllowed filter, before the method's own checks), 415 for a request
// without Content-Type (Jersey matches it to every method, then finds no
// reader for application/octet-stream) and 400 when the form reader fails.
func bodyProblem(s bodyState, readStage int) *problem {
	switch s {
	case bodyTooLarge:
		return pageProblem(http.StatusRequestEntityTooLarge, "Length larger than 10000000", stageBodyLength)
	case bodyNotForm, bodyBadCharset:
		return pageProblem(http.StatusUnsupportedMediaType, "", stageContentType)
	case bodyNoType:
		return pageProblem(http.StatusUnsupportedMediaType, "", readStage)
	case bodyMalformed:
		return pageProblem(http.StatusBadRequest, "Malformed form body", readStage)
	case bodyUnreadable:
		return pageProblem(http.StatusBadRequest, "Unreadable request body", readStage)
	}
	return nil
}

// query reads the request's query string as Jersey's UriInfo does. ok is
// false when RestComm would fail on it: a malformed escape, or (on .json
// URLs, whose query AcceptFilter re-builds through a UriBuilder template)
// a name or value with '{' or '}'.
func (x *exchange) query() (q params, ok bool) {
	raw := x.r.URL.RawQuery
	if !utf8.ValidString(raw) {
		// net/http passes on bytes a client sent unescaped; read them as
		// UTF-8 like escaped ones, so no value holds invalid UTF-8.
		raw = decodeUTF8([]byte(raw))
	}
	q, err := parseParams(raw, decodeUTF8)
	if err != nil {
		return nil, false
	}
	if x.path.JSON {
		for k, v := range q {
			if strings.ContainsAny(k, "{}") || strings.ContainsAny(v, "{}") {
				return nil, false
			}
		}
	}
	return q, true
}

// javaTrim is String.trim: it strips every character up to U+0020.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

// javaLength is String.length: UTF-16 code units.
func javaLength(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}
