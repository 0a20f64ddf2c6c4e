package policy_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

// The built-in policy names its stages from the one table
// (restcomm/stages/data.json): no refusal of its rules gives a number.
func TestBuiltinRefusalsNameTheirStages(t *testing.T) {
	refusals := map[string]int{"deny": 3, "forbidden_at": 0, "not_found_at": 0} // the stage argument
	n := 0
	require.NoError(t, fs.WalkDir(policy.Default(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		b, err := fs.ReadFile(policy.Default(), p)
		require.NoError(t, err)
		m, err := ast.ParseModuleWithOpts(p, string(b), ast.ParserOptions{RegoVersion: ast.RegoV1})
		require.NoError(t, err)
		ast.WalkTerms(m, func(term *ast.Term) bool {
			switch v := term.Value.(type) {
			case ast.Call:
				if arg, ok := refusals[v[0].String()]; ok && len(v) > arg+1 {
					n++
					_, literal := v[arg+1].Value.(ast.Number)
					assert.False(t, literal, "%s: %s gives its stage as a number", term.Location, term)
				}
			case ast.Object:
				if s := v.Get(ast.StringTerm("stage")); s != nil {
					n++
					_, literal := s.Value.(ast.Number)
					inDefault := strings.Contains(string(term.Location.Text), `"body": "page", "stage": 0}`) && s.Value.Compare(ast.Number("0")) == 0
					assert.True(t, !literal || inDefault, "%s: %s gives its stage as a number", term.Location, term)
				}
			}
			return false
		})
		return nil
	}))
	assert.Greater(t, n, 25)
}

func TestStages(t *testing.T) {
	stages := policy.Stages()
	assert.Equal(t, 0, stages["security_filter"])
	assert.Equal(t, 10, policy.Stage("permission"))
	stages["permission"] = 99 // a copy
	assert.Equal(t, 10, policy.Stage("permission"))
	assert.Panics(t, func() { policy.Stage("nowhere") })

	// An overlay refuses at a stage of the table, by name, and may not
	// change the table.
	_, err := policy.CompileOverlay(ctx, overlay(map[string]string{"x.rego": "package restcomm.overlay.x\n\ndeny_operation contains {\"status\": 403, \"stage\": \"nowhere\"} if true\n"}))
	assert.ErrorContains(t, err, `no stage is named "nowhere"`)
	_, err = policy.CompileOverlay(ctx, overlay(map[string]string{"restcomm/stages/data.json": `{"permission": 0}`}))
	assert.ErrorContains(t, err, "restcomm/stages: the stages are the built-in policy's and the gateway's")
	p, err := policy.CompileOverlay(ctx, overlay(map[string]string{"x.rego": "package restcomm.overlay.x\n\ndeny_operation contains {\"status\": 409, \"stage\": \"hierarchy\"} if true\n"}))
	require.NoError(t, err)
	dev := developer()
	d, err := p.Decide(ctx, &policy.Input{Operation: "accounts:read", Path: "Accounts.json/ACdev", Caller: dev, Target: dev})
	require.NoError(t, err)
	assert.Equal(t, policy.Decision{Status: 409, Body: "page", Stage: 30}, d)
}
