package caddymodule

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/compile"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/policybundle"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
)

// bundleKeys is a test RSA key pair: the private key signs bundles, the
// public key's file is the gateways' verification_key.
type bundleKeys struct {
	private string // PEM
	pubFile string
}

func newBundleKeys(t *testing.T) bundleKeys {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "bundle.pub")
	require.NoError(t, os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600))
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	return bundleKeys{private: string(priv), pubFile: file}
}

// orgBlockBundle builds the org-block example, blocking the fixture's
// organization, as an OPA bundle of the given revision with OPA's bundle
// writer: signed with keys unless nil, and changed by after once signed.
func orgBlockBundle(t *testing.T, revision string, keys *bundleKeys, before, after func(*bundle.Bundle)) []byte {
	t.Helper()
	b, err := bundle.NewCustomReader(bundle.NewDirectoryLoader("../policy/examples/org-block")).Read()
	require.NoError(t, err)
	b.Data = map[string]any{"restcomm": map[string]any{"blocked": map[string]any{"organizations": []any{fixture.SidOrg0}}}}
	b.Manifest.Revision = revision
	if before != nil {
		before(&b)
	}
	if keys != nil {
		require.NoError(t, b.GenerateSignature(bundle.NewSigningConfig(keys.private, "RS256", ""), "global", true))
	}
	if after != nil {
		after(&b)
	}
	var buf bytes.Buffer
	require.NoError(t, bundle.NewWriter(&buf).UseModulePath(true).Write(b))
	return buf.Bytes()
}

// opaBuild builds and signs the org-block example, blocking the
// fixture's organization, as `opa build -b <dir> --revision <revision>
// --signing-key <key>` does (its Go API, the same code).
func opaBuild(t *testing.T, revision string, keys bundleKeys) []byte {
	t.Helper()
	dir := copyExample(t, "org-block")
	writeFile(t, dir+"/restcomm/blocked/data.json", `{"organizations": ["`+fixture.SidOrg0+`"]}`)
	var buf bytes.Buffer
	require.NoError(t, compile.New().WithAsBundle(true).WithPaths(dir).WithRevision(revision).
		WithBundleSigningConfig(bundle.NewSigningConfig(keys.private, "RS256", "")).
		WithBundleVerificationKeyID("default").WithOutput(&buf).Build(context.Background()))
	return buf.Bytes()
}

// failTests makes the bundle's own tests fail.
func failTests(b *bundle.Bundle) {
	for i, m := range b.Modules {
		if strings.HasSuffix(m.Path, "_test.rego") {
			b.Modules[i].Raw = []byte(strings.Replace(string(m.Raw), "d.status == 401", "d.status == 402", 1))
		}
	}
}

// bundleServer serves one bundle at a time, as a bundle service does:
// with an ETag, 304 when it matches If-None-Match; 404 when none.
type bundleServer struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	auth     string // the last Authorization header seen
	requests int
}

func newBundleServer(t *testing.T) *bundleServer {
	s := &bundleServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		body := s.body
		s.auth = r.Header.Get("Authorization")
		s.requests++
		s.mu.Unlock()
		if r.URL.Path != "/bundles/overlay.tar.gz" || body == nil {
			http.NotFound(w, r)
			return
		}
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *bundleServer) serve(body []byte) {
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

// bundleGateway configures a gateway polling srv every second.
func bundleGateway(name string, srv *bundleServer, keys *bundleKeys, onMissing string) func(*Gateway) {
	return func(g *Gateway) {
		g.PolicyBundle = &PolicyBundleConfig{
			Name: name, URL: srv.URL, Resource: "bundles/overlay.tar.gz",
			MinDelay: caddy.Duration(time.Second), MaxDelay: caddy.Duration(time.Second),
			OnMissing: onMissing,
		}
		if keys != nil {
			g.PolicyBundle.VerificationKey = keys.pubFile
		} else {
			g.PolicyBundle.AllowUnsigned = true
		}
	}
}

// bundleBound is how long a bundle may take to be activated or refused:
// a liveness bound, generous for a loaded machine (the poll is every 1s).
const bundleBound = 30 * time.Second

func waitBundle(t *testing.T, h *harness, what string, cond func(st policybundle.Status, counts map[string]int64) bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		st, counts := h.g.engine.bundle.Snapshot()
		return cond(st, counts)
	}, bundleBound, 10*time.Millisecond, what)
}

func blocked(t *testing.T, h *harness, msg string) {
	t.Helper()
	w := h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"})
	assert.Equal(t, 403, w.Code, msg)
	assert.Equal(t, "Organization is blocked", w.Body.String(), msg)
}

// A security team publishes its overlay as a signed bundle: two gateways
// poll it and activate it; a tampered bundle, a bundle whose own tests
// fail and an unsigned one are refused by both, the good revision staying
// in force and answering.
func TestPolicyBundleOnTwoGateways(t *testing.T) {
	t.Parallel()
	keys := newBundleKeys(t)
	srv := newBundleServer(t)
	srv.serve(orgBlockBundle(t, "r1", &keys, nil, nil))
	gws := []*harness{
		newHarness(t, true, bundleGateway("gw1", srv, &keys, "")),
		newHarness(t, true, bundleGateway("gw2", srv, &keys, "")),
	}
	require.NotSame(t, gws[0].g.engine, gws[1].g.engine, "two engines, two downloaders")
	var good string
	for _, h := range gws {
		waitBundle(t, h, "the good bundle activates", func(st policybundle.Status, _ map[string]int64) bool {
			return strings.HasPrefix(st.ActiveRevision, "r1@")
		})
		good = h.g.engine.Policy().Revision()
		blocked(t, h, "the bundle's overlay is in force")
	}

	refused := func(what, reason string, n int64, body []byte) {
		t.Helper()
		srv.serve(body)
		for _, h := range gws {
			waitBundle(t, h, what, func(st policybundle.Status, counts map[string]int64) bool {
				return counts[policybundle.Refused] == n && st.LastRefusal != nil
			})
			st, counts := h.g.engine.bundle.Snapshot()
			assert.Contains(t, st.LastRefusal.Reason, reason, what)
			assert.Equal(t, int64(1), counts[policybundle.Activated], what)
			assert.Equal(t, good, h.g.engine.Policy().Revision(), what+": the good revision stays")
			assert.Equal(t, good, st.ActiveRevision)
			blocked(t, h, what+": the good revision answers")
		}
	}
	refused("a tampered bundle", "data.json", 1, orgBlockBundle(t, "r2", &keys, nil, func(b *bundle.Bundle) {
		b.Data["restcomm"].(map[string]any)["blocked"] = map[string]any{"organizations": []any{}}
	}))
	refused("a bundle whose tests fail", "policy tests failed", 2, orgBlockBundle(t, "r3", &keys, failTests, nil))
	refused("an unsigned bundle", "missing .signatures.json", 3, orgBlockBundle(t, "r4", nil, nil, nil))

	// metrics and the admin API's status
	for _, h := range gws {
		name := h.g.PolicyBundle.Name
		families, err := h.ctx.GetMetricsRegistry().Gather()
		require.NoError(t, err)
		assert.Equal(t, 3.0, metricValue(families, "restcomm_gateway_policy_bundle_activations_total", map[string]string{"bundle": name, "result": "refused"}))
		assert.Equal(t, 1.0, metricValue(families, "restcomm_gateway_policy_bundle_activations_total", map[string]string{"bundle": name, "result": "activated"}))
		assert.Equal(t, 1.0, metricValue(families, "restcomm_gateway_policy_bundle_info", map[string]string{"bundle": name, "revision": good}))
		assert.Equal(t, 200.0, metricValue(families, "restcomm_gateway_policy_bundle_last_download_status", map[string]string{"bundle": name}))
		raw, err := json.Marshal(h.g.policyStatus())
		require.NoError(t, err)
		var st map[string]any
		require.NoError(t, json.Unmarshal(raw, &st))
		assert.Equal(t, "bundle", st["source"])
		assert.Equal(t, good, st["revision"])
		b := st["bundle"].(map[string]any)
		assert.Equal(t, good, b["active_revision"])
		assert.Equal(t, true, b["signature_required"])
		assert.Contains(t, b["last_refusal"].(map[string]any)["reason"], "missing .signatures.json")
		assert.NotEmpty(t, b["last_activation"].(map[string]any)["at"])
		assert.NotEmpty(t, b["last_download"].(map[string]any)["at"])
	}
}

// metricValue is the value of the metric of name with labels (a subset of
// its own), or -1 when there is none.
func metricValue(families []*dto.MetricFamily, name string, labels map[string]string) float64 {
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// Before any good bundle, on_missing deny refuses every API request (the
// rest passes, as it always does) and readiness says why; the first good bundle lifts both. The service's
// credentials are sent and never shown.
func TestPolicyBundleOnMissingDeny(t *testing.T) {
	keys := newBundleKeys(t)
	srv := newBundleServer(t)
	t.Setenv("RESTCOMM_TEST_BUNDLE_TOKEN", "s3cret-token")
	h := newHarness(t, true, bundleGateway("deny", srv, &keys, "deny"), func(g *Gateway) {
		g.PolicyBundle.BearerToken = "{env.RESTCOMM_TEST_BUNDLE_TOKEN}"
	})
	waitBundle(t, h, "a download is tried", func(st policybundle.Status, _ map[string]int64) bool {
		return st.LastDownload != nil && st.LastDownload.Status == http.StatusNotFound
	})
	assert.Nil(t, h.g.engine.Policy())
	for _, c := range []call{
		{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"},
		{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin},
		{path: fixture.APIRoot + "/Accounts/" + fixture.SidDev + "/Calls.json", as: "DEV"},
	} {
		w := h.do(c)
		assert.Equal(t, 503, w.Code, c.path)
		assert.Contains(t, w.Body.String(), "HTTP Status 503 - Policy not yet activated")
		assert.Equal(t, "1", w.Header().Get("Retry-After"))
	}
	assert.Empty(t, h.proxied, "nothing reaches RestComm")
	// Paths outside the API are none of the policy's business: they pass.
	for _, path := range []string{"/restcomm-management/index.html", "/visual-designer/", "/restcomm/2012-04-24x/"} {
		w := h.do(call{path: path})
		assert.NotEqual(t, 503, w.Code, path)
	}
	assert.Len(t, h.proxied, 3, "outside the API, requests pass while the bundle is pending")
	h.proxied = nil
	// no empty label values, even before the first bundle
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(policybundle.Collector{}))
	families, err := reg.Gather()
	require.NoError(t, err)
	var info []string
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				assert.NotEmpty(t, l.GetValue(), "%s{%s}", f.GetName(), l.GetName())
				if f.GetName() == "restcomm_gateway_policy_bundle_info" && l.GetName() == "revision" {
					info = append(info, l.GetValue())
				}
			}
		}
	}
	assert.Contains(t, info, "none")
	r := h.g.probe(context.Background())
	assert.Equal(t, []string{bundleNotActivated}, r.Reasons)
	raw, err := json.Marshal(h.g.policyStatus())
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "s3cret-token")

	srv.serve(opaBuild(t, "c0ffee", keys))
	waitBundle(t, h, "the first bundle activates", func(st policybundle.Status, _ map[string]int64) bool {
		return st.ActiveRevision != ""
	})
	st, _ := h.g.engine.bundle.Snapshot()
	assert.True(t, strings.HasPrefix(st.ActiveRevision, "c0ffee@"), st.ActiveRevision)
	blocked(t, h, "the first bundle answers")
	assert.Equal(t, 401, h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin}).Code, "decided again")
	assert.True(t, h.g.probe(context.Background()).ok())
	srv.mu.Lock()
	assert.Equal(t, "Bearer s3cret-token", srv.auth)
	srv.mu.Unlock()
}

// on_missing builtin serves the built-in policy alone until the first
// bundle, and a bundle refused at first leaves it in force.
func TestPolicyBundleOnMissingBuiltin(t *testing.T) {
	t.Parallel()
	keys := newBundleKeys(t)
	srv := newBundleServer(t)
	srv.serve(orgBlockBundle(t, "r1", &keys, failTests, nil))
	h := newHarness(t, true, bundleGateway("builtin", srv, &keys, "builtin"))
	waitBundle(t, h, "the failing bundle is refused", func(st policybundle.Status, _ map[string]int64) bool {
		return st.LastRefusal != nil
	})
	require.NotNil(t, h.g.engine.Policy())
	assert.Equal(t, 200, h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"}).Code, "the built-in alone")
	assert.True(t, h.g.probe(context.Background()).ok())
	srv.serve(orgBlockBundle(t, "r2", &keys, nil, nil))
	waitBundle(t, h, "the good bundle activates", func(st policybundle.Status, _ map[string]int64) bool {
		return strings.HasPrefix(st.ActiveRevision, "r2@")
	})
	blocked(t, h, "the bundle answers")
}

func TestPolicyBundleCaddyfile(t *testing.T) {
	keys := newBundleKeys(t)
	for _, tc := range []struct {
		name, block string
		want        *PolicyBundleConfig
		err         string
	}{
		{name: "full", block: `policy_bundle overlay {
			url https://bundles.example.com
			resource bundles/restcomm-overlay.tar.gz
			polling 10s 60s
			long_polling_timeout 30s
			credentials bearer {env.BUNDLE_TOKEN}
			verification_key ` + keys.pubFile + ` algorithm RS512 key_id team scope write
			max_size 8MiB
			on_missing builtin
		}`, want: &PolicyBundleConfig{Name: "overlay", URL: "https://bundles.example.com",
			Resource: "bundles/restcomm-overlay.tar.gz", MinDelay: caddy.Duration(10 * time.Second),
			MaxDelay: caddy.Duration(60 * time.Second), LongPollingTimeout: caddy.Duration(30 * time.Second),
			BearerToken: "{env.BUNDLE_TOKEN}", VerificationKey: keys.pubFile, KeyAlgorithm: "RS512",
			KeyID: "team", Scope: "write", MaxSize: 8 << 20, OnMissing: "builtin"}},
		{name: "minimal", block: "policy_bundle {\n url http://b:8181\n verification_key /k.pub\n}",
			want: &PolicyBundleConfig{URL: "http://b:8181", VerificationKey: "/k.pub"}},
		{name: "unsigned", block: "policy_bundle {\n url http://b\n allow_unsigned\n polling 5s\n}",
			want: &PolicyBundleConfig{URL: "http://b", AllowUnsigned: true,
				MinDelay: caddy.Duration(5 * time.Second), MaxDelay: caddy.Duration(5 * time.Second)}},
		{name: "no url", block: "policy_bundle {\n verification_key /k\n}", err: "url is required"},
		{name: "no key", block: "policy_bundle {\n url http://b\n}", err: "a verification_key is required"},
		{name: "both", block: "policy_bundle {\n url http://b\n allow_unsigned\n verification_key /k\n}", err: "exclude each other"},
		{name: "ftp", block: "policy_bundle {\n url ftp://b\n allow_unsigned\n}", err: "want an http or https URL"},
		{name: "userinfo", block: "policy_bundle {\n url https://u:p@b\n allow_unsigned\n}", err: "no credentials in the URL"},
		{name: "dotdot", block: "policy_bundle {\n url http://b\n resource a/../b\n allow_unsigned\n}", err: "dot segments"},
		{name: "fast poll", block: "policy_bundle {\n url http://b\n polling 500ms 1s\n allow_unsigned\n}", err: "at least 1s"},
		{name: "max < min", block: "policy_bundle {\n url http://b\n polling 10s 5s\n allow_unsigned\n}", err: "shorter than the min"},
		{name: "long poll", block: "policy_bundle {\n url http://b\n long_polling_timeout 2h\n allow_unsigned\n}", err: "long_polling_timeout"},
		{name: "bad duration", block: "policy_bundle {\n url http://b\n polling soon\n allow_unsigned\n}", err: "invalid duration"},
		{name: "credentials", block: "policy_bundle {\n url http://b\n credentials basic x\n allow_unsigned\n}", err: "want bearer <token>"},
		{name: "algorithm", block: "policy_bundle {\n url http://b\n verification_key /k algorithm MD5\n}", err: "unsupported algorithm"},
		{name: "key option", block: "policy_bundle {\n url http://b\n verification_key /k kid x\n}", err: "unknown option"},
		{name: "size", block: "policy_bundle {\n url http://b\n max_size 2GiB\n allow_unsigned\n}", err: "max_size"},
		{name: "on_missing", block: "policy_bundle {\n url http://b\n on_missing allow\n allow_unsigned\n}", err: "want builtin or deny"},
		{name: "unknown", block: "policy_bundle {\n url http://b\n interval 5s\n allow_unsigned\n}", err: "unrecognized policy_bundle option"},
		{name: "name", block: "policy_bundle a/b {\n url http://b\n allow_unsigned\n}", err: "policy_bundle name"},
		{name: "with policy_dir", block: "policy_dir /p\n policy_bundle {\n url http://b\n allow_unsigned\n}", err: "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := new(Gateway)
			err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser("restcomm {\n" + tc.block + "\n}"))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, g.PolicyBundle)
		})
	}
}

// The block becomes OPA's own configuration, which OPA's parsers take;
// the token stays out of the pool key.
func TestPolicyBundleOPAConfig(t *testing.T) {
	keys := newBundleKeys(t)
	t.Setenv("RESTCOMM_TEST_BUNDLE_TOKEN", "tok")
	c := &PolicyBundleConfig{URL: "https://b.example.com/", BearerToken: "{env.RESTCOMM_TEST_BUNDLE_TOKEN}",
		VerificationKey: keys.pubFile, MinDelay: caddy.Duration(1500 * time.Millisecond), MaxDelay: caddy.Duration(3 * time.Second)}
	s, err := c.resolve(caddy.NewReplacer())
	require.NoError(t, err)
	raw, err := json.Marshal(s.OPAConfig())
	require.NoError(t, err)
	var cfg struct {
		Services map[string]struct {
			URL         string
			Credentials struct{ Bearer struct{ Token string } }
		}
		Bundles map[string]struct {
			Service, Resource string
			Polling           map[string]int64
			Signing           struct{ KeyID string }
		}
		Keys map[string]struct{ Algorithm, Key string }
	}
	require.NoError(t, json.Unmarshal(raw, &cfg))
	assert.Equal(t, "tok", cfg.Services["restcomm"].Credentials.Bearer.Token)
	assert.Equal(t, "bundles/restcomm", cfg.Bundles["restcomm"].Resource)
	assert.Equal(t, map[string]int64{"min_delay_seconds": 2, "max_delay_seconds": 3}, cfg.Bundles["restcomm"].Polling)
	assert.Equal(t, "global", cfg.Bundles["restcomm"].Signing.KeyID)
	assert.Equal(t, "RS256", cfg.Keys["global"].Algorithm)
	assert.NotContains(t, bundlePoolKey(s, "overlay"), "tok")

	c.VerificationKey = filepath.Join(t.TempDir(), "missing.pub")
	_, err = c.resolve(caddy.NewReplacer())
	assert.ErrorContains(t, err, "verification_key")
	// a provisioned gateway may not have both
	g := &Gateway{PolicyDir: "/p", PolicyBundle: c}
	assert.ErrorContains(t, checkPolicySource(g.PolicyDir, g.PolicyBundle), "exclude each other")
}

// Through a running Caddy: the admin API's readiness says why the gateway
// is not ready before the first bundle, /restcomm/policy shows the
// bundle's status, and /metrics its metrics.
func TestPolicyBundleThroughCaddy(t *testing.T) {
	keys := newBundleKeys(t)
	bundles := newBundleServer(t)
	srv := redistest.Start(t)
	gw := startHealthGateway(t, map[string]any{
		"redis": map[string]any{"urls": []string{srv.URL()}},
		"policy_bundle": map[string]any{
			"name": "fleet", "url": bundles.URL, "resource": "bundles/overlay.tar.gz",
			"min_delay": "1s", "max_delay": "1s", "verification_key": keys.pubFile,
		},
	})
	adminReady := gw.admin + "/restcomm/readyz"
	p := getProbe(t, http.MethodGet, adminReady)
	assert.Equal(t, http.StatusServiceUnavailable, p.code)
	assert.Contains(t, p.reasons, bundleNotActivated)
	resp, err := http.Get(gw.site + fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	bundles.serve(orgBlockBundle(t, "r1", &keys, nil, nil))
	waitProbe(t, adminReady, http.StatusOK, bundleBound)
	var status struct {
		Policies []policyStatus `json:"policies"`
	}
	resp, err = http.Get(gw.admin + "/restcomm/policy")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&status))
	resp.Body.Close()
	require.Len(t, status.Policies, 1)
	pol := status.Policies[0]
	assert.Equal(t, "bundle", pol.Source)
	assert.True(t, strings.HasPrefix(pol.Revision, "r1@"), pol.Revision)
	require.NotNil(t, pol.Bundle)
	assert.Equal(t, pol.Revision, pol.Bundle.ActiveRevision)
	assert.Equal(t, "fleet", pol.Bundle.Name)
	require.NotNil(t, pol.Bundle.LastDownload)
	assert.Contains(t, []int{200, 304}, pol.Bundle.LastDownload.Status)

	resp, err = http.Get(gw.admin + "/metrics")
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(raw), `restcomm_gateway_policy_bundle_info{bundle="fleet",revision="`+pol.Revision+`"} 1`)
	assert.Contains(t, string(raw), `restcomm_gateway_policy_bundle_activations_total{bundle="fleet",result="activated"} 1`)
}

// A config reload that keeps the block shares the running engine, its
// bundle in force at once; one that changes it gets an engine of its own;
// the last config to let go of an engine stops its polling.
func TestPolicyBundleOutlivesConfigReload(t *testing.T) {
	t.Parallel()
	keys := newBundleKeys(t)
	srv := newBundleServer(t)
	srv.serve(orgBlockBundle(t, "r1", &keys, nil, nil))
	h := newHarness(t, true, bundleGateway("reload", srv, &keys, ""))
	waitBundle(t, h, "the bundle activates", func(st policybundle.Status, _ map[string]int64) bool {
		return st.ActiveRevision != ""
	})
	src := h.g.engine.bundle

	provision := func(configure func(*Gateway)) *Gateway {
		g := &Gateway{Redis: h.g.Redis}
		configure(g)
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		t.Cleanup(cancel)
		require.NoError(t, g.Provision(ctx))
		return g
	}
	same := provision(bundleGateway("reload", srv, &keys, ""))
	assert.Same(t, h.g.engine, same.engine)
	require.NotNil(t, same.engine.Policy(), "in force at once, without a download")
	changed := provision(bundleGateway("reload", srv, &keys, "builtin"))
	assert.NotSame(t, h.g.engine, changed.engine)

	live := func(s *policybundle.Source) bool { return slices.Contains(policybundle.Live(), s) }
	require.NoError(t, h.g.Cleanup())
	assert.True(t, live(src), "the new config still uses it")
	require.NoError(t, same.Cleanup())
	assert.False(t, live(src), "stopped with the last config")
	other := changed.engine.bundle
	require.NoError(t, changed.Cleanup())
	assert.False(t, live(other))
}
