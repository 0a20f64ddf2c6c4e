package accountsapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/store"
)

// Identity headers: set by the gateway on every API request it passes on
// with valid credentials, so that the upstream may trust them. Any header a
// client sends that a server could take for one of them is removed from
// every request the gateway passes on, API or not (IsIdentityHeader).
const (
	HeaderAccountSid      = "X-RestComm-Account-Sid"
	HeaderAccountRole     = "X-RestComm-Account-Role"
	HeaderOrganizationSid = "X-RestComm-Organization-Sid"
)

// The identity headers' names as net/http keeps them.
var (
	canonicalAccountSid      = http.CanonicalHeaderKey(HeaderAccountSid)
	canonicalAccountRole     = http.CanonicalHeaderKey(HeaderAccountRole)
	canonicalOrganizationSid = http.CanonicalHeaderKey(HeaderOrganizationSid)
)

// proxy hands an API request that passed the gate to next (reverse_proxy
// to RestComm) as the client sent it, plus the verified identity, once the
// caller's pending change reached RestComm (read your writes), and answers
// a body cut at the limit itself.
//
// The body is streamed, never held: it is only capped at RestComm's limit
// of 10,000,000 bytes, which a Content-Length beyond it has already been
// refused for (serve). A body without Content-Length (chunked) that grows
// beyond the limit is cut there: the upstream request is aborted, so
// RestComm never sees a complete request, and the client gets the same 413
// as for a declared length — unless the upstream has already begun its
// response, in which case the connection is closed mid-response. Any other
// failure of the upstream before its response began goes to
// Config.UpstreamFailed.
func (s *Service) proxy(x *exchange, next Upstream) error {
	r := x.r
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(x.w, r.Body, MaxBodyLength)
	}
	sanitizeForUpstream(r)
	if x.caller != nil {
		a := x.caller.Account
		// as Header.Set would, without canonicalising the names each time
		r.Header[canonicalAccountSid] = []string{a.Sid}
		r.Header[canonicalAccountRole] = []string{a.Role}
		r.Header[canonicalOrganizationSid] = []string{a.OrganizationSid}
	}
	s.publishCaller(x)
	s.awaitMirror(x)
	w := &startedWriter{ResponseWriter: x.w}
	err := next.ServeHTTP(w, r)
	if err == nil || w.started {
		return err
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		WritePage(x.w, http.StatusRequestEntityTooLarge, msgBodyTooLarge)
		return nil
	}
	if s.cfg.UpstreamFailed != nil {
		return s.cfg.UpstreamFailed(x.w, r, err)
	}
	return err
}

// awaitMirror is read your writes: a request passed upstream by or for an
// account whose change RestComm's database does not have yet waits for
// it, up to Config.ReadYourWrites, then goes on either way.
func (s *Service) awaitMirror(x *exchange) {
	if s.cfg.ReadYourWrites <= 0 {
		return
	}
	var sids []string
	for _, r := range []*store.Resolved{x.caller, x.pathAccount} {
		if r != nil && r.Account != nil && r.Account.Pending != "" {
			sids = append(sids, r.Account.Sid)
		}
	}
	if len(sids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(x.r.Context(), s.cfg.ReadYourWrites)
	defer cancel()
	delivered, err := s.store.AwaitMirrored(ctx, 5*time.Millisecond, sids...)
	if err != nil && ctx.Err() == nil {
		s.cfg.Logs.Warn(s.logger, "mirror-wait", "read your writes: cannot read the pending change", zap.Error(err))
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.ReadYourWrites(delivered)
	}
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
			if t = strings.TrimSpace(t); t != "" && !IsIdentityHeader(t) {
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

// stripIdentityHeaders removes every identity header (IsIdentityHeader).
func stripIdentityHeaders(h http.Header) {
	for name := range h {
		if IsIdentityHeader(name) {
			delete(h, name)
		}
	}
}

// IsIdentityHeader reports whether a server could take a header of this
// name for one of the gateway's identity headers: whether it starts with
// "X-RestComm-", compared without regard to case and with '_' taken for
// '-'.
func IsIdentityHeader(name string) bool {
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
// can still be answered when it has not. Like Caddy's
// ResponseWriterWrapper, it passes on what the writer it wraps can do
// (http.ResponseController through Unwrap, io.ReaderFrom, http.Pusher).
type startedWriter struct {
	http.ResponseWriter
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
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(w.ResponseWriter, r)
}

// FlushError sends the header if it was not yet sent; see
// http.ResponseController.
func (w *startedWriter) FlushError() error {
	w.started = true
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Push is the wrapped writer's http.Pusher.
func (w *startedWriter) Push(target string, opts *http.PushOptions) error {
	if p, ok := w.ResponseWriter.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// Unwrap is the wrapped writer, for http.ResponseController.
func (w *startedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
