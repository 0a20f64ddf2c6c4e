package caddymodule

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// Identity headers: set by the gateway on every API request it passes on
// with valid credentials, so that the upstream may trust them. Any header a
// client sends that a server could take for one of them is removed from
// every request the gateway passes on, API or not.
const (
	headerAccountSid      = "X-RestComm-Account-Sid"
	headerAccountRole     = "X-RestComm-Account-Role"
	headerOrganizationSid = "X-RestComm-Organization-Sid"
)

// proxy hands an API request that passed the gate to the next handler
// (reverse_proxy to RestComm) as the client sent it, plus the verified
// identity, and answers the upstream's failures itself.
//
// The body is streamed, never held: it is only capped at RestComm's limit
// of 10,000,000 bytes, which a Content-Length beyond it has already been
// refused for (ServeHTTP). A body without Content-Length (chunked) that
// grows beyond the limit is cut there: the upstream request is aborted, so
// RestComm never sees a complete request, and the client gets the same 413
// as for a declared length — unless the upstream has already begun its
// response, in which case the connection is closed mid-response.
func (g *Gateway) proxy(x *exchange, next caddyhttp.Handler) error {
	r := x.r
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(x.w, r.Body, maxBodyLength)
	}
	sanitizeForUpstream(r)
	if x.caller != nil {
		a := x.caller.Account
		r.Header.Set(headerAccountSid, a.Sid)
		r.Header.Set(headerAccountRole, a.Role)
		r.Header.Set(headerOrganizationSid, a.OrganizationSid)
	}
	g.setPlaceholders(x)
	g.awaitMirror(x) // read your writes (mirror.go)
	w := &startedWriter{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: x.w}}
	err := next.ServeHTTP(w, r)
	if err == nil || w.started {
		return err
	}
	return g.upstreamFailed(x, err)
}

// upstreamFailed answers a request the upstream did not answer, when no
// response has begun: 413 for a body cut at the limit, and a small page
// naming the failure for reverse_proxy's 502 (unreachable), 503 (no
// upstream available) and 504 (timed out). Anything else, a client that
// went away included, is left to Caddy.
func (g *Gateway) upstreamFailed(x *exchange, err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		writePage(x.w, http.StatusRequestEntityTooLarge, "Length larger than 10000000")
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	he, ok := errors.AsType[caddyhttp.HandlerError](err)
	if !ok {
		return err
	}
	var reason string
	switch he.StatusCode {
	case http.StatusBadGateway:
		reason = "RestComm is unreachable"
	case http.StatusServiceUnavailable:
		reason = "RestComm is unavailable"
	case http.StatusGatewayTimeout:
		reason = "RestComm did not answer in time"
	default:
		return err
	}
	g.logs.warn(g.logger, upstreamCause(he.StatusCode, he.Err), "upstream failed", // sampled per cause
		zap.Int("status", he.StatusCode), zap.String("method", x.r.Method),
		zap.String("path", x.r.URL.Path), zap.Error(he.Err))
	writePage(x.w, he.StatusCode, reason)
	return nil
}

// sanitizeForUpstream makes sure that what reaches the upstream as identity
// is only what the gateway sets: it removes identity headers a client sent
// as headers or as trailers (declared or not: those are removed when the
// body ends, before reverse_proxy copies the trailers it forwards), and
// drops identity names from Connection, through which a client could make
// reverse_proxy remove the verified headers as hop-by-hop.
func sanitizeForUpstream(r *http.Request) {
	stripIdentityHeaders(r.Header)
	stripIdentityHeaders(r.Trailer)
	dropIdentityConnectionTokens(r.Header)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &trailerSanitizer{ReadCloser: r.Body, r: r}
	}
}

// trailerSanitizer removes identity trailers once the body has been read to
// its end, which is when net/http fills in the request's trailers.
type trailerSanitizer struct {
	io.ReadCloser
	r *http.Request
}

func (b *trailerSanitizer) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		stripIdentityHeaders(b.r.Trailer)
	}
	return n, err
}

// dropIdentityConnectionTokens removes the identity header names from the
// Connection header's list of hop-by-hop headers.
func dropIdentityConnectionTokens(h http.Header) {
	values := h["Connection"]
	if len(values) == 0 {
		return
	}
	kept := values[:0]
	for _, v := range values {
		var tokens []string
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" && !isIdentityHeader(t) {
				tokens = append(tokens, t)
			}
		}
		if len(tokens) > 0 {
			kept = append(kept, strings.Join(tokens, ", "))
		}
	}
	if len(kept) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = kept
}

// stripIdentityHeaders removes every header whose name, compared without
// regard to case and with '_' taken for '-', starts with "X-RestComm-".
func stripIdentityHeaders(h http.Header) {
	for name := range h {
		if isIdentityHeader(name) {
			delete(h, name)
		}
	}
}

func isIdentityHeader(name string) bool {
	const prefix = "x-restcomm-"
	if len(name) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// startedWriter records whether a response has begun, so that a failure
// can still be answered when it has not.
type startedWriter struct {
	*caddyhttp.ResponseWriterWrapper
	started bool
}

func (w *startedWriter) WriteHeader(code int) {
	if code >= http.StatusOK || code == http.StatusSwitchingProtocols {
		w.started = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *startedWriter) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(b)
}

func (w *startedWriter) ReadFrom(r io.Reader) (int64, error) {
	w.started = true
	return w.ResponseWriterWrapper.ReadFrom(r)
}

// FlushError sends the header if it was not yet sent; see
// http.ResponseController.
func (w *startedWriter) FlushError() error {
	w.started = true
	return http.NewResponseController(w.ResponseWriter).Flush()
}
