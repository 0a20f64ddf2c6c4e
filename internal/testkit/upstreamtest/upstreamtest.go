// Package upstreamtest is a stand-in RestComm upstream for tests: an
// httptest server, closed when the test ends, that records every request it
// receives (hashing the body as it streams) and answers as the request's
// X-Test-Upstream header asks:
//
//   - "download N": 200 with N bytes of Pattern, Content-Type audio/x-wav
//     and Content-Length N;
//   - "slow": 200 "late" after the delay given to Start, or nothing if the
//     request is abandoned first;
//   - anything else, or none: 200 "upstream" with the header X-Upstream: yes.
//
// With it come the helpers of the tests that send requests through the
// gateway to it and check what arrives: identity headers forged, merged,
// found and expected (identity.go); the adversarial path table and its
// check (adversarial.go); a free loopback address and a request sent with
// its target exactly as given (client.go).
//
// It does not import the gateway, so that the gateway's own tests can use it.
package upstreamtest

import (
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request as the upstream received it.
type Request struct {
	Method     string
	RequestURI string // as on the wire
	Header     http.Header
	Trailer    http.Header // the trailers, once the body was read
	Proto      string
	BodyLen    int64
	BodySum    [sha256.Size]byte
	BodyErr    error // the body ended abnormally (cut by the gateway)
}

// Upstream is one running stand-in RestComm.
type Upstream struct {
	srv  *httptest.Server
	slow time.Duration
	mu   sync.Mutex
	seen []Request
}

// Start starts an upstream whose "slow" answers come after slow; it is
// closed when the test ends.
func Start(t testing.TB, slow time.Duration) *Upstream {
	u := &Upstream{slow: slow}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(u.serve))
	u.srv.Config.Protocols = new(http.Protocols)
	u.srv.Config.Protocols.SetHTTP1(true)
	u.srv.Config.Protocols.SetUnencryptedHTTP2(true)
	u.srv.Start()
	t.Cleanup(u.srv.Close)
	return u
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	s := Request{Method: r.Method, RequestURI: r.RequestURI, Header: r.Header.Clone(), Proto: r.Proto}
	h := sha256.New()
	s.BodyLen, s.BodyErr = io.Copy(h, r.Body)
	s.Trailer = r.Trailer.Clone()
	copy(s.BodySum[:], h.Sum(nil))
	u.mu.Lock()
	u.seen = append(u.seen, s)
	u.mu.Unlock()
	switch mode := r.Header.Get("X-Test-Upstream"); {
	case strings.HasPrefix(mode, "download "):
		n, _ := strconv.ParseInt(strings.TrimPrefix(mode, "download "), 10, 64)
		w.Header().Set("Content-Type", "audio/x-wav")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		_, _ = io.Copy(w, Pattern(n))
	case mode == "slow":
		select {
		case <-time.After(u.slow):
			_, _ = io.WriteString(w, "late")
		case <-r.Context().Done():
		}
	default:
		w.Header().Set("X-Upstream", "yes")
		_, _ = io.WriteString(w, "upstream")
	}
}

// Take returns the requests received since the last Take, in order, and
// forgets them.
func (u *Upstream) Take() []Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.seen
	u.seen = nil
	return out
}

// Addr is the upstream's host:port.
func (u *Upstream) Addr() string { return u.srv.Listener.Addr().String() }

// Close stops the upstream now (to test an upstream that is down); Start's
// cleanup is then a no-op.
func (u *Upstream) Close() { u.srv.Close() }

// stream is an endless, allocation-free stream of deterministic bytes, the
// same however it is read.
type stream struct{ off int64 }

func (p *stream) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte('a' + (p.off+int64(i))%26)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// Pattern is n deterministic bytes ("abc…z" repeated), made as they are read.
func Pattern(n int64) io.Reader { return io.LimitReader(&stream{}, n) }

// SumOfPattern is the SHA-256 of Pattern(n).
func SumOfPattern(n int64) [sha256.Size]byte {
	h := sha256.New()
	_, _ = io.Copy(h, Pattern(n))
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}
