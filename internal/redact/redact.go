// Package redact keeps passwords out of what the gateway and its commands
// print: a database or Redis URL is shown, and a URL's parse error is
// reported, without the password of its userinfo, also when the URL does
// not parse (a password with an unencoded '@', ':' or '/' is the usual
// reason it does not).
package redact

import (
	"fmt"
	"net/url"
	"strings"
)

// Mask stands for a removed password.
const Mask = "xxxxx"

// URL is s with the password of its userinfo replaced by Mask, for
// messages. It does not rely on s parsing: the userinfo is everything after
// "scheme://" (or from the start, without a scheme) up to the last '@',
// since a password may hold '@', ':', '/', '?' or '#' unencoded, and the
// host follows the last '@'; its user is what comes before its first ':'.
// Scheme, user, host and path are kept as written. A '@' after the host
// (in a path or query) makes more than the password masked, never less.
// Anything without '@' is returned as it is.
func URL(s string) string {
	prefix, rest := splitScheme(s)
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return s
	}
	user, pw, hasPw := strings.Cut(rest[:at], ":")
	if !hasPw || pw == "" {
		return s
	}
	return prefix + user + ":" + Mask + rest[at:]
}

// splitScheme splits "scheme://" off s; prefix is "" when s has none. What
// precedes "://" is taken for a scheme only when it holds no ':', '/', '@',
// '?' or '#', so that a password holding "://" is not.
func splitScheme(s string) (prefix, rest string) {
	i := strings.Index(s, "://")
	if i <= 0 || strings.ContainsAny(s[:i], ":/@?#") {
		return "", s
	}
	return s[:i+3], s[i+3:]
}

// Parse is url.Parse for URLs that may hold a password, with errors safe to
// print (Error). It also refuses a URL whose password url.Parse would read
// otherwise than URL does: one with an unencoded '/', '?' or '#', which
// ends the authority early and leaves the rest of the password and the
// host in the path ("@" after the host).
func Parse(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, Error(s, err)
	}
	_, rest := splitScheme(s)
	end := strings.IndexAny(rest, "/?#")
	if end >= 0 && strings.Contains(rest[end:], "@") {
		return nil, Error(s, fmt.Errorf("'@' after the host"))
	}
	return u, nil
}

// Error is err, an error of parsing s as a URL, made safe to print. When s
// holds no password, err is returned as it is. Otherwise err's own text
// is dropped, since parsers quote the URL or pieces of it (url.Parse:
// `invalid port ":w" after host` for a password "p@ss:w"), and the error
// names s redacted, with how to write such a password.
func Error(s string, err error) error {
	if err == nil {
		return nil
	}
	if r := URL(s); r != s {
		return &parseError{url: r}
	}
	return err
}

type parseError struct{ url string }

func (e *parseError) Error() string {
	return fmt.Sprintf("%s does not parse as a URL: percent-encode the user's and password's special characters "+
		"(@ as %%40, : as %%3A, / as %%2F, ? as %%3F, # as %%23, %% as %%25)", e.url)
}
