package accountsapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

// fakeRestCommDB stands in for the mirror's database (caddymodule's
// adapter is tested on a real MariaDB there): columns as a test sets
// them, and a table of accounts keyed as its test says.
type fakeRestCommDB struct {
	mu      sync.Mutex
	columns Columns
	exists  func(ctx context.Context, sid, email string) (bool, error)
	asked   int
}

func (f *fakeRestCommDB) Columns() Columns {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.columns
}

func (f *fakeRestCommDB) set(c Columns) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.columns = c
}

func (f *fakeRestCommDB) AccountExists(ctx context.Context, sid, email string) (bool, error) {
	f.mu.Lock()
	f.asked++
	exists := f.exists
	f.mu.Unlock()
	if exists == nil {
		return false, nil
	}
	return exists(ctx, sid, email)
}

func (f *fakeRestCommDB) timesAsked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked
}

func withRestCommDB(db RestCommDB) func(*setup) {
	return func(c *setup) { c.RestCommDB = db }
}

// with is RestComm's columns with one changed.
func with(column string, c Column) Columns {
	cols := maps.Clone(RestCommColumns)
	cols[column] = c
	return cols
}

// With a mirror, every field a client sets that lands in a column is
// refused with 400 naming it when the column cannot hold it: a character
// outside its character set, more characters than its width (counted as
// MariaDB counts them), more bytes than a TEXT column holds. On create
// and on update, and the defaults a create fills in too; nothing stored.
// Each row says which column the database has; a column that can hold
// the value lets it through.
func TestMirroredColumnsRefuseWhatTheyCannotHold(t *testing.T) {
	t.Parallel()
	db := &fakeRestCommDB{columns: RestCommColumns}
	h := newHarness(t, true, withRestCommDB(db))
	const create, base = "/Accounts.json", "EmailAddress=new@x.com&Password=RestComm12"
	update := "/Accounts.json/" + fixture.SidDev
	esc := url.QueryEscape
	latin1 := func(n int) Column { return Column{Charset: "latin1", Chars: n, Bytes: n} }
	type row struct {
		name        string
		field, kind string  // what the row is about: a field, "charset" or "width"
		columns     Columns // the database's
		c           call
		want        string // the 400's text; "" when the value fits
	}
	rows := []row{
		// RestComm's own schema: latin1
		{"create, Japanese name", "FriendlyName", "charset", RestCommColumns,
			post(create, "ADMIN", base+"&FriendlyName="+esc("日本語")), "FriendlyName can not contain the character U+65E5."},
		{"create, emoji in name", "FriendlyName", "charset", RestCommColumns,
			post(create, "ADMIN", base+"&FriendlyName="+esc("fraud 😀")), "FriendlyName can not contain the character U+1F600."},
		{"update, Japanese name", "FriendlyName", "charset", RestCommColumns,
			put(update, "ADMIN", "FriendlyName="+esc("日本語")), "FriendlyName can not contain the character U+65E5."},
		{"update, emoji in name", "FriendlyName", "charset", RestCommColumns,
			put(update, "ADMIN", "FriendlyName="+esc("fraud 😀")), "FriendlyName can not contain the character U+1F600."},
		{"create, latin1 accents fit", "FriendlyName", "charset", RestCommColumns,
			post(create, "ADMIN", "EmailAddress=accents@x.com&Password=RestComm12&FriendlyName="+esc("Ærøskøbing € ÿ")), ""},
		{"create, Japanese e-mail (and so the default name)", "EmailAddress", "charset", RestCommColumns,
			post(create, "ADMIN", "EmailAddress="+esc("日本@x.com")+"&Password=RestComm12"), "EmailAddress can not contain the character U+65E5."},
		{"create, Japanese role", "Role", "charset", RestCommColumns,
			post(create, "ADMIN", base+"&Role="+esc("日本語")), "Role can not contain the character U+65E5."},
		{"update, emoji role", "Role", "charset", RestCommColumns,
			post(update, "ADMIN", "Role="+esc("😀")), "Role can not contain the character U+1F600."},
		{"create, 65 characters", "FriendlyName", "width", RestCommColumns,
			post(create, "ADMIN", base+"&FriendlyName="+strings.Repeat("n", 65)), "FriendlyName can not be longer than 64 characters."},
		{"update, 65 characters", "FriendlyName", "width", RestCommColumns,
			put(update, "ADMIN", "FriendlyName="+strings.Repeat("n", 65)), "FriendlyName can not be longer than 64 characters."},
		{"update, 65-character role", "Role", "width", RestCommColumns,
			put(update, "ADMIN", "Role="+strings.Repeat("r", 65)), "Role can not be longer than 64 characters."},

		// what the database says instead
		{"create, Japanese name in a utf8mb4 column", "FriendlyName", "charset",
			with("restcomm_accounts.friendly_name", Column{Charset: "utf8mb4", Chars: 64, Bytes: 256}),
			post(create, "ADMIN", "EmailAddress=jp@x.com&Password=RestComm12&FriendlyName="+esc("日本語 😀")), ""},
		{"update, emoji in a utf8mb3 column", "FriendlyName", "charset",
			with("restcomm_accounts.friendly_name", Column{Charset: "utf8mb3", Chars: 64, Bytes: 192}),
			put(update, "ADMIN", "FriendlyName="+esc("日本語 😀")), "FriendlyName can not contain the character U+1F600."},
		{"create, role in an ascii column", "Role", "charset",
			with("restcomm_accounts.role", Column{Charset: "ascii", Chars: 64, Bytes: 64}),
			post(create, "ADMIN", base+"&Role="+esc("Développeur")), "Role can not contain the character U+00E9."},
		{"create, name over a narrowed column", "FriendlyName", "width", with("restcomm_accounts.friendly_name", latin1(10)),
			post(create, "ADMIN", base+"&FriendlyName="+strings.Repeat("n", 11)), "FriendlyName can not be longer than 10 characters."},
		{"create, the default name (the e-mail) over it", "FriendlyName", "width", with("restcomm_accounts.friendly_name", latin1(10)),
			post(create, "ADMIN", "EmailAddress=longer@x.com&Password=RestComm12"), "FriendlyName can not be longer than 10 characters."},
		{"update, name over a narrowed column", "FriendlyName", "width", with("restcomm_accounts.friendly_name", latin1(10)),
			put(update, "ADMIN", "FriendlyName="+strings.Repeat("n", 11)), "FriendlyName can not be longer than 10 characters."},
		{"update, characters counted as MariaDB counts them", "FriendlyName", "width",
			with("restcomm_accounts.friendly_name", Column{Charset: "utf8mb4", Chars: 10, Bytes: 40}),
			put(update, "ADMIN", "FriendlyName="+esc(strings.Repeat("😀", 10))), ""},
		{"create, e-mail over a narrowed column", "EmailAddress", "width", with("restcomm_accounts.email_address", latin1(12)),
			post(create, "ADMIN", "EmailAddress=thirteen@x.co&Password=RestComm12&FriendlyName=n"), "EmailAddress can not be longer than 12 characters."},
		{"create, e-mail over a TEXT column's bytes", "EmailAddress", "width",
			with("restcomm_accounts.email_address", Column{Charset: "utf8mb4", Chars: 20, Bytes: 20}),
			post(create, "ADMIN", "EmailAddress="+esc("éééééééé@x.com")+"&Password=RestComm12&FriendlyName=n"), "EmailAddress can not be longer than 20 bytes."},
		{"create, role over a narrowed column", "Role", "width", with("restcomm_accounts.role", latin1(10)),
			post(create, "ADMIN", base+"&Role="+strings.Repeat("r", 11)), "Role can not be longer than 10 characters."},
		{"create, the caller's role over it", "Role", "width", with("restcomm_accounts.role", latin1(5)),
			post(create, "ADMIN", base), "Role can not be longer than 5 characters."},
		{"update, role over a narrowed column", "Role", "width", with("restcomm_accounts.role", latin1(10)),
			put(update, "ADMIN", "Role="+strings.Repeat("r", 11)), "Role can not be longer than 10 characters."},
		{"create, status over a narrowed column", "Status", "width", with("restcomm_accounts.status", latin1(8)),
			post(create, "ADMIN", base+"&Status=suspended"), "Status can not be longer than 8 characters."},
		{"update, status over a narrowed column", "Status", "width", with("restcomm_accounts.status", latin1(8)),
			put(update, "ADMIN", "Status=suspended"), "Status can not be longer than 8 characters."},
		{"create, organization over a narrowed column", "OrganizationSid", "width", with("restcomm_accounts.organization_sid", latin1(33)),
			post(create, "ADMIN", base+"&OrganizationSid="+fixture.SidOrg1), "OrganizationSid can not be longer than 33 characters."},
		{"create, the caller's organization over it", "OrganizationSid", "width", with("restcomm_accounts.organization_sid", latin1(33)),
			post(create, "ADMIN", base), "OrganizationSid can not be longer than 33 characters."},
		{"organization, domain over a narrowed column", "DomainName", "width", with("restcomm_organizations.domain_name", latin1(12)),
			put("/Organizations.json/thirteen-char", "ADMIN", ""), "DomainName can not be longer than 12 characters."},
		{"organization, domain within it", "DomainName", "width", with("restcomm_organizations.domain_name", latin1(12)),
			put("/Organizations.json/twelve-chars", "ADMIN", ""), ""},
	}
	covered := map[string]bool{}
	for _, r := range rows {
		db.set(r.columns)
		before := redisDump(t, h)
		w := h.do(r.c)
		if r.want == "" {
			assert.Equal(t, http.StatusOK, w.Code, "%s: %s", r.name, w.Body.String())
			continue
		}
		covered[r.field+" "+r.kind] = true
		assert.Equal(t, http.StatusBadRequest, w.Code, r.name)
		assert.Equal(t, r.want, w.Body.String(), r.name)
		assert.Equal(t, before, redisDump(t, h), "%s: nothing stored", r.name)
	}
	// every column a client's value lands in is checked for its width, and
	// every free-text one for its character set; Status, OrganizationSid
	// and DomainName are validated to ASCII first
	for f := range fieldColumns {
		assert.True(t, covered[f+" width"], "%s: no row refuses it for its column's width", f)
	}
	for _, f := range []string{"FriendlyName", "EmailAddress", "Role"} {
		assert.True(t, covered[f+" charset"], "%s: no row refuses it for its column's character set", f)
	}
}

// Without a mirror, Redis holds any text: the values a mirrored database
// would refuse are stored as before.
func TestWithoutMirrorAnyTextIsStored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	for i, name := range []string{"日本語", "fraud 😀"} {
		w := h.do(post("/Accounts.json", "ADMIN", fmt.Sprintf("EmailAddress=free%d@x.com&Password=RestComm12&FriendlyName=%s", i, url.QueryEscape(name))))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Contains(t, w.Body.String(), name)
		w = h.do(put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName="+url.QueryEscape(name)))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Contains(t, w.Body.String(), name)
	}
}

// With a mirror, a create asks RestComm's table for the new SID and
// e-mail address: found there, it is RestComm's 409, at the duplicate's
// stage; the database failing or slow is a 503. Nothing is stored either
// way, and the database is never skipped.
func TestMirroredCreateAsksRestCommsTable(t *testing.T) {
	t.Parallel()
	db := &fakeRestCommDB{columns: RestCommColumns}
	h := newHarness(t, true, withRestCommDB(db), func(c *setup) { c.DatabaseTimeout = 100 * time.Millisecond })
	email := "in.restcomm@x.com"
	create := post("/Accounts.json", "ADMIN", "EmailAddress="+email+"&Password=RestComm12")
	var gotSid, gotEmail string
	cases := []struct {
		name   string
		exists func(context.Context, string, string) (bool, error)
		status int
		body   string
	}{
		{"there", func(_ context.Context, sid, email string) (bool, error) {
			gotSid, gotEmail = sid, email
			return true, nil
		}, http.StatusConflict, msgDuplicate},
		{"down", func(context.Context, string, string) (bool, error) {
			return false, errors.New("dial tcp 127.0.0.1:3306: connect: connection refused")
		}, http.StatusServiceUnavailable, "Account store unavailable"},
		{"slow", func(ctx context.Context, _, _ string) (bool, error) {
			<-ctx.Done()
			return false, ctx.Err()
		}, http.StatusServiceUnavailable, "Account store unavailable"},
	}
	for _, c := range cases {
		db.exists = c.exists
		before := redisDump(t, h)
		start := time.Now()
		w := h.do(create)
		assert.Equal(t, c.status, w.Code, c.name)
		assert.Contains(t, w.Body.String(), c.body, c.name)
		assert.Less(t, time.Since(start), time.Second, "%s: bounded by DatabaseTimeout", c.name)
		assert.Equal(t, before, redisDump(t, h), "%s: nothing stored", c.name)
	}
	assert.Equal(t, "AC"+md5hex(email), gotSid)
	assert.Equal(t, email, gotEmail)

	// the duplicate's stage: before a friendly name the column cannot
	// hold (RestComm's insert would come later)
	db.exists = func(context.Context, string, string) (bool, error) { return true, nil }
	w := h.do(post("/Accounts.json", "ADMIN", "EmailAddress="+email+"&Password=RestComm12&FriendlyName="+url.QueryEscape("日本語")))
	assert.Equal(t, http.StatusConflict, w.Code)
	// and after a weak password
	w = h.do(post("/Accounts.json", "ADMIN", "EmailAddress="+email+"&Password=weak"))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), msgTooWeak)

	// an address the column cannot hold is in no row: not asked (the
	// database would refuse to compare it), refused for the column
	asked := db.timesAsked()
	w = h.do(post("/Accounts.json", "ADMIN", "EmailAddress="+url.QueryEscape("日本@x.com")+"&Password=RestComm12"))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Equal(t, "EmailAddress can not contain the character U+65E5.", w.Body.String())
	assert.Equal(t, asked, db.timesAsked())

	// not there: created, the database asked once more
	db.exists = nil
	w = h.do(create)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, asked+1, db.timesAsked())
	// known to Redis: 409 without asking
	w = h.do(create)
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Equal(t, asked+1, db.timesAsked())
}

// An empty secret never logs in, whatever the account stores: an empty
// token (which RestComm compares equal) or the MD5 of "" (an account
// without a password).
func TestEmptySecretNeverAuthenticates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, func(c *setup) { c.noCache = true })
	for _, token := range []string{"", md5hex("")} {
		_, err := h.store.UpdateAccount(t.Context(), nil, fixture.SidDev, store.AccountUpdate{AuthToken: &token, Now: time.Now()})
		require.NoError(t, err)
		for _, user := range []string{fixture.Users["DEV"], fixture.SidDev} {
			w := h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, user: user})
			assert.Equal(t, http.StatusUnauthorized, w.Code, "token %q, login %s", token, user)
			assert.Equal(t, `Basic realm="Restcomm realm"`, w.Header().Get("WWW-Authenticate"))
			w = h.do(call{path: fixture.APIRoot + "/Accounts/" + fixture.SidDev + "/Calls.json", user: user})
			assert.Equal(t, http.StatusUnauthorized, w.Code, "not passed on either")
		}
	}
	assert.Empty(t, h.proxied)
	assert.False(t, secretMatches("", ""))
	assert.False(t, secretMatches("", md5hex("")))
	assert.True(t, secretMatches(md5hex(""), md5hex("")), "the token itself is not an empty secret")
}

// writeThrottle sets the policy's failed-login limit per login and IP.
func writeThrottle(t *testing.T, dir string, loginIPMax int) {
	t.Helper()
	data := fmt.Sprintf(`{"window_seconds": 60, "login_ip_max_failures": %d, "ip_max_failures": 100}`, loginIPMax)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "restcomm", "throttle", "data.json"), []byte(data), 0o644))
}

// ambiguousLogins resolves the logins named as the store does when
// several accounts share an e-mail address (under the namespace's rule):
// Ambiguous, whatever else it found.
type ambiguousLogins struct {
	Resolver
	logins map[string]bool
}

func (a *ambiguousLogins) ResolveCounting(ctx context.Context, fl *store.FailedLogins, lookups ...store.Lookup) ([]store.Resolved, *store.FailureCounts, error) {
	res, counts, err := a.Resolver.ResolveCounting(ctx, fl, lookups...)
	for i, l := range lookups {
		if err == nil && l.Mode == store.ByLogin && a.logins[l.ID] {
			res[i].Ambiguous = true
		}
	}
	return res, counts, err
}

// An e-mail login matching several accounts is refused with the ordinary
// 401 (RestComm: 500), logged as ambiguous without the secret, and
// counted as a failed login; each account still logs in by SID.
func TestAmbiguousLoginIs401(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.WarnLevel)
	dir := copyPolicy(t)
	writeThrottle(t, dir, 2)
	amb := &ambiguousLogins{logins: map[string]bool{fixture.Users["DEV"]: true}}
	h := newHarness(t, true, withPolicyDir(t, dir, "replace"), func(c *setup) {
		c.Logger = zap.New(core)
		c.Resolver = amb
	})
	amb.Resolver = h.store // made by newHarness: Redis, never from memory
	c := call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, user: fixture.Users["DEV"], secret: fixture.Token}
	for range 2 {
		w := h.do(c)
		assert.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
		assert.Equal(t, `Basic realm="Restcomm realm"`, w.Header().Get("WWW-Authenticate"))
	}
	w := h.do(c)
	assert.Equal(t, http.StatusTooManyRequests, w.Code, "both counted as failed logins")

	lines := logs.FilterMessage("login matches several accounts; refused").All()
	require.NotEmpty(t, lines)
	fields := lines[0].ContextMap()
	assert.Equal(t, fixture.Users["DEV"], fields["login"])
	assert.Equal(t, "ambiguous login", fields["cause"])
	for _, l := range logs.All() {
		assert.NotContains(t, fmt.Sprint(l.ContextMap()), fixture.Token, "never the secret")
	}

	w = h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, user: fixture.SidDev, secret: fixture.Token, remote: "192.0.2.99:1"})
	assert.Equal(t, http.StatusOK, w.Code, "by SID it is one account")
}
