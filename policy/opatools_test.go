package policy_test

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

// regoFiles are the .rego files of the policy tree: the built-in policy,
// the starter overlay and the worked examples.
func regoFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	require.NoError(t, filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		files = append(files, p)
		return nil
	}))
	require.GreaterOrEqual(t, len(files), 18, "the built-in policy, the starter and the examples")
	return files
}

// Every Rego file of the repository is as `opa fmt` writes it: a team
// that runs `opa fmt --fail` on a copy finds nothing to change. A file
// that is not gets a diff of what the formatter would write.
func TestRegoIsOPAFormatted(t *testing.T) {
	for _, f := range regoFiles(t) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		formatted, err := format.Source(f, b)
		require.NoError(t, err, f)
		assert.Equal(t, string(formatted), string(b), "%s is not as opa fmt writes it (- opa fmt, + the file)", f)
	}
}

// strictCompiler compiles as `opa check --strict` does, with the
// gateway's capabilities (no http.send, …).
func strictCompiler() *ast.Compiler {
	return ast.NewCompiler().
		WithCapabilities(policy.Capabilities()).
		WithEnablePrintStatements(true).
		WithUseTypeCheckAnnotations(true).
		WithStrict(true)
}

// loadModules parses every .rego file below dir, named by its path.
func loadModules(t *testing.T, dir string) map[string]*ast.Module {
	t.Helper()
	res, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).WithProcessAnnotation(true).
		Filtered([]string{dir}, func(_ string, info fs.FileInfo, _ int) bool {
			return !info.IsDir() && !strings.HasSuffix(info.Name(), ".rego")
		})
	require.NoError(t, err)
	require.NotEmpty(t, res.Modules, dir)
	return res.ParsedModules()
}

// The built-in policy, and each overlay of the repository together with
// the built-in policy it overlays, compile in OPA's strict mode (unused
// variables, imports and arguments, shadowed or deprecated built-ins …):
// what `opa check --strict builtin overlay` checks.
func TestRegoIsStrict(t *testing.T) {
	builtin := loadModules(t, "default")
	c := strictCompiler()
	c.Compile(builtin)
	require.False(t, c.Failed(), "the built-in policy, in strict mode: %v", c.Errors)

	overlays := []string{"starter"}
	for _, name := range examples {
		overlays = append(overlays, exampleDir(name))
	}
	for _, dir := range overlays {
		t.Run(dir, func(t *testing.T) {
			modules := maps.Clone(builtin)
			own := loadModules(t, dir)
			for name := range own {
				require.NotContains(t, modules, name)
			}
			maps.Copy(modules, own)
			c := strictCompiler()
			c.Compile(modules)
			assert.False(t, c.Failed(), "%s with the built-in policy, in strict mode: %v", dir, c.Errors)
		})
	}

	// The check can fail: an unused variable is an error in strict mode.
	modules := maps.Clone(builtin)
	modules["unused.rego"] = ast.MustParseModuleWithOpts("package restcomm.overlay.unused\n\ndeny contains {\"status\": 403} if {\n\tx := 1\n\tinput.caller\n}\n",
		ast.ParserOptions{RegoVersion: ast.RegoV1})
	c = strictCompiler()
	c.Compile(modules)
	require.True(t, c.Failed())
	assert.Contains(t, c.Errors.Error(), "assigned var x unused")
	assert.True(t, slices.ContainsFunc(c.Errors, func(e *ast.Error) bool { return e.Location != nil }))
}
