package caddymodule

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
)

// runAccounts runs "accounts <args>" as the command line does, and returns
// what it printed and its error (the process exits with status 1 on one).
func runAccounts(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "accounts"}
	addImportCommands(root)
	var out, errw bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errw)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// --strict fails the command, after the report, when a row was skipped
// (for pipelines); without it, or with nothing skipped, it succeeds.
func TestAccountsImportStrict(t *testing.T) {
	t.Parallel()
	rd := redistest.Start(t)
	dir := t.TempDir()
	bad, clean := filepath.Join(dir, "bad.script"), filepath.Join(dir, "clean.script")
	require.NoError(t, os.WriteFile(bad, []byte(restcommtest.Generate(20, true).Script()), 0o600))
	require.NoError(t, os.WriteFile(clean, []byte(restcommtest.Generate(20, false).Script()), 0o600))

	out, err := runAccounts(t, "import", "--from", bad, "--redis", rd.URL(), "--key-prefix", "a", "--strict")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "accounts import --strict: 11 rows skipped, 0 conflicts")
	assert.Contains(t, out, "skipped by reason:", "the report comes first")
	assert.Contains(t, out, "reserved (RestComm's database holds them: a create at the gateway answers 409): 11")

	_, err = runAccounts(t, "import", "--from", bad, "--redis", rd.URL(), "--key-prefix", "b")
	assert.NoError(t, err, "without --strict")
	out, err = runAccounts(t, "import", "--from", clean, "--redis", rd.URL(), "--key-prefix", "c", "--strict", "--dry-run")
	assert.NoError(t, err, "nothing skipped: %s", out)

	_, err = runAccounts(t, "import", "--from", clean, "--redis", rd.URL(), "--collation", "klingon")
	assert.ErrorContains(t, err, "--collation: collation \"klingon\": unknown")
	out, err = runAccounts(t, "import", "--from", clean, "--redis", rd.URL(), "--key-prefix", "d", "--collation", "latin1_bin")
	require.NoError(t, err)
	assert.Contains(t, out, "comparison rule: exact_pad (given (--collation); the source: HSQLDB's default collation")
}

// mirror verify: exit status 0 when the only differences are rows the
// import skipped (listed as reserved, with their reasons), 1 on drift.
func TestMirrorVerifyReservedAndDrift(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	maria := mariadbtest.Start(t)
	dbURL := maria.Database(t, "restcomm")
	db := maria.DB(t, "restcomm")
	d := restcommtest.Generate(20, true)
	require.NoError(t, restcommtest.CreateSchema(ctx, db))
	require.NoError(t, d.Insert(ctx, db))
	rd := redistest.Start(t)
	_, err := runAccounts(t, "import", "--from", dbURL, "--redis", rd.URL())
	require.NoError(t, err)
	opts := store.ClientOptions{URLs: []string{rd.URL()}}

	var out strings.Builder
	n, err := mirrorVerify(ctx, &out, opts, "", dbURL, time.UTC)
	require.NoError(t, err)
	t.Log("\n" + out.String())
	assert.Zero(t, n, "reserved rows are not drift: status 0")
	assert.Contains(t, out.String(), "rows only in the database that the import skipped (reserved at the gateway, not drift): 11\n")
	assert.Contains(t, out.String(), "  account ACshort: malformed SID\n")
	assert.Contains(t, out.String(), "no drift between the gateway and")

	a := d.Good()[2]
	_, err = db.Exec("UPDATE restcomm_accounts SET email_address = UPPER(email_address) WHERE sid = ?", a.Sid)
	require.NoError(t, err)
	out.Reset()
	n, err = mirrorVerify(ctx, &out, opts, "", dbURL, time.UTC)
	require.NoError(t, err)
	assert.Zero(t, n, "an address in another case is the same login for RestComm's database")
	assert.Contains(t, out.String(), "values that differ but the database finds equal under latin1_swedish_ci (not drift): 1\n")

	_, err = db.Exec("UPDATE restcomm_accounts SET status = 'closed' WHERE sid = ? AND status <> 'closed'", d.Good()[1].Sid)
	require.NoError(t, err)
	out.Reset()
	n, err = mirrorVerify(ctx, &out, opts, "", dbURL, time.UTC)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "drift: status 1")
	assert.Contains(t, out.String(), "account "+d.Good()[1].Sid+": status:")
	assert.Contains(t, out.String(), "1 differences")
}

// accounts export --output never exposes the tokens it writes: an existing
// file (here world-readable) is refused without --force and replaced by a
// new owner-only file with it; a symbolic link is refused either way and
// the file it points to is left untouched.
func TestAccountsExportOutputFile(t *testing.T) {
	t.Parallel()
	rd := redistest.Start(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "restcomm.script")
	require.NoError(t, os.WriteFile(script, []byte(restcommtest.Generate(5, false).Script()), 0o600))
	_, err := runAccounts(t, "import", "--from", script, "--redis", rd.URL())
	require.NoError(t, err)

	backup := filepath.Join(dir, "backup.jsonl")
	require.NoError(t, os.WriteFile(backup, []byte("old\n"), 0o644))
	require.NoError(t, os.Chmod(backup, 0o644))
	_, err = runAccounts(t, "export", "--redis", rd.URL(), "--output", backup)
	require.ErrorContains(t, err, "exists: refusing to overwrite it")
	got, err := os.ReadFile(backup)
	require.NoError(t, err)
	assert.Equal(t, "old\n", string(got))

	_, err = runAccounts(t, "export", "--redis", rd.URL(), "--output", backup, "--force")
	require.NoError(t, err)
	fi, err := os.Stat(backup)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	got, err = os.ReadFile(backup)
	require.NoError(t, err)
	assert.Contains(t, string(got), `"auth_token"`)

	victim := filepath.Join(dir, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("precious\n"), 0o644))
	link := filepath.Join(dir, "link.jsonl")
	require.NoError(t, os.Symlink(victim, link))
	for _, force := range []string{"--force=false", "--force"} {
		_, err = runAccounts(t, "export", "--redis", rd.URL(), "--output", link, force)
		require.ErrorContains(t, err, "is a symbolic link")
	}
	got, err = os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "precious\n", string(got))
	fi, err = os.Lstat(link)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink)
}

// Without --redis, the commands reach the gateway's Redis as the
// top-level Caddyfile does: RESTCOMM_REDIS with the password of
// RESTCOMM_REDIS_PASSWORD (which `up` sets for the redis-server it starts).
func TestCommandsUseTheGatewaysRedisPassword(t *testing.T) {
	rd := redistest.Start(t, "--requirepass", "up-made-it")
	t.Setenv("RESTCOMM_REDIS", rd.URL())
	t.Setenv("RESTCOMM_REDIS_PASSWORD", "up-made-it")
	out, err := runCommand(t, "accounts", "seed")
	require.NoError(t, err)
	assert.Contains(t, out, "seeded RestComm's default organization")
	out, err = runCommand(t, "accounts", "export")
	require.NoError(t, err)
	assert.Contains(t, out, `"auth_token"`)
	out, err = runCommand(t, "mirror", "status")
	require.NoError(t, err, out)
	out, err = runCommand(t, "accounts", "unblock", "192.0.2.7")
	require.NoError(t, err)
	assert.Contains(t, out, "nothing to remove")

	_, err = runCommand(t, "accounts", "export", "--redis", rd.URL())
	require.ErrorContains(t, err, "NOAUTH", "a --redis URL carries its own password")
}

// Without --redis the commands reach the gateway's Redis as the top-level
// Caddyfile names it, and at the default address, with no password given,
// the redis-server up started, with the password up keeps for it.
func TestDefaultRedis(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	file := filepath.Join(state, "restcomm-gateway", "redis", "password")
	for _, c := range []struct {
		note, env, envPassword, file string
		fileMode                     os.FileMode
		flags                        []string
		wantURL, wantPassword, err   string
	}{
		{note: "nothing: the default, no password", wantURL: defaultRedisURL},
		{note: "up's password", file: "upsecret", fileMode: 0o600, wantURL: defaultRedisURL, wantPassword: "upsecret"},
		{note: "a given password wins", envPassword: "given", file: "upsecret", fileMode: 0o600,
			wantURL: defaultRedisURL, wantPassword: "given"},
		{note: "another Redis never gets up's password", env: "redis://10.0.0.5:6379/0", file: "upsecret", fileMode: 0o600,
			wantURL: "redis://10.0.0.5:6379/0"},
		{note: "the default spelt out is up's", env: defaultRedisURL, file: "upsecret", fileMode: 0o600,
			wantURL: defaultRedisURL, wantPassword: "upsecret"},
		{note: "--redis is used as given", flags: []string{"redis://h:1/0"}, file: "upsecret", fileMode: 0o600,
			wantURL: "redis://h:1/0"},
		{note: "a file others can read is refused", file: "upsecret", fileMode: 0o644, err: "readable by other users"},
	} {
		t.Setenv("RESTCOMM_REDIS", c.env)
		t.Setenv("RESTCOMM_REDIS_PASSWORD", c.envPassword)
		require.NoError(t, os.RemoveAll(filepath.Dir(file)))
		if c.file != "" {
			require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o700))
			require.NoError(t, os.WriteFile(file, []byte(c.file+"\n"), c.fileMode))
			require.NoError(t, os.Chmod(file, c.fileMode))
		}
		opts := store.ClientOptions{URLs: c.flags}
		err := defaultRedis(&opts)
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, c.note)
			continue
		}
		require.NoError(t, err, c.note)
		assert.Equal(t, []string{c.wantURL}, opts.URLs, c.note)
		assert.Equal(t, c.wantPassword, opts.Password, c.note)
	}
}
