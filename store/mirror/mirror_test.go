package mirror

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/importer"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func ptr(s string) *string { return &s }

// env is a RestComm (the stand-in on a real MariaDB) with a small
// dataset, and a gateway namespace imported from it, mirrored.
type env struct {
	t      *testing.T
	db     *sql.DB // root, for checks
	dbURL  string
	maria  *mariadbtest.Server
	rc     *restcommtest.StandIn
	redis  *redistest.Server
	rdb    redis.UniversalClient
	st     *store.Store
	sealer *store.Sealer
	data   *restcommtest.Dataset
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	e := &env{t: t, maria: mariadbtest.Start(t), redis: redistest.Start(t)}
	e.dbURL = e.maria.Database(t, "restcomm")
	e.db = e.maria.DB(t, "restcomm")
	e.data = restcommtest.Generate(30, false)
	require.NoError(t, restcommtest.CreateSchema(ctx, e.db))
	_, err := e.db.ExecContext(ctx, "ALTER TABLE restcomm_accounts MODIFY friendly_name VARCHAR(64) NOT NULL")
	require.NoError(t, err) // RestComm's own width again
	require.NoError(t, e.data.Insert(ctx, e.db))
	e.rc = restcommtest.Start(t, e.db)
	e.rdb = e.redis.Client(t)
	e.sealer, err = store.NewSealer("the mirror's secret key, long enough")
	require.NoError(t, err)
	e.st = store.New(e.rdb, "").WithSealer(e.sealer)
	src, err := restcommdb.ReadDB(ctx, e.db, "restcomm")
	require.NoError(t, err)
	rep, err := importer.Run(ctx, e.st, src, importer.Options{})
	require.NoError(t, err)
	require.Empty(t, rep.Skipped)
	require.NoError(t, e.st.Outbox().Enable(ctx))
	return e
}

// worker starts a worker until the test ends (or its stop is called).
func (e *env) worker(holder string, tweak ...func(*Config)) (*Worker, func()) {
	e.t.Helper()
	db, err := OpenDatabase(e.dbURL)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = db.Close() })
	cfg := Config{Store: e.st, DB: db, Upstream: e.rc.URL(), Sealer: e.sealer, Holder: holder,
		LeaseTTL: time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
		Logger: zaptest.NewLogger(e.t, zaptest.Level(zap.WarnLevel)).Named(holder), Metrics: NewMetrics()}
	for _, f := range tweak {
		f(&cfg)
	}
	w, err := New(cfg)
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	return w, stop
}

// drained waits until the outbox is empty.
func (e *env) drained(within time.Duration) *store.OutboxStatus {
	e.t.Helper()
	var st *store.OutboxStatus
	require.Eventually(e.t, func() bool {
		var err error
		st, err = e.st.Outbox().Status(context.Background())
		return err == nil && st.Backlog == 0
	}, within, 20*time.Millisecond, "the outbox drains")
	return st
}

func (e *env) noDifference() {
	e.t.Helper()
	diffs, err := Verify(context.Background(), e.st, e.db, time.UTC)
	require.NoError(e.t, err)
	for _, d := range diffs {
		e.t.Error(d)
	}
}

func (e *env) admin() restcommtest.Account {
	for _, a := range e.data.Good() {
		if a.ParentSid == "" && a.Role == "Administrator" && a.Status == "active" && a.Sid != restcommtest.AdminSid {
			return a
		}
	}
	e.t.Fatal("no top-level administrator")
	return restcommtest.Account{}
}

func newAccount(email, parent, org, role string) *store.Account {
	sid := "AC" + md5hex(email)
	now := time.Now().Truncate(time.Second)
	return &store.Account{Sid: sid, OrganizationSid: org, FriendlyName: email, EmailAddress: email, Type: "Full",
		Status: "active", Role: role, AuthToken: md5hex("Pw-" + email), URI: "/2012-04-24/Accounts/" + sid,
		ParentSid: parent, DateCreated: now, DateUpdated: now}
}

func (e *env) rowStatus(sid string) string {
	var s string
	require.NoError(e.t, e.db.QueryRow("SELECT status FROM restcomm_accounts WHERE sid = ?", sid).Scan(&s))
	return s
}

// Every kind of change reaches RestComm's tables as the gateway has it,
// with RestComm's side effects run through its API; replaying the
// entries changes nothing.
func TestDeliversEveryKindOfChange(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	top := e.admin()
	w, stop := e.worker("w1")
	var entries []store.OutboxEntry // as they were, for the replay
	change := func(name string, fn func() error) []restcommtest.Received {
		t.Helper()
		e.rc.Take()
		require.NoError(t, fn(), name)
		msgs, err := e.rdb.XRange(ctx, "{restcomm}:outbox", "-", "+").Result()
		require.NoError(t, err)
		for _, m := range msgs { // those not yet delivered (their ids only matter to settle)
			entries = append(entries, entryOf(m))
		}
		e.drained(10 * time.Second)
		e.noDifference()
		return e.rc.Take()
	}

	kid := newAccount("kid.one@example.com", top.Sid, top.Org, "Developer")
	got := change("create", func() error {
		_, err := e.st.CreateAccount(ctx, nil, kid, store.WithPassword("Kid-pass-1"))
		return err
	})
	require.Len(t, got, 1, "the SIP client")
	assert.Equal(t, restcommtest.APIRoot+"Accounts/"+kid.Sid+"/Clients.json", got[0].Path)
	assert.Equal(t, kid.Sid, got[0].Caller, "as the account itself")
	assert.Equal(t, "kid.one", got[0].Form.Get("Login"))
	assert.Equal(t, http.StatusOK, got[0].Status)
	domain := "default.restcomm.com"
	if top.Org == restcommtest.OtherOrg {
		domain = "acme.example.com"
	}
	cs, err := e.rc.Clients(kid.Sid)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, restcommtest.HA1("kid.one", domain, "Kid-pass-1"), cs[0].Password)

	grand := newAccount("grand.one@example.com", kid.Sid, top.Org, "Developer")
	grand.Status = "suspended" // RestComm would not let it in: its administrator ancestor asks
	change("create suspended", func() error {
		_, err := e.st.CreateAccount(ctx, nil, grand, store.WithPassword("Grand-pass-1"))
		return err
	})
	cs, err = e.rc.Clients(grand.Sid)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, "grand.one", cs[0].Login)

	change("rename", func() error {
		_, err := e.st.UpdateAccount(ctx, nil, kid.Sid, store.AccountUpdate{FriendlyName: ptr("Kid, renamed"), Now: time.Now()})
		return err
	})
	tok := md5hex("Kid-pass-2")
	got = change("password", func() error {
		_, err := e.st.UpdateAccount(ctx, nil, kid.Sid, store.AccountUpdate{AuthToken: &tok, Now: time.Now()},
			store.WithPassword("Kid-pass-2"))
		return err
	})
	require.Len(t, got, 1, "the client's new password")
	assert.Equal(t, http.StatusOK, got[0].Status)
	cs, err = e.rc.Clients(kid.Sid)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, restcommtest.HA1("kid.one", domain, "Kid-pass-2"), cs[0].Password, "the new password")

	org := &store.Organization{Sid: "OR" + md5hex("third org"), DomainName: "third.example.com", Status: "active",
		DateCreated: time.Now(), DateUpdated: time.Now()}
	change("organization", func() error {
		_, err := e.st.CreateOrganization(ctx, nil, org)
		return err
	})
	change("suspend", func() error {
		_, err := e.st.UpdateAccount(ctx, nil, kid.Sid, store.AccountUpdate{Status: ptr("suspended"), Now: time.Now()})
		return err
	})
	assert.Equal(t, "suspended", e.rowStatus(grand.Sid), "the cascade")
	change("reactivate", func() error {
		_, err := e.st.UpdateAccount(ctx, nil, kid.Sid, store.AccountUpdate{Status: ptr("active"), Now: time.Now()})
		return err
	})
	change("migrate", func() error {
		_, err := e.st.MigrateAccount(ctx, nil, kid.Sid, org.Sid, time.Now())
		return err
	})
	got = change("close", func() error {
		_, err := e.st.UpdateAccount(ctx, nil, kid.Sid, store.AccountUpdate{Status: ptr("closed"), Now: time.Now()})
		return err
	})
	// the close: asked of RestComm, as the nearest active Administrator,
	// while RestComm still had the account active
	require.Len(t, got, 1, "%+v", got)
	assert.Equal(t, http.MethodPut, got[0].Method)
	assert.Equal(t, restcommtest.APIRoot+"Accounts/"+kid.Sid+".json", got[0].Path)
	assert.Equal(t, top.Sid, got[0].Caller)
	assert.Equal(t, http.StatusOK, got[0].Status, "RestComm saw a real status change")
	assert.Equal(t, "closed", e.rowStatus(kid.Sid))
	assert.Equal(t, "closed", e.rowStatus(grand.Sid), "the subtree too")

	var status string
	require.NoError(t, e.db.QueryRow("SELECT status FROM restcomm_organizations WHERE sid = ?", org.Sid).Scan(&status))
	assert.Equal(t, "active", status)
	n, err := e.rdb.XLen(ctx, "{restcomm}:outbox").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "no entry, and so no sealed password, left in Redis")
	st, err := e.st.Outbox().Status(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 9, st.Delivered)
	assert.Zero(t, st.Dead)
	for _, sid := range []string{kid.Sid, grand.Sid} {
		a, err := e.st.Account(ctx, sid)
		require.NoError(t, err)
		assert.Empty(t, a.Pending)
	}
	stop()

	// replay what could be captured before its delivery: nothing changes
	// (RestComm answers the second close "Account is closed": done)
	t.Logf("replaying %d entries", len(entries))
	before := e.snapshot()
	for i := range entries {
		require.NoError(t, w.deliverOne(ctx, &entries[i], 0), entries[i].ID)
	}
	assert.Equal(t, before, e.snapshot(), "replaying changes nothing")
	e.noDifference()
}

// A backlog made before any worker runs: an account created and closed
// meanwhile reaches RestComm closed, and the close RestComm then answers
// "Account is closed" counts as done.
func TestBacklogOfCreateAndClose(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	top := e.admin()
	a := newAccount("short.lived@example.com", top.Sid, top.Org, "Developer")
	_, err := e.st.CreateAccount(ctx, nil, a, store.WithPassword("Short-pw-1"))
	require.NoError(t, err)
	_, err = e.st.UpdateAccount(ctx, nil, a.Sid, store.AccountUpdate{Status: ptr("closed"), Now: time.Now()})
	require.NoError(t, err)
	e.worker("w1")
	st := e.drained(10 * time.Second)
	assert.Zero(t, st.Dead)
	assert.Equal(t, "closed", e.rowStatus(a.Sid))
	cs, err := e.rc.Clients(a.Sid)
	require.NoError(t, err)
	assert.Empty(t, cs, "no client for an account closed before it reached RestComm")
	e.noDifference()
}

func entryOf(m redis.XMessage) store.OutboxEntry {
	get := func(k string) string { v, _ := m.Values[k].(string); return v }
	e := store.OutboxEntry{ID: m.ID, Op: get("op"), Sid: get("sid"), Org: get("org"), From: get("from"),
		Status: get("status"), NewPassword: get("new_password") == "1", Secret: get("secret")}
	if s := get("sids"); s != "" {
		e.Sids = strings.Split(s, ",")
	}
	return e
}

// snapshot is every row of RestComm's tables, clients included.
func (e *env) snapshot() string {
	e.t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT CONCAT_WS('|', sid, date_created, date_updated, email_address, friendly_name, COALESCE(parent_sid, 'NULL'), type, status, auth_token, role, uri, organization_sid) FROM restcomm_accounts ORDER BY sid",
		"SELECT CONCAT_WS('|', sid, domain_name, date_created, date_updated, status) FROM restcomm_organizations ORDER BY sid",
		"SELECT CONCAT_WS('|', sid, date_created, date_updated, account_sid, login, password) FROM restcomm_clients ORDER BY sid",
	} {
		rows, err := e.db.Query(q)
		require.NoError(e.t, err)
		for rows.Next() {
			var s string
			require.NoError(e.t, rows.Scan(&s))
			b.WriteString(s + "\n")
		}
		require.NoError(e.t, rows.Err())
		rows.Close()
	}
	return b.String()
}

// MariaDB stopped while changes are made: they wait in the outbox,
// nothing is dead-lettered, and once it is back the backlog drains in
// order.
func TestDatabaseOutage(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	top := e.admin()
	e.worker("w1")
	a := newAccount("before.outage@example.com", top.Sid, top.Org, "Developer")
	_, err := e.st.CreateAccount(ctx, nil, a)
	require.NoError(t, err)
	e.drained(10 * time.Second)

	e.maria.Stop()
	var sids []string
	for i := range 60 {
		c := newAccount(fmt.Sprintf("outage%d@example.com", i), top.Sid, top.Org, "Developer")
		_, err := e.st.CreateAccount(ctx, nil, c, store.WithPassword(fmt.Sprintf("Outage-pw-%d", i)))
		require.NoError(t, err)
		sids = append(sids, c.Sid)
		if i%3 == 0 {
			_, err = e.st.UpdateAccount(ctx, nil, c.Sid, store.AccountUpdate{FriendlyName: ptr(fmt.Sprint("renamed ", i)), Now: time.Now()})
			require.NoError(t, err)
		}
	}
	_, err = e.st.UpdateAccount(ctx, nil, sids[0], store.AccountUpdate{Status: ptr("closed"), Now: time.Now()})
	require.NoError(t, err)
	require.Eventually(t, func() bool { // the worker has read them, and cannot deliver them
		p, err := e.rdb.XPending(ctx, "{restcomm}:outbox", store.OutboxGroup).Result()
		return err == nil && p.Consumers["w1"] > 0
	}, 10*time.Second, 10*time.Millisecond)
	st, err := e.st.Outbox().Status(ctx)
	require.NoError(t, err)
	assert.Greater(t, st.Backlog, int64(60), "waiting in the outbox")
	assert.Zero(t, st.Dead)

	e.maria.Restart(t)
	st = e.drained(30 * time.Second)
	assert.Zero(t, st.Dead, "nothing dead-lettered")
	e.noDifference()
	assert.Equal(t, "closed", e.rowStatus(sids[0]))
	cs, err := e.rc.Clients(sids[5])
	require.NoError(t, err)
	assert.Len(t, cs, 1, "side effects ran after the outage")
}

// Two workers: one delivers; killed while it holds read entries (the
// database being down), the other takes the lease over within seconds,
// claims them, and delivers everything.
func TestTakeOverFromAKilledWorker(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	top := e.admin()
	w1, kill1 := e.worker("w1", func(c *Config) { c.Batch = 10 })
	w1.dies = true
	require.Eventually(t, w1.Leading, 5*time.Second, 10*time.Millisecond)
	w2, _ := e.worker("w2")
	// that w2 does not take the lease can only be seen by letting time
	// pass: the lease is Redis's, with Redis's clock
	time.Sleep(300 * time.Millisecond)
	assert.False(t, w2.Leading(), "one worker at a time")

	e.maria.Stop()
	for i := range 40 {
		c := newAccount(fmt.Sprintf("takeover%d@example.com", i), top.Sid, top.Org, "Developer")
		_, err := e.st.CreateAccount(ctx, nil, c)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		p, err := e.rdb.XPending(ctx, "{restcomm}:outbox", store.OutboxGroup).Result()
		return err == nil && p.Consumers["w1"] > 0
	}, 5*time.Second, 10*time.Millisecond, "w1 read entries it cannot deliver")
	kill1()
	killed := time.Now()
	require.Eventually(t, w2.Leading, 5*time.Second, 10*time.Millisecond)
	t.Logf("w2 took over %v after w1 died", time.Since(killed).Round(time.Millisecond))
	holder, err := e.rdb.Get(ctx, "{restcomm}:mirror:lease").Result()
	require.NoError(t, err)
	assert.Equal(t, "w2", holder)

	e.maria.Restart(t)
	st := e.drained(30 * time.Second)
	assert.Zero(t, st.Dead)
	assert.Zero(t, st.Unsettled)
	e.noDifference()
}

// A change that can never apply is dead-lettered with its reason; the
// changes behind it, for other accounts, are delivered.
func TestDeadLettersDoNotBlock(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	top := e.admin()
	bad := newAccount("bad.name@example.com", top.Sid, top.Org, "Developer")
	bad.FriendlyName = "名前" // not latin1: RestComm's table refuses it
	_, err := e.st.CreateAccount(ctx, nil, bad)
	require.NoError(t, err)
	loner := newAccount("loner@example.com", "", top.Org, "Guest") // a role RestComm lets close nothing
	_, err = e.st.CreateAccount(ctx, nil, loner)
	require.NoError(t, err)
	_, err = e.st.UpdateAccount(ctx, nil, loner.Sid, store.AccountUpdate{Status: ptr("closed"), Now: time.Now()})
	require.NoError(t, err)
	var good []string
	for i := range 5 {
		c := newAccount(fmt.Sprintf("good%d@example.com", i), top.Sid, top.Org, "Developer")
		_, err := e.st.CreateAccount(ctx, nil, c)
		require.NoError(t, err)
		good = append(good, c.Sid)
	}
	w, _ := e.worker("w1")
	st := e.drained(20 * time.Second)
	assert.EqualValues(t, 2, st.Dead)
	dead, err := e.st.Outbox().DeadLetters(ctx, 10)
	require.NoError(t, err)
	require.Len(t, dead, 2)
	assert.Equal(t, loner.Sid, dead[0].Entry.Sid)
	assert.Contains(t, dead[0].Reason, "403")
	assert.Equal(t, bad.Sid, dead[1].Entry.Sid)
	assert.Contains(t, dead[1].Reason, "character set")
	for _, sid := range good {
		assert.Equal(t, "active", e.rowStatus(sid), "delivered behind the dead letter")
	}
	assert.Equal(t, "closed", e.rowStatus(loner.Sid), "a refused close still closes the rows")
	assert.EqualValues(t, 1, counter(w.cfg.Metrics.DeadLettered.WithLabelValues(kindRejected)))
	assert.EqualValues(t, 1, counter(w.cfg.Metrics.DeadLettered.WithLabelValues(kindRefused)))

	diffs, err := Verify(ctx, e.st, e.db, time.UTC)
	require.NoError(t, err)
	require.Len(t, diffs, 1, "%v", diffs)
	assert.Equal(t, bad.Sid, diffs[0].Sid)
	assert.Equal(t, "database missing", "database "+diffs[0].Database)
}

// The drain rate of changes that are rows only (role changes: a rename
// updates the SIP client too), after an outage: a figure, not a check.
func TestDrainRateOfRows(t *testing.T) {
	if testing.Short() {
		t.Skip("a figure")
	}
	e := newEnv(t)
	ctx := t.Context()
	var sids []string
	for _, a := range e.data.Good() {
		if a.Status != "closed" {
			sids = append(sids, a.Sid)
		}
	}
	const n = 3000
	for i := range n {
		_, err := e.st.UpdateAccount(ctx, nil, sids[i%len(sids)], store.AccountUpdate{Role: ptr(fmt.Sprint("Drain ", i)), Now: time.Now()})
		require.NoError(t, err)
	}
	start := time.Now()
	e.worker("w1")
	e.drained(60 * time.Second)
	took := time.Since(start)
	t.Logf("FIGURE drain of %d role changes: %v (%.0f entries/s)", n, took.Round(time.Millisecond), n/took.Seconds())
	e.noDifference()
}

// RestComm before 8.2: no organizations table, no organization_sid
// column. Accounts are written without it; organizations are not written.
func TestPre82Schema(t *testing.T) {
	ctx := t.Context()
	maria := mariadbtest.Start(t)
	dbURL := maria.Database(t, "restcomm")
	db := maria.DB(t, "restcomm")
	for _, stmt := range restcommdb.SchemaPre82 {
		_, err := db.ExecContext(ctx, stmt)
		require.NoError(t, err)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO restcomm_accounts VALUES (?, '2012-04-24 00:00:00', '2012-04-24 00:00:00',
		'administrator@company.com', 'Default Administrator Account', NULL, 'Full', 'uninitialized', ?, 'Administrator', ?)`,
		store.DefaultAdminSid, store.DefaultAdminAuthToken, "/2012-04-24/Accounts/"+store.DefaultAdminSid)
	require.NoError(t, err)
	rd := redistest.Start(t)
	st := store.New(rd.Client(t), "")
	_, err = st.Seed(ctx, "")
	require.NoError(t, err)
	require.NoError(t, st.Outbox().Enable(ctx))

	kid := newAccount("old.release@example.com", store.DefaultAdminSid, store.DefaultOrganizationSid, "Developer")
	_, err = st.CreateAccount(ctx, nil, kid)
	require.NoError(t, err)
	_, err = st.CreateOrganization(ctx, nil, &store.Organization{Sid: "OR" + md5hex("old"), DomainName: "old.example.com",
		Status: "active", DateCreated: time.Now(), DateUpdated: time.Now()})
	require.NoError(t, err)
	_, err = st.UpdateAccount(ctx, nil, kid.Sid, store.AccountUpdate{Status: ptr("closed"), Now: time.Now()})
	require.NoError(t, err)

	wdb, err := OpenDatabase(dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = wdb.Close() })
	w, err := New(Config{Store: st, DB: wdb, Holder: "old", LeaseTTL: time.Second, MinBackoff: 20 * time.Millisecond,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(wctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool {
		s, err := st.Outbox().Status(ctx)
		return err == nil && s.Backlog == 0 && s.Delivered == 3
	}, 10*time.Second, 20*time.Millisecond)
	var status string
	require.NoError(t, db.QueryRow("SELECT status FROM restcomm_accounts WHERE sid = ?", kid.Sid).Scan(&status))
	assert.Equal(t, "closed", status, "without an upstream, a close is rows only")
	diffs, err := Verify(ctx, st, db, time.UTC)
	require.NoError(t, err)
	assert.Empty(t, diffs)
}
