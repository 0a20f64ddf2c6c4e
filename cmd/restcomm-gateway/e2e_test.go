package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/freeport"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/upstreamtest"
	"github.com/restcomm/restcomm-gateway/store"
)

// The end-to-end test builds this command, runs it with a Caddyfile like
// the top-level one over HTTPS (Caddy's internal CA) on free loopback
// ports, with a throw-away redis-server, in front of an upstream that
// records what it receives, and talks to it as a client would.

// adversarialPaths is the table of caddymodule's tests.
const adversarialPaths = "../../caddymodule/testdata/adversarial-paths.tsv"

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	bin := buildGateway(t)
	rd := redistest.Start(t)
	fixture.LoadAccounts(t, store.New(rd.Client(t), ""), "DEV", "UNINIT", "SUSP")
	up := upstreamtest.Start(t, 10*time.Second)
	gw := startGateway(t, bin, readCaddyfile(t, "testdata/e2e.Caddyfile"), map[string]string{
		"RESTCOMM_REDIS":            rd.URL(),
		"RESTCOMM_UPSTREAM":         up.Addr(),
		"RESTCOMM_UPSTREAM_TIMEOUT": "2s",
	})

	t.Run("adversarial paths", func(t *testing.T) {
		rows := upstreamtest.ReadAdversarialPaths(t, adversarialPaths)
		require.GreaterOrEqual(t, len(rows), 40)
		for _, row := range rows {
			t.Run(row.Why, func(t *testing.T) { up.CheckAdversarial(t, row, gw.get(t)) })
		}
	})

	t.Run("pass-through checks of RestComm", func(t *testing.T) {
		res, body := gw.raw(t, "GET", fixture.APIRoot+"/Accounts.json/"+fixture.SidUninit+"/Calls.json", fixture.As("UNINIT"))
		assert.Equal(t, 200, res.StatusCode, "row 12: uninitialized passes the gate on Accounts paths")
		assert.Equal(t, "upstream", body)
		got := up.Take()
		require.Len(t, got, 1)
		assert.Equal(t, fixture.APIRoot+"/Accounts.json/"+fixture.SidUninit+"/Calls.json", got[0].RequestURI)
		assert.Equal(t, upstreamtest.VerifiedIdentity(fixture.SidUninit, "Developer", fixture.SidOrg0), upstreamtest.IdentityHeaders(got[0].Header))

		for _, path := range []string{"/Organizations.json/" + fixture.SidOrg0, "/Profiles/PR1"} {
			res, body = gw.raw(t, "GET", fixture.APIRoot+path, fixture.As("UNINIT"))
			assert.Equal(t, 403, res.StatusCode, "row 13: %s", path)
			assert.Equal(t, "Provided Account is not active", body)
			assert.Empty(t, up.Take())
		}
	})

	t.Run("edge authentication", func(t *testing.T) {
		res, _ := gw.raw(t, "GET", fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Calls.json", nil)
		assert.Equal(t, 401, res.StatusCode)
		assert.Equal(t, `Basic realm="Restcomm realm"`, res.Header.Get("WWW-Authenticate"))
		res, body := gw.raw(t, "GET", fixture.APIRoot+"/Accounts/"+fixture.SidSusp+"/Calls.json", fixture.As("SUSP"))
		assert.Equal(t, 403, res.StatusCode)
		assert.Equal(t, "Provided Account is not active", body)
		assert.Empty(t, up.Take())
	})

	t.Run("identity headers from clients never reach the upstream", func(t *testing.T) {
		cases := []struct {
			target string
			header http.Header
			want   map[string][]string
		}{
			{fixture.APIRoot + "/Accounts/" + fixture.SidDev + "/Calls.json", fixture.As("DEV"), upstreamtest.VerifiedIdentity(fixture.SidDev, "Developer", fixture.SidOrg0)},
			{fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + "/Recordings/RE1.wav", nil, map[string][]string{}},
			{fixture.APIRoot + "/Logout", nil, map[string][]string{}},
			{"/restcomm-management/", fixture.As("ADMIN"), map[string][]string{}},
		}
		for _, c := range cases {
			res, _ := gw.raw(t, "GET", c.target, upstreamtest.MergeHeaders(upstreamtest.ForgedIdentity(), c.header))
			assert.Equal(t, 200, res.StatusCode, c.target)
			got := up.Take()
			require.Len(t, got, 1, c.target)
			assert.Equal(t, c.want, upstreamtest.IdentityHeaders(got[0].Header), c.target)
			assert.Empty(t, got[0].Header.Get("Accept-Encoding"), "no compression the client did not ask for")
		}
	})

	t.Run("large bodies stream", func(t *testing.T) {
		const upload, download = 9_000_000, 50_000_000
		uploadOnce := func(client *http.Client) {
			req, err := http.NewRequest("POST", gw.url(fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Recordings.json"), upstreamtest.Pattern(upload))
			require.NoError(t, err)
			req.ContentLength = upload
			req.Header = fixture.As("ADMIN")
			res, err := client.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			assert.Equal(t, 200, res.StatusCode)
			got := up.Take()
			require.Len(t, got, 1)
			assert.Equal(t, int64(upload), got[0].BodyLen)
			assert.Equal(t, upstreamtest.SumOfPattern(upload), got[0].BodySum)
		}
		downloadOnce := func(client *http.Client) {
			req, err := http.NewRequest("GET", gw.url(fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Recordings/RE1.wav"), nil)
			require.NoError(t, err)
			req.Header.Set("X-Test-Upstream", "download "+strconv.Itoa(download))
			res, err := client.Do(req)
			require.NoError(t, err)
			h := sha256.New()
			n, err := io.Copy(h, res.Body)
			require.NoError(t, err)
			_ = res.Body.Close()
			var sum [sha256.Size]byte
			copy(sum[:], h.Sum(nil))
			assert.Equal(t, 200, res.StatusCode)
			assert.Equal(t, int64(download), n)
			assert.Equal(t, upstreamtest.SumOfPattern(download), sum)
			up.Take()
		}
		// A first request opens the connection, so that its setup is not
		// counted.
		warm := func(client *http.Client, proto int) {
			res, err := client.Get(gw.url(fixture.APIRoot + "/Logout"))
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			require.Equal(t, proto, res.ProtoMajor)
			up.Take()
		}

		h1 := gw.client(false)
		warm(h1, 1)
		m := gw.measure(t, 3, func() { uploadOnce(h1) })
		t.Logf("9 MB upload, HTTP/1.1: the gateway allocated %s, its heap in use peaked %s above the start (least of 3)", mb(m.allocated), mb(m.peakHeap))
		assert.Less(t, m.allocated, float64(upload)/8, "the upload is not held")
		assert.Less(t, m.peakHeap, float64(upload)/4)

		// Go's HTTP/2 server holds at most its flow-control window (1 MB)
		// of a request body, and grows its buffers on a connection's first
		// large body (some MB once); the least of three runs shows the rest.
		h2 := gw.client(true)
		warm(h2, 2)
		m = gw.measure(t, 3, func() { uploadOnce(h2) })
		t.Logf("9 MB upload, HTTP/2: the gateway allocated %s, its heap in use peaked %s above the start (least of 3)", mb(m.allocated), mb(m.peakHeap))
		assert.Less(t, m.allocated, float64(upload)/8, "the upload is not held")
		assert.Less(t, m.peakHeap, float64(upload)/4)

		m = gw.measure(t, 3, func() { downloadOnce(h2) })
		t.Logf("50 MB download, HTTP/2: the gateway allocated %s, its heap in use peaked %s above the start (least of 3)", mb(m.allocated), mb(m.peakHeap))
		assert.Less(t, m.allocated, float64(download)/10, "the download is not held")
		assert.Less(t, m.peakHeap, float64(download)/10)
	})

	t.Run("body limit", func(t *testing.T) {
		client := gw.client(false)
		post := func(n int64, chunked bool) (*http.Response, string) {
			req, err := http.NewRequest("POST", gw.url(fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Recordings.json"), upstreamtest.Pattern(n))
			require.NoError(t, err)
			req.Header = fixture.As("ADMIN")
			req.ContentLength = n
			if chunked {
				req.ContentLength = -1
			}
			res, err := client.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			return res, string(body)
		}
		for _, chunked := range []bool{false, true} {
			res, body := post(10_000_001, chunked)
			assert.Equal(t, 413, res.StatusCode, "chunked: %v", chunked)
			assert.Contains(t, body, "Length larger than 10000000")
		}
		// the upstream notices the cut chunked body after the client has its answer
		var cut []upstreamtest.Request
		require.Eventually(t, func() bool { cut = append(cut, up.Take()...); return len(cut) > 0 }, 10*time.Second, 10*time.Millisecond,
			"the upstream saw the cut request")
		for _, s := range cut {
			assert.Error(t, s.BodyErr, "an oversized body never reaches the upstream whole")
		}
		res, _ := post(10_000_000, true)
		assert.Equal(t, 200, res.StatusCode)
		got := up.Take()
		require.Len(t, got, 1)
		assert.Equal(t, int64(10_000_000), got[0].BodyLen)
	})

	t.Run("slow upstream: 504, then healthy", func(t *testing.T) {
		res, body := gw.raw(t, "GET", fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Calls.json",
			upstreamtest.MergeHeaders(fixture.As("ADMIN"), http.Header{"X-Test-Upstream": {"slow"}}))
		assert.Equal(t, 504, res.StatusCode, "the gateway's timeout, before the slow answer")
		assert.Contains(t, body, "HTTP Status 504 - RestComm did not answer in time")
		res, body = gw.raw(t, "GET", fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Calls.json", fixture.As("ADMIN"))
		assert.Equal(t, 200, res.StatusCode)
		assert.Equal(t, "upstream", body)
		up.Take()
	})

	t.Run("top-level Caddyfile", func(t *testing.T) {
		top := startGateway(t, bin, readCaddyfile(t, "../../Caddyfile"), map[string]string{
			"RESTCOMM_REDIS":    rd.URL(),
			"RESTCOMM_UPSTREAM": up.Addr(),
		})
		for _, row := range upstreamtest.ReadAdversarialPaths(t, adversarialPaths) {
			t.Run(row.Why, func(t *testing.T) { up.CheckAdversarial(t, row, top.get(t)) })
		}
	})

	t.Run("upstream down: 502, then healthy", func(t *testing.T) {
		up.Close()
		res, body := gw.raw(t, "GET", fixture.APIRoot+"/Accounts/"+fixture.SidAdmin+"/Calls.json", fixture.As("ADMIN"))
		assert.Equal(t, 502, res.StatusCode)
		assert.Contains(t, body, "HTTP Status 502 - RestComm is unreachable")
		res, _ = gw.raw(t, "GET", fixture.APIRoot+"/Accounts.json/"+fixture.SidAdmin, fixture.As("ADMIN"))
		assert.Equal(t, 200, res.StatusCode, "the gateway still serves the Accounts API")
	})
}

// --- the binary -------------------------------------------------------------

// buildGateway compiles this command (on two cores a few minutes the first
// time, seconds once the build cache is warm).
func buildGateway(t *testing.T) string {
	gobin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command builds the gateway")
	bin := filepath.Join(t.TempDir(), "restcomm-gateway")
	start := time.Now()
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	t.Logf("built the gateway in %s", time.Since(start).Round(time.Second))
	return bin
}

func readCaddyfile(t *testing.T, name string) string {
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}

// gateway is one running gateway process.
type gateway struct {
	site, admin string // loopback host:port
	tls         *tls.Config
	pid         int
}

// startGateway runs the binary with the Caddyfile, its own data directory
// (Caddy's internal CA lives there), free loopback ports for the site,
// the admin API and HTTP, and the environment given; it is stopped when
// the test ends.
func startGateway(t *testing.T, bin, caddyfile string, env map[string]string) *gateway {
	// Loopback only, and no HTTP→HTTPS redirect listener on port 80.
	global := "{\n\tdefault_bind 127.0.0.1\n\thttp_port {$E2E_HTTP_PORT}\n"
	require.True(t, strings.HasPrefix(strings.TrimSpace(stripComments(caddyfile)), "{"), "the Caddyfile starts with global options")
	caddyfile = strings.Replace(caddyfile, "{\n", global, 1)
	var lastErr error
	for range 3 {
		g, err := tryStart(t, bin, caddyfile, env)
		if err == nil {
			return g
		}
		lastErr = err // most likely a port was taken meanwhile
	}
	t.Fatalf("the gateway did not start: %v", lastErr)
	return nil
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func tryStart(t *testing.T, bin, caddyfile string, env map[string]string) (*gateway, error) {
	dir, err := os.MkdirTemp(t.TempDir(), "gw")
	require.NoError(t, err)
	cfgPath := filepath.Join(dir, "Caddyfile")
	require.NoError(t, os.WriteFile(cfgPath, []byte(caddyfile), 0o600))
	g := &gateway{site: freeport.Addr(t), admin: freeport.Addr(t)}
	cmd := exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(),
		"HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir,
		"RESTCOMM_SITE=https://localhost:"+port(g.site),
		"RESTCOMM_ADMIN="+g.admin,
		"E2E_HTTP_PORT="+port(freeport.Addr(t)),
	)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	g.pid = cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	rootPath := filepath.Join(dir, "caddy", "pki", "authorities", "local", "root.crt")
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("not ready after 60s\n%s", logs.String())
		}
		if g.ready(rootPath) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("gateway output:\n%s", logs.String())
		}
	})
	return g, nil
}

// ready: the internal CA exists and the site answers a TLS handshake with
// a certificate it signed.
func (g *gateway) ready(rootPath string) bool {
	pem, err := os.ReadFile(rootPath)
	if err != nil {
		return false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return false
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", g.site, cfg)
	if err != nil {
		return false
	}
	_ = conn.Close()
	g.tls = cfg
	return true
}

func (g *gateway) host() string { return "localhost:" + port(g.site) }

func (g *gateway) url(path string) string { return "https://" + g.host() + path }

// client talks to the gateway over TLS, HTTP/2 if h2; it never asks for
// compression.
func (g *gateway) client(h2 bool) *http.Client {
	site := g.site
	tr := &http.Transport{
		TLSClientConfig:    g.tls.Clone(),
		ForceAttemptHTTP2:  h2,
		DisableCompression: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, site)
		},
	}
	if !h2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

// raw sends one HTTP/1.1 request over TLS with the target exactly as given.
func (g *gateway) raw(t *testing.T, method, target string, header http.Header) (*http.Response, string) {
	t.Helper()
	cfg := g.tls.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", g.site, cfg)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	return upstreamtest.RawExchange(t, conn, method, target, g.host(), header)
}

// get is raw with GET, for upstreamtest's CheckAdversarial.
func (g *gateway) get(t *testing.T) func(target string, header http.Header) (*http.Response, string) {
	return func(target string, header http.Header) (*http.Response, string) {
		return g.raw(t, "GET", target, header)
	}
}

// --- the gateway's memory, from its own metrics ------------------------------

type memory struct {
	allocated float64 // bytes the gateway allocated meanwhile
	peakHeap  float64 // highest heap in use seen, above the start
}

// measure runs f 2×runs times and returns the least of each figure: the
// gateway's background work only ever adds to them, while a gateway that
// held a body would show at least its size every time.
func (g *gateway) measure(t *testing.T, runs int, f func()) memory {
	var least memory
	for i := range runs {
		m := g.measureOnce(t, f)
		if i == 0 || m.allocated < least.allocated {
			least.allocated = m.allocated
		}
		if i == 0 || m.peakHeap < least.peakHeap {
			least.peakHeap = m.peakHeap
		}
	}
	return least
}

// measureOnce runs f twice, reading the gateway's Go memory statistics from
// the admin API's /metrics: the first time the allocation counter just
// before and after, which no garbage collection can hide; the second time
// the heap in use every 100 ms (each reading itself allocates a little in
// the gateway, so that figure is the looser one).
func (g *gateway) measureOnce(t *testing.T, f func()) memory {
	before := g.memstats(t)
	f()
	after := g.memstats(t)
	allocated := after["go_memstats_alloc_bytes_total"] - before["go_memstats_alloc_bytes_total"]

	before = g.memstats(t)
	var peak float64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if m, err := g.readMemstats(); err == nil && m["go_memstats_heap_inuse_bytes"] > peak {
				peak = m["go_memstats_heap_inuse_bytes"]
			}
		}
	}()
	f()
	close(stop)
	<-done
	if m := g.memstats(t); m["go_memstats_heap_inuse_bytes"] > peak {
		peak = m["go_memstats_heap_inuse_bytes"]
	}
	// a collection meanwhile can leave the heap below where it started
	return memory{allocated: allocated, peakHeap: max(0, peak-before["go_memstats_heap_inuse_bytes"])}
}

func (g *gateway) memstats(t *testing.T) map[string]float64 {
	m, err := g.readMemstats()
	require.NoError(t, err)
	require.Contains(t, m, "go_memstats_alloc_bytes_total")
	require.Contains(t, m, "go_memstats_heap_inuse_bytes")
	return m
}

func (g *gateway) readMemstats() (map[string]float64, error) {
	res, err := http.Get("http://" + g.admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(name, "go_memstats_") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

func mb(n float64) string { return fmt.Sprintf("%.2f MB", n/1e6) }

// --- small things -------------------------------------------------------------

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
