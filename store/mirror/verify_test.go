package mirror

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/importer"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// Rows the import skipped are reserved, not drift; values RestComm's
// database finds equal (another case, a trailing space) in the columns it
// looks rows up by are not drift either, rows are matched by SID as it
// compares them; anything else is.
func TestCheckTellsReservedAndEqualFromDrift(t *testing.T) {
	ctx := context.Background()
	maria := mariadbtest.Start(t)
	maria.Database(t, "restcomm")
	db := maria.DB(t, "restcomm")
	d := restcommtest.Generate(30, true)
	require.NoError(t, restcommtest.CreateSchema(ctx, db))
	require.NoError(t, d.Insert(ctx, db))
	st := store.New(redistest.Start(t).Client(t), "")
	src, err := restcommdb.ReadDB(ctx, db, "restcomm")
	require.NoError(t, err)
	rep, err := importer.Run(ctx, st, src, importer.Options{})
	require.NoError(t, err)
	require.NotEmpty(t, rep.Skipped)

	v, err := Check(ctx, st, db, time.UTC)
	require.NoError(t, err)
	assert.Equal(t, collation.Latin1SwedishCI, v.Rule)
	assert.Empty(t, v.Notes)
	assert.Zero(t, v.Drift(), "%v", v.Differences)
	reasons := map[string]string{}
	for _, s := range rep.Skipped {
		reasons[s.Sid] = s.Reason
	}
	require.Len(t, v.Differences, len(rep.Skipped), "one per skipped row")
	for _, x := range v.Differences {
		assert.Equal(t, reasons[x.Sid], x.Reserved, x.String())
		assert.Equal(t, "missing", x.Gateway)
		assert.Contains(t, x.String(), "(reserved: the import skipped it: "+reasons[x.Sid]+")")
	}

	// changed in RestComm's database only as its collation ignores: the
	// e-mail address in another case with a trailing space, the SID in
	// upper case (the row is still found by it)
	a := d.Good()[3]
	_, err = db.Exec("UPDATE restcomm_accounts SET email_address = ?, sid = ? WHERE sid = ?",
		strings.ToUpper(a.Email)+" ", "AC"+strings.ToUpper(a.Sid[2:]), a.Sid)
	require.NoError(t, err)
	v, err = Check(ctx, st, db, time.UTC)
	require.NoError(t, err)
	assert.Zero(t, v.Drift(), "%v", v.Differences)
	var equal []string
	for _, x := range v.Differences {
		if x.EqualUnder != "" {
			assert.Equal(t, a.Sid, x.Sid)
			assert.Equal(t, "latin1_swedish_ci", x.EqualUnder)
			equal = append(equal, x.Field)
		}
	}
	assert.ElementsMatch(t, []string{"sid", "email_address"}, equal, "compared exactly, shown, not drift")

	// a value Java compares (the token), or one the collation does not
	// ignore: drift
	_, err = db.Exec("UPDATE restcomm_accounts SET auth_token = UPPER(auth_token), friendly_name = 'changed' WHERE sid = ?", a.Sid)
	require.NoError(t, err)
	v, err = Check(ctx, st, db, time.UTC)
	require.NoError(t, err)
	assert.Equal(t, 2, v.Drift(), "%v", v.Differences)

	// a row only in the database, never skipped: drift
	_, err = db.Exec("DELETE FROM restcomm_accounts WHERE sid = ?", a.Sid)
	require.NoError(t, err)
	stray := d.Good()[4]
	stray.Sid, stray.Email = "AC"+restcommtest.MD5("stray"), "stray@example.com"
	require.NoError(t, (&restcommtest.Dataset{Accounts: []restcommtest.Account{stray}}).Insert(ctx, db))
	v, err = Check(ctx, st, db, time.UTC)
	require.NoError(t, err)
	var drift []string
	for _, x := range v.Differences {
		if x.Drift() {
			drift = append(drift, x.String())
		}
	}
	assert.ElementsMatch(t, []string{
		"account " + a.Sid + ": gateway present, database missing",
		"account " + stray.Sid + ": gateway missing, database present",
	}, drift)

	// a namespace keyed by another rule than the database's: a note
	_, err = st.SetCollation(ctx, collation.Exact)
	require.NoError(t, err)
	v, err = Check(ctx, st, db, time.UTC)
	require.NoError(t, err)
	require.Len(t, v.Notes, 1)
	assert.Contains(t, v.Notes[0], "the namespace compares logins under exact, RestComm's database under latin1_swedish_ci")
}
