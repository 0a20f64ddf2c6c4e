package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/policy"
)

// copyPolicy writes the shipped policy into a new directory: a complete
// policy, for policy.Replace.
func copyPolicy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, policy.WriteDefault(dir))
	return dir
}

// starter writes the starter overlay into a new directory, as
// `restcomm-gateway policy init` does.
func starter(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, policy.WriteStarter(dir))
	return dir
}

// edit replaces old by new in a policy file, failing when old is absent.
func edit(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Contains(t, string(b), old)
	replace(t, file, strings.Replace(string(b), old, new, 1))
}

// replace writes a policy file as a good editor does, in one step, so
// that a reload never reads it half written.
func replace(t *testing.T, file, content string) {
	t.Helper()
	tmp := file + ".tmp" // not a policy file
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o644))
	require.NoError(t, os.Rename(tmp, file))
}

// reloads records what an Engine reports.
type reloads struct {
	mu      sync.Mutex
	loaded  []string
	refused []error
}

func (r *reloads) report(p *policy.Policy, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.refused = append(r.refused, err)
		return
	}
	r.loaded = append(r.loaded, p.Revision())
}

func (r *reloads) counts() (loaded, refused int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.loaded), len(r.refused)
}

// reloadDeadline bounds how soon an edit must be in force (or refused):
// a liveness bound, generous so that a loaded machine or the race
// detector does not fail it. The gateway's promise is 2 s (poll every 1 s,
// events at once); the tests log how long each edit took.
const reloadDeadline = 15 * time.Second

// within polls cond until it holds, failing after d.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	require.Eventually(t, cond, d, 10*time.Millisecond, "%s: not within %s", what, d)
	t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
}

// A Reader role is unknown to the shipped policy (and to its tests).
var readerReadsItself = &policy.Input{
	Operation: "accounts:read", Method: "GET", Path: "Accounts.json/ACreader",
	Caller: &policy.Subject{Sid: "ACreader", Role: "Reader", Status: "active", OrganizationSid: "ORG0"},
	Target: &policy.Subject{Sid: "ACreader", Role: "Reader", Status: "active", OrganizationSid: "ORG0"},
}

func readerAllowed(t *testing.T, e *policy.Engine) bool {
	d, err := e.Policy().Decide(ctx, readerReadsItself)
	return assert.NoError(t, err) && d.Allow // assert: within polls from a goroutine of its own
}

const readerRole = `{
  "Reader": ["RestComm:Read:Accounts"],
  "Developer": [`

// addReader gives a policy directory the Reader role: an overlay gets it
// from a data file of its own, merged over the built-in's roles.
func addReader(t *testing.T, mode policy.Mode, dir string) {
	t.Helper()
	if mode == policy.Replace {
		edit(t, filepath.Join(dir, "restcomm/roles/data.json"), "{\n  \"Developer\": [", readerRole)
		return
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "restcomm/roles"), 0o755))
	replace(t, filepath.Join(dir, "restcomm/roles/data.json"), `{"Reader": ["RestComm:Read:Accounts"]}`)
}

// An edit of each mode's directory: a syntax error, and a rule that fails
// a test (name).
var modeEdits = map[policy.Mode]struct {
	file, syntaxOld, syntaxNew, ruleOld, ruleNew, test string
}{
	policy.Overlay: {
		"team.rego", "deny contains {", "deny contains {{",
		`"Network is blocked"`, `"Blocked"`, "test_a_blocked_network_is_refused",
	},
	policy.Replace: {
		"restcomm/authz.rego", "decision := throttled if {", "decision := throttled if {{",
		`status_admits_path if input.caller.status == "active"`,
		`status_admits_path if input.caller.status in {"active", "suspended"}`,
		"test_suspended_and_closed_are_not_active",
	},
}

// Live reload, last good and fail closed are the same for an overlay and
// for a policy that replaces the built-in one.
func TestEngineFollowsEditsAndRefusesBrokenOnes(t *testing.T) {
	for _, mode := range []policy.Mode{policy.Overlay, policy.Replace} {
		for _, pollOnly := range []bool{false, true} {
			name := string(mode) + "/events"
			if pollOnly {
				name = string(mode) + "/poll only"
			}
			t.Run(name, func(t *testing.T) {
				defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
				dir := starter(t)
				if mode == policy.Replace {
					dir = copyPolicy(t)
				}
				var r reloads
				core, logs := observer.New(zap.InfoLevel)
				logger := zap.New(core)
				e, err := policy.OpenDir(ctx, dir, policy.EngineOptions{
					Logger: func() *zap.Logger { return logger }, OnReload: r.report, PollOnly: pollOnly, Mode: mode,
				})
				require.NoError(t, err)
				e.Watch(ctx)
				defer e.Close()
				first := e.Policy().Revision()
				require.False(t, readerAllowed(t, e))

				// A role is data: a Reader that may read accounts.
				addReader(t, mode, dir)
				within(t, reloadDeadline, "role edit in force", func() bool { return readerAllowed(t, e) })
				assert.NotEqual(t, first, e.Policy().Revision())
				good := e.Policy().Revision()

				// A syntax error is refused; the last good policy stays.
				ed := modeEdits[mode]
				file := filepath.Join(dir, ed.file)
				edit(t, file, ed.syntaxOld, ed.syntaxNew)
				within(t, reloadDeadline, "syntax error refused", func() bool { _, n := r.counts(); return n == 1 })
				assert.Equal(t, good, e.Policy().Revision())
				assert.True(t, readerAllowed(t, e))
				assert.ErrorContains(t, e.Refused(), ed.file+":")
				assert.Equal(t, 1, logs.FilterMessage("policy edit refused; the last good policy stays in force").Len())

				// A policy that compiles but fails its own tests is refused.
				edit(t, file, ed.syntaxNew, ed.syntaxOld)
				edit(t, file, ed.ruleOld, ed.ruleNew)
				within(t, reloadDeadline, "failing tests refused", func() bool { _, n := r.counts(); return n == 2 })
				assert.Equal(t, good, e.Policy().Revision())
				var failed *policy.TestsFailedError
				require.ErrorAs(t, r.refused[1], &failed)
				assert.Contains(t, r.refused[1].Error(), ed.test)

				// Back to the content in force: nothing to reload, nothing refused.
				edit(t, file, ed.ruleNew, ed.ruleOld)
				within(t, reloadDeadline, "refusal cleared", func() bool { return e.Refused() == nil })
				loaded, refused := r.counts()
				assert.Equal(t, 1, loaded)
				assert.Equal(t, 2, refused)
				assert.Equal(t, good, e.Policy().Revision())
			})
		}
	}
}

func TestEngineFollowsNewDirectories(t *testing.T) {
	dir := starter(t)
	e, err := policy.OpenDir(ctx, dir, policy.EngineOptions{PollInterval: time.Hour})
	require.NoError(t, err)
	e.Watch(ctx)
	defer e.Close()
	// Only events can find this change in time: the poll is an hour away.
	sub := filepath.Join(dir, "restcomm", "guests")
	require.NoError(t, os.Mkdir(sub, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(sub, "guest.rego"),
		[]byte("package restcomm.guests\n\nmay_read if input.caller.role == \"Guest\"\n"), 0o644))
	want, err := policy.CompileOverlay(ctx, os.DirFS(dir))
	require.NoError(t, err)
	within(t, reloadDeadline, "new file in a new directory", func() bool {
		return e.Policy().Revision() == want.Revision()
	})
}

func TestEngineReloadIsANoOpWithoutChanges(t *testing.T) {
	dir := starter(t)
	var r reloads
	e, err := policy.OpenDir(ctx, dir, policy.EngineOptions{OnReload: r.report})
	require.NoError(t, err)
	p := e.Policy()
	for range 3 {
		require.NoError(t, e.Reload(ctx))
	}
	assert.Same(t, p, e.Policy())
	loaded, refused := r.counts()
	assert.Zero(t, loaded+refused)

	// Reload (as on a config reload) sees an edit without any watch.
	addReader(t, policy.Overlay, dir)
	require.NoError(t, e.Reload(ctx))
	assert.True(t, readerAllowed(t, e))

	// A refusal is reported once, however often the same content is tried.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.rego"), []byte("package x\ny :="), 0o644))
	for range 3 {
		assert.Error(t, e.Reload(ctx))
	}
	loaded, refused = r.counts()
	assert.Equal(t, 1, loaded)
	assert.Equal(t, 1, refused)
}

func TestEngineNeedsAGoodFirstPolicy(t *testing.T) {
	for _, mode := range []policy.Mode{policy.Overlay, policy.Replace} {
		dir := t.TempDir()
		_, err := policy.OpenDir(ctx, dir, policy.EngineOptions{Mode: mode})
		assert.ErrorContains(t, err, "no .rego or data files")
		_, err = policy.OpenDir(ctx, filepath.Join(dir, "missing"), policy.EngineOptions{Mode: mode})
		assert.Error(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "authz.rego"), []byte("package restcomm.overlay.x\ndeny := {"), 0o644))
		_, err = policy.OpenDir(ctx, dir, policy.EngineOptions{Mode: mode})
		assert.Error(t, err)
	}
	_, err := policy.OpenDir(ctx, copyPolicy(t), policy.EngineOptions{})
	var refused *policy.OverlayError
	assert.ErrorAs(t, err, &refused, "a complete policy is no overlay")
	_, err = policy.OpenDir(ctx, starter(t), policy.EngineOptions{Mode: "merge"})
	assert.ErrorContains(t, err, `policy mode "merge": want overlay or replace`)
}

func TestEngineWatchEndsWithItsContext(t *testing.T) {
	before := goleak.IgnoreCurrent()
	dir := starter(t)
	e, err := policy.OpenDir(ctx, dir, policy.EngineOptions{})
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	e.Watch(wctx)
	e.Watch(wctx) // already watching: no second watch
	cancel()
	// VerifyNone waits for the watch to end on its own; Close afterwards
	// is harmless.
	goleak.VerifyNone(t, before)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close())
}

// A Kubernetes ConfigMap volume: the files live in a hidden, timestamped
// directory reached through ..data, and an update swaps that link
// atomically.
func TestEngineFollowsAConfigMapVolume(t *testing.T) {
	vol := t.TempDir()
	release := func(name string, change func(dir string)) {
		t.Helper()
		dir := filepath.Join(vol, name)
		require.NoError(t, os.Rename(starter(t), dir))
		change(dir)
		require.NoError(t, os.Symlink(name, filepath.Join(vol, "..data_tmp")))
		require.NoError(t, os.Rename(filepath.Join(vol, "..data_tmp"), filepath.Join(vol, "..data")))
	}
	release("..2026_01_01", func(string) {})
	for _, name := range []string{"restcomm", "team.rego", "team_test.rego"} {
		require.NoError(t, os.Symlink(filepath.Join("..data", name), filepath.Join(vol, name)))
	}

	e, err := policy.OpenDir(ctx, vol, policy.EngineOptions{})
	require.NoError(t, err)
	e.Watch(ctx)
	defer e.Close()
	require.False(t, readerAllowed(t, e))

	release("..2026_01_02", func(dir string) { addReader(t, policy.Overlay, dir) })
	within(t, reloadDeadline, "updated volume in force", func() bool { return readerAllowed(t, e) })
}
