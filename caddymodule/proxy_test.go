package caddymodule

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/freeport"
	"github.com/restcomm/restcomm-gateway/internal/testkit/upstreamtest"
)

// These tests run the real handler inside a real Caddy (loaded in this
// process, plain HTTP on a free loopback port) in front of Caddy's real
// reverse_proxy and a real upstream server that records what it receives.
// cmd/restcomm-gateway's e2e test does the same with the built binary over
// HTTPS.

// liveGateway is a Caddy running the restcomm handler and reverse_proxy.
type liveGateway struct {
	addr string
	h    *harness // its Redis, with the conformance fixture
}

// caddyMu serialises the tests that load a Caddy config: there is one
// Caddy per process.
var caddyMu sync.Mutex

// startLiveGateway loads a Caddy config with the restcomm handler (on the
// harness's Redis) and reverse_proxy to upstreamAddr, with 1s dial and
// response-header timeouts.
func startLiveGateway(t *testing.T, h *harness, upstreamAddr string, protocols ...string) *liveGateway {
	caddyMu.Lock()
	t.Cleanup(caddyMu.Unlock)
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
	var lastErr error
	for range 5 {
		addr := freeport.Addr(t)
		cfg := liveConfig(dir, addr, protocols,
			map[string]any{"handler": "restcomm", "redis": map[string]any{"urls": []string{h.redis.URL()}}},
			map[string]any{
				"handler":   "reverse_proxy",
				"upstreams": []any{map[string]any{"dial": upstreamAddr}},
				"transport": map[string]any{
					"protocol": "http", "dial_timeout": "1s", "response_header_timeout": "1s",
					"compression": false,
				},
			})
		raw, err := json.Marshal(cfg)
		require.NoError(t, err)
		if lastErr = caddy.Load(raw, true); lastErr == nil {
			t.Cleanup(func() { _ = caddy.Stop() })
			return &liveGateway{addr: addr, h: h}
		}
	}
	t.Fatalf("caddy did not start: %v", lastErr)
	return nil
}

// liveConfig is a Caddy config for tests: one plain-HTTP server on addr
// running handlers, no admin endpoint, storage in dir, logs at ERROR.
func liveConfig(dir, addr string, protocols []string, handlers ...any) map[string]any {
	return map[string]any{
		"admin":   map[string]any{"disabled": true, "config": map[string]any{"persist": false}},
		"storage": map[string]any{"module": "file_system", "root": dir},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
		"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"gw": map[string]any{
			"listen":          []string{addr},
			"protocols":       append([]string{"h1"}, protocols...),
			"automatic_https": map[string]any{"disable": true},
			"routes":          []any{map[string]any{"handle": handlers}},
		}}}},
	}
}

// raw sends one HTTP/1.1 request with the target exactly as given, which
// no http.Client guarantees.
func (g *liveGateway) raw(t *testing.T, method, target string, header http.Header) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", g.addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	return upstreamtest.RawExchange(t, conn, method, target, "gw.example.com", header)
}

func (g *liveGateway) url(path string) string { return "http://" + g.addr + path }

// Every adversarial target is either refused with 400, with nothing reaching
// the upstream, or reaches it exactly as sent with the verified identity
// only — and never as an Accounts or Organizations route.
func TestAdversarialPathsThroughCaddy(t *testing.T) {
	h := newHarness(t, true)
	up := upstreamtest.Start(t, 5*time.Second)
	gw := startLiveGateway(t, h, up.Addr())
	rows := upstreamtest.ReadAdversarialPaths(t, "testdata/adversarial-paths.tsv")
	require.GreaterOrEqual(t, len(rows), 40)
	for _, row := range rows {
		t.Run(row.Why, func(t *testing.T) {
			up.CheckAdversarial(t, row, func(target string, hd http.Header) (*http.Response, string) {
				return gw.raw(t, http.MethodGet, target, hd)
			})
		})
	}
}

// RestComm's checks of pass-through paths, and the gate, through Caddy to a real upstream.
func TestGateOnProxiedPathsThroughCaddy(t *testing.T) {
	h := newHarness(t, true)
	up := upstreamtest.Start(t, 5*time.Second)
	gw := startLiveGateway(t, h, up.Addr())
	rows := []struct {
		name, target string
		header       http.Header
		status       int
		identity     map[string][]string // nil: not proxied
		check        func(t *testing.T, res *http.Response, body string)
	}{
		{"row 12: uninitialized on an Accounts sub-resource", fixture.APIRoot + "/Accounts.json/" + fixture.SidUninit + "/Calls.json", fixture.As("UNINIT"),
			200, upstreamtest.VerifiedIdentity(fixture.SidUninit, "Developer", fixture.SidOrg0), nil},
		{"row 13: uninitialized on Organizations", fixture.APIRoot + "/Organizations.json/" + fixture.SidOrg0, fixture.As("UNINIT"),
			403, nil, func(t *testing.T, res *http.Response, body string) {
				assert.Equal(t, "Provided Account is not active", body)
			}},
		{"row 13: uninitialized on another proxied path", fixture.APIRoot + "/Profiles/PR" + fixture.SidUninit[2:], fixture.As("UNINIT"),
			403, nil, func(t *testing.T, res *http.Response, body string) {
				assert.Equal(t, "Provided Account is not active", body)
			}},
		{"no credentials", fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + "/Calls.json", nil,
			401, nil, func(t *testing.T, res *http.Response, body string) {
				assert.Equal(t, wwwAuth, res.Header.Get("WWW-Authenticate"))
			}},
		{"wrong secret", fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + "/Calls.json", http.Header{"Authorization": {fixture.Basic(fixture.SidAdmin, "nope")}},
			401, nil, nil},
		{"suspended", fixture.APIRoot + "/Accounts/" + fixture.SidSusp + "/Calls.json", fixture.As("SUSP"),
			403, nil, func(t *testing.T, res *http.Response, body string) {
				assert.Equal(t, "Provided Account is not active", body)
			}},
		{"closed", fixture.APIRoot + "/Accounts/" + fixture.SidClosed + "/SMS/Messages", fixture.As("CLOSED"), 403, nil, nil},
		{"recording file without credentials", fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + "/Recordings/RE1.mp4", nil,
			200, map[string][]string{}, nil},
		{"Logout without credentials", fixture.APIRoot + "/Logout", nil, 200, map[string][]string{}, nil},
		{"recording metadata needs credentials", fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + "/Recordings/RE1.json", nil, 401, nil, nil},
		{"Accounts routes are served, not proxied", fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, fixture.As("ADMIN"), 200, nil, nil},
		{"Organizations routes are served, not proxied", fixture.APIRoot + "/Organizations.json/" + fixture.SidOrg0, fixture.As("ADMIN"), 200, nil, nil},
		{"unknown Organizations route is not proxied", fixture.APIRoot + "/Organizations/" + fixture.SidOrg0 + "/Calls", fixture.As("ADMIN"), 404, nil, nil},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			res, body := gw.raw(t, http.MethodGet, row.target, upstreamtest.MergeHeaders(upstreamtest.ForgedIdentity(), row.header))
			got := up.Take()
			assert.Equal(t, row.status, res.StatusCode, body)
			if row.check != nil {
				row.check(t, res, body)
			}
			if row.identity == nil {
				assert.Empty(t, got, "not proxied")
				return
			}
			require.Len(t, got, 1)
			assert.Equal(t, row.target, got[0].RequestURI)
			assert.Equal(t, row.identity, upstreamtest.IdentityHeaders(got[0].Header))
		})
	}
}

// The request reaches the upstream as sent — method, path, query, headers
// (Authorization included), body — and the response comes back as sent.
func TestRequestAndResponsePassUnchanged(t *testing.T) {
	h := newHarness(t, true)
	up := upstreamtest.Start(t, 5*time.Second)
	gw := startLiveGateway(t, h, up.Addr())
	form := "From=%2B1555&To=%2B1666&Url=http%3A%2F%2Fx%2Fy&Body=caf%C3%A9"
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)
	target := fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + "/Calls.json?Page=2&PageSize=10"
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, "PATCH"} {
		req, err := http.NewRequest(method, gw.url(target), strings.NewReader(form))
		require.NoError(t, err)
		req.Header = upstreamtest.MergeHeaders(upstreamtest.ForgedIdentity(), fixture.As("ADMIN"), http.Header{
			"Content-Type":    {"application/x-www-form-urlencoded"},
			"Accept":          {"application/xml"},
			"X-Custom":        {"one", "two"},
			"Accept-Language": {"fr"},
		})
		res, err := client.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		assert.Equal(t, 200, res.StatusCode)
		assert.Equal(t, "upstream", string(body))
		assert.Equal(t, "yes", res.Header.Get("X-Upstream"))
		got := up.Take()
		require.Len(t, got, 1)
		s := got[0]
		assert.Equal(t, method, s.Method)
		assert.Equal(t, target, s.RequestURI)
		assert.Equal(t, req.Header.Get("Authorization"), s.Header.Get("Authorization"))
		assert.Equal(t, []string{"one", "two"}, s.Header["X-Custom"])
		assert.Equal(t, "application/xml", s.Header.Get("Accept"))
		assert.Equal(t, "fr", s.Header.Get("Accept-Language"))
		assert.Empty(t, s.Header.Get("Accept-Encoding"), "no compression the client did not ask for")
		assert.Equal(t, int64(len(form)), s.BodyLen)
		assert.Equal(t, sha256.Sum256([]byte(form)), s.BodySum)
		assert.Equal(t, upstreamtest.VerifiedIdentity(fixture.SidAdmin, "Administrator", fixture.SidOrg0), upstreamtest.IdentityHeaders(s.Header))
	}
}

// A 9 MB upload and a 50 MB download stream through: what the whole process
// (client, gateway and upstream) allocates meanwhile stays far below their
// size, and so does the live heap.
func TestLargeBodiesStream(t *testing.T) {
	h := newHarness(t, true)
	up := upstreamtest.Start(t, 5*time.Second)
	gw := startLiveGateway(t, h, up.Addr())
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)
	// warm up connections and lazily built state
	res, err := client.Get(gw.url(fixture.APIRoot + "/Logout"))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	up.Take()

	const upload, download = 9_000_000, 50_000_000
	t.Run("9 MB upload", func(t *testing.T) {
		m := measureMemory(func() {
			req, err := http.NewRequest(http.MethodPost, gw.url(fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Recordings.json"),
				upstreamtest.Pattern(upload))
			require.NoError(t, err)
			req.ContentLength = upload
			req.Header = fixture.As("ADMIN")
			res, err := client.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			require.Equal(t, 200, res.StatusCode)
		})
		got := up.Take()
		require.Len(t, got, 1)
		assert.Equal(t, int64(upload), got[0].BodyLen)
		assert.Equal(t, upstreamtest.SumOfPattern(upload), got[0].BodySum)
		t.Logf("9 MB upload: allocated %s, peak heap in use %s above the start", megabytes(m.allocated), megabytes(m.peakHeap))
		assert.Less(t, m.allocated, uint64(upload/4), "allocations while streaming 9 MB")
		assert.Less(t, m.peakHeap, int64(upload/4), "heap while streaming 9 MB")
	})
	t.Run("50 MB download", func(t *testing.T) {
		var n int64
		var sum [sha256.Size]byte
		m := measureMemory(func() {
			req, err := http.NewRequest(http.MethodGet, gw.url(fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Recordings/RE1.wav"), nil)
			require.NoError(t, err)
			req.Header.Set("X-Test-Upstream", "download "+strconv.Itoa(download))
			res, err := client.Do(req)
			require.NoError(t, err)
			hs := sha256.New()
			n, err = io.CopyBuffer(hs, res.Body, make([]byte, 32<<10))
			require.NoError(t, err)
			_ = res.Body.Close()
			copy(sum[:], hs.Sum(nil))
			require.Equal(t, 200, res.StatusCode)
		})
		up.Take()
		assert.Equal(t, int64(download), n)
		assert.Equal(t, upstreamtest.SumOfPattern(download), sum)
		t.Logf("50 MB download: allocated %s, peak heap in use %s above the start", megabytes(m.allocated), megabytes(m.peakHeap))
		assert.Less(t, m.allocated, uint64(download/20), "allocations while streaming 50 MB")
		assert.Less(t, m.peakHeap, int64(download/20), "heap while streaming 50 MB")
	})
}

type memoryUse struct {
	allocated uint64 // bytes allocated meanwhile (TotalAlloc delta)
	peakHeap  int64  // highest HeapInuse seen, above the start
}

// measureMemory runs f with the garbage collector at its most eager, sampling the
// heap every few milliseconds.
func measureMemory(f func()) memoryUse {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return memoryUse{
		allocated: after.TotalAlloc - before.TotalAlloc,
		peakHeap:  int64(peak.Load()) - int64(before.HeapInuse),
	}
}

func megabytes[T int64 | uint64](n T) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

// RestComm's limit is 10,000,000 bytes: a declared larger length is refused
// before the upstream is asked; a chunked body is cut while it streams, so
// the upstream never receives a complete request, and the client gets the
// same 413. Exactly the limit passes.
func TestBodyLimit(t *testing.T) {
	h := newHarness(t, true)
	up := upstreamtest.Start(t, 5*time.Second)
	gw := startLiveGateway(t, h, up.Addr())
	target := gw.url(fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + "/Recordings.json")
	post := func(n int64, chunked bool) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodPost, target, upstreamtest.Pattern(n))
		require.NoError(t, err)
		req.Header = fixture.As("ADMIN")
		if !chunked {
			req.ContentLength = n
		} else {
			req.ContentLength = -1
		}
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		res, err := client.Do(req)
		if err != nil {
			// the gateway may close the connection while the client still
			// sends; its answer was then written first
			t.Fatalf("POST of %d bytes: %v", n, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, string(body)
	}

	res, body := post(accountsapi.MaxBodyLength+1, false)
	assert.Equal(t, 413, res.StatusCode)
	assert.Contains(t, body, "Length larger than 10000000")
	assert.Empty(t, up.Take(), "a declared excess never reaches the upstream")

	res, body = post(accountsapi.MaxBodyLength+1, true)
	assert.Equal(t, 413, res.StatusCode)
	assert.Contains(t, body, "Length larger than 10000000")
	// the upstream notices the cut body after the client has its answer
	var cut []upstreamtest.Request
	require.Eventually(t, func() bool { cut = up.Take(); return len(cut) > 0 }, 10*time.Second, 10*time.Millisecond,
		"the upstream saw the cut request")
	require.Len(t, cut, 1)
	assert.Error(t, cut[0].BodyErr, "the upstream never receives a complete oversized request")
	assert.LessOrEqual(t, cut[0].BodyLen, int64(accountsapi.MaxBodyLength))

	res, _ = post(accountsapi.MaxBodyLength, true)
	assert.Equal(t, 200, res.StatusCode)
	got := up.Take()
	require.Len(t, got, 1)
	assert.Equal(t, int64(accountsapi.MaxBodyLength), got[0].BodyLen)
	assert.NoError(t, got[0].BodyErr)
}

// An upstream that is down answers 502 and a slow one 504, each with a page
// saying so, within the configured timeouts; the gateway then serves on.
func TestUpstreamFailures(t *testing.T) {
	h := newHarness(t, true)
	t.Run("down", func(t *testing.T) {
		gw := startLiveGateway(t, h, freeport.Addr(t)) // nothing listens there
		res, body := gw.raw(t, http.MethodGet, fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Calls.json", fixture.As("ADMIN"))
		assert.Equal(t, 502, res.StatusCode)
		assert.Contains(t, body, "HTTP Status 502 - RestComm is unreachable")
		// still serving what it serves itself
		res, _ = gw.raw(t, http.MethodGet, fixture.APIRoot+"/Accounts.json/"+fixture.SidAdmin, fixture.As("ADMIN"))
		assert.Equal(t, 200, res.StatusCode)
	})
	t.Run("slow", func(t *testing.T) {
		up := upstreamtest.Start(t, 5*time.Second)
		gw := startLiveGateway(t, h, up.Addr())
		// the upstream answers after 5 s: a 504 is the gateway's timeout
		res, body := gw.raw(t, http.MethodGet, fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Calls.json",
			upstreamtest.MergeHeaders(fixture.As("ADMIN"), http.Header{"X-Test-Upstream": {"slow"}}))
		assert.Equal(t, 504, res.StatusCode)
		assert.Contains(t, body, "HTTP Status 504 - RestComm did not answer in time")
		res, body = gw.raw(t, http.MethodGet, fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Calls.json", fixture.As("ADMIN"))
		assert.Equal(t, 200, res.StatusCode)
		assert.Equal(t, "upstream", body)
	})
}
