package policy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/policy"
)

// orgLookupOverlay is what a team wrote to let Developers look up the
// accounts of their organization, with the one reach boolean of earlier
// releases: it also let a Developer set the top-level administrator's
// password, and log in as the Super Admin.
const orgLookupOverlay = `package restcomm.overlay.lookup

may_operate_on_target if {
	input.caller.role == "Developer"
	input.target.organization_sid == input.caller.organization_sid
}
`

func role(r string) *string { return &r }

// Read reach (may_read_target, and may_operate_on_target, which now means
// read reach) reads, without the AuthToken, and never modifies; modify
// reach (may_modify_target) never covers an account above the caller, which
// only may_modify_above reaches.
func TestOverlayReachIsReadOrModify(t *testing.T) {
	a, dev := admin(), developer()
	peer := &policy.Subject{Sid: "ACpeer", Role: "Developer", Status: "active", OrganizationSid: "ORG0", Ancestors: []string{a.Sid}}
	read := func(caller, target *policy.Subject) *policy.Input {
		return &policy.Input{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/" + target.Sid, Caller: caller, Target: target}
	}
	update := func(caller, target *policy.Subject) *policy.Input {
		return &policy.Input{Operation: "accounts:update", Method: "PUT", Path: "Accounts.json/" + target.Sid, Caller: caller, Target: target}
	}
	decide := func(p *policy.Policy, in *policy.Input) policy.Decision {
		t.Helper()
		d, err := p.Decide(ctx, in)
		require.NoError(t, err)
		return d
	}
	hierarchy := policy.Decision{Status: 403, Body: "page", Stage: 30}

	for _, point := range []string{"may_operate_on_target", "may_read_target"} {
		p, err := policy.CompileOverlay(ctx, overlay(map[string]string{"lookup.rego": strings.Replace(orgLookupOverlay, "may_operate_on_target", point, 1)}))
		require.NoError(t, err)
		for _, target := range []*policy.Subject{a, peer} {
			assert.Equal(t, policy.Decision{Allow: true, HideAuthToken: true}, decide(p, read(dev, target)), point)
			assert.Equal(t, hierarchy, decide(p, update(dev, target)), point)
		}
		assert.Equal(t, policy.Decision{Allow: true}, decide(p, read(dev, dev)), "its own token")
		assert.Equal(t, policy.Decision{Allow: true}, decide(p, read(a, dev)), "an Administrator's descendant's")
	}

	modify := strings.Replace(orgLookupOverlay, "may_operate_on_target", "may_modify_target", 1)
	p, err := policy.CompileOverlay(ctx, overlay(map[string]string{"lookup.rego": modify}))
	require.NoError(t, err)
	assert.True(t, decide(p, update(dev, peer)).Allow)
	assert.Equal(t, policy.Decision{Allow: true}, decide(p, read(dev, peer)), "who may set the password sees the token")
	assert.Equal(t, hierarchy, decide(p, update(dev, a)), "an ancestor, a Super Admin")
	p, err = policy.CompileOverlay(ctx, overlay(map[string]string{"lookup.rego": modify + "\nmay_modify_above if input.caller.role == \"Developer\"\n"}))
	require.NoError(t, err)
	assert.True(t, decide(p, update(dev, a)).Allow)
	in := update(dev, a)
	in.Request = policy.Request{RoleChange: true, Role: role("Developer")}
	assert.Equal(t, 54, decide(p, in).Stage, "roles stay the Administrator's")
}

// The extension points of reach are boolean rules, checked as the others.
func TestOverlayReachPointsAreBooleans(t *testing.T) {
	for _, point := range []string{"may_read_target", "may_modify_target", "may_modify_above"} {
		_, err := policy.CompileOverlay(ctx, overlay(map[string]string{"x.rego": "package restcomm.overlay.team\n\n" + point + " contains 1 if true\n"}))
		assert.ErrorContains(t, err, point+" is a boolean rule")
		_, err = policy.CompileOverlay(ctx, overlay(map[string]string{"restcomm/overlay/team/data.json": `{"` + point + `": true}`}))
		assert.ErrorContains(t, err, point+" is an extension point: a rule, not data")
		_, err = policy.CompileOverlay(ctx, overlay(map[string]string{"x.rego": "package restcomm.overlay.team.sub\n\n" + point + " if true\n"}))
		assert.ErrorContains(t, err, point+" is an extension point, defined only as a rule of a package directly below restcomm.overlay")
		_, err = policy.CompileOverlay(ctx, overlay(map[string]string{"x.rego": "package restcomm\n\nauthz." + point + " if true\n"}))
		assert.ErrorContains(t, err, "an overlay may not define rules in restcomm.authz")
	}
}

// An overlay that grants modify reach above the caller, or uses
// may_operate_on_target, is accepted with a warning for each: `policy
// test` prints them, and the engine logs them when it puts the policy in
// force, at start and at each reload.
func TestOverlayWarnings(t *testing.T) {
	above := "package restcomm.overlay.support\n\nmay_modify_target if input.caller.role == \"Support\"\n\n" +
		"may_modify_above if input.caller.role == \"Support\"\n\nmay_modify_above if input.caller.role == \"Boss\"\n"
	for name, c := range map[string]struct {
		files map[string]string
		want  []string
	}{
		"read reach":   {map[string]string{"a.rego": "package restcomm.overlay.a\n\nmay_read_target if true\n"}, nil},
		"modify reach": {map[string]string{"a.rego": "package restcomm.overlay.a\n\nmay_modify_target if true\n"}, nil},
		"modify above": {map[string]string{"support.rego": above}, []string{
			"support.rego:5: may_modify_above grants modify reach over accounts above the caller (its ancestors, Super " +
				"Admins, accounts whose role holds more than the caller's): whomever it holds for may set their passwords and log in as them"}},
		"the old name": {map[string]string{"lookup.rego": orgLookupOverlay}, []string{
			"lookup.rego:3: may_operate_on_target grants read reach only (accounts:read, without the AuthToken), no longer " +
				"modify reach; name it may_read_target, and to let a caller update an account define may_modify_target " +
				"(policy/README.md, \"Extension points\")"}},
		"a helper of that name elsewhere": {map[string]string{"a.rego": "package team.helpers\n\nmay_modify_above if true\n"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := policy.CompileOverlay(ctx, overlay(c.files))
			require.NoError(t, err)
			assert.Equal(t, c.want, p.Warnings())
		})
	}
	p, err := policy.Compile(ctx, policy.Default())
	require.NoError(t, err)
	assert.Empty(t, p.Warnings())

	// The engine logs them, once per content put in force.
	dir := starter(t)
	core, logs := observer.New(zap.InfoLevel)
	logger := zap.New(core)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lookup.rego"), []byte(orgLookupOverlay), 0o644))
	e, err := policy.OpenDir(ctx, dir, policy.EngineOptions{Logger: func() *zap.Logger { return logger }})
	require.NoError(t, err)
	warned := func() []string {
		var out []string
		for _, l := range logs.FilterMessage("policy overlay grants more than it may seem; it is in force").All() {
			ws, _ := l.ContextMap()["warnings"].([]any)
			out = append(out, fmt.Sprint(ws...))
		}
		return out
	}
	require.Len(t, warned(), 1)
	assert.Contains(t, warned()[0], "lookup.rego:3: may_operate_on_target grants read reach only")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "support.rego"), []byte(above), 0o644))
	require.NoError(t, e.Reload(ctx))
	require.Len(t, warned(), 2)
	assert.Contains(t, warned()[1], "lookup.rego:3: may_operate_on_target grants read reach only")
	assert.Contains(t, warned()[1], "support.rego:5: may_modify_above grants modify reach")
	require.NoError(t, e.Reload(ctx))
	assert.Len(t, warned(), 2, "not again for the same content")
	require.NoError(t, os.Remove(filepath.Join(dir, "support.rego")))
	require.NoError(t, os.Remove(filepath.Join(dir, "lookup.rego")))
	require.NoError(t, e.Reload(ctx))
	assert.Len(t, warned(), 2, "nothing to warn of")
}
