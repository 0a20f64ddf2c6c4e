package caddymodule

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// restcommDatabase creates database name on maria with RestComm's two
// tables as its schema has them (restcommdb.Schema in a latin1 database),
// then runs the statements given on it. It returns a root handle on it
// and the mirror's URL for it (root through the socket: no password to
// put in the environment).
func restcommDatabase(t *testing.T, maria *mariadbtest.Server, name string, stmts ...string) (*sql.DB, string) {
	t.Helper()
	_, err := maria.DB(t, "").Exec("CREATE DATABASE `" + name + "` CHARACTER SET latin1")
	require.NoError(t, err)
	db := maria.DB(t, name)
	for _, stmt := range append(slices.Clone(restcommdb.Schema), stmts...) {
		_, err := db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	return db, "mysql://root@localhost/" + name + "?socket=" + url.QueryEscape(maria.Socket)
}

// mirroredInto is a gateway with the fixture, mirroring into dbURL, once
// its worker delivers.
func mirroredInto(t *testing.T, dbURL string) *harness {
	t.Helper()
	h := newHarness(t, true, func(g *Gateway) { g.Mirror = &MirrorConfig{Database: dbURL} })
	require.Eventually(t, func() bool {
		st, err := h.store.Outbox().Status(context.Background())
		return err == nil && st.Enabled && st.Holder == instanceName()
	}, 10*time.Second, 10*time.Millisecond, "the gateway's worker delivers")
	return h
}

// columns is what h's service checks values against now.
func columns(h *harness) map[string]string {
	out := map[string]string{}
	for k, c := range h.g.restcommDB.Columns() {
		out[k] = fmt.Sprintf("%s %d", c.Charset, c.Chars)
	}
	return out
}

// lastOutboxID is the id of the last entry ever appended to h's outbox.
func lastOutboxID(t *testing.T, h *harness) string {
	t.Helper()
	info, err := h.redis.Client(t).XInfoStream(context.Background(), "{restcomm}:outbox").Result()
	require.NoError(t, err)
	return info.LastGeneratedID
}

// rowCount is the number of rows of RestComm's two tables.
func rowCount(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT (SELECT COUNT(*) FROM restcomm_accounts) + (SELECT COUNT(*) FROM restcomm_organizations)").Scan(&n))
	return n
}

// refusedUnwritten asserts that c is answered status with body, and wrote
// nothing: no change appended to the outbox (so nothing will reach
// RestComm), no account of email in Redis, and with db, no row in
// RestComm's tables.
func refusedUnwritten(t *testing.T, h *harness, db *sql.DB, c call, status int, body, email string) {
	t.Helper()
	settled := func() bool {
		st, err := h.store.Outbox().Status(context.Background())
		return err == nil && st.Backlog == 0
	}
	require.Eventually(t, settled, 10*time.Second, 10*time.Millisecond, "earlier changes delivered")
	last, rows := lastOutboxID(t, h), 0
	if db != nil {
		rows = rowCount(t, db)
	}
	w := h.do(c)
	assert.Equal(t, status, w.Code, "%s %s %s: %s", c.method, c.path, c.form, w.Body.String())
	assert.Contains(t, w.Body.String(), body)
	if status == http.StatusServiceUnavailable {
		assert.Equal(t, "1", w.Header().Get("Retry-After"))
	}
	assert.Equal(t, last, lastOutboxID(t, h), "nothing appended to the outbox")
	if db != nil {
		assert.Equal(t, rows, rowCount(t, db), "nothing in RestComm's tables")
	}
	if email != "" {
		taken, err := h.store.AccountTaken(context.Background(), restcommtest.SidOf(email), email)
		require.NoError(t, err)
		assert.False(t, taken, "no account in Redis")
	}
}

// With a mirror, a value the database's column cannot hold is refused with
// 400 naming the field, before anything is stored: characters outside the
// column's character set, more characters than its width, as the
// database's information_schema describes them (RestComm's schema, and
// one an operator altered). Without a mirror, the same values are stored.
func TestMirrorRefusesWhatRestCommCannotStore(t *testing.T) {
	maria := mariadbtest.Start(t)
	stock, stockURL := restcommDatabase(t, maria, "restcomm")
	altered, alteredURL := restcommDatabase(t, maria, "altered",
		"ALTER TABLE restcomm_accounts MODIFY friendly_name VARCHAR(10) CHARACTER SET utf8mb4 NOT NULL, "+
			"MODIFY role VARCHAR(10) NOT NULL, MODIFY email_address VARCHAR(30) NOT NULL, MODIFY status VARCHAR(8) NOT NULL",
		"ALTER TABLE restcomm_organizations MODIFY domain_name VARCHAR(12) NOT NULL")
	onStock, onAltered := mirroredInto(t, stockURL), mirroredInto(t, alteredURL)
	for _, h := range []*harness{onStock, onAltered} {
		require.Eventually(t, func() bool { _, read := columns(h)["restcomm_accounts.sid"]; return read },
			10*time.Second, 10*time.Millisecond, "the database's columns are read")
	}
	assert.Equal(t, "latin1 64", columns(onStock)["restcomm_accounts.friendly_name"])
	assert.Equal(t, "utf8mb4 10", columns(onAltered)["restcomm_accounts.friendly_name"])

	esc := url.QueryEscape
	update := "/Accounts.json/" + fixture.SidDev
	create := func(email, more string) call {
		return post("/Accounts.json", "ADMIN", "EmailAddress="+esc(email)+"&Password=RestComm12"+more)
	}
	type row struct {
		field, kind string // the field, and what of its column refuses it: "charset" or "width"
		c           call
		email       string // a create's, to check Redis for
		want        string // the 400's text
	}
	stockRows := []row{
		{"FriendlyName", "charset", create("jp1@x.com", "&FriendlyName="+esc("日本語")), "jp1@x.com", "FriendlyName can not contain the character U+65E5."},
		{"FriendlyName", "charset", create("jp2@x.com", "&FriendlyName="+esc("fraud 😀")), "jp2@x.com", "FriendlyName can not contain the character U+1F600."},
		{"FriendlyName", "charset", put(update, "ADMIN", "FriendlyName="+esc("日本語")), "", "FriendlyName can not contain the character U+65E5."},
		{"FriendlyName", "charset", put(update, "ADMIN", "FriendlyName="+esc("fraud 😀")), "", "FriendlyName can not contain the character U+1F600."},
		{"EmailAddress", "charset", create("日本@x.com", ""), "日本@x.com", "EmailAddress can not contain the character U+65E5."},
		{"Role", "charset", create("jp3@x.com", "&Role="+esc("日本語")), "jp3@x.com", "Role can not contain the character U+65E5."},
		{"Role", "charset", put(update, "ADMIN", "Role="+esc("😀")), "", "Role can not contain the character U+1F600."},
		{"FriendlyName", "width", create("long1@x.com", "&FriendlyName="+strings.Repeat("n", 65)), "long1@x.com", "FriendlyName can not be longer than 64 characters."},
		{"FriendlyName", "width", put(update, "ADMIN", "FriendlyName="+strings.Repeat("n", 65)), "", "FriendlyName can not be longer than 64 characters."},
		{"Role", "width", put(update, "ADMIN", "Role="+strings.Repeat("r", 65)), "", "Role can not be longer than 64 characters."},
	}
	alteredRows := []row{
		{"FriendlyName", "width", create("long2@x.com", "&FriendlyName="+strings.Repeat("n", 11)), "long2@x.com", "FriendlyName can not be longer than 10 characters."},
		{"FriendlyName", "width", put(update, "ADMIN", "FriendlyName="+strings.Repeat("n", 11)), "", "FriendlyName can not be longer than 10 characters."},
		{"EmailAddress", "width", create("thirty-one-characters@xx.com.ar", "&FriendlyName=n"), "thirty-one-characters@xx.com.ar", "EmailAddress can not be longer than 30 characters."},
		{"Role", "width", create("long3@x.com", "&FriendlyName=n&Role="+strings.Repeat("r", 11)), "long3@x.com", "Role can not be longer than 10 characters."},
		{"Role", "width", put(update, "ADMIN", "Role="+strings.Repeat("r", 11)), "", "Role can not be longer than 10 characters."},
		{"Status", "width", create("long4@x.com", "&FriendlyName=n&Role=r&Status=suspended"), "long4@x.com", "Status can not be longer than 8 characters."},
		{"Status", "width", put(update, "ADMIN", "Status=suspended"), "", "Status can not be longer than 8 characters."},
		{"DomainName", "width", put("/Organizations.json/thirteen-char", "ADMIN", ""), "", "DomainName can not be longer than 12 characters."},
	}
	require.Len(t, "thirty-one-characters@xx.com.ar", 30+1)
	covered := map[string]bool{}
	for _, r := range stockRows {
		refusedUnwritten(t, onStock, stock, r.c, http.StatusBadRequest, r.want, r.email)
		covered[r.field+" "+r.kind] = true
	}
	for _, r := range alteredRows {
		refusedUnwritten(t, onAltered, altered, r.c, http.StatusBadRequest, r.want, r.email)
		covered[r.field+" "+r.kind] = true
	}
	for _, fk := range []string{"FriendlyName charset", "EmailAddress charset", "Role charset",
		"FriendlyName width", "EmailAddress width", "Role width", "Status width", "DomainName width"} {
		assert.True(t, covered[fk], "no row for %s", fk)
	}

	// what the altered columns can hold is stored, and reaches RestComm
	w := onAltered.do(create("wide@x.com", "&FriendlyName="+esc("日本語 😀")+"&Role=Developer"))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = onAltered.do(put("/Organizations.json/twelve-chars", "ADMIN", ""))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Eventually(t, func() bool {
		var name string
		err := altered.QueryRow("SELECT friendly_name FROM restcomm_accounts WHERE sid = ?", restcommtest.SidOf("wide@x.com")).Scan(&name)
		return err == nil && name == "日本語 😀"
	}, 10*time.Second, 20*time.Millisecond, "delivered as stored")

	// without a mirror, Redis holds any text
	plain := newHarness(t, true)
	for i, name := range []string{"日本語", "fraud 😀"} {
		w := plain.do(create(fmt.Sprintf("free%d@x.com", i), "&FriendlyName="+esc(name)))
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		w = plain.do(put(update, "ADMIN", "FriendlyName="+esc(name)))
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Contains(t, w.Body.String(), name)
	}
}

// With a mirror, a create whose SID or e-mail address RestComm's table
// already holds, as its collation compares (another case, a trailing
// space, an accent latin1_swedish_ci ignores), is RestComm's 409, and
// writes nothing anywhere. The database down or slow is a 503, never a
// create without the check.
func TestMirrorCreateFindsRestCommsAccounts(t *testing.T) {
	maria := mariadbtest.Start(t)
	db, dbURL := restcommDatabase(t, maria, "restcomm")
	h := mirroredInto(t, dbURL)
	insert := func(sid, email string) {
		t.Helper()
		_, err := db.Exec(`INSERT INTO restcomm_accounts VALUES (?, NOW(), NOW(), ?, 'made in RestComm', NULL, 'Full',
			'active', ?, 'Developer', ?, ?)`, sid, email, md5hex("x"), "/2012-04-24/Accounts/"+sid, fixture.SidOrg0)
		require.NoError(t, err)
	}
	insert(restcommtest.SidOf("by.sid@x.com"), "not.derived@x.com")
	insert("AC0123456789abcdef0123456789abcdef", "Other.Case@X.COM")
	insert("AC1123456789abcdef0123456789abcdef", "trailing@x.com ")
	insert("AC2123456789abcdef0123456789abcdef", "jose@x.com")
	create := func(email string) call {
		return post("/Accounts.json", "ADMIN", "EmailAddress="+url.QueryEscape(email)+"&Password=RestComm12")
	}
	for _, email := range []string{"by.sid@x.com", "other.case@x.com", "trailing@x.com", "josé@x.com"} {
		refusedUnwritten(t, h, db, create(email), http.StatusConflict,
			"The email address used for the new account is already in use.", email)
	}
	w := h.do(create("new.one@x.com"))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())

	// slow: the table locked by another session (once the create above
	// is delivered, which the lock would hold up)
	refusedUnwritten(t, h, nil, create("new.one@x.com"), http.StatusConflict, "already in use", "")
	lock, err := db.Conn(context.Background())
	require.NoError(t, err)
	_, err = lock.ExecContext(context.Background(), "LOCK TABLES restcomm_accounts WRITE")
	require.NoError(t, err)
	start := time.Now()
	refusedUnwritten(t, h, nil, create("while.locked@x.com"), http.StatusServiceUnavailable, "Account store unavailable", "while.locked@x.com")
	took := time.Since(start)
	assert.GreaterOrEqual(t, took, 2*time.Second, "the database's time, not Redis's (1 s)")
	_, err = lock.ExecContext(context.Background(), "UNLOCK TABLES")
	require.NoError(t, err)
	require.NoError(t, lock.Close())
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM restcomm_accounts WHERE email_address = 'while.locked@x.com'").Scan(&n))
	assert.Zero(t, n)

	// down
	maria.Stop()
	refusedUnwritten(t, h, nil, create("while.down@x.com"), http.StatusServiceUnavailable, "Account store unavailable", "while.down@x.com")

	// back
	maria.Restart(t)
	require.Eventually(t, func() bool { return h.do(create("while.down@x.com")).Code == http.StatusOK },
		10*time.Second, 100*time.Millisecond)
}

// The columns are read from the database when it answers, even if it was
// down when the gateway started (which starts anyway and checks against
// RestComm's known schema meanwhile), and read again when it answers
// after it was lost.
func TestMirrorReadsColumnsAtStartAndOnReconnect(t *testing.T) {
	maria := mariadbtest.Start(t)
	db, dbURL := restcommDatabase(t, maria, "restcomm",
		"ALTER TABLE restcomm_accounts MODIFY friendly_name VARCHAR(10) CHARACTER SET utf8mb4 NOT NULL")
	maria.Stop()
	h := mirroredInto(t, dbURL)
	update := func(name string) int {
		return h.do(put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName="+url.QueryEscape(name))).Code
	}
	// down: RestComm's schema
	assert.Equal(t, "latin1 64", columns(h)["restcomm_accounts.friendly_name"])
	assert.Equal(t, http.StatusBadRequest, update("日本語"))
	assert.Equal(t, http.StatusOK, update("elevenchars"))

	// up: the database's own
	maria.Restart(t)
	require.Eventually(t, func() bool { return columns(h)["restcomm_accounts.friendly_name"] == "utf8mb4 10" },
		40*time.Second, 50*time.Millisecond)
	assert.Equal(t, http.StatusOK, update("日本語"))
	assert.Equal(t, http.StatusBadRequest, update("elevenchars"))

	// altered meanwhile; lost (a create finds it down); back: read again
	_, err := db.Exec("ALTER TABLE restcomm_organizations MODIFY domain_name VARCHAR(30) NOT NULL")
	require.NoError(t, err)
	assert.Equal(t, "latin1 255", columns(h)["restcomm_organizations.domain_name"], "not read yet")
	maria.Stop()
	w := h.do(post("/Accounts.json", "ADMIN", "EmailAddress=lost@x.com&Password=RestComm12"))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	maria.Restart(t)
	require.Eventually(t, func() bool { return columns(h)["restcomm_organizations.domain_name"] == "latin1 30" },
		20*time.Second, 50*time.Millisecond, "read again on reconnect")
	w = h.do(put("/Organizations.json/"+strings.Repeat("d", 31), "ADMIN", ""))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Equal(t, "DomainName can not be longer than 30 characters.", w.Body.String())
}
