package policy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

// The worked examples of policy/README.md: each an overlay a team copies
// as it is, one rule file, its tests and its data.
var examples = []string{"auditor", "networks", "org-block", "own-subtree", "org-lookup"}

func exampleDir(name string) string { return filepath.Join("examples", name) }

// Each example compiles as an overlay of the built-in policy, and
// compiling runs the tests: the built-in policy's and its own, which all
// pass on the two together.
func TestExamplesCompileWithTheirTests(t *testing.T) {
	def, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			p, err := policy.CompileOverlay(ctx, os.DirFS(exampleDir(name)))
			require.NoError(t, err)
			pkg := "data.restcomm." + strings.ReplaceAll(name, "-", "_") + "_test."
			own := 0
			for _, r := range p.TestResults() {
				assert.True(t, r.Passed, r.Name)
				if strings.HasPrefix(r.Name, pkg) {
					own++
				}
			}
			assert.GreaterOrEqual(t, own, 4, "%s has its own tests", name)
			assert.Equal(t, def.Tests()+own, p.Tests())
		})
	}
}

// An example is small: one rule file and its tests, under 80 lines of Rego
// together, formatted as `opa fmt` does, in a package below
// restcomm.overlay.
func TestExamplesAreSmallOverlays(t *testing.T) {
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(exampleDir(name), "*.rego"))
			require.NoError(t, err)
			var rules, tests int
			lines := 0
			for _, f := range files {
				b, err := os.ReadFile(f)
				require.NoError(t, err)
				lines += bytes.Count(b, []byte("\n"))
				formatted, err := format.SourceWithOpts(f, b, format.Opts{RegoVersion: ast.RegoV1})
				require.NoError(t, err)
				assert.Equal(t, string(formatted), string(b), "%s is formatted as opa fmt does", f)
				if strings.HasSuffix(f, "_test.rego") {
					tests++
					continue
				}
				rules++
				m, err := ast.ParseModuleWithOpts(f, string(b), ast.ParserOptions{RegoVersion: ast.RegoV1})
				require.NoError(t, err)
				assert.True(t, strings.HasPrefix(m.Package.Path.String(), "data.restcomm.overlay."), "%s: %s", f, m.Package)
			}
			assert.Equal(t, 1, rules, "one rule file")
			assert.Equal(t, 1, tests, "one test file")
			assert.Less(t, lines, 80, "lines of Rego, tests included")
			t.Logf("%s: %d lines of Rego", name, lines)
		})
	}
}
