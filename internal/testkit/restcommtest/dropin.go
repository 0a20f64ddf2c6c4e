package restcommtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
)

// DropIn is a RestComm on MariaDB holding a generated dataset, with the
// stand-in serving it: what the gateway is put in front of.
type DropIn struct {
	Data   *Dataset
	URL    string // mysql://… of its database
	Script string // the same data as an HSQLDB restcomm.script
	RC     *StandIn
}

// StartDropIn starts a MariaDB with RestComm's schema holding a dataset of
// n accounts (Generate, bad rows included) and the stand-in serving it,
// for the duration of the test.
func StartDropIn(t testing.TB, n int) *DropIn {
	t.Helper()
	d := Generate(n, true)
	srv := mariadbtest.Start(t)
	url := srv.Database(t, "restcomm")
	db := srv.DB(t, "restcomm")
	ctx := context.Background()
	require.NoError(t, CreateSchema(ctx, db))
	require.NoError(t, d.Insert(ctx, db))
	script := filepath.Join(t.TempDir(), "restcomm.script")
	require.NoError(t, os.WriteFile(script, []byte(d.Script()), 0o600))
	return &DropIn{Data: d, URL: url, Script: script, RC: Start(t, db)}
}
