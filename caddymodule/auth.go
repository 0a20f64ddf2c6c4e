package caddymodule

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// credentials are the user and secret of an Authorization header.
type credentials struct {
	user, secret string
}

// parseBasic reads an Authorization header exactly as RestComm's
// UserIdentityContext does: split on single spaces, first token exactly
// "Basic" (case-sensitive), the second token trimmed and Base64-decoded
// leniently, then split on the first ':'. ok is false when that yields no
// user and secret pair.
func parseBasic(header string) (c credentials, ok bool) {
	scheme, rest, found := strings.Cut(header, " ")
	if !found || scheme != "Basic" {
		return c, false
	}
	token, _, _ := strings.Cut(rest, " ")
	decoded := decodeBase64Lenient(strings.TrimSpace(token))
	user, secret, found := strings.Cut(decoded, ":")
	if !found {
		return c, false
	}
	return credentials{user: user, secret: secret}, true
}

// decodeBase64Lenient decodes like commons-codec's Base64.decodeBase64:
// characters outside the (standard and URL-safe) alphabet are skipped, the
// first '=' ends the data, and missing padding is fine. The result is read
// as UTF-8 with invalid sequences replaced, as Java's new String(…, UTF-8).
func decodeBase64Lenient(s string) string {
	out := make([]byte, 0, len(s)*3/4)
	var acc uint32
	n := 0
	for i := 0; i < len(s); i++ {
		v := b64value(s[i])
		if s[i] == '=' {
			break
		}
		if v < 0 {
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n { // a lone trailing character carries no whole byte
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	if utf8.Valid(out) {
		return string(out)
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

func b64value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+' || c == '-':
		return 62
	case c == '/' || c == '_':
		return 63
	}
	return -1
}

// dummyToken stands in for the stored token of an unknown user, so that a
// miss costs the same work as a wrong secret.
const dummyToken = "00000000000000000000000000000000"

// secretMatches is RestComm's AccountKey.verify: the secret is the stored
// AuthToken itself, or its lower-case hex MD5 is. Both comparisons always
// run, in constant time.
func secretMatches(secret, authToken string) bool {
	sum := md5.Sum([]byte(secret))
	var hexSum [32]byte
	hex.Encode(hexSum[:], sum[:])
	plain := subtle.ConstantTimeCompare([]byte(secret), []byte(authToken))
	hashed := subtle.ConstantTimeCompare(hexSum[:], []byte(authToken))
	return plain|hashed == 1
}
