package caddymodule

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
)

// The password of these URLs, and the pieces of it a parser would quote,
// must never be printed.
const nastySecret = "S3cr@t:P4ss/w0rd"

var secretPieces = []string{nastySecret, "S3cr", "P4ss", "w0rd", "S3cr%40t"}

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, p := range secretPieces {
		assert.NotContains(t, s, p, "%s holds a piece of the password", what)
	}
}

// Every command that takes a database or Redis URL prints it, and reports
// its parse or connection errors, without the password: raw passwords
// with '@', ':' and '/', percent-encoded ones, a mistyped scheme read as a
// file name, and a '#' that would hide the host.
func TestCommandsNeverPrintURLPasswords(t *testing.T) {
	rd := redistest.Start(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "restcomm.script")
	require.NoError(t, os.WriteFile(script, []byte(restcommtest.Generate(3, false).Script()), 0o600))

	databases := []string{
		"mysql://restcomm:" + nastySecret + "@127.0.0.1:1/restcomm",
		"mysql://restcomm:S3cr%40t%3AP4ss%2Fw0rd@127.0.0.1:1/restcomm",
		"mysql://restcomm:12/S3crP4ssw0rd@127.0.0.1:1/restcomm",
		"mysql:/restcomm:" + nastySecret + "@127.0.0.1:1/restcomm",
		"mariadb://restcomm:S3cr#P4ss@w0rd@127.0.0.1:1/restcomm",
	}
	redises := []string{
		"redis://user:" + nastySecret + "@127.0.0.1:1/0",
		"redis://:S3cr%40tP4ssw0rd@127.0.0.1:1/0",
		"redis://:1/S3crP4ssw0rd@127.0.0.1:1/0",
		"redis://:S3cr#P4ss@127.0.0.1:1/0",
		"rediss://default:S3cr?P4ss@w0rd@127.0.0.1:1",
	}
	var runs [][]string
	for _, db := range databases {
		runs = append(runs,
			[]string{"accounts", "import", "--dry-run", "--redis", rd.URL(), "--from", db},
			[]string{"mirror", "status", "--redis", rd.URL(), "--database", db},
			[]string{"mirror", "verify", "--redis", rd.URL(), "--database", db})
	}
	for _, r := range redises {
		runs = append(runs,
			[]string{"accounts", "import", "--dry-run", "--redis", r, "--from", script},
			[]string{"accounts", "export", "--redis", r},
			[]string{"accounts", "seed", "--redis", r},
			[]string{"mirror", "status", "--redis", r})
	}
	for _, args := range runs {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, err := runCommand(t, args[0], args[1:]...)
			assertNoSecret(t, "the output", out)
			if err != nil { // "mirror status" reports a database that does not answer as a finding
				assertNoSecret(t, "the error", err.Error())
			}
			if strings.Contains(out, "reading ") {
				assert.Contains(t, out, ":xxxxx@", "the URL is shown, redacted")
			}
		})
	}

	// a Caddyfile's Redis URL: Caddy prints the provisioning error
	for _, r := range redises {
		g := &Gateway{Redis: RedisConfig{URLs: []string{r}}}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		err := g.Provision(ctx)
		cancel()
		_ = g.Cleanup()
		if err != nil {
			assertNoSecret(t, "the provisioning error", err.Error())
		}
	}
}
