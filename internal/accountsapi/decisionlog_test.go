package accountsapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/restcomm/restcomm-gateway/internal/decisionlog"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/version"
	"github.com/restcomm/restcomm-gateway/policy"
)

// jsonLog is a decision logger writing JSON lines, as Caddy's default
// JSON log does.
type jsonLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *jsonLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *jsonLog) logger() *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(l), zapcore.DebugLevel)).Named("decision")
}

func (l *jsonLog) lines(t *testing.T) []string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	return lines
}

// events reads every line back into the event type (OPA's EventV1, field
// for field), and checks what every entry holds.
func (l *jsonLog) events(t *testing.T, p *policy.Policy) []decisionlog.Event {
	t.Helper()
	var events []decisionlog.Event
	for _, line := range l.lines(t) {
		var zapKeys struct {
			Msg    string `json:"msg"`
			Logger string `json:"logger"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &zapKeys))
		assert.Equal(t, "decision", zapKeys.Msg)
		assert.Equal(t, "decision", zapKeys.Logger)
		var e decisionlog.Event
		dec := json.NewDecoder(bytes.NewReader([]byte(line)))
		require.NoError(t, dec.Decode(&e), line)
		assert.NotEmpty(t, e.DecisionID)
		assert.Equal(t, "restcomm/authz/decision", e.Path)
		bundles := map[string]decisionlog.BundleInfoV1{}
		for name, rev := range p.BundleRevisions() {
			bundles[name] = decisionlog.BundleInfoV1{Revision: rev}
		}
		assert.Equal(t, bundles, e.Bundles)
		assert.Equal(t, "1.2.3-test", e.Labels["version"])
		assert.Len(t, e.Labels["id"], 36)
		assert.False(t, e.Timestamp.IsZero())
		assert.Contains(t, e.Metrics, "timer_rego_query_eval_ns")
		require.NotNil(t, e.Input, line)
		require.NotNil(t, e.Result, line)
		assert.Nil(t, e.Error)
		events = append(events, e)
	}
	return events
}

func withDecisionLog(l *jsonLog) func(*setup) {
	return func(c *setup) {
		c.DecisionLogger = l.logger()
		c.Version = "1.2.3-test"
	}
}

// One entry of OPA's decision log per decision: the input the policy
// evaluated, the decision it returned, on the revision logged; evaluating
// that input again on that revision, as opa eval would, gives that
// result.
func TestDecisionLog(t *testing.T) {
	t.Parallel()
	var l jsonLog
	h := newHarness(t, true, withDecisionLog(&l))
	p := h.s.cfg.Policy()

	h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "ADMIN"})
	h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "DEV"})
	h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, user: fixture.Users["ADMIN"], secret: "RestComm-wrong"})
	h.do(call{method: "POST", path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "DEV", form: "Password=Secret-Passw0rd!&Role=Administrator"})

	events := l.events(t, p)
	require.NotEmpty(t, events)
	builtin, err := policy.BuiltinRevision()
	require.NoError(t, err)
	assert.Equal(t, map[string]decisionlog.BundleInfoV1{"builtin": {Revision: version.Get().Version + "+" + builtin}}, events[0].Bundles,
		"the built-in policy, as its OPA bundle's manifest names it")
	require.Len(t, events, 4)
	ids := map[string]bool{}
	for _, e := range events {
		ids[e.DecisionID] = true
		again, err := p.Evaluate(context.Background(), *e.Input)
		require.NoError(t, err)
		want, err := json.Marshal(again)
		require.NoError(t, err)
		got, err := json.Marshal(*e.Result)
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(got), "the logged input gives the logged result")
	}
	assert.Len(t, ids, 4, "a decision id per request")

	field := func(e decisionlog.Event, doc string, path ...string) any {
		v := *e.Input
		if doc == "result" {
			v = *e.Result
		}
		for _, k := range path {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}
	allow := events[0]
	assert.Equal(t, "accounts:read", field(allow, "input", "operation"))
	assert.Equal(t, "GET", field(allow, "input", "method"))
	assert.Equal(t, "Accounts.json/"+fixture.SidDev, field(allow, "input", "path"), "the HTTP path is the input's")
	assert.Equal(t, fixture.SidAdmin, field(allow, "input", "caller", "sid"))
	assert.Equal(t, fixture.SidDev, field(allow, "input", "target", "sid"))
	assert.Equal(t, "192.0.2.1", field(allow, "input", "client_ip"))
	assert.Equal(t, true, field(allow, "result", "allow"))

	deny := events[1]
	assert.Equal(t, fixture.SidDev, field(deny, "input", "caller", "sid"))
	assert.Equal(t, false, field(deny, "result", "allow"))
	assert.Equal(t, 403.0, field(deny, "result", "status"))

	anonymous := events[2]
	assert.Nil(t, field(anonymous, "input", "caller"))
	assert.NotNil(t, field(anonymous, "input", "throttle"), "the failed-login counts of a request with credentials")
	assert.Equal(t, 401.0, field(anonymous, "result", "status"))

	update := events[3]
	assert.Equal(t, "accounts:update", field(update, "input", "operation"))
	assert.Equal(t, "Administrator", field(update, "input", "request", "role"))
}

// No credential reaches the decision log: not the Authorization header
// (however its name is spelt), not a password or auth token of a form
// body or a query, right or wrong, on the gateway's own routes or passed
// through to RestComm.
func TestDecisionLogHoldsNoSecret(t *testing.T) {
	t.Parallel()
	var l jsonLog
	h := newHarness(t, true, withDecisionLog(&l))
	const (
		formPassword = "Form-Passw0rd-Secret!"
		formToken    = "f0rmt0ken5ecret5ecret5ecret5ecre"
		queryToken   = "qu3ryt0ken5ecret5ecret5ecret5ecr"
		wrong        = "Wr0ng-Secret-Passw0rd"
		bearer       = "bearer-t0ken-5ecret"
	)
	admin := fixture.Users["ADMIN"]
	root := fixture.APIRoot
	// Requests with good credentials first: the failed logins after them
	// would have the throttle refuse them before their forms are read.
	calls := []call{
		{method: "POST", path: root + "/Accounts.json", as: "ADMIN",
			form: "FriendlyName=n&EmailAddress=new%40example.com&Role=Developer&Password=" + formPassword + "&AuthToken=" + formToken},
		{method: "POST", path: root + "/Accounts.json/" + fixture.SidDev, as: "ADMIN",
			form: "Password=" + formPassword + "&AuthToken=" + formToken + "&Role=Developer"},
		{method: "PUT", path: root + "/Accounts/" + fixture.SidDev, as: "DEV",
			form: "password=" + formPassword + "&auth_token=" + formToken},
		{path: root + "/Accounts.json?AuthToken=" + queryToken + "&Password=" + formPassword, as: "ADMIN"},
		{method: "POST", path: root + "/Accounts/" + fixture.SidDev + "/Clients.json", as: "DEV",
			form: "Login=c&Password=" + formPassword},
	}
	for _, name := range []string{"Authorization", "authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"} {
		for _, value := range []string{
			fixture.Basic(admin, fixture.Token),
			"Bearer " + bearer,
			fixture.Basic(admin, wrong),
		} {
			calls = append(calls, call{path: root + "/Accounts.json/" + fixture.SidDev, header: http.Header{name: {value}}})
		}
	}
	calls = append(calls,
		call{path: root + "/Accounts/" + fixture.SidDev + "/Calls.json?AuthToken=" + queryToken, user: admin, secret: wrong},
		call{path: root + "/Accounts.json/" + fixture.SidDev, user: admin, secret: formPassword},
	)
	for _, c := range calls {
		h.do(c)
	}

	secrets := []string{fixture.Token, formPassword, formToken, queryToken, wrong, bearer}
	for _, s := range []string{fixture.Token, wrong, formPassword} {
		full := base64.StdEncoding.EncodeToString([]byte(admin + ":" + s))
		secrets = append(secrets, full, full[:len(full)-4])
	}
	lines := l.lines(t)
	require.Len(t, lines, len(calls), "a decision per request")
	for _, line := range lines {
		for _, s := range secrets {
			assert.NotContains(t, line, s)
		}
	}
	events := l.events(t, h.s.cfg.Policy())
	role := func(e decisionlog.Event) any {
		req, _ := (*e.Input).(map[string]any)["request"].(map[string]any)
		return req["role"]
	}
	assert.Equal(t, "Developer", role(events[0]), "the create's form was read")
	assert.Equal(t, "Developer", role(events[1]), "the update's form was read")
	assert.Equal(t, fixture.SidAdmin, (*events[0].Input).(map[string]any)["caller"].(map[string]any)["sid"])
}

// With an overlay, the entries name the built-in policy and the overlay,
// and the logged input replays to the logged result on the two together.
func TestDecisionLogOverlay(t *testing.T) {
	t.Parallel()
	var l jsonLog
	h := newHarness(t, true, withDecisionLog(&l), withPolicyDir(t, "../../policy/examples/networks", "overlay"))
	p := h.s.cfg.Policy()
	h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "ADMIN"})
	h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "ADMIN", remote: "203.0.113.7:1234"})
	events := l.events(t, p)
	require.Len(t, events, 2)
	assert.Equal(t, p.Revision(), events[0].Bundles["overlay"].Revision)
	assert.Contains(t, events[0].Bundles, "builtin")
	for _, e := range events {
		again, err := p.Evaluate(context.Background(), *e.Input)
		require.NoError(t, err)
		want, err := json.Marshal(again)
		require.NoError(t, err)
		got, err := json.Marshal(*e.Result)
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(got))
	}
}

// A policy that gives no valid decision: the entry has OPA's error
// document, and the result only when the policy returned one (which the
// gateway refused); the request is denied.
func TestDecisionLogOfAPolicyThatCannotDecide(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		rules  string
		result string // "" for none
	}{
		"error":   {rules: "package restcomm.authz\n\ndecision := {\"allow\": count(input.caller.ancestors) / count(input.caller.ancestors) > 0}\n"},
		"not 4xx": {rules: "package restcomm.authz\n\ndecision := {\"allow\": false, \"status\": 302}\n", result: `{"allow": false, "status": 302}`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(c.rules), 0o644))
			var l jsonLog
			h := newHarness(t, true, withPolicyDir(t, dir, "replace"), withDecisionLog(&l))
			w := h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"})
			assert.Equal(t, http.StatusForbidden, w.Code)
			lines := l.lines(t)
			require.Len(t, lines, 1)
			var e decisionlog.Event
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &e))
			require.NotNil(t, e.Error)
			assert.Equal(t, "internal_error", e.Error.Code)
			assert.NotEmpty(t, e.Error.Message)
			require.NotNil(t, e.Input)
			assert.Equal(t, map[string]decisionlog.BundleInfoV1{"policy": {Revision: h.s.cfg.Policy().Revision()}}, e.Bundles)
			if c.result == "" {
				assert.Nil(t, e.Result)
			} else {
				require.NotNil(t, e.Result)
				got, err := json.Marshal(*e.Result)
				require.NoError(t, err)
				assert.JSONEq(t, c.result, string(got))
			}
		})
	}
}
