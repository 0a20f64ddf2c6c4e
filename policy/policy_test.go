package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
)

var ctx = context.Background()

// The shipped policy's own *_test.rego tests, as `opa test` runs them.
func TestShippedRegoTests(t *testing.T) {
	results, err := policy.Test(ctx, policy.Default())
	require.NoError(t, err)
	require.NotEmpty(t, results)
	for _, r := range results {
		assert.True(t, r.Passed, "%s %s", r.Name, r.Err)
	}
}

func TestCompileShippedPolicy(t *testing.T) {
	p, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	assert.Len(t, p.Revision(), 12)
	assert.Positive(t, p.Tests())
}

func admin() *policy.Subject {
	return &policy.Subject{Sid: "ACae6e420f425248d6a26948c17a9e2acf", Role: "Administrator", Status: "active", OrganizationSid: "ORG0"}
}

func TestDecide(t *testing.T) {
	p, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	a := admin()
	child := &policy.Subject{Sid: "ACchild", Role: "Developer", Status: "active", OrganizationSid: "ORG0", Ancestors: []string{a.Sid}}

	d, err := p.Decide(ctx, &policy.Input{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/ACchild", Caller: a, Target: child})
	require.NoError(t, err)
	assert.Equal(t, policy.Decision{Allow: true}, d)

	d, err = p.Decide(ctx, &policy.Input{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/x"})
	require.NoError(t, err)
	assert.False(t, d.Allow)
	assert.Equal(t, 401, d.Status)
	assert.Equal(t, `Basic realm="Restcomm realm"`, d.Headers["WWW-Authenticate"])

	d, err = p.Decide(ctx, &policy.Input{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/" + a.Sid, Caller: child, Target: a})
	require.NoError(t, err)
	assert.Equal(t, policy.Decision{Status: 403, Body: "page", Stage: 30}, d) // hierarchy, after routing

	d, err = p.Decide(ctx, &policy.Input{Operation: "accounts:update", Path: "Accounts/ACchild", Caller: child, Target: child, Request: policy.Request{RoleChange: true}})
	require.NoError(t, err)
	assert.Equal(t, policy.Decision{Status: 403, Message: "Only Administrator allowed", Body: "page", Stage: 54}, d)
}

const minimalAuthz = `package restcomm.authz
decision := {"allow": input.operation == "ok"}
`

func TestCompileRefusesBrokenPolicies(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"syntax error": {"authz.rego": {Data: []byte("package restcomm.authz\ndecision := {")}},
		"failing test": {
			"authz.rego":      {Data: []byte(minimalAuthz)},
			"authz_test.rego": {Data: []byte("package restcomm.authz_test\nimport data.restcomm.authz.decision\ntest_x if decision.allow with input as {\"operation\": \"no\"}\n")},
		},
		"no decision":    {"other.rego": {Data: []byte("package other\nx := 1\n")}},
		"unsafe builtin": {"authz.rego": {Data: []byte("package restcomm.authz\ndecision := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1:1\"})\n")}},
		"bad data":       {"authz.rego": {Data: []byte(minimalAuthz)}, "data.json": {Data: []byte("{")}},
		"empty":          {},
	}
	for name, fsys := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := policy.Compile(ctx, fsys)
			assert.Error(t, err)
		})
	}
}

func TestDecisionsThatAreNotValidDeny(t *testing.T) {
	cases := map[string]string{
		"not an object":    `decision := true`,
		"allow not bool":   `decision := {"allow": "yes"}`,
		"hide not bool":    `decision := {"allow": true, "hide_auth_token": "yes"}`,
		"anonymous 1":      `decision := {"allow": true, "anonymous": 1}`,
		"status not 4xx":   `decision := {"allow": false, "status": 200}`,
		"unknown body":     `decision := {"allow": false, "status": 403, "body": "html"}`,
		"conflict":         "decision := {\"allow\": true} if input.operation\ndecision := {\"allow\": false} if input.caller",
		"a set":            `decision contains {"allow": true} if input.operation`,
		"evaluation error": `decision := {"allow": 1 / count([])}`,
		"undefined":        `decision := {"allow": true} if input.never`,
	}
	for name, rule := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := policy.Compile(ctx, fstest.MapFS{"authz.rego": {Data: []byte("package restcomm.authz\n" + rule + "\n")}})
			if err != nil {
				return // refused at compile time: also never allows
			}
			d, err := p.Decide(ctx, &policy.Input{Operation: "x", Caller: admin()})
			assert.Error(t, err)
			assert.Equal(t, policy.Deny, d)
		})
	}
}

type benchCase struct {
	name string
	in   policy.Input
}

func benchCases() []benchCase {
	a := admin()
	dev := &policy.Subject{Sid: "ACdev", Role: "Developer", Status: "active", OrganizationSid: "ORG0", Ancestors: []string{a.Sid}}
	return []benchCase{
		{"admin-reads-child", policy.Input{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/ACdev", Caller: a, Target: dev}},
		{"developer-reads-self", policy.Input{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/ACdev", Caller: dev, Target: dev}},
		{"developer-creates", policy.Input{Operation: "accounts:create", Method: "POST", Path: "Accounts.json", Caller: dev}},
		{"proxy", policy.Input{Operation: "proxy", Method: "GET", Path: "Accounts.json/ACdev/Calls.json", Caller: dev}},
	}
}

// BenchmarkDecide is one decision on the request path, as the handler asks
// for it: a request the policy has decided before is answered from its
// memory of recent decisions. proxy-new-path is a request never seen
// before (a new path each time): a full evaluation plus remembering it.
func BenchmarkDecide(b *testing.B) {
	p, err := policy.Compile(ctx, policy.Default())
	require.NoError(b, err)
	require.True(b, policy.Cached(p))
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				in := bc.in // a new Input per request, as the handler builds it
				d, err := p.Decide(ctx, &in)
				if err != nil || !d.Allow {
					b.Fatal(d, err)
				}
			}
		})
	}
	b.Run("proxy-new-path", func(b *testing.B) {
		b.ReportAllocs()
		in := benchCases()[3].in
		n := 0
		for b.Loop() {
			n++
			in.Path = "Accounts.json/ACdev/Calls/CA" + strconv.Itoa(n)
			d, err := p.Decide(ctx, &in)
			if err != nil || !d.Allow {
				b.Fatal(d, err)
			}
		}
	})
}

// BenchmarkDecideUncached is the evaluation of the policy itself.
func BenchmarkDecideUncached(b *testing.B) {
	p, err := policy.Compile(ctx, policy.Default())
	require.NoError(b, err)
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, err := policy.DecideUncached(ctx, p, &bc.in)
				if err != nil || !d.Allow {
					b.Fatal(d, err)
				}
			}
		})
	}
}

// Remembered decisions are the evaluated ones, for every input.
func TestCachedDecisionsAreEvaluatedDecisions(t *testing.T) {
	p, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	require.True(t, policy.Cached(p))
	a := admin()
	subjects := []*policy.Subject{
		nil, a,
		{Sid: "ACdev", Role: "Developer", Status: "active", OrganizationSid: "ORG0", Ancestors: []string{a.Sid}},
		{Sid: "ACsusp", Role: "Developer", Status: "suspended", OrganizationSid: "ORG0", Ancestors: []string{a.Sid}},
		{Sid: "ACuninit", Role: "Administrator", Status: "uninitialized", OrganizationSid: "ORG1"},
		{Sid: "ACguest", Role: "Guest", Status: "active", OrganizationSid: "ORG0"},
	}
	ops := []string{"proxy", "none", "accounts:read", "accounts:list", "accounts:create", "accounts:update",
		"accounts:migrate", "organizations:read", "organizations:list", "organizations:create", "bogus"}
	paths := []string{"Accounts.json/ACdev", "Organizations", "Logout", "Accounts/x/Recordings/RE1.wav"}
	n := 0
	for _, op := range ops {
		for _, caller := range subjects {
			for _, target := range subjects {
				for _, path := range paths {
					for _, req := range []policy.Request{{}, {RoleChange: true, OrganizationSid: "ORG1", OrganizationFilter: true},
						{RoleChange: true, Role: role("SuperAdmin")}, {Role: role("Developer")}} {
						in := policy.Input{Operation: op, Method: "GET", Path: path, Caller: caller, Target: target, Request: req, OrganizationExists: n%2 == 0}
						want, wantErr := policy.DecideUncached(ctx, p, &in)
						for range 2 { // the first answer is evaluated, the second remembered
							got, err := p.Decide(ctx, &in)
							require.Equal(t, wantErr, err)
							require.Equal(t, want, got, "%+v", in)
						}
						n++
					}
				}
			}
		}
	}
}

func TestPoliciesThatReadTheClockAreNotCached(t *testing.T) {
	for rule, cached := range map[string]bool{
		`decision := {"allow": time.now_ns() > 0}`:                             false,
		`decision := {"allow": count([x | x := rand.intn("a", 10)]) > 0}`:      false,
		`decision := {"allow": io.jwt.decode_verify("x", {"secret": "s"})[0]}`: false,
		`decision := {"allow": startswith(input.path, "A")}`:                   true,
	} {
		p, err := policy.Compile(ctx, fstest.MapFS{"authz.rego": {Data: []byte("package restcomm.authz\n" + rule + "\n")}})
		require.NoError(t, err, rule)
		assert.Equal(t, cached, policy.Cached(p), rule)
	}
}

func TestWriteDefault(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, policy.WriteDefault(dir))
	p, err := policy.Compile(ctx, os.DirFS(dir))
	require.NoError(t, err)
	shipped, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	assert.Equal(t, shipped.Revision(), p.Revision(), "the copy is the shipped policy")
	// never overwrites
	require.NoError(t, os.WriteFile(filepath.Join(dir, "restcomm", "authz.rego"), []byte("edited"), 0o644))
	require.Error(t, policy.WriteDefault(dir))
	b, err := os.ReadFile(filepath.Join(dir, "restcomm", "authz.rego"))
	require.NoError(t, err)
	assert.Equal(t, "edited", string(b))
}
