package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
)

// TestEndToEndInFrontOfRestComm is docs/dropin.md ("Putting it in front of
// RestComm"), with the built binary: a RestComm (the stand-in, on its own
// MariaDB) with existing accounts; `restcomm-gateway accounts import`
// from its database, run twice (the second changes nothing), and
// `accounts export`; then the gateway in front of it. An imported
// account's Calls reach RestComm and are accepted there; an account the
// gateway did not import is refused at the edge.
func TestEndToEndInFrontOfRestComm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	bin := buildGateway(t)
	ctx := context.Background()
	d := restcommtest.Generate(50, true)
	srv := mariadbtest.Start(t)
	dbURL := srv.Database(t, "restcomm")
	db := srv.DB(t, "restcomm")
	require.NoError(t, restcommtest.CreateSchema(ctx, db))
	require.NoError(t, d.Insert(ctx, db))
	rc := restcommtest.Start(t, db)
	rd := redistest.Start(t)

	run := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Run(), "%v: %s", args, out.String())
		return out.String()
	}
	out := run("accounts", "import", "--from", dbURL, "--redis", rd.URL())
	t.Log(out)
	assert.Contains(t, out, "accounts:      read")
	assert.Contains(t, out, "100% ", "a progress line per tenth when not on a terminal")
	assert.NotContains(t, out, "pw'", "no database password in the output")
	for _, a := range d.Accounts {
		if a.Bad != "" {
			assert.Contains(t, out, a.Sid, "every bad row is named")
		}
	}
	out = run("accounts", "import", "--from", dbURL, "--redis", rd.URL())
	assert.Contains(t, out, "nothing to change")

	backup := filepath.Join(t.TempDir(), "backup.jsonl")
	run("accounts", "export", "--redis", rd.URL(), "--output", backup)
	fi, err := os.Stat(backup)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the backup holds tokens")
	out = run("accounts", "import", "--from", backup, "--redis", rd.URL(), "--dry-run")
	assert.Contains(t, out, "nothing to change")

	gw := startGateway(t, bin, readCaddyfile(t, "testdata/e2e.Caddyfile"), map[string]string{
		"RESTCOMM_REDIS":    rd.URL(),
		"RESTCOMM_UPSTREAM": rc.Addr(),
	})
	var active restcommtest.Account
	for _, a := range d.Good() {
		if a.Status == "active" && a.ParentSid != "" {
			active = a
			break
		}
	}
	calls := func(sid string) string { return fixture.APIRoot + "/Accounts/" + sid + "/Calls.json" }
	basic := func(user, secret string) http.Header {
		return http.Header{"Authorization": {fixture.Basic(user, secret)}}
	}

	res, body := gw.raw(t, "GET", calls(active.Sid), basic(active.Email, active.Password))
	assert.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.True(t, strings.Contains(body, `"calls": []`), body)
	got := rc.Take()
	require.Len(t, got, 1)
	assert.Equal(t, http.StatusOK, got[0].Status, "RestComm accepted the imported account")
	assert.Equal(t, active.Sid, got[0].Caller)

	email := "not.imported@example.com"
	sid := restcommtest.SidOf(email)
	_, err = db.Exec(`INSERT INTO restcomm_accounts VALUES (?, '2020-01-01 00:00:00', '2020-01-01 00:00:00', ?, 'late',
		NULL, 'Full', 'active', ?, 'Developer', '/uri', ?)`, sid, email, restcommtest.MD5("Late-pw1!"), restcommtest.DefaultOrg)
	require.NoError(t, err)
	res, _ = gw.raw(t, "GET", calls(sid), basic(email, "Late-pw1!"))
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "refused at the edge")
	assert.Empty(t, rc.Take(), "nothing reached RestComm")
}
