package javacompat

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// java.net.URLDecoder.decode, including what it accepts that RFC 3986
// does not ("%+1", "%-0") and what it refuses.
func TestURLDecodeLikeJava(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		"a+b":              "a b",
		"%41%42":           "AB",
		"%c3%a9":           "é",
		"%C3%A9+%E2%82%AC": "é €",
		"%+1":              "\x01",
		"%-0":              "\x00",
		"%ff":              "\ufffd",
		"%e2%82":           "\ufffd\ufffd",
		"a%2Bb":            "a+b",
		"100%25":           "100%",
	} {
		got, err := URLDecode(in, DecodeUTF8)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"%", "%4", "a%zz", "%-1", "%+", "%4g", "%%41"} {
		_, err := URLDecode(in, DecodeUTF8)
		assert.ErrorIs(t, err, ErrMalformed, in)
	}
	got, err := URLDecode("%e9t%E9", decodeLatin1)
	require.NoError(t, err)
	assert.Equal(t, "été", got)
	got, err = URLDecode("%e9", decodeASCII)
	require.NoError(t, err)
	assert.Equal(t, "\ufffd", got)
}

// Jersey's BaseFormProvider: '&' separates, a key without '=' is "", a
// token starting with '=' is dropped, the first value wins, ';' is data.
func TestParseParamsLikeJersey(t *testing.T) {
	p, err := ParseParams("a=1&&b&=x&a=2&c=x;y&d=&e=%3D", DecodeUTF8)
	require.NoError(t, err)
	assert.Equal(t, Params{"a": "1", "b": "", "c": "x;y", "d": "", "e": "="}, p)
	_, err = ParseParams("a=1&b=%", DecodeUTF8)
	assert.ErrorIs(t, err, ErrMalformed)
}

// JavaMail 1.4's new InternetAddress(s).validate(), as RestComm calls it.
func TestEmailValidationLikeJavaMail(t *testing.T) {
	valid := []string{
		"new@company.com", "New@Company.com", "a@b", "my?account@company.com", "my=account@company.com",
		"Name <name@x.com>", "\"quoted local\"@x.com", "a@[1.2.3.4]", "<a@b.com>", "(comment) a@b.com",
		"a@b.com (comment)", "a\x00@x.com", "a.b.c@d.e", "<@r.com:a@b.com>", "  padded@x.com  ",
	}
	invalid := []string{
		"", "notanemail", "my@account@company.com", "@company.com", "user@", "a b@c.com", "a@b.com, c@d.com",
		"a(b@c.com", "a)b@c.com", "a<b@c.com", "a>b@c.com", "<a@b.com", "a@b.com>", "\"unterminated@x.com", "\x00@x.com",
		"[a@b.com", "grp:a@b.com;", "a:b@c.com", "a;b@c.com", "a,b@c.com", "a\\b@c.com", "a@b,c", "a@b;c",
		"a\tb@c.com", "x@y@", "(unclosed@x.com",
	}
	for _, e := range valid {
		assert.True(t, ValidEmail(e), "%q should be valid", e)
	}
	for _, e := range invalid {
		assert.False(t, ValidEmail(e), "%q should be invalid", e)
	}
	assert.Equal(t, "my?account", ClientLogin("my?account@company.com"))
	assert.Equal(t, "nodomain", ClientLogin("nodomain"))
	assert.False(t, ValidClientLogin("my=account"))
	assert.True(t, ValidClientLogin("Name <name"))
}

// Whatever the bytes, reading a form or an address neither panics nor
// yields invalid UTF-8.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "%", "%+1", "EmailAddress=(a)<b@c>,d", "\xff=\xfe", "=&=&", "a=%e2%82", "\"x\"@[y]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, cs := range []Charset{DecodeUTF8, decodeLatin1, decodeASCII} {
			p, err := ParseParams(cs([]byte(s)), cs)
			if err != nil {
				continue
			}
			for k, v := range p {
				if !utf8.ValidString(k) || !utf8.ValidString(v) {
					t.Fatalf("invalid UTF-8 from %q: %q=%q", s, k, v)
				}
				ValidEmail(v)
			}
		}
		ValidEmail(s)
	})
}
