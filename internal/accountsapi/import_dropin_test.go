package accountsapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/render"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/importer"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// importInto imports from (a URL or a script) into st, as `accounts
// import` does.
func importInto(t *testing.T, st *store.Store, from string) *importer.Report {
	t.Helper()
	src, err := restcommdb.Read(context.Background(), from)
	require.NoError(t, err)
	rep, err := importer.Run(context.Background(), st, src, importer.Options{})
	require.NoError(t, err)
	return rep
}

// TestImportedAccountsServedAsRestCommServedThem is the import's done-when
// test: 1,000 accounts in three levels across two organizations, in every
// status, with quotes and non-ASCII names and every kind of bad row, from
// MariaDB and from an HSQLDB script. Every good account then authenticates
// at the gateway with its token and with its password exactly as it does
// in the stand-in RestComm; its GET, in XML and JSON, is what RestComm
// prints for its row; lists come in RestComm's order; every bad row is in
// the report.
func TestImportedAccountsServedAsRestCommServedThem(t *testing.T) {
	t.Parallel()
	d := restcommtest.StartDropIn(t, 1000)
	good := d.Data.Importable()
	rows := map[string]restcommtest.Account{}
	children := map[string][]string{}
	for _, a := range good {
		rows[a.Sid] = a
		if a.ParentSid != "" {
			children[a.ParentSid] = append(children[a.ParentSid], a.Sid)
		}
	}
	top := func(a restcommtest.Account) restcommtest.Account {
		for a.ParentSid != "" {
			a = rows[a.ParentSid]
		}
		return a
	}
	expected := func(a restcommtest.Account) *store.Account {
		parse := func(s string) time.Time {
			tm, err := time.Parse(time.DateTime, s)
			require.NoError(t, err)
			return tm
		}
		return &store.Account{Sid: a.Sid, OrganizationSid: a.Org, FriendlyName: a.FriendlyName, EmailAddress: a.Email,
			Type: a.Type, Status: a.Status, Role: a.Role, AuthToken: a.Token, URI: a.URI, ParentSid: a.ParentSid,
			DateCreated: parse(a.Created), DateUpdated: parse(a.Updated)}
	}

	for _, source := range []struct{ name, from string }{{"mariadb", d.URL}, {"hsqldb", d.Script}} {
		t.Run(source.name, func(t *testing.T) {
			h := newHarness(t, false)
			rep := importInto(t, h.store, source.from)
			assert.Equal(t, len(good), rep.Accounts.Imported)
			var bad []string
			for _, a := range d.Data.Accounts {
				if a.Bad != "" && a.Bad != restcommtest.SharedEmail {
					bad = append(bad, a.Sid+" "+a.Bad)
				}
			}
			var reported []string
			for _, s := range rep.Skipped {
				reported = append(reported, s.Sid+" "+s.Reason)
			}
			slices.Sort(bad)
			slices.Sort(reported)
			assert.Equal(t, bad, reported, "every bad row is in the report")

			statuses := map[string]int{}
			for i, a := range good {
				statuses[a.Status]++
				// one client address per account: the wrong secret below
				// counts towards the per-address throttle
				remote := fmt.Sprintf("10.%d.%d.1:1234", i/256, i%256)
				calls := fixture.APIRoot + "/Accounts/" + a.Sid + "/Calls.json"
				for _, cred := range [][2]string{{a.Email, a.Token}, {a.Sid, a.Password}, {a.Email, a.Password}, {a.Sid, a.Token}} {
					got := h.do(call{path: calls, user: cred[0], secret: cred[1], remote: remote})
					want := d.RC.Status(t, calls, cred[0], cred[1])
					switch {
					case want == http.StatusOK:
						assert.Equal(t, http.StatusTeapot, got.Code, "%s (%s) as %s: RestComm accepts it, the gateway must pass it on", a.Sid, a.Status, cred[0])
					case a.Bad == restcommtest.SharedEmail && cred[0] == a.Email:
						// RestComm fails on an e-mail two rows share (500);
						// the gateway refuses it as ambiguous (docs/restcomm-contract.md, divergences)
						assert.Equal(t, http.StatusInternalServerError, want)
						assert.Equal(t, http.StatusUnauthorized, got.Code, "%s as %s", a.Sid, cred[0])
					default:
						assert.Equal(t, want, got.Code, "%s (%s) as %s: %s", a.Sid, a.Status, cred[0], got.Body.String())
					}
				}
				// a wrong secret: refused by both
				got := h.do(call{path: calls, user: a.Email, secret: "wrong", remote: remote})
				assert.Equal(t, http.StatusUnauthorized, got.Code)

				// its GET, by its top-level ancestor (active)
				anc := top(a)
				exp := expected(a)
				res := h.do(call{path: fixture.APIRoot + "/Accounts/" + a.Sid, user: anc.Sid, secret: anc.Token})
				require.Equal(t, http.StatusOK, res.Code, "%s: %s", a.Sid, res.Body.String())
				assert.Equal(t, string(render.AppendAccountXML(nil, exp)), res.Body.String(), a.Sid)
				res = h.do(call{path: fixture.APIRoot + "/Accounts.json/" + a.Sid, user: anc.Sid, secret: anc.Token})
				require.Equal(t, http.StatusOK, res.Code)
				assert.Equal(t, string(render.AppendAccountJSON(nil, exp)), res.Body.String(), a.Sid)
			}
			assert.Len(t, statuses, 5, "every status: %v", statuses)

			// lists: an account's direct children, in RestComm's (SID) order
			lists := 0
			for parent, kids := range children {
				p := rows[parent]
				if p.Status != "active" {
					continue
				}
				slices.Sort(kids)
				var want []store.Account
				for _, k := range kids {
					want = append(want, *expected(rows[k]))
				}
				res := h.do(call{path: fixture.APIRoot + "/Accounts.json", user: p.Email, secret: p.Password})
				require.Equal(t, http.StatusOK, res.Code)
				assert.Equal(t, string(render.AppendAccountListJSON(nil, want)), res.Body.String(), parent)
				res = h.do(call{path: fixture.APIRoot + "/Accounts", user: p.Email, secret: p.Password})
				require.Equal(t, http.StatusOK, res.Code)
				assert.Equal(t, string(render.AppendAccountListXML(nil, want)), res.Body.String(), parent)
				lists++
			}
			assert.GreaterOrEqual(t, lists, 20, "lists of active parents")
		})
	}
}

// TestImportedRowPrintsAsRestComm pins, independently of the render
// package, the XML of one imported row with quotes and non-ASCII text.
func TestImportedRowPrintsAsRestComm(t *testing.T) {
	t.Parallel()
	const script = `CREATE MEMORY TABLE PUBLIC."restcomm_organizations"("sid" VARCHAR(34) NOT NULL PRIMARY KEY,"domain_name" VARCHAR(255) NOT NULL,"date_created" TIMESTAMP NOT NULL,"date_updated" TIMESTAMP NOT NULL,"status" VARCHAR(16))
CREATE MEMORY TABLE PUBLIC."restcomm_accounts"("sid" VARCHAR(34) NOT NULL PRIMARY KEY,"date_created" TIMESTAMP NOT NULL,"date_updated" TIMESTAMP NOT NULL,"email_address" LONGVARCHAR NOT NULL,"friendly_name" VARCHAR(64) NOT NULL,"parent_sid" VARCHAR(34),"type" VARCHAR(8) NOT NULL,"status" VARCHAR(16) NOT NULL,"auth_token" VARCHAR(32) NOT NULL,"role" VARCHAR(64) NOT NULL,"uri" LONGVARCHAR NOT NULL,"organization_sid" VARCHAR(34))
INSERT INTO "restcomm_organizations" VALUES('ORafbe225ad37541eba518a74248f0ac4c','default.restcomm.com','2017-04-19 00:00:00.000000','2017-04-19 00:00:00.000000','active')
INSERT INTO "restcomm_accounts" VALUES('ACae6e420f425248d6a26948c17a9e2acf','2012-04-24 00:00:00.000000','2012-04-24 00:00:00.000000','administrator@company.com','O''Brien & <Zo\u00eb>',NULL,'Full','active','77f8c12cc7b8f8423e5c38b035249166','Administrator','/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf','ORafbe225ad37541eba518a74248f0ac4c')
`
	h := newHarness(t, false)
	src, err := restcommdb.ReadHSQLDB(strings.NewReader(script), "restcomm.script")
	require.NoError(t, err)
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	_, err = importer.Run(context.Background(), h.store, src, importer.Options{TimeZone: paris})
	require.NoError(t, err)
	res := h.do(call{path: fixture.APIRoot + "/Accounts.json/ACae6e420f425248d6a26948c17a9e2acf",
		user: "administrator@company.com", secret: "RestComm"})
	require.Equal(t, http.StatusOK, res.Code)
	body := res.Body.String()
	assert.Contains(t, body, `"friendly_name": "O\u0027Brien \u0026 \u003cZoë\u003e"`, "Gson's HTML-safe escaping")
	assert.Contains(t, body, `"date_created": "Mon, 23 Apr 2012 22:00:00 +0000"`, "midnight in Paris, in UTC")
	res = h.do(call{path: fixture.APIRoot + "/Accounts/ACae6e420f425248d6a26948c17a9e2acf",
		user: "administrator@company.com", secret: "RestComm"})
	require.Equal(t, http.StatusOK, res.Code)
	assert.Contains(t, res.Body.String(), "<FriendlyName>O&apos;Brien &amp; &lt;Zoë&gt;</FriendlyName>")
}
