package policy_test

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

var updateExamples = flag.Bool("update-examples", false,
	"rewrite the worked examples of policy/README.md from policy/default, keeping each one's own block and files")

// A worked example of policy/README.md: a complete policy directory that
// is the default policy plus one documented edit, so that it can be
// deployed and tested as it is.
type example struct {
	name string
	// edits replace text of the default's files, each old text exactly
	// once: the example's changes to the rules the default already has.
	edits map[string][][2]string
	// own are the example's files that the default does not have.
	own []string
}

// The edit's new rules are a block at the end of restcomm/authz.rego,
// between "# BEGIN <name>" and "# END <name>" lines.
const blockFile = "restcomm/authz.rego"

var examples = []example{
	{
		name: "auditor",
		edits: map[string][][2]string{
			"restcomm/authz.rego": {
				{"} else := operation\n", "} else := read_only(operation)\n"},
			},
			"restcomm/roles/data.json": {
				{"{\n  \"Developer\": [", "{\n  \"Auditor\": [\"RestComm:Read:Accounts\"],\n  \"Developer\": ["},
			},
		},
		own: []string{"README.md", "restcomm/auditor_test.rego"},
	},
	{
		name: "networks",
		edits: map[string][][2]string{
			"restcomm/authz.rego": {
				{
					"super_admin if {\n\tcount(input.caller.ancestors) == 0\n\tinput.caller.status == \"active\"\n}\n",
					"super_admin if {\n\tcount(input.caller.ancestors) == 0\n\tinput.caller.status == \"active\"\n\tfrom_admin_network\n}\n",
				},
				{
					"in_super_admin_role if input.caller.role == \"SuperAdmin\"\n",
					"in_super_admin_role if {\n\tinput.caller.role == \"SuperAdmin\"\n\tfrom_admin_network\n}\n",
				},
			},
			// The default's tests make their requests from an admin network.
			"restcomm/authz_test.rego": {
				{
					`req(op, path, caller, target) := {"operation": op, "method": "GET", "path": path, "caller": caller, "target": target, "request": {}}`,
					`req(op, path, caller, target) := {"operation": op, "method": "GET", "path": path, "client_ip": "10.1.2.3", "caller": caller, "target": target, "request": {}}`,
				},
			},
		},
		own: []string{"README.md", "restcomm/networks_test.rego", "restcomm/networks/data.json"},
	},
	{
		name: "org-block",
		edits: map[string][][2]string{
			"restcomm/authz.rego": {
				{
					"} else := not_active if {\n",
					"} else := organization_blocked if {\n\tinput.caller.organization_sid in data.restcomm.blocked.organizations\n} else := not_active if {\n",
				},
			},
		},
		own: []string{"README.md", "restcomm/org_block_test.rego", "restcomm/blocked/data.json"},
	},
	{
		name: "own-subtree",
		edits: map[string][][2]string{
			"restcomm/authz.rego": {
				{
					"operation := allowed if input.operation == \"proxy\"\n",
					"operation := own_subtree if input.operation == \"proxy\"\n",
				},
			},
		},
		own: []string{"README.md", "restcomm/own_subtree_test.rego"},
	},
}

func exampleDir(name string) string { return filepath.Join("examples", name) }

// want is the example's content built from the default policy: its edits,
// and its block appended to restcomm/authz.rego.
func (ex example) want(t *testing.T, block string) map[string]string {
	t.Helper()
	out := map[string]string{}
	def := policy.Default()
	require.NoError(t, fs.WalkDir(def, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(def, p)
		if err != nil {
			return err
		}
		s := string(b)
		for _, e := range ex.edits[p] {
			require.Equal(t, 1, strings.Count(s, e[0]),
				"%s: policy/default's %s no longer has %q once: update the example's edit in examples_test.go and its README", ex.name, p, e[0])
			s = strings.Replace(s, e[0], e[1], 1)
		}
		if p == blockFile {
			s = strings.TrimRight(s, "\n") + "\n\n" + block
		}
		out[p] = s
		return nil
	}))
	for p := range ex.edits {
		require.Contains(t, out, p, "%s edits a file the default does not have", ex.name)
	}
	return out
}

// block is the example's own rules: the BEGIN/END block of its authz.rego.
func (ex example) block(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(exampleDir(ex.name), blockFile))
	require.NoError(t, err)
	begin, end := "# BEGIN "+ex.name+"\n", "# END "+ex.name+"\n"
	i, j := strings.Index(string(b), begin), strings.Index(string(b), end)
	require.True(t, i >= 0 && j > i, "%s: %s lost its %q … %q block", ex.name, blockFile, begin, end)
	return string(b[i : j+len(end)])
}

// Each example is exactly the default policy plus its edit: its other
// files are the default's, byte for byte, tests included, so the rest of
// RestComm's behaviour is still proven by the default's tests. With
// -update-examples the examples are rebuilt from the default.
func TestExamplesAreTheDefaultPlusTheirEdit(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			want := ex.want(t, ex.block(t))
			dir := exampleDir(ex.name)
			own := map[string]bool{}
			for _, p := range ex.own {
				own[p] = true
				_, err := os.Stat(filepath.Join(dir, p))
				require.NoError(t, err, "%s: own file", ex.name)
			}
			got := map[string]string{}
			require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, err := filepath.Rel(dir, p)
				if err != nil {
					return err
				}
				rel = filepath.ToSlash(rel)
				if own[rel] {
					return nil
				}
				b, err := os.ReadFile(p)
				got[rel] = string(b)
				return err
			}))
			if *updateExamples {
				for rel := range got {
					if _, ok := want[rel]; !ok {
						require.NoError(t, os.Remove(filepath.Join(dir, rel)))
					}
				}
				for rel, s := range want {
					p := filepath.Join(dir, rel)
					require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
					require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
				}
				return
			}
			hint := "policy/examples/" + ex.name + " is out of step with policy/default; run: " +
				"go test ./policy -run TestExamplesAreTheDefaultPlusTheirEdit -update-examples"
			assert.Equal(t, sortedKeys(want), sortedKeys(got), hint)
			for rel, s := range want {
				if g, ok := got[rel]; ok {
					assert.Equal(t, s, g, "%s: %s", rel, hint)
				}
			}
		})
	}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Each example compiles, and compiling runs its tests: the default's and
// its own, which all pass.
func TestExamplesCompileWithTheirTests(t *testing.T) {
	def, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			p, err := policy.Compile(ctx, os.DirFS(exampleDir(ex.name)))
			require.NoError(t, err)
			pkg := "data.restcomm." + strings.ReplaceAll(ex.name, "-", "_") + "_test."
			own := 0
			for _, r := range p.TestResults() {
				assert.True(t, r.Passed, r.Name)
				if strings.HasPrefix(r.Name, pkg) {
					own++
				}
			}
			assert.GreaterOrEqual(t, own, 4, "%s has its own tests", ex.name)
			assert.Equal(t, def.Tests()+own, p.Tests())
		})
	}
}
