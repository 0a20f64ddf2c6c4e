package caddymodule

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/importer"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

func TestMirrorCaddyfile(t *testing.T) {
	parse := func(block string) (*Gateway, error) {
		g := new(Gateway)
		err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser("restcomm {\n\tmirror {\n" + block + "\n\t}\n}"))
		return g, err
	}
	g, err := parse("database mysql://u:{env.DB_PW}@db:3306/restcomm\nupstream http://rc:8080\ntime_zone UTC\nsecret_key {env.KEY}\nread_your_writes 1500ms")
	require.NoError(t, err)
	assert.Equal(t, &MirrorConfig{Database: "mysql://u:{env.DB_PW}@db:3306/restcomm", Upstream: "http://rc:8080",
		TimeZone: "UTC", SecretKey: "{env.KEY}", ReadYourWrites: caddy.Duration(1500 * time.Millisecond)}, g.Mirror)
	g, err = parse("database mysql://u@db/restcomm?socket=/run/mysqld.sock")
	require.NoError(t, err, "no password at all is fine")
	assert.Zero(t, g.Mirror.ReadYourWrites)

	for name, block := range map[string]string{
		"no database":             "upstream http://rc:8080",
		"a literal password":      "database mysql://u:secret@db:3306/restcomm",
		"a half placeholder":      "database mysql://u:x{env.PW}@db:3306/restcomm",
		"a literal secret key":    "database mysql://u:{env.PW}@db/restcomm\nsecret_key hunter2hunter2hunter2",
		"an unknown subdirective": "database mysql://u@db/restcomm\nwrite_to /dev/null",
		"a bad duration":          "database mysql://u@db/restcomm\nread_your_writes soon",
		"two databases":           "database mysql://u@a/r mysql://u@b/r",
	} {
		_, err := parse(block)
		assert.Error(t, err, name)
	}
	g = new(Gateway)
	assert.Error(t, g.UnmarshalCaddyfile(caddyfile.NewTestDispenser("restcomm {\n\tmirror now\n}")))
}

func TestResolveDatabaseURL(t *testing.T) {
	t.Setenv("MIRROR_TEST_PW", "p@ss:w/rd%'")
	repl := caddy.NewReplacer()
	got := resolveDatabaseURL("mysql://rest%20comm:{env.MIRROR_TEST_PW}@db:3306/restcomm?tls=true", repl)
	u, err := url.Parse(got)
	require.NoError(t, err)
	pw, _ := u.User.Password()
	assert.Equal(t, "p@ss:w/rd%'", pw, "the environment holds the password as it is")
	assert.Equal(t, "rest comm", u.User.Username())
	assert.Equal(t, "db:3306", u.Host)
	assert.Equal(t, "tls=true", u.RawQuery)
}

// mirrorSetup is a RestComm (the stand-in on MariaDB) with a dataset, and a
// gateway harness that imported it and mirrors into it.
type mirrorSetup struct {
	h     *harness
	maria *mariadbtest.Server
	db    *sql.DB
	rc    *restcommtest.StandIn
	data  *restcommtest.Dataset
	dbURL string
}

func startMirrored(t *testing.T, ryw time.Duration) *mirrorSetup {
	t.Helper()
	ctx := context.Background()
	s := &mirrorSetup{maria: mariadbtest.Start(t), data: restcommtest.Generate(30, false)}
	dbURL := s.maria.Database(t, "restcomm")
	s.dbURL = dbURL
	s.db = s.maria.DB(t, "restcomm")
	require.NoError(t, restcommtest.CreateSchema(ctx, s.db))
	require.NoError(t, s.data.Insert(ctx, s.db))
	s.rc = restcommtest.Start(t, s.db)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	pw, _ := u.User.Password()
	t.Setenv("MIRROR_TEST_DB_PW", pw)
	t.Setenv("MIRROR_TEST_KEY", "a secret key for the mirror's tests")
	s.h = newHarness(t, false, func(g *Gateway) {
		g.Mirror = &MirrorConfig{
			Database:       "mysql://" + u.User.Username() + ":{env.MIRROR_TEST_DB_PW}@" + u.Host + u.Path,
			Upstream:       s.rc.URL(),
			SecretKey:      "{env.MIRROR_TEST_KEY}",
			ReadYourWrites: caddy.Duration(ryw),
		}
	})
	src, err := restcommdb.ReadDB(ctx, s.db, "restcomm")
	require.NoError(t, err)
	_, err = importer.Run(ctx, s.h.store, src, importer.Options{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := s.h.store.Outbox().Status(ctx)
		return err == nil && st.Enabled && st.Holder == instanceName()
	}, 10*time.Second, 10*time.Millisecond, "the gateway's worker delivers")
	return s
}

func (s *mirrorSetup) admin(t *testing.T) restcommtest.Account {
	for _, a := range s.data.Good() {
		if a.ParentSid == "" && a.Role == "Administrator" && a.Status == "active" && a.Sid != restcommtest.AdminSid {
			return a
		}
	}
	t.Fatal("no administrator")
	return restcommtest.Account{}
}

// proxied sends a pass-through request to the handler, whose next handler
// forwards it to the stand-in at once: what RestComm answers is what it
// would answer at the moment the gateway hands the request on.
func (s *mirrorSetup) proxied(t *testing.T, path, user, secret string) (gateway, upstream int, took time.Duration) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "https://gw.example.com"+path, nil)
	r.SetBasicAuth(user, secret)
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
	w := httptest.NewRecorder()
	upstream = -1
	start := time.Now()
	next := handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		took = time.Since(start)
		req, err := http.NewRequest(http.MethodGet, s.rc.URL()+r.URL.Path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		upstream = res.StatusCode
		w.WriteHeader(res.StatusCode)
		return nil
	})
	require.NoError(t, s.h.g.ServeHTTP(w, r, next))
	return w.Code, upstream, took
}

// Changes made through the handler reach RestComm's database; a request
// passed upstream right after its account's change waits for it (read
// your writes), and goes on after read_your_writes when it cannot come.
func TestMirrorReadYourWrites(t *testing.T) {
	const ryw = 1500 * time.Millisecond
	s := startMirrored(t, ryw)
	top := s.admin(t)
	calls := func(sid string) string { return fixture.APIRoot + "/Accounts/" + sid + "/Calls.json" }

	email := "fresh.one@example.com"
	w := s.h.do(call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json", user: top.Email, secret: top.Password,
		form: "EmailAddress=" + email + "&Password=Fresh-pass-1"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	sid := restcommtest.SidOf(email)
	rywWaits := func(outcome string) float64 {
		return testutil.ToFloat64(s.h.g.metrics.mirror.RYWWaits.WithLabelValues(outcome))
	}
	code, up, _ := s.proxied(t, calls(sid), email, "Fresh-pass-1")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, http.StatusOK, up, "RestComm knew the new account when the request reached it")
	assert.Equal(t, 1.0, rywWaits("delivered"), "waited for the delivery only")
	cs, err := s.rc.Clients(sid)
	require.NoError(t, err)
	require.Len(t, cs, 1, "RestComm's SIP client")

	w = s.h.do(call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts/" + sid + ".json", user: email,
		secret: "Fresh-pass-1", form: "Password=Fresh-pass-2"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	code, up, _ = s.proxied(t, calls(sid), email, "Fresh-pass-2")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, http.StatusOK, up, "the new password works upstream at once")
	code, _, _ = s.proxied(t, calls(sid), email, "Fresh-pass-1")
	assert.Equal(t, http.StatusUnauthorized, code, "the old one is refused at the edge")

	// the database down: the change cannot be delivered; the request
	// waits read_your_writes, then goes on (to a RestComm that cannot
	// read its database either)
	s.maria.Stop()
	w = s.h.do(call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts/" + sid + ".json", user: email,
		secret: "Fresh-pass-2", form: "Password=Fresh-pass-3"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	code, up, took := s.proxied(t, calls(sid), email, "Fresh-pass-3")
	assert.NotEqual(t, http.StatusOK, up, "RestComm does not have it")
	assert.Equal(t, up, code)
	assert.GreaterOrEqual(t, took, ryw, "waited read_your_writes")
	assert.Equal(t, 1.0, rywWaits("timeout"), "then went on")

	s.maria.Restart(t)
	require.Eventually(t, func() bool {
		st, err := s.h.store.Outbox().Status(context.Background())
		return err == nil && st.Backlog == 0
	}, 30*time.Second, 20*time.Millisecond)
	code, up, _ = s.proxied(t, calls(sid), email, "Fresh-pass-3")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, http.StatusOK, up)
	a, err := s.h.store.Account(context.Background(), sid)
	require.NoError(t, err)
	assert.Empty(t, a.Pending)
	var token string
	require.NoError(t, s.db.QueryRow("SELECT auth_token FROM restcomm_accounts WHERE sid = ?", sid).Scan(&token))
	assert.Equal(t, md5hex("Fresh-pass-3"), token)
	assert.Equal(t, store.StatusActive, a.Status)

	// mirror status and mirror verify
	ctx := context.Background()
	opts := store.ClientOptions{URLs: []string{s.h.redis.URL()}}
	var out strings.Builder
	require.NoError(t, mirrorStatus(ctx, &out, opts, "", s.dbURL, 5))
	t.Log("\n" + out.String())
	assert.Contains(t, out.String(), "{restcomm}: mirrored")
	assert.Contains(t, out.String(), "worker:        "+instanceName())
	assert.Contains(t, out.String(), "backlog:       0 changes")
	assert.Contains(t, out.String(), "dead-lettered: 0")
	assert.Contains(t, out.String(), "latency:       last ")
	assert.Contains(t, out.String(), "answers")
	assert.NotContains(t, out.String(), "pw'", "no database password")
	out.Reset()
	n, err := mirrorVerify(ctx, &out, opts, "", s.dbURL, time.UTC)
	require.NoError(t, err)
	assert.Zero(t, n, out.String())
	assert.Contains(t, out.String(), "no difference")

	_, err = s.db.Exec("UPDATE restcomm_accounts SET friendly_name = 'changed behind our back' WHERE sid = ?", sid)
	require.NoError(t, err)
	out.Reset()
	n, err = mirrorVerify(ctx, &out, opts, "", s.dbURL, time.UTC)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Contains(t, out.String(), "account "+sid+": friendly_name: gateway \"fresh.one@example.com\", database \"changed behind our back\"")
}

// A reload with the same mirror settings keeps the one delivery worker;
// the last config to go stops it and gives up the lease.
func TestMirrorWorkerAcrossReloads(t *testing.T) {
	s := startMirrored(t, 0)
	bg := context.Background()
	g2 := &Gateway{Redis: s.h.g.Redis, Mirror: s.h.g.Mirror}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: bg})
	t.Cleanup(cancel)
	require.NoError(t, g2.Provision(ctx))
	assert.Equal(t, s.h.g.mirrorKey, g2.mirrorKey, "one worker for both")
	before, ok := mirrorPool.References(g2.mirrorKey)
	require.True(t, ok)
	assert.Equal(t, 2, before)

	require.NoError(t, s.h.g.Cleanup()) // the old config goes
	top := s.admin(t)
	email := "after.reload@example.com"
	s.h.g = g2 // the new config serves
	w := s.h.do(call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json", user: top.Email, secret: top.Password,
		form: "EmailAddress=" + email + "&Password=Reload-pass-1"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Eventually(t, func() bool {
		var n int
		err := s.db.QueryRow("SELECT COUNT(*) FROM restcomm_accounts WHERE sid = ?", restcommtest.SidOf(email)).Scan(&n)
		return err == nil && n == 1
	}, 10*time.Second, 20*time.Millisecond, "still delivered after the reload")
	require.Eventually(t, func() bool { // and settled, not only written
		status, err := store.New(s.h.redis.Client(t), "").Outbox().Status(bg)
		return err == nil && status.Backlog == 0
	}, 10*time.Second, 20*time.Millisecond, "the backlog drains")

	opts := store.ClientOptions{URLs: []string{s.h.redis.URL()}}
	var out strings.Builder
	assert.ErrorContains(t, mirrorDisable(bg, &out, opts, ""), "still delivers")

	require.NoError(t, g2.Cleanup())         // the last one
	st := store.New(s.h.redis.Client(t), "") // the gateways' client is closed now
	require.Eventually(t, func() bool {
		s, err := st.Outbox().Status(bg)
		return err == nil && s.Holder == ""
	}, 5*time.Second, 20*time.Millisecond, "the lease is given up at once")

	// mirror disable: changes append nothing more
	require.NoError(t, mirrorDisable(bg, &out, opts, ""))
	assert.Contains(t, out.String(), "no longer mirrored; 0 changes")
	a, err := st.UpdateAccount(bg, nil, restcommtest.SidOf(email), store.AccountUpdate{FriendlyName: ptrTo("unmirrored"), Now: time.Now()})
	require.NoError(t, err)
	assert.Empty(t, a.Pending)
	status, err := st.Outbox().Status(bg)
	require.NoError(t, err)
	assert.False(t, status.Enabled)
}

func ptrTo(s string) *string { return &s }
