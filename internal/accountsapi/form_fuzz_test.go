package accountsapi

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/restcomm/restcomm-gateway/internal/javacompat"
	"github.com/restcomm/restcomm-gateway/internal/restpath"
)

// checkParams asserts what every reading of a form or query yields: keys
// that are not empty, keys and values that are valid UTF-8 (Java's strings
// cannot hold anything else).
func checkParams(t *testing.T, from string, p javacompat.Params) {
	t.Helper()
	for k, v := range p {
		if k == "" {
			t.Fatalf("%q: empty key", from)
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			t.Fatalf("%q: invalid UTF-8 %q=%q", from, k, v)
		}
	}
}

// readFormBody runs readForm on a request with that Content-Type and body.
func readFormBody(contentType string, body []byte) (javacompat.Params, bodyState) {
	r := httptest.NewRequest(http.MethodPost, restpath.Prefix+"Accounts", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	var p javacompat.Params
	st := readForm(httptest.NewRecorder(), r, &p)
	return p, st
}

// FuzzReadForm: whatever the Content-Type and the bytes of the body,
// readForm neither panics nor yields an empty key or invalid UTF-8; it
// reads the body exactly when the type is a form in a charset Java knows
// and the escapes are well-formed; and since the first value of a key wins,
// repeating the body, or adding empty and nameless tokens, changes nothing.
func FuzzReadForm(f *testing.F) {
	for _, s := range []struct {
		ct   string
		body string
	}{
		{typeForm, "FriendlyName=Child&EmailAddress=child%40company.com&Password=RestComm12%21&Role=Developer"},
		{typeForm + "; charset=UTF-8", "a=%C3%A9&a=second&b&=dropped&&c=%e2%82"},
		{typeForm + "; charset=ISO-8859-1", "FriendlyName=caf%E9&x=\xe9\xff"},
		{typeForm + "; charset=us-ascii", "x=%80+%41&y=\x80"},
		{"Application/X-WWW-Form-Urlencoded;charset=\"latin1\"", "k=v"},
		{typeForm + "; charset=utf-16", "k=v"},
		{typeForm + "; charset", "k=v"},
		{"application/json", `{"k":"v"}`},
		{"", "k=v"},
		{typeForm, "x=%+1&y=%-0"},
		{typeForm, "x=%-1"},
		{typeForm, "x=%4"},
		{typeForm, "\xff=\xfe&%ff%fe=1"},
		{typeForm, "x=%F0%9F%98%80%ED%A0%80%C0%80"},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		p, st := readFormBody(contentType, body)
		if st != bodyOK {
			if p != nil {
				t.Fatalf("state %d with javacompat.Params %v", st, p)
			}
			if bodyProblem(st, 0) == nil {
				t.Fatalf("state %d has no response", st)
			}
		} else {
			checkParams(t, string(body), p)
		}

		// Which state, decided independently of readForm.
		mt, ps, err := mime.ParseMediaType(contentType)
		cs, known := javacompat.LookupCharset(ps["charset"])
		var want bodyState
		switch {
		case contentType == "":
			want = bodyNoType
		case err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter), !strings.EqualFold(mt, typeForm):
			want = bodyNotForm
		case !known:
			want = bodyBadCharset
		default:
			if _, err := javacompat.ParseParams(cs(body), cs); err != nil {
				want = bodyMalformed
			} else {
				want = bodyOK
			}
		}
		if st != want {
			t.Fatalf("Content-Type %q, body %q: state %d, want %d", contentType, body, st, want)
		}
		if st != bodyOK {
			return
		}

		text := cs(body)
		for _, variant := range []string{
			text + "&" + text,
			"&&" + text + "&",
			"=x&" + text + "&=y",
			text + "&" + strings.Join(slicesOfKeys(p), "=ignored&") + "=ignored",
		} {
			q, err := javacompat.ParseParams(variant, cs)
			if err != nil || !maps.Equal(p, q) {
				t.Fatalf("%q reads %v, but %q reads %v (%v)", text, p, variant, q, err)
			}
		}
	})
}

// slicesOfKeys lists the ASCII keys of p, escaped: the same bytes in every
// charset a form may have.
func slicesOfKeys(p javacompat.Params) []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if isASCII(k) {
			keys = append(keys, url.QueryEscape(k))
		}
	}
	return keys
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// latin1Escape percent-encodes every byte of the ISO-8859-1 encoding of s
// (false if s has a rune Latin-1 lacks), as a browser posting a Latin-1
// form might.
func latin1Escape(s string) (string, bool) {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for _, r := range s {
		if r > 0xff {
			return "", false
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[r>>4])
		b.WriteByte(hexDigits[r&15])
	}
	return b.String(), true
}

// FuzzFormRoundTrip: a form that net/url encodes (what HTTP clients send)
// from valid UTF-8 keys and values reads back to the first value of each
// key — in UTF-8, with lower-case hex, with %20 for '+', through readForm,
// and in ISO-8859-1 when every rune fits it.
func FuzzFormRoundTrip(f *testing.F) {
	for _, s := range [][4]string{
		{"FriendlyName", "Child", "EmailAddress", "child@company.com"},
		{"Password", "RestComm12!&=+% ", "Role", "Developer"},
		{"FriendlyName", "café ÿ", "FriendlyName", "second"},
		{"Status", "", "OrganizationSid", "ORafbe225ad37541eba518a74248f0ac4c"},
		{"k", "日本 😀", "~*'()", "\x00\r\n\t"},
		{"a+b", "%41", "a b", "{x}"},
		{"\ufffd", "\ufeff\u2028", "=", "&"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		if k1 == "" || k2 == "" || !utf8.ValidString(k1) || !utf8.ValidString(v1) || !utf8.ValidString(k2) || !utf8.ValidString(v2) {
			return
		}
		vals := url.Values{}
		vals.Add(k1, v1)
		vals.Add(k2, v2)
		vals.Add(k1, "later") // first value wins
		want := javacompat.Params{k1: v1, k2: v2}
		if k1 == k2 {
			want[k1] = v1
		}
		text := vals.Encode()
		readsAs := func(how, text string, cs javacompat.Charset) {
			t.Helper()
			p, err := javacompat.ParseParams(text, cs)
			if err != nil || !maps.Equal(p, want) {
				t.Fatalf("%s %q: got %q (%v), want %q", how, text, p, err, want)
			}
		}
		readsAs("UTF-8", text, javacompat.DecodeUTF8)
		readsAs("lower-case hex", lowerHex(text), javacompat.DecodeUTF8)
		readsAs("%20 for +", strings.ReplaceAll(text, "+", "%20"), javacompat.DecodeUTF8)
		for _, ct := range []string{typeForm, typeForm + "; charset=UTF-8", "application/X-WWW-FORM-URLENCODED;charset=utf8"} {
			p, st := readFormBody(ct, []byte(text))
			if st != bodyOK || !maps.Equal(p, want) {
				t.Fatalf("readForm %q %q: state %d, %q, want %q", ct, text, st, p, want)
			}
		}

		// ISO-8859-1, escaped and raw.
		ek1, ok1 := latin1Escape(k1)
		ev1, ok2 := latin1Escape(v1)
		ek2, ok3 := latin1Escape(k2)
		ev2, ok4 := latin1Escape(v2)
		if ok1 && ok2 && ok3 && ok4 {
			latin := ek1 + "=" + ev1 + "&" + ek2 + "=" + ev2 + "&" + ek1 + "=later"
			readsAs("ISO-8859-1", latin, latin1CS)
			p, st := readFormBody(typeForm+"; charset=ISO-8859-1", []byte(latin))
			if st != bodyOK || !maps.Equal(p, want) {
				t.Fatalf("readForm ISO-8859-1 %q: state %d, %q, want %q", latin, st, p, want)
			}
		}
	})
}

// lowerHex turns every %XX escape to lower case.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = byte(strings.ToLower(string(b[i+1]))[0])
			b[i+2] = byte(strings.ToLower(string(b[i+2]))[0])
			i += 2
		}
	}
	return string(b)
}

// FuzzQuery: whatever the raw query a client sends (net/http hands it over
// with its bytes as they came, valid UTF-8 or not), the exchange's query
// reader neither panics nor yields an empty key or invalid UTF-8; on .json
// paths an accepted query holds no brace; and a net/url-encoded query of
// valid UTF-8 reads back.
func FuzzQuery(f *testing.F) {
	for _, s := range []struct {
		raw  string
		json bool
	}{
		{"OrganizationSid=ORafbe225ad37541eba518a74248f0ac4c", false},
		{"DomainName=company.com&DomainName=other", true},
		{"Status=active&Status=closed", false},
		{"Status=\xff\xfe", false},
		{"DomainName=caf\xc3\xa9&x=%e9", true},
		{"x={y}", true},
		{"x=%7By%7D", true},
		{"x=%7By%7D", false},
		{"%=1", false},
		{"a&&b=&=c", false},
	} {
		f.Add(s.raw, s.json)
	}
	f.Fuzz(func(t *testing.T, raw string, json bool) {
		x := &exchange{
			r:    &http.Request{Method: http.MethodGet, URL: &url.URL{Path: restpath.Prefix + "Accounts", RawQuery: raw}, Body: io.NopCloser(strings.NewReader(""))},
			path: &restpath.Path{JSON: json},
		}
		q, ok := x.query()
		if !ok {
			if q != nil {
				t.Fatalf("%q refused with %v", raw, q)
			}
			return
		}
		checkParams(t, raw, q)
		if json {
			for k, v := range q {
				if strings.ContainsAny(k+v, "{}") {
					t.Fatalf("%q: brace in %q=%q on a .json path", raw, k, v)
				}
			}
		}
		// Whatever was accepted re-encodes and reads back the same.
		vals := url.Values{}
		for k, v := range q {
			vals.Set(k, v)
		}
		x.r.URL.RawQuery = vals.Encode()
		back, ok := x.query()
		if !ok || !maps.Equal(back, q) {
			t.Fatalf("%q reads %q, its re-encoding %q reads %q (%v)", raw, q, x.r.URL.RawQuery, back, ok)
		}
	})
}
