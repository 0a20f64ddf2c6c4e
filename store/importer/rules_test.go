package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/javacompat"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// row is an accounts INSERT of an HSQLDB script.
func row(a restcommtest.Account) string {
	parent := "NULL"
	if a.ParentSid != "" {
		parent = restcommtest.HSQLString(a.ParentSid)
	}
	vals := []string{restcommtest.HSQLString(a.Sid), "'2016-06-06 06:06:06.000000'", "'2016-06-06 06:06:06.000000'",
		restcommtest.HSQLString(a.Email), restcommtest.HSQLString(a.FriendlyName), parent, restcommtest.HSQLString(a.Type),
		restcommtest.HSQLString(a.Status), restcommtest.HSQLString(a.Token), restcommtest.HSQLString(a.Role),
		restcommtest.HSQLString(a.URI), restcommtest.HSQLString(a.Org)}
	return `INSERT INTO "restcomm_accounts" VALUES(` + strings.Join(vals, ",") + ")"
}

// account is a good top-level account of the default organization.
func account(email string) restcommtest.Account {
	sid := restcommtest.SidOf(email)
	return restcommtest.Account{Sid: sid, Email: email, FriendlyName: "name of " + email, Type: "Full", Status: "active",
		Token: restcommtest.MD5("pw " + email), Role: "Developer", URI: "/2012-04-24/Accounts/" + sid, Org: restcommtest.DefaultOrg}
}

// script is an HSQLDB script of RestComm's two organizations and the
// given lines (rows, or anything else).
func script(lines ...string) string {
	d := &restcommtest.Dataset{Organizations: restcommtest.Generate(0, false).Organizations}
	return d.Script() + strings.Join(lines, "\n") + "\n"
}

// Every row RestComm would authenticate but the gateway would never have
// created, or that does not parse, is skipped with its reason, counted by
// reason, and reserved; what hangs below it is skipped too; a malformed
// line of another table only warns.
func TestSkipReasons(t *testing.T) {
	ctx := context.Background()
	rd := redistest.Start(t)
	st := store.New(rd.Client(t), "")

	type want struct {
		a      restcommtest.Account
		reason string
	}
	var rows []want
	add := func(reason string, email string, tweak func(*restcommtest.Account)) restcommtest.Account {
		a := account(email)
		if tweak != nil {
			tweak(&a)
		}
		rows = append(rows, want{a, reason})
		return a
	}
	good := add("", "good@example.com", nil)
	empty := add(ReasonEmptyToken, "token@example.com", func(a *restcommtest.Account) { a.Token = "" })
	add(ReasonParentSkipped, "child.of.token@example.com", func(a *restcommtest.Account) { a.ParentSid = empty.Sid })
	add(ReasonControl, "nul@example.com", func(a *restcommtest.Account) { a.FriendlyName = "a\x00b" })
	add(ReasonControl, "tab@example.com", func(a *restcommtest.Account) { a.Role = "Developer\t" })
	add(ReasonControl, "c1@example.com", func(a *restcommtest.Account) { a.URI += "\u0085" })
	add(ReasonControl, "ctl\x01@example.com", nil)
	add(ReasonControl, "del@example.com", func(a *restcommtest.Account) { a.Status = "active\x7f" })
	for _, e := range []string{"not an address", "two@@example.com", "nobody@", "a(b@example.com", "x@example.com, y@example.com"} {
		require.False(t, javacompat.ValidEmail(e), e)
		add(ReasonEmail, e, nil)
	}
	add("", "Name <named@example.com>", nil) // JavaMail takes it (RestComm's create does)
	badOrg := "OR" + restcommtest.MD5("control organization")
	add(ReasonOrganizationSkip, "in.bad.org@example.com", func(a *restcommtest.Account) { a.Org = badOrg })

	// an accounts line that does not parse, with its SID and e-mail address
	// readable, and a child of it
	broken := account("broken@example.com")
	brokenLine := strings.TrimSuffix(row(broken), ")") + ",'extra" // unterminated
	add(ReasonParentSkipped, "child.of.broken@example.com", func(a *restcommtest.Account) { a.ParentSid = broken.Sid })

	lines := []string{
		fmt.Sprintf(`INSERT INTO "restcomm_organizations" VALUES('%s','bad\u0009org.example.com','2017-04-19 00:00:00.000000','2017-04-19 00:00:00.000000','active')`, badOrg),
		`INSERT INTO "restcomm_clients" VALUES('CL1','unterminated`,
		brokenLine,
	}
	for _, w := range rows {
		lines = append(lines, row(w.a))
	}
	src, err := restcommdb.ReadHSQLDB(strings.NewReader(script(lines...)), "restcomm.script")
	require.NoError(t, err)
	r, err := Run(ctx, st, src, Options{})
	require.NoError(t, err)

	got := map[string]string{}
	for _, s := range r.Skipped {
		if s.Kind == kindAccount {
			got[s.Sid] = s.Reason
		}
	}
	counts := map[string]int{ReasonUnreadable: 1}
	for _, w := range rows {
		assert.Equal(t, w.reason, got[w.a.Sid], "%q", w.a.Email)
		if w.reason != "" {
			counts[w.reason]++
		} else {
			_, err := st.Account(ctx, w.a.Sid)
			assert.NoError(t, err, "%q is imported", w.a.Email)
		}
	}
	assert.Equal(t, ReasonUnreadable, got[broken.Sid])
	counts[ReasonControl]++ // the organization
	assert.Equal(t, counts, r.SkippedByReason())
	assert.Equal(t, len(rows)+1, r.Accounts.Read, "the unreadable line counts as read")
	assert.Equal(t, r.Accounts.Read, r.Accounts.Imported+r.Accounts.Skipped)
	assert.Equal(t, 3, r.Organizations.Read)
	assert.Equal(t, 1, r.Organizations.Skipped)

	// every skipped row is reserved, with its reason, and a create of its
	// SID or e-mail address is refused
	rs, err := st.Reservations(ctx)
	require.NoError(t, err)
	reserved := map[string]store.Reservation{}
	for _, x := range rs {
		reserved[x.Sid] = x
	}
	for _, s := range r.Skipped {
		assert.Equal(t, s.Reason, reserved[s.Sid].Reason, "%s %s", s.Kind, s.Sid)
	}
	assert.Equal(t, store.Reservation{Sid: broken.Sid, Email: broken.Email, Reason: ReasonUnreadable}, reserved[broken.Sid])
	assert.Equal(t, store.Reservation{Sid: empty.Sid, Email: empty.Email, Reason: ReasonEmptyToken}, reserved[empty.Sid])
	taken, err := st.AccountTaken(ctx, "AC"+restcommtest.MD5("new"), "token@example.com")
	require.NoError(t, err)
	assert.True(t, taken, "a reserved e-mail address is taken")
	taken, err = st.AccountTaken(ctx, empty.Sid, "new@example.com")
	require.NoError(t, err)
	assert.True(t, taken, "a reserved SID is taken")
	_, err = st.Account(ctx, good.Sid)
	require.NoError(t, err)

	var out bytes.Buffer
	r.Write(&out)
	text := out.String()
	t.Log("\n" + text)
	assert.Contains(t, text, "warnings:\n  restcomm.script line 10: unreadable INSERT into \"restcomm_clients\", a table the import does not read")
	assert.NotContains(t, text, "CL1", "the warning does not echo the line")
	for _, reason := range []string{ReasonEmptyToken, ReasonControl, ReasonEmail, ReasonUnreadable} {
		assert.Regexp(t, "\n  "+reason+`: +\d+\n`, text, "counted by reason")
	}
	assert.Contains(t, text, fmt.Sprintf("reserved (RestComm's database holds them: a create at the gateway answers 409): %d\n", len(r.Skipped)))
	assert.Contains(t, text, fmt.Sprintf("  %s %q: %s\n", broken.Sid, broken.Email, ReasonUnreadable))
	assert.False(t, r.Clean())

	// fixed in RestComm and imported again: no longer reserved
	src.Accounts, src.Malformed = []restcommdb.Account{src.Accounts[0]}, nil
	r, err = Run(ctx, st, src, Options{})
	require.NoError(t, err)
	rs, err = st.Reservations(ctx)
	require.NoError(t, err)
	assert.Len(t, rs, 1, "only the organization's row is left: %v", rs)
	assert.Len(t, r.Skipped, 1)
}

// The report lists at most 50 reservations, and says how many there are.
func TestReservationsListBounded(t *testing.T) {
	ctx := context.Background()
	rd := redistest.Start(t)
	st := store.New(rd.Client(t), "")
	var lines []string
	for i := range 60 {
		a := account(fmt.Sprintf("typeless%d@example.com", i))
		a.Type = "Gold"
		lines = append(lines, row(a))
	}
	src, err := restcommdb.ReadHSQLDB(strings.NewReader(script(lines...)), "restcomm.script")
	require.NoError(t, err)
	r, err := Run(ctx, st, src, Options{})
	require.NoError(t, err)
	rs, err := st.Reservations(ctx)
	require.NoError(t, err)
	assert.Len(t, rs, 60)
	var out bytes.Buffer
	r.Write(&out)
	text := out.String()
	assert.Contains(t, text, "answers 409): 60\n")
	assert.Equal(t, 50, strings.Count(text[strings.Index(text, "answers 409)"):], ": unknown type\n"))
	assert.Contains(t, text, "  … and 10 more\n")
}

// Accounts whose e-mail addresses are equal under the source's rule are
// all imported and listed; a login by that address is ambiguous, each is
// reachable by SID. Which addresses are equal is the rule's business:
// MariaDB's latin1_swedish_ci ignores case and trailing spaces, HSQLDB's
// default neither, PAD SPACE trailing spaces only.
func TestSharedEmailsUnderTheRule(t *testing.T) {
	ctx := context.Background()
	// three rows a case or a trailing space apart, with SIDs of their own
	// (old data, or rows written by hand)
	var accts []restcommtest.Account
	for i, e := range []string{"Bob@Example.com", "bob@example.com ", "bob@example.com"} {
		a := account(e)
		a.Sid = "AC" + restcommtest.MD5(fmt.Sprint("bob ", i))
		a.URI = "/2012-04-24/Accounts/" + a.Sid
		a.Created, a.Updated = "2016-06-06 06:06:06", "2016-06-06 06:06:06"
		accts = append(accts, a)
	}
	d := restcommtest.Generate(0, false)
	d.Accounts = append(d.Accounts, accts...)
	url, _ := loadMariaDB(t, d)
	var lines []string
	for _, a := range accts {
		lines = append(lines, row(a))
	}
	hsql := script(lines...)

	for _, tc := range []struct {
		name   string
		read   func() (*restcommdb.Source, error)
		rule   collation.Rule
		shared []int // indexes of accts that share
	}{
		{"MariaDB", func() (*restcommdb.Source, error) { return restcommdb.ReadMySQL(ctx, url) }, collation.Latin1SwedishCI, []int{0, 1, 2}},
		{"HSQLDB", func() (*restcommdb.Source, error) {
			return restcommdb.ReadHSQLDB(strings.NewReader(hsql), "restcomm.script")
		}, collation.Exact, nil},
		{"HSQLDB PAD SPACE", func() (*restcommdb.Source, error) {
			return restcommdb.ReadHSQLDB(strings.NewReader("SET DATABASE COLLATION SQL_TEXT PAD SPACE\n"+hsql), "restcomm.script")
		}, collation.ExactPad, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := redistest.Start(t)
			st := store.New(rd.Client(t), "")
			src, err := tc.read()
			require.NoError(t, err)
			assert.Equal(t, tc.rule, src.Collation)
			r, err := Run(ctx, st, src, Options{})
			require.NoError(t, err)
			assert.Empty(t, r.Skipped)
			assert.Equal(t, tc.rule, r.Collation)
			assert.Equal(t, len(src.Accounts), r.Accounts.Imported, "all imported")
			var want []string
			for _, i := range tc.shared {
				want = append(want, accts[i].Sid)
			}
			sort.Strings(want)
			if want == nil {
				assert.Empty(t, r.Shared)
			} else {
				require.Len(t, r.Shared, 1)
				assert.Equal(t, want, r.Shared[0].Sids)
			}
			for i, a := range accts {
				res, err := st.Resolve(ctx, store.Lookup{Mode: store.ByLogin, ID: a.Email}, store.Lookup{Mode: store.ByLogin, ID: a.Sid})
				require.NoError(t, err)
				if len(tc.shared) > 0 && slicesContains(tc.shared, i) {
					assert.True(t, res[0].Ambiguous, "%q: ambiguous", a.Email)
				} else {
					require.NotNil(t, res[0].Account, a.Email)
					assert.Equal(t, a.Sid, res[0].Account.Sid)
				}
				require.NotNil(t, res[1].Account, "%s by SID", a.Sid)
				assert.Equal(t, a.Email, res[1].Account.EmailAddress, "stored as the source has it")
			}
			var out bytes.Buffer
			r.Write(&out)
			if want != nil {
				assert.Contains(t, out.String(), "e-mail shared (login by e-mail refused as ambiguous; reachable by SID): 1 addresses")
			}
			assert.True(t, r.Clean(), "a shared address is neither skipped nor a conflict")
		})
	}
}

func slicesContains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// The rule recorded is the source's, or the one given; a namespace keyed
// by another is re-keyed, and the report says so; a source whose
// collation has no rule needs one given.
func TestRuleRecordedAndRekeyed(t *testing.T) {
	ctx := context.Background()
	d := restcommtest.Generate(30, false)
	url, _ := loadMariaDB(t, d)
	rd := redistest.Start(t)
	st := store.New(rd.Client(t), "")

	// from the HSQLDB script: exact
	src, err := restcommdb.ReadHSQLDB(strings.NewReader(d.Script()), "restcomm.script")
	require.NoError(t, err)
	r, err := Run(ctx, st, src, Options{})
	require.NoError(t, err)
	assert.Equal(t, collation.Exact, r.Collation)
	assert.Zero(t, r.Reindexed)
	upper := strings.ToUpper(d.Accounts[1].Email)
	res, err := st.Resolve(ctx, store.Lookup{Mode: store.ByLogin, ID: upper})
	require.NoError(t, err)
	assert.Nil(t, res[0].Account, "exact: another case is another address")

	// the same accounts from MariaDB: latin1_swedish_ci, re-keyed
	src, err = restcommdb.ReadMySQL(ctx, url)
	require.NoError(t, err)
	r, err = Run(ctx, st, src, Options{})
	require.NoError(t, err)
	assert.Equal(t, collation.Latin1SwedishCI, r.Collation)
	assert.Equal(t, len(d.Accounts), r.Reindexed, "every account re-keyed")
	assert.Equal(t, len(d.Accounts), r.Accounts.Unchanged)
	var out bytes.Buffer
	r.Write(&out)
	assert.Contains(t, out.String(), fmt.Sprintf("recorded in the namespace, its indexes re-keyed (%d accounts)", len(d.Accounts)))
	res, err = st.Resolve(ctx, store.Lookup{Mode: store.ByLogin, ID: upper + "  "})
	require.NoError(t, err)
	require.NotNil(t, res[0].Account, "latin1_swedish_ci: case and trailing spaces ignored")
	assert.Equal(t, d.Accounts[1].Sid, res[0].Account.Sid)

	// given: recorded, with a warning that the source compares otherwise
	r, err = Run(ctx, st, src, Options{Collation: &collation.ExactPad})
	require.NoError(t, err)
	assert.Equal(t, collation.ExactPad, r.Collation)
	assert.Positive(t, r.Reindexed)
	rule, err := st.NamespaceCollation(ctx)
	require.NoError(t, err)
	assert.Equal(t, collation.ExactPad, *rule)
	require.Len(t, r.Warnings, 1)
	assert.Contains(t, r.Warnings[0], "the source compares under latin1_swedish_ci, the namespace will under exact_pad (given)")

	// an approximated rule is a warning
	r, err = Run(ctx, st, src, Options{Collation: &collation.UnicodeCI})
	require.NoError(t, err)
	assert.Contains(t, strings.Join(r.Warnings, "\n"), "rule unicode_ci only approximates")

	// a collation without a rule: refused unless one is given
	src.CollationErr = errors.New("HSQLDB collation French has no rule here: name one with --collation")
	_, err = Run(ctx, st, src, Options{})
	assert.ErrorContains(t, err, "--collation")
	r, err = Run(ctx, st, src, Options{Collation: &collation.Latin1SwedishCI})
	require.NoError(t, err)
	assert.Equal(t, collation.Latin1SwedishCI, r.Collation)
}
