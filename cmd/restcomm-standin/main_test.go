package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// The stand-in serves RestComm's API for its default administrator on a
// database of its own, says where both are, and on interruption stops
// and takes its database with it.
func TestStandInServesUntilInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type started struct{ addr, database string }
	up := make(chan started, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--accounts", "20"}, &out, func(addr, database string) {
			up <- started{addr, database}
		})
	}()
	var s started
	select {
	case s = <-up:
	case err := <-done:
		t.Fatalf("stand-in ended before serving: %v\n%s", err, out.String())
	}

	get := func(user, secret string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, "http://"+s.addr+restcommtest.APIRoot+"Accounts/"+
			restcommtest.AdminSid+"/Calls.json", nil)
		require.NoError(t, err)
		req.SetBasicAuth(user, secret)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(body)
	}
	status, body := get("administrator@company.com", "RestComm")
	assert.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"calls": []`)
	status, _ = get("administrator@company.com", "wrong")
	assert.Equal(t, http.StatusUnauthorized, status)

	// The database it names is the one it serves: what accounts import reads.
	db, err := restcommdb.Open(s.database)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM restcomm_accounts").Scan(&n))
	assert.Equal(t, 21, n, "the administrator and the 20 generated accounts")
	assert.Contains(t, out.String(), "stand-in RestComm on http://"+s.addr+restcommtest.APIRoot)
	assert.Contains(t, out.String(), s.database)

	cancel()
	require.NoError(t, <-done)
	assert.Error(t, db.Ping(), "its MariaDB is gone")
	_, err = net.Dial("tcp", s.addr)
	assert.Error(t, err, "it no longer listens")
}

// Bad command lines are refused before anything starts.
func TestStandInRefusesBadArguments(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--accounts", "-1"}, "--accounts -1: between 0 and 100000"},
		{[]string{"--accounts", "100001"}, "between 0 and 100000"},
		{[]string{"--accounts", "many"}, "invalid value"},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
		{[]string{"--listen", taken.Addr().String()}, "address already in use"},
		{[]string{"--bogus"}, "flag provided but not defined"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), tc.args, &out, func(string, string) { t.Errorf("%v: started", tc.args) })
		require.Error(t, err, "%v", tc.args)
		assert.Contains(t, err.Error()+out.String(), tc.want, "%v", tc.args)
		assert.False(t, strings.Contains(out.String(), "starting MariaDB"), "%v: refused before MariaDB", tc.args)
	}
}
