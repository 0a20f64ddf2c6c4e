package policybundle

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

func keyFile(t *testing.T, content string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "bundle.key")
	require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
	return file
}

// Resolve replaces placeholders, fills in the defaults and reads the key;
// the settings become OPA's configuration, which OPA's parsers take, and
// a key makes a signature required.
func TestResolve(t *testing.T) {
	vars := map[string]string{"{token}": "tok", "{key}": keyFile(t, "secret")}
	replace := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, k, v)
		}
		return s
	}
	s, err := Resolve(Settings{URL: "https://b.example.com/", BearerToken: "{token}", VerificationKey: "{key}",
		KeyAlgorithm: "HS256"}, replace)
	require.NoError(t, err)
	assert.Equal(t, "restcomm", s.Name)
	assert.Equal(t, "bundles/restcomm", s.Resource)
	assert.Equal(t, OnMissingDeny, s.OnMissing)
	assert.Equal(t, "global", s.KeyID)
	cfg := s.OPAConfig()
	assert.Equal(t, map[string]any{"bearer": map[string]any{"token": "tok"}},
		cfg["services"].(map[string]any)["restcomm"].(map[string]any)["credentials"])
	assert.Equal(t, map[string]any{"min_delay_seconds": int64(60), "max_delay_seconds": int64(120)},
		cfg["bundles"].(map[string]any)["restcomm"].(map[string]any)["polling"])
	assert.Equal(t, map[string]any{"global": map[string]any{"algorithm": "HS256", "key": "secret"}}, cfg["keys"])
	d, src, err := s.downloader(nil)
	require.NoError(t, err)
	assert.NotNil(t, d)
	assert.True(t, src.Signing.SignatureRequired())

	_, err = Resolve(Settings{URL: "{nowhere}", AllowUnsigned: true}, func(s string) string { return s })
	assert.ErrorContains(t, err, "placeholder did not resolve")
	_, err = Resolve(Settings{URL: "https://b.example.com/", VerificationKey: filepath.Join(t.TempDir(), "missing")},
		func(s string) string { return s })
	assert.ErrorContains(t, err, "verification_key")
	_, err = Resolve(Settings{URL: "https://b.example.com/", VerificationKey: keyFile(t, "")},
		func(s string) string { return s })
	assert.ErrorContains(t, err, "empty")
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		s    Settings
		want string
	}{
		{Settings{AllowUnsigned: true}, "url is required"},
		{Settings{URL: "ftp://b.example.com", AllowUnsigned: true}, "http or https"},
		{Settings{URL: "https://u:p@b.example.com", AllowUnsigned: true}, "no credentials"},
		{Settings{URL: "https://b.example.com", Resource: "a/../b", AllowUnsigned: true}, "dot segments"},
		{Settings{URL: "https://b.example.com"}, "verification_key is required"},
		{Settings{URL: "https://b.example.com", AllowUnsigned: true, MinDelay: 2 * time.Second, MaxDelay: time.Second}, "shorter"},
		{Settings{URL: "https://b.example.com", AllowUnsigned: true, MaxSize: 1}, "max_size"},
		{Settings{URL: "https://b.example.com", AllowUnsigned: true, OnMissing: "allow"}, "on_missing"},
		{Settings{URL: "{env.URL}", AllowUnsigned: true}, ""},
	} {
		err := tc.s.Check()
		if tc.want == "" {
			assert.NoError(t, err)
		} else {
			assert.ErrorContains(t, err, tc.want)
		}
	}
}

// fakeEngine takes or refuses what it is given.
type fakeEngine struct {
	policy *policy.Policy
	refuse error
	swaps  int
}

func (e *fakeEngine) Swap(ctx context.Context, fsys fs.FS, label string) (bool, error) {
	e.swaps++
	return true, e.refuse
}

func (e *fakeEngine) Policy() *policy.Policy { return e.policy }

// The source records each download's outcome; a bundle OPA would not read
// is refused and reported once while its reason repeats; one the engine
// takes is activated, one it refuses is counted refused.
func TestSourceUpdates(t *testing.T) {
	s, err := Resolve(Settings{URL: "https://b.example.com/", AllowUnsigned: true}, func(s string) string { return s })
	require.NoError(t, err)
	e := &fakeEngine{}
	var reported []error
	src, err := NewSource(s, policy.Overlay, e, nil, func(err error) { reported = append(reported, err) })
	require.NoError(t, err)
	ctx := context.Background()

	require.NoError(t, src.update(ctx, download.Update{Error: errors.New("request failed: no route")}))
	st, counts := src.Snapshot()
	require.NotNil(t, st.LastDownload)
	assert.Equal(t, 0, st.LastDownload.Status)
	assert.Empty(t, counts)
	require.NoError(t, src.update(ctx, download.Update{Error: download.HTTPError{StatusCode: http.StatusNotFound}}))
	st, _ = src.Snapshot()
	assert.Equal(t, http.StatusNotFound, st.LastDownload.Status)

	for range 2 {
		require.NoError(t, src.update(ctx, download.Update{Error: errors.New("bundle signature verification failed")}))
	}
	st, counts = src.Snapshot()
	assert.Equal(t, int64(1), counts[Refused])
	assert.Len(t, reported, 1)
	require.NotNil(t, st.LastRefusal)
	assert.Contains(t, st.LastRefusal.Reason, "signature")

	b := &bundle.Bundle{Manifest: bundle.Manifest{Revision: "r2"}, Modules: []bundle.ModuleFile{
		{Path: "/team/x.rego", Raw: []byte("package team.x\n")}}}
	e.refuse = errors.New("the bundle's tests failed")
	require.NoError(t, src.update(ctx, download.Update{Bundle: b, ETag: "e2"}))
	st, counts = src.Snapshot()
	assert.Equal(t, int64(2), counts[Refused])
	assert.Equal(t, "r2", st.LastRefusal.Revision)
	assert.Equal(t, "e2", st.LastRefusal.ETag)
	assert.Len(t, reported, 1, "the engine reports its own refusals")

	p, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	e.refuse, e.policy = nil, p
	require.NoError(t, src.update(ctx, download.Update{Bundle: b, ETag: "e3"}))
	require.NoError(t, src.update(ctx, download.Update{ETag: "e3"}))
	st, counts = src.Snapshot()
	assert.Equal(t, int64(1), counts[Activated])
	assert.Equal(t, p.Revision(), st.ActiveRevision)
	require.NotNil(t, st.LastActivation)
	assert.Equal(t, "e3", st.LastActivation.ETag)
	assert.Equal(t, http.StatusNotModified, st.LastDownload.Status)
	assert.Equal(t, 2, e.swaps)

	assert.Equal(t, strings.Repeat("x", maxReason)+"…", ClipReason(strings.Repeat("x", maxReason+1)))
}

// A started source polls its service, is live and exported by the
// collector until stopped.
func TestSourceLifecycle(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	s, err := Resolve(Settings{Name: "lifecycle", URL: srv.URL, AllowUnsigned: true,
		MinDelay: time.Second, MaxDelay: time.Second}, func(s string) string { return s })
	require.NoError(t, err)
	src, err := NewSource(s, policy.Overlay, &fakeEngine{}, nil, nil)
	require.NoError(t, err)
	src.Start()
	t.Cleanup(src.Stop)
	assert.Contains(t, Live(), src)
	require.Eventually(t, func() bool {
		st, _ := src.Snapshot()
		return st.LastDownload != nil && st.LastDownload.Status == http.StatusNotFound
	}, 30*time.Second, 10*time.Millisecond)
	src.CountPendingRefusal()

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(Collector{}))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP restcomm_gateway_policy_bundle_last_download_status The HTTP status of the last request for the policy bundle: 200 a bundle, 304 unchanged; 0 when no answer came.
# TYPE restcomm_gateway_policy_bundle_last_download_status gauge
restcomm_gateway_policy_bundle_last_download_status{bundle="lifecycle"} 404
# HELP restcomm_gateway_policy_bundle_pending_refusals_total Requests answered 503 because no policy bundle was activated yet (on_missing deny).
# TYPE restcomm_gateway_policy_bundle_pending_refusals_total counter
restcomm_gateway_policy_bundle_pending_refusals_total{bundle="lifecycle"} 1
`), "restcomm_gateway_policy_bundle_last_download_status", "restcomm_gateway_policy_bundle_pending_refusals_total"))

	src.Stop()
	src.Stop()
	assert.False(t, slices.Contains(Live(), src))
}
