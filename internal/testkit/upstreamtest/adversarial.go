package upstreamtest

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/restpath"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
)

// AdversarialRow is one line of caddymodule/testdata/adversarial-paths.tsv:
// what to Expect ("400", "api" or "other") of the request target Target,
// the account Sid it names (Account, "-" for none), and Why, the row's name.
type AdversarialRow struct {
	Expect, Target, Account, Why string
}

// ReadAdversarialPaths reads the table from file, with {ADMIN} and {DEV}
// replaced by the fixture's Sids.
func ReadAdversarialPaths(t testing.TB, file string) []AdversarialRow {
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	subst := strings.NewReplacer("{ADMIN}", fixture.SidAdmin, "{DEV}", fixture.SidDev)
	var rows []AdversarialRow
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		require.Len(t, f, 4, line)
		rows = append(rows, AdversarialRow{f[0], subst.Replace(f[1]), subst.Replace(f[2]), f[3]})
	}
	return rows
}

// CheckAdversarial sends row's target with send (a GET, the target exactly
// as given), as the fixture's ADMIN and with ForgedIdentity, and checks
// what the client and u saw: either 400, with nothing reaching u, or the
// target reaching u exactly as sent with the verified identity only — and
// never as an Accounts or Organizations route.
func (u *Upstream) CheckAdversarial(t testing.TB, row AdversarialRow,
	send func(target string, header http.Header) (*http.Response, string)) {
	auth := fixture.Basic(fixture.Users["ADMIN"], fixture.Token)
	res, body := send(row.Target, MergeHeaders(ForgedIdentity(), http.Header{"Authorization": {auth}}))
	got := u.Take()
	switch row.Expect {
	case "400":
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, body)
		assert.Empty(t, got, "nothing reaches the upstream")
	case "api", "other":
		assert.Equal(t, http.StatusOK, res.StatusCode, body)
		require.Len(t, got, 1)
		assert.Equal(t, row.Target, got[0].RequestURI, "path and query reach upstream as sent")
		assert.Equal(t, auth, got[0].Header.Get("Authorization"))
		if row.Expect == "other" {
			assert.Empty(t, IdentityHeaders(got[0].Header))
			return
		}
		assert.Equal(t, VerifiedIdentity(fixture.SidAdmin, "Administrator", fixture.SidOrg0), IdentityHeaders(got[0].Header))
		path, query, _ := strings.Cut(got[0].RequestURI, "?")
		p, err := restpath.ParseRequest(path, query)
		require.NoError(t, err)
		assert.Equal(t, restpath.Proxied, p.Route, "never an Accounts or Organizations route")
		account := row.Account
		if account == "-" {
			account = ""
		}
		assert.Equal(t, account, p.AccountSid)
	default:
		t.Fatalf("unknown expectation %q", row.Expect)
	}
}
