// Package apitest builds the requests that the gateway's handler tests send
// straight to a handler's ServeHTTP (Basic credentials from the fixture,
// method, path, form or body, headers, client address), and stands for the
// upstream behind that handler, recording what it is handed. It knows no
// handler: each test package serves the request with its own.
package apitest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
)

// Origin is the scheme and host every request is made for.
const Origin = "https://gw.example.com"

// NewRequest builds a request for path on Origin, for tests that shape it
// themselves (Content-Length, streaming bodies, concurrency).
func NewRequest(method, path string, body io.Reader) *http.Request {
	return httptest.NewRequest(method, Origin+path, body)
}

// Call is one request to the handler under test.
type Call struct {
	Method, Path string      // GET when Method is empty
	As           string      // fixture name (ADMIN, DEV, …) logging in with email:T
	User, Secret string      // explicit credentials instead of As
	Auth         string      // raw Authorization header instead of either
	Header       http.Header // added to the request's headers
	Form         string      // form body, sent as x-www-form-urlencoded unless Header says otherwise
	Body         io.Reader   // body when Form is empty
	Remote       string      // the client's host:port, 192.0.2.1:1234 by default
}

// Request builds the request c describes.
func (c Call) Request() *http.Request {
	method := c.Method
	if method == "" {
		method = http.MethodGet
	}
	body := c.Body
	if c.Form != "" {
		body = strings.NewReader(c.Form)
	}
	r := NewRequest(method, c.Path, body)
	if c.Remote != "" {
		r.RemoteAddr = c.Remote
	}
	for k, v := range c.Header {
		r.Header[k] = v
	}
	if c.Form != "" && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	switch {
	case c.Auth != "":
		r.Header.Set("Authorization", c.Auth)
	case c.User != "":
		r.Header.Set("Authorization", fixture.Basic(c.User, c.Secret))
	case c.As != "":
		r.Header.Set("Authorization", fixture.Basic(fixture.Users[c.As], fixture.Token))
	}
	return r
}

// Upstream stands for the handler behind the one under test: it appends
// every request it is handed to *Proxied and answers 418 with
// X-Upstream: yes, so that a test sees both that a request passed and what
// it looked like when it did.
type Upstream struct {
	Proxied *[]*http.Request
}

// ServeHTTP records r and answers; it never fails.
func (u Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	*u.Proxied = append(*u.Proxied, r)
	w.Header().Set("X-Upstream", "yes")
	w.WriteHeader(http.StatusTeapot)
	return nil
}
