package policy_test

import (
	"context"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

// orgBlockBundle is the org-block example as an OPA bundle read by OPA's
// own loader: its modules, its tests and its data.
func orgBlockBundle(t *testing.T, revision string) *bundle.Bundle {
	t.Helper()
	b, err := bundle.NewCustomReader(bundle.NewDirectoryLoader("examples/org-block")).Read()
	require.NoError(t, err)
	b.Manifest.Revision = revision
	return &b
}

func TestBundleFSHoldsModulesAndData(t *testing.T) {
	fsys, label, err := policy.BundleFS(orgBlockBundle(t, "v1 2026\x00"))
	require.NoError(t, err)
	assert.Equal(t, "v1_2026", label)
	data, err := os.ReadFile("examples/org-block/org_block.rego")
	require.NoError(t, err)
	got, err := fsReadFile(fsys, "org_block.rego")
	require.NoError(t, err)
	assert.Equal(t, string(data), got)
	got, err = fsReadFile(fsys, "data.json")
	require.NoError(t, err)
	assert.JSONEq(t, `{"restcomm":{"blocked":{"organizations":["OR8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"]}}}`, got)
	p, err := policy.CompileOverlay(context.Background(), fsys)
	require.NoError(t, err, "the bundle compiles as the directory does")
	assert.Positive(t, p.Tests())

	long := strings.Repeat("r", 200)
	_, label, err = policy.BundleFS(orgBlockBundle(t, long))
	require.NoError(t, err)
	assert.Len(t, label, policy.MaxBundleLabel)

	b := orgBlockBundle(t, "")
	b.Modules[0].RelativePath = "/../x.rego"
	_, _, err = policy.BundleFS(b)
	assert.ErrorContains(t, err, "not a relative path")
	b = orgBlockBundle(t, "")
	b.WasmModules = []bundle.WasmModuleFile{{Path: "/policy.wasm"}}
	_, _, err = policy.BundleFS(b)
	assert.ErrorContains(t, err, "Wasm")
	_, _, err = policy.BundleFS(nil)
	assert.Error(t, err)
}

// A pending engine has no policy until Swap gives it one that passes; a
// refused content keeps the last good in force, and is refused once.
func TestPendingEngineSwap(t *testing.T) {
	ctx := context.Background()
	var r reloads
	e, err := policy.NewPendingEngine(nil, policy.EngineOptions{OnReload: r.report})
	require.NoError(t, err)
	assert.Nil(t, e.Policy())
	require.NoError(t, e.Reload(ctx), "nothing to reload yet")

	good, _, err := policy.BundleFS(orgBlockBundle(t, "rev-1"))
	require.NoError(t, err)
	changed, err := e.Swap(ctx, good, "rev-1")
	require.NoError(t, err)
	assert.True(t, changed)
	require.NotNil(t, e.Policy())
	rev := e.Policy().Revision()
	assert.True(t, strings.HasPrefix(rev, "rev-1@"), rev)

	b := orgBlockBundle(t, "rev-2")
	for i, m := range b.Modules {
		if strings.HasSuffix(m.RelativePath, "_test.rego") {
			b.Modules[i].Raw = []byte(strings.Replace(string(m.Raw), "d.status == 401", "d.status == 402", 1))
		}
	}
	failing, _, err := policy.BundleFS(b)
	require.NoError(t, err)
	changed, err = e.Swap(ctx, failing, "rev-2")
	assert.True(t, changed)
	assert.ErrorContains(t, err, "policy tests failed")
	assert.Equal(t, rev, e.Policy().Revision(), "the last good stays in force")
	changed, err = e.Swap(ctx, failing, "rev-2")
	assert.False(t, changed, "a refused content is refused once")
	assert.Error(t, err)
	loaded, refused := r.counts()
	assert.Equal(t, 1, loaded)
	assert.Equal(t, 1, refused)

	// the built-in as the policy before any content
	builtin, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	e, err = policy.NewPendingEngine(builtin, policy.EngineOptions{})
	require.NoError(t, err)
	assert.Equal(t, builtin.Revision(), e.Policy().Revision())
	_, err = e.Swap(ctx, failing, "rev-2")
	assert.Error(t, err)
	assert.Equal(t, builtin.Revision(), e.Policy().Revision())
}

func fsReadFile(fsys fs.FS, name string) (string, error) {
	b, err := fs.ReadFile(fsys, name)
	return string(b), err
}
