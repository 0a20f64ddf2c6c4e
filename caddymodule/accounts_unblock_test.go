package caddymodule

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

// runUnblock runs "accounts unblock <args>" as the command line does.
func runUnblock(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "accounts"}
	root.AddCommand(unblockCommand())
	var out, errw bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errw)
	root.SetArgs(append([]string{"unblock"}, args...))
	err := root.Execute()
	return out.String(), err
}

// "accounts unblock" lifts a block of a login (by e-mail address or SID:
// the account's count from every client) or of a client (its own count and
// every login's from it), and prints what it removed.
func TestAccountsUnblock(t *testing.T) {
	t.Parallel()
	rd := redistest.Start(t)
	st := store.New(rd.Client(t), "gw")
	_, err := st.Seed(t.Context(), "")
	require.NoError(t, err)
	fail := func(login, client string, n int) {
		t.Helper()
		for range n {
			counted, _, err := st.CountFailedLogin(t.Context(), store.NewFailedLogins(login, client, time.Minute, 10, 100))
			require.NoError(t, err)
			require.True(t, counted)
		}
	}
	counts := func(login, client string) store.FailureCounts {
		t.Helper()
		_, c, err := st.ResolveCounting(t.Context(), store.NewFailedLogins(login, client, time.Minute, 10, 100),
			store.Lookup{Mode: store.ByLogin, ID: login})
		require.NoError(t, err)
		return *c
	}
	v6 := store.ClientNetwork("2001:db8:1:2::7", store.DefaultIPv6PrefixLength)
	fail(store.DefaultAdminEmail, "192.0.2.1", 10)
	fail(store.DefaultAdminSid, v6, 3)
	fail("nobody@x.com", "192.0.2.1", 5)

	out, err := runUnblock(t, "--redis", rd.URL(), "--key-prefix", "gw", store.DefaultAdminEmail)
	require.NoError(t, err)
	assert.Contains(t, out, "{gw}: removed {gw}:thr:login:")
	assert.Contains(t, out, "(10 failed logins)")
	assert.Contains(t, out, "(3 failed logins)")
	assert.Contains(t, out, "{gw}: unblocked login administrator@company.com: removed 2 counts (13 failed logins)")
	assert.Equal(t, store.FailureCounts{IP: 15}, counts(store.DefaultAdminSid, "192.0.2.1"), "the client's own count stays")
	assert.Zero(t, counts(store.DefaultAdminEmail, v6).LoginIP)

	out, err = runUnblock(t, "--redis", rd.URL(), "--key-prefix", "gw", "[2001:db8:1:2::ffff]")
	require.NoError(t, err)
	assert.Contains(t, out, "{gw}: removed {gw}:thr:ip:2001:db8:1:2::/64 (3 failed logins)")
	assert.Contains(t, out, "unblocked client 2001:db8:1:2::ffff/128: removed 1 counts")

	out, err = runUnblock(t, "--redis", rd.URL(), "--key-prefix", "gw", "192.0.2.1")
	require.NoError(t, err)
	assert.Contains(t, out, "{gw}: removed {gw}:thr:ip:192.0.2.1 (15 failed logins)")
	assert.Contains(t, out, "(5 failed logins)")
	assert.Equal(t, store.FailureCounts{}, counts("nobody@x.com", "192.0.2.1"))

	out, err = runUnblock(t, "--redis", rd.URL(), "--key-prefix", "gw", "192.0.2.0/24")
	require.NoError(t, err)
	assert.Equal(t, "{gw}: no failed logins counted for client 192.0.2.0/24: nothing to remove\n", out)

	// clear errors
	_, err = runUnblock(t, "--redis", rd.URL(), "--key-prefix", "gw", " ")
	assert.ErrorContains(t, err, "give a login (e-mail address or SID) or a client IP address or network")
	_, err = runUnblock(t, "--redis", rd.URL())
	assert.ErrorContains(t, err, "accepts 1 arg")
	_, err = runUnblock(t, "--redis", "redis://127.0.0.1:1/0", "192.0.2.1")
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "accounts unblock {restcomm}: client 192.0.2.1/32: stopped after removing 0 counts:"), err.Error())
}
