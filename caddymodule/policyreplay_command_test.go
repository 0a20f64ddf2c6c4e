package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/restcomm/restcomm-gateway/internal/decisionlog"
	"github.com/restcomm/restcomm-gateway/internal/policyreplay"
	"github.com/restcomm/restcomm-gateway/policy"
)

// blockedOrg is the organization policy/examples/org-block refuses.
const blockedOrg = "OR8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"

// replayInputs are requests of several operations and outcomes; those of
// the caller "ACblocked" come from the organization org-block refuses.
func replayInputs() []policy.Input {
	admin := &policy.Subject{Sid: "ACadmin", Role: "Administrator", Status: "active", OrganizationSid: "ORG0"}
	dev := &policy.Subject{Sid: "ACdev", Role: "Developer", Status: "active", OrganizationSid: "ORG0", Ancestors: []string{"ACadmin"}}
	blocked := &policy.Subject{Sid: "ACblocked", Role: "Administrator", Status: "active", OrganizationSid: blockedOrg, Ancestors: []string{"ACadmin"}}
	admin2 := "Administrator"
	return []policy.Input{
		{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/ACdev", ClientIP: "192.0.2.1", Caller: admin, Target: dev},
		{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/ACadmin", Caller: dev, Target: admin},
		{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/x"},
		{Operation: "accounts:update", Method: "POST", Path: "Accounts/ACdev", Caller: dev, Target: dev, Request: policy.Request{RoleChange: true, Role: &admin2}},
		{Operation: "proxy", Method: "GET", Path: "Accounts/ACdev/Calls.json", Caller: dev, PathAccountSid: "ACdev", PathAccount: dev},
		{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/ACblocked", Caller: blocked, Target: blocked},
		{Operation: "proxy", Method: "GET", Path: "Accounts/ACblocked/Calls.json", Caller: blocked, PathAccountSid: "ACblocked", PathAccount: blocked},
		{Operation: "accounts:read", Method: "GET", Path: "Accounts.json/ACblocked", Caller: admin, Target: blocked},
	}
}

// decisionLog writes the decisions of the built-in policy of inputs as
// the gateway logs them (decision_log on), in Caddy's JSON log lines, and
// returns the log's lines and the decisions' ids.
func decisionLog(t *testing.T, inputs []policy.Input, rules decisionlog.Rules) ([]string, []string) {
	t.Helper()
	p, err := policy.Compile(context.Background(), policy.Default())
	require.NoError(t, err)
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	logger := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.DebugLevel)).Named("http.handlers.restcomm.decision")
	var ids []string
	for i := range inputs {
		_, ev, err := p.DecideLogged(context.Background(), &inputs[i])
		require.NoError(t, err)
		e := &decisionlog.Event{
			Labels:     decisionlog.Labels(""),
			DecisionID: "decision-" + string(rune('a'+i)),
			Path:       policy.DecisionPath,
			Bundles:    map[string]decisionlog.BundleInfoV1{},
			Input:      &ev.Input,
			Result:     &ev.Result,
			Metrics:    ev.Metrics,
		}
		for name, rev := range p.BundleRevisions() {
			e.Bundles[name] = decisionlog.BundleInfoV1{Revision: rev}
		}
		decisionlog.Write(logger, e, rules)
		ids = append(ids, e.DecisionID)
	}
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n"), ids
}

func builtinBundleRevision(t *testing.T) string {
	t.Helper()
	p, err := policy.Compile(context.Background(), policy.Default())
	require.NoError(t, err)
	return p.BundleRevisions()["builtin"]
}

func writeLog(t *testing.T, lines []string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "decisions.log")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return file
}

// orgBlock is a copy of the org-block example overlay.
func orgBlock(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("..", "policy", "examples", "org-block"))))
	return dir
}

func replayJSON(t *testing.T, out string) policyreplay.Report {
	t.Helper()
	var rep policyreplay.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	return rep
}

func TestPolicyReplay(t *testing.T) {
	t.Parallel()
	lines, ids := decisionLog(t, replayInputs(), nil)
	require.Len(t, lines, 8)
	var e map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &e))
	require.Equal(t, "http.handlers.restcomm.decision", e["logger"], "Caddy's JSON log lines")
	log := writeLog(t, lines)

	t.Run("the built-in policy alone changes nothing", func(t *testing.T) {
		t.Parallel()
		out, err := runCommand(t, "policy", "replay", "--decisions", log)
		require.NoError(t, err, out)
		assert.Contains(t, out, "read 8 lines: 8 decisions compared, 0 lines skipped")
		assert.Contains(t, out, "0 of 8 decisions would change")
	})

	t.Run("the starter overlay changes nothing", func(t *testing.T) {
		t.Parallel()
		out, err := runCommand(t, "policy", "replay", "--decisions", log, "--overlay", starterOverlay(t))
		require.NoError(t, err, out)
		assert.Contains(t, out, "0 of 8 decisions would change")
	})

	t.Run("an overlay that denies reports exactly what it denies", func(t *testing.T) {
		t.Parallel()
		dir := orgBlock(t)
		out, err := runCommand(t, "policy", "replay", "--decisions", log, "--overlay", dir)
		assert.Equal(t, replayChanged, exitStatus(err), out)
		assert.Contains(t, out, "2 of 8 decisions would change")
		assert.Contains(t, out, "would_deny       2  (status 403: 2)")
		assert.Contains(t, out, "decision-f accounts:read would_deny")
		assert.Contains(t, out, "decision-g proxy would_deny")
		assert.Contains(t, out, `candidate: {"allow":false,"body":"plain","message":"Organization is blocked","stage":0,"status":403}`)
		t.Log("\n" + out)

		out, err = runCommand(t, "policy", "replay", "--decisions", log, "--overlay", dir, "--allow-changes")
		require.NoError(t, err, out)
		assert.Contains(t, out, "2 of 8 decisions would change")

		out, err = runCommand(t, "policy", "replay", "--decisions", log, "--overlay", dir, "--format", "json", "--examples", "1")
		assert.Equal(t, replayChanged, exitStatus(err))
		out = out[:strings.LastIndex(out, "}")+1] // the error follows, on standard error
		rep := replayJSON(t, out)
		assert.Equal(t, 8, rep.Lines)
		assert.Equal(t, 8, rep.Compared)
		assert.Equal(t, 2, rep.Changed)
		assert.Equal(t, map[string]int{policy.WouldDeny: 2}, rep.ByChange)
		assert.Equal(t, map[int]int{403: 2}, rep.WouldDenyStatus)
		assert.Equal(t, map[string]map[string]int{
			"accounts:read": {policy.WouldDeny: 1},
			"proxy":         {policy.WouldDeny: 1},
		}, rep.ByOperation)
		require.Len(t, rep.Examples, 1)
		assert.Equal(t, ids[5], rep.Examples[0].DecisionID)
		assert.Equal(t, true, rep.Examples[0].Logged.Result.(map[string]any)["allow"])
		assert.Equal(t, false, rep.Examples[0].Candidate.Result.(map[string]any)["allow"])
	})

	t.Run("lines that are not decisions are skipped and counted", func(t *testing.T) {
		t.Parallel()
		mixed := append([]string{
			`{"level":"info","ts":1,"logger":"http.log.access","msg":"handled request","status":200}`,
			`{"decision_id":"broken","path":"restcomm/authz/decision","input":{"operation":`,
			``,
			`{"decision_id":"no-result","path":"restcomm/authz/decision","input":{"operation":"proxy"}}`,
		}, lines...)
		// Bare OPA events, as another tool may have written them: one the
		// built-in policy decides the same way, one it does not.
		for id, status := range map[string]int{"bare-same": 401, "bare-other": 403} {
			bare, err := json.Marshal(map[string]any{
				"decision_id": id, "path": policy.DecisionPath,
				"input": map[string]any{"operation": "accounts:read", "method": "GET", "path": "Accounts.json/x", "request": map[string]any{}},
				"result": map[string]any{"allow": false, "status": status, "body": "page", "message": "", "stage": 0,
					"headers": map[string]any{"WWW-Authenticate": `Basic realm="Restcomm realm"`}},
			})
			require.NoError(t, err)
			mixed = append(mixed, string(bare))
		}
		out, err := runCommand(t, "policy", "replay", "--decisions", writeLog(t, mixed), "--format", "json", "--allow-changes")
		require.NoError(t, err, out)
		rep := replayJSON(t, out)
		assert.Equal(t, 14, rep.Lines)
		assert.Equal(t, 10, rep.Compared, "the gateway's 8 and the bare events")
		assert.Equal(t, policyreplay.Skipped{Malformed: 1, NotDecision: 1, NoResult: 1, Blank: 1}, rep.Skipped)
		assert.Equal(t, map[string]int{"(none)": 2, "builtin=" + builtinBundleRevision(t): 8}, rep.LoggedBundles)
		assert.Equal(t, map[string]int{policy.StatusChanged: 1}, rep.ByChange)
		require.Len(t, rep.Examples, 1)
		assert.Equal(t, "bare-other", rep.Examples[0].DecisionID)
	})

	t.Run("standard input", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		status, err := policyReplay(context.Background(), strings.NewReader(strings.Join(lines, "\n")), &out, &out,
			policyReplayOptions{decisions: "-", overlay: orgBlock(t), mode: "overlay", format: "text", examples: 0})
		assert.Equal(t, replayChanged, status, out.String())
		require.Error(t, err)
		assert.Contains(t, out.String(), "2 of 8 decisions would change")
		assert.NotContains(t, out.String(), "the first")
	})

	t.Run("a candidate whose tests fail is refused", func(t *testing.T) {
		t.Parallel()
		dir := orgBlock(t)
		editFile(t, filepath.Join(dir, "org_block.rego"), `"Organization is blocked"`, `"Blocked"`)
		out, err := runCommand(t, "policy", "replay", "--decisions", log, "--overlay", dir)
		assert.Equal(t, replayError, exitStatus(err), out)
		assert.ErrorContains(t, err, "refused")
		assert.NotContains(t, out, "would change")
	})

	t.Run("misuse", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{},
			{"--decisions", filepath.Join(t.TempDir(), "absent")},
			{"--decisions", log, "--format", "yaml"},
			{"--decisions", log, "--mode", "replace"},
			{"--decisions", log, "--overlay", filepath.Join(t.TempDir(), "absent")},
		} {
			out, err := runCommand(t, "policy", append([]string{"replay"}, args...)...)
			assert.Equal(t, replayError, exitStatus(err), "%v: %s", args, out)
		}
	})
}

// A masked entry is compared as it was logged: here its client_ip was
// erased, which the built-in policy does not read.
func TestPolicyReplayMasked(t *testing.T) {
	t.Parallel()
	rule, err := decisionlog.NewRule(decisionlog.Erase, "/input/client_ip", nil)
	require.NoError(t, err)
	lines, _ := decisionLog(t, replayInputs()[:1], decisionlog.Rules{rule})
	require.Contains(t, lines[0], `"erased":["/input/client_ip"]`)
	out, err := runCommand(t, "policy", "replay", "--decisions", writeLog(t, lines))
	require.NoError(t, err, out)
	assert.Contains(t, out, "1 entries were masked when logged; compared as logged")
	assert.Contains(t, out, "0 of 1 decisions would change")
}
