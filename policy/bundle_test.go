package policy_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

var v1 = ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}

func writeBundle(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "builtin")
	written, err := policy.WriteBundle(dir, policy.BundleOptions{Revision: "1.2.3+abc"})
	require.NoError(t, err)
	assert.Contains(t, written, "restcomm/authz.rego")
	assert.Contains(t, written, "restcomm/roles/data.json")
	assert.Equal(t, ".manifest", written[len(written)-1])
	return dir
}

// The bundle is the built-in policy as OPA's bundle reader reads it: every
// module and data document, and a manifest whose roots are the built-in
// policy's packages and data, outside of which an overlay lies.
func TestWriteBundleIsAnOPABundle(t *testing.T) {
	dir := writeBundle(t)
	b, err := bundle.NewCustomReader(bundle.NewDirectoryLoader(dir)).WithRegoVersion(ast.RegoV1).Read()
	require.NoError(t, err)
	assert.Equal(t, "1.2.3+abc", b.Manifest.Revision)
	require.NotNil(t, b.Manifest.Roots)
	assert.Equal(t, []string{
		"restcomm/authz", "restcomm/authz_test", "restcomm/extensions_test", "restcomm/permissions",
		"restcomm/permissions_test", "restcomm/roles", "restcomm/stages", "restcomm/throttle",
	}, *b.Manifest.Roots)
	require.NotNil(t, b.Manifest.RegoVersion)
	assert.Equal(t, 1, *b.Manifest.RegoVersion)
	assert.Len(t, b.Modules, 6)
	for _, m := range b.Modules {
		want, err := os.ReadFile(filepath.Join("default", strings.TrimPrefix(m.Path, "/")))
		require.NoError(t, err, m.Path)
		assert.Equal(t, string(want), string(m.Raw), m.Path)
	}
	roles, ok := b.Data["restcomm"].(map[string]any)["roles"].(map[string]any)
	require.True(t, ok, "data.restcomm.roles is placed by its directory")
	assert.Contains(t, roles, "Developer")

	// The loader's bundle mode reads the same; the default revision is
	// the built-in policy's.
	def := filepath.Join(t.TempDir(), "def")
	_, err = policy.WriteBundle(def, policy.BundleOptions{})
	require.NoError(t, err)
	lb, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).AsBundle(def)
	require.NoError(t, err)
	rev, err := policy.BuiltinRevision()
	require.NoError(t, err)
	assert.Equal(t, rev, lb.Manifest.Revision)
	assert.Len(t, lb.Modules, 6)

	// The starter overlay's packages and data lie outside the roots.
	starter, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).All([]string{"starter"})
	require.NoError(t, err)
	for _, m := range starter.ParsedModules() {
		p := strings.Join(strings.Split(strings.TrimPrefix(m.Package.Path.String(), "data."), "."), "/")
		assert.False(t, bundle.RootPathsContain(*b.Manifest.Roots, p), p)
	}
	assert.False(t, bundle.RootPathsContain(*b.Manifest.Roots, "restcomm/team"))
}

// The bundle and the starter overlay compile together in strict mode, as
// `opa check --strict builtin overlay` does.
func TestWriteBundleWithOverlayIsStrict(t *testing.T) {
	dir := writeBundle(t)
	b, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).WithProcessAnnotation(true).AsBundle(dir)
	require.NoError(t, err)
	modules := maps.Clone(b.ParsedModules("builtin"))
	require.Len(t, modules, 6)
	maps.Copy(modules, loadModules(t, "starter"))
	c := strictCompiler()
	c.Compile(modules)
	assert.False(t, c.Failed(), "%v", c.Errors)
}

// OPA's tester runs the bundle's own tests, all of which pass: as many as
// the gateway runs of the built-in policy. With the starter overlay beside
// it (`opa test builtin overlay`), the overlay's pass too.
func TestWriteBundleTestsPassWithOPAsTester(t *testing.T) {
	dir := writeBundle(t)
	def, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)

	run := func(t *testing.T, modules map[string]*ast.Module, bundles map[string]*bundle.Bundle, store storage.Store) []*tester.Result {
		t.Helper()
		txn, err := store.NewTransaction(ctx, storage.WriteParams)
		require.NoError(t, err)
		defer store.Abort(ctx, txn)
		ch, err := tester.NewRunner().
			SetCompiler(ast.NewCompiler().WithCapabilities(policy.Capabilities()).WithEnablePrintStatements(true)).
			SetStore(store).SetModules(modules).SetBundles(bundles).
			RunTests(ctx, txn)
		require.NoError(t, err)
		var out []*tester.Result
		for r := range ch {
			assert.True(t, r.Pass(), "%s", r)
			out = append(out, r)
		}
		return out
	}

	bundles, store, err := tester.LoadBundlesWithParserOptions([]string{dir}, nil, v1)
	require.NoError(t, err)
	results := run(t, nil, bundles, store)
	assert.Len(t, results, def.Tests())

	modules, store, err := tester.LoadWithParserOptions([]string{dir, "starter"}, nil, v1)
	require.NoError(t, err)
	results = run(t, modules, nil, store)
	assert.Greater(t, len(results), def.Tests())
	assert.True(t, slices.ContainsFunc(results, func(r *tester.Result) bool { return r.Package == "data.restcomm.team_test" }))
}

func TestWriteBundleRefusals(t *testing.T) {
	t.Run("a directory that is not empty", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644))
		_, err := policy.WriteBundle(dir, policy.BundleOptions{})
		require.ErrorContains(t, err, "is not empty")
		assert.ErrorContains(t, err, "--force")
		_, err = os.Stat(filepath.Join(dir, ".manifest"))
		assert.ErrorIs(t, err, os.ErrNotExist, "nothing written")

		_, err = policy.WriteBundle(dir, policy.BundleOptions{Force: true})
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dir, "notes.txt"))
		require.NoError(t, err)
		assert.Equal(t, "mine", string(b), "other files are left")

		// --force writes over an earlier bundle.
		require.NoError(t, os.WriteFile(filepath.Join(dir, "restcomm", "authz.rego"), []byte("stale"), 0o644))
		_, err = policy.WriteBundle(dir, policy.BundleOptions{Force: true, Revision: "2"})
		require.NoError(t, err)
		b, err = os.ReadFile(filepath.Join(dir, "restcomm", "authz.rego"))
		require.NoError(t, err)
		assert.Contains(t, string(b), "package restcomm.authz")
		var m map[string]any
		b, err = os.ReadFile(filepath.Join(dir, ".manifest"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &m))
		assert.Equal(t, "2", m["revision"])
	})

	t.Run("a directory link that leads out", func(t *testing.T) {
		outside := t.TempDir()
		dir := t.TempDir()
		require.NoError(t, os.Symlink(outside, filepath.Join(dir, "restcomm")))
		_, err := policy.WriteBundle(dir, policy.BundleOptions{Force: true})
		require.Error(t, err)
		entries, err := os.ReadDir(outside)
		require.NoError(t, err)
		assert.Empty(t, entries, "nothing written out of the directory")
	})

	t.Run("a file link that leads out", func(t *testing.T) {
		outside := filepath.Join(t.TempDir(), "victim")
		require.NoError(t, os.WriteFile(outside, []byte("keep"), 0o644))
		dir := t.TempDir()
		require.NoError(t, os.Symlink(outside, filepath.Join(dir, ".manifest")))
		_, err := policy.WriteBundle(dir, policy.BundleOptions{Force: true})
		require.NoError(t, err)
		b, err := os.ReadFile(outside)
		require.NoError(t, err)
		assert.Equal(t, "keep", string(b), "the link is replaced, not written through")
		fi, err := os.Lstat(filepath.Join(dir, ".manifest"))
		require.NoError(t, err)
		assert.True(t, fi.Mode().IsRegular())
	})

	t.Run("not a directory", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(f, nil, 0o644))
		_, err := policy.WriteBundle(f, policy.BundleOptions{Force: true})
		assert.Error(t, err)
	})
}
