package accountsapi

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf8"
)

// validPart is what must survive of s once it has been through a Java-like
// UTF-8 decoding: its valid runes, in order, whatever became of the invalid
// bytes. Both sides drop U+FFFD, so only where replacements go is left open.
func validPart(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\uFFFD", "")
}

// b64Alphabet holds the bytes decodeBase64Lenient reads; any other byte but
// '=' (the end of the data) and ' ' (the end of the token) is skipped.
const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"

// FuzzParseBasic: whatever the header, parseBasic neither panics nor
// returns invalid UTF-8 or a user holding ':'; it accepts only the exact
// "Basic " scheme. A header built as "Basic "+base64(user+":"+secret), in
// any of the four base64 alphabets and paddings, with stray characters
// inserted or a further token after it, reads back as exactly user and
// secret (when both are valid UTF-8 and user has no ':'), or as their
// valid parts otherwise. A strict base64 token reads as encoding/base64
// reads it.
func FuzzParseBasic(f *testing.F) {
	for _, s := range []struct {
		header, user, secret string
		junk                 byte
		pos                  uint8
	}{
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("ACae6e420f425248d6a26948c17a9e2acf:RestComm")), "ACae6e420f425248d6a26948c17a9e2acf", "RestComm", '.', 3},
		{"Basic YWRtaW5pc3RyYXRvckBjb21wYW55LmNvbTo3N2Y4YzEyY2M3YjhmODQyM2U1YzM4YjAzNTI0OTE2Ng==", "administrator@company.com", "77f8c12cc7b8f8423e5c38b035249166", '\n', 10},
		{"basic dTpw", "u", "p:w:x", '!', 0},
		{"Basic  dTpw", "", "", '*', 255},
		{"Basic dTpw extra", "é", "😀", '\t', 1},
		{"Basic", "\xff\xfe", "\xed\xa0\x80", '~', 2},
		{"Basic =dTpw", "user", "", '%', 4},
		{"Basic dT-w_A", "a\x00b", "c\r\nd", 0x80, 5},
		{"Bearer dTpw", "Default Administrator Account", "", ':', 7},
		{"Basic \u00a0dTpw\u00a0", "u", "\xc3", '=', 1},
	} {
		f.Add(s.header, s.user, s.secret, s.junk, s.pos)
	}
	f.Fuzz(func(t *testing.T, header, user, secret string, junk byte, pos uint8) {
		// Arbitrary headers.
		c, ok := parseBasic(header)
		if ok {
			if !strings.HasPrefix(header, "Basic ") {
				t.Fatalf("%q accepted without the exact Basic scheme", header)
			}
			if !utf8.ValidString(c.user) || !utf8.ValidString(c.secret) {
				t.Fatalf("%q: invalid UTF-8 %q / %q", header, c.user, c.secret)
			}
			if strings.Contains(c.user, ":") {
				t.Fatalf("%q: user %q holds ':'", header, c.user)
			}
		} else if c != (credentials{}) {
			t.Fatalf("%q refused with credentials %+v", header, c)
		}
		// A strict token decodes as encoding/base64 decodes it.
		if token, found := strings.CutPrefix(header, "Basic "); found && !strings.ContainsAny(token, " \t\n\v\f\r") {
			if raw, err := base64.StdEncoding.DecodeString(token); err == nil && utf8.Valid(raw) {
				u, s, colon := strings.Cut(string(raw), ":")
				if ok != colon || ok && (c.user != u || c.secret != s) {
					t.Fatalf("%q: got %+v %v, encoding/base64 reads %q", header, c, ok, raw)
				}
			}
		}

		// Headers built from a user and a secret.
		if strings.Contains(user, ":") {
			return
		}
		wantUser, wantSecret := user, secret
		exact := utf8.ValidString(user) && utf8.ValidString(secret)
		pair := []byte(user + ":" + secret)
		check := func(h string) {
			t.Helper()
			c, ok := parseBasic(h)
			if !ok {
				t.Fatalf("%q (user %q, secret %q) refused", h, user, secret)
			}
			if exact {
				if c.user != wantUser || c.secret != wantSecret {
					t.Fatalf("%q: got %q / %q, want %q / %q", h, c.user, c.secret, wantUser, wantSecret)
				}
				return
			}
			if !utf8.ValidString(c.user) || !utf8.ValidString(c.secret) ||
				validPart(c.user) != validPart(user) || validPart(c.secret) != validPart(secret) {
				t.Fatalf("%q: got %q / %q from %q / %q", h, c.user, c.secret, user, secret)
			}
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			token := enc.EncodeToString(pair)
			check("Basic " + token)
			check("Basic " + token + " " + header)
			check("Basic " + token + " ")
			// commons-codec skips what is not in its alphabet.
			if junk != '=' && junk != ' ' && !strings.ContainsRune(b64Alphabet, rune(junk)) {
				i := int(pos) % (len(token) + 1)
				check("Basic " + token[:i] + string([]byte{junk}) + token[i:])
			}
		}
		// The scheme is case-sensitive and needs its single space.
		token := base64.StdEncoding.EncodeToString(pair)
		for _, h := range []string{"basic " + token, "BASIC " + token, "Basic\t" + token, " Basic " + token, "Basic" + token} {
			if _, ok := parseBasic(h); ok {
				t.Fatalf("%q accepted", h)
			}
		}
	})
}
