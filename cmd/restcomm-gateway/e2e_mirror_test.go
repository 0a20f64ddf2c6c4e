package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
)

// The mirror's done-when tests, with the built binary: gateways in front
// of the stand-in RestComm on a real MariaDB, after `accounts import`,
// each with the mirror block of testdata/e2e_mirror.Caddyfile.

// mirrorRig is a RestComm (stand-in, MariaDB) with imported accounts and
// the Redis the gateways share.
type mirrorRig struct {
	bin   string
	maria *mariadbtest.Server
	dbURL string
	rc    *restcommtest.StandIn
	rd    *redistest.Server
	rdb   *redis.Client
	data  *restcommtest.Dataset
	env   map[string]string
	top   restcommtest.Account // an active top-level Administrator
}

// startMirrorRig fills RestComm's database with n generated accounts, and
// whatever prepare adds, then imports it.
func startMirrorRig(t *testing.T, n int, prepare ...func(*sql.DB, *restcommtest.Dataset)) *mirrorRig {
	t.Helper()
	ctx := context.Background()
	r := &mirrorRig{bin: buildGateway(t), maria: mariadbtest.Start(t), data: restcommtest.Generate(n, false)}
	r.dbURL = r.maria.Database(t, "restcomm")
	db := r.maria.DB(t, "restcomm")
	require.NoError(t, restcommtest.CreateSchema(ctx, db))
	require.NoError(t, r.data.Insert(ctx, db))
	for _, p := range prepare {
		p(db, r.data)
	}
	r.rc = restcommtest.Start(t, db)
	r.rd = redistest.Start(t)
	r.rdb = r.rd.Client(t)
	r.run(t, 0, "accounts", "import", "--from", r.dbURL, "--redis", r.rd.URL())
	u, err := url.Parse(r.dbURL)
	require.NoError(t, err)
	pw, _ := u.User.Password()
	r.env = map[string]string{
		"RESTCOMM_REDIS":       r.rd.URL(),
		"RESTCOMM_UPSTREAM":    r.rc.Addr(),
		"RESTCOMM_DB_USER":     u.User.Username(),
		"RESTCOMM_DB_PASSWORD": pw, // as it is: the gateway encodes it
		"RESTCOMM_DB_ADDR":     u.Host,
		"RESTCOMM_MIRROR_KEY":  "e2e mirror key, long enough to seal",
	}
	r.top = topAdministrator(r.data)
	require.NotEmpty(t, r.top.Sid)
	return r
}

// topAdministrator is an active top-level Administrator of data, other
// than RestComm's default one.
func topAdministrator(data *restcommtest.Dataset) restcommtest.Account {
	for _, a := range data.Good() {
		if a.ParentSid == "" && a.Role == "Administrator" && a.Status == "active" && a.Sid != restcommtest.AdminSid {
			return a
		}
	}
	return restcommtest.Account{}
}

// run runs the binary and returns its output; it must exit with want.
func (r *mirrorRig) run(t *testing.T, want int, args ...string) string {
	t.Helper()
	cmd := exec.Command(r.bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	require.Equal(t, want, code, "%v exited %d: %s", args, code, out.String())
	return out.String()
}

func (r *mirrorRig) gateway(t *testing.T) *gateway {
	return startGateway(t, r.bin, readCaddyfile(t, "testdata/e2e_mirror.Caddyfile"), r.env)
}

func (r *mirrorRig) status(t *testing.T) *store.OutboxStatus {
	t.Helper()
	st, err := store.New(r.rdb, "").Outbox().Status(context.Background())
	require.NoError(t, err)
	return st
}

func (r *mirrorRig) drained(t *testing.T, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		st := r.status(t)
		return st.Enabled && st.Backlog == 0
	}, within, 20*time.Millisecond, "the outbox drains")
}

// send is one request to a gateway, with Basic credentials.
func send(t *testing.T, c *http.Client, g *gateway, method, path, user, secret, form string) (int, string, error) {
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequest(method, g.url(path), body)
	require.NoError(t, err)
	req.SetBasicAuth(user, secret)
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), nil
}

func calls(sid string) string { return fixture.APIRoot + "/Accounts/" + sid + "/Calls.json" }

// TestEndToEndMirror: create, password change, suspend and close at the
// gateway, each as RestComm then sees it; metrics; mirror status and
// verify; and the figures of steady-state delivery latency and the cost
// of the mirror per change.
func TestEndToEndMirror(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	r := startMirrorRig(t, 50)
	gw := r.gateway(t)
	c := gw.client(false)
	r.drained(t, 10*time.Second) // the outbox exists, a worker delivers
	top := r.top

	email := "mirrored.one@example.com"
	sid := restcommtest.SidOf(email)
	code, body, err := send(t, c, gw, "POST", fixture.APIRoot+"/Accounts.json", top.Email, top.Password,
		"EmailAddress="+email+"&Password=Mirror-pw-1!")
	require.NoError(t, err)
	require.Equal(t, 200, code, body)
	r.rc.Take()

	t.Run("a created account is accepted by RestComm", func(t *testing.T) {
		code, body, err := send(t, c, gw, "GET", calls(sid), email, "Mirror-pw-1!", "")
		require.NoError(t, err)
		assert.Equal(t, 200, code, body)
		got := r.rc.Take()
		require.NotEmpty(t, got)
		last := got[len(got)-1]
		assert.Equal(t, calls(sid), last.Path)
		assert.Equal(t, 200, last.Status, "the stand-in accepted it")
		assert.Equal(t, sid, last.Caller)
		r.drained(t, 10*time.Second)
		cs, err := r.rc.Clients(sid)
		require.NoError(t, err)
		require.Len(t, cs, 1, "RestComm's SIP client, as RestComm's own create makes it")
		assert.Equal(t, "mirrored.one", cs[0].Login)
	})

	t.Run("a new password replaces the old one upstream", func(t *testing.T) {
		code, body, err := send(t, c, gw, "POST", fixture.APIRoot+"/Accounts/"+sid+".json", email, "Mirror-pw-1!",
			"Password=Mirror-pw-2!")
		require.NoError(t, err)
		require.Equal(t, 200, code, body)
		code, _, err = send(t, c, gw, "GET", calls(sid), email, "Mirror-pw-2!", "")
		require.NoError(t, err)
		assert.Equal(t, 200, code, "the new one, through the gateway")
		got := r.rc.Take()
		require.NotEmpty(t, got)
		assert.Equal(t, 200, got[len(got)-1].Status)
		code, _, err = send(t, c, gw, "GET", calls(sid), email, "Mirror-pw-1!", "")
		require.NoError(t, err)
		assert.Equal(t, 401, code, "the old one at the edge")
		assert.Equal(t, 401, r.rc.Status(t, calls(sid), email, "Mirror-pw-1!"), "and at RestComm itself")
		assert.Equal(t, 401, r.rc.Status(t, calls(sid), sid, restcommtest.MD5("Mirror-pw-1!")), "its token too")
		assert.Equal(t, 200, r.rc.Status(t, calls(sid), sid, restcommtest.MD5("Mirror-pw-2!")))
	})

	t.Run("a suspended account is refused upstream", func(t *testing.T) {
		code, body, err := send(t, c, gw, "POST", fixture.APIRoot+"/Accounts/"+sid+".json", top.Email, top.Password,
			"Status=suspended")
		require.NoError(t, err)
		require.Equal(t, 200, code, body)
		r.drained(t, 10*time.Second)
		assert.Equal(t, 403, r.rc.Status(t, calls(sid), email, "Mirror-pw-2!"), "RestComm refuses it")
		code, _, err = send(t, c, gw, "GET", calls(sid), email, "Mirror-pw-2!", "")
		require.NoError(t, err)
		assert.Equal(t, 403, code, "as the gateway does")
		code, _, err = send(t, c, gw, "POST", fixture.APIRoot+"/Accounts/"+sid+".json", top.Email, top.Password, "Status=active")
		require.NoError(t, err)
		require.Equal(t, 200, code)
		code, _, err = send(t, c, gw, "GET", calls(sid), email, "Mirror-pw-2!", "")
		require.NoError(t, err)
		assert.Equal(t, 200, code, "active again, at once (read your writes)")
	})

	t.Run("a close is RestComm's own, asked by the right ancestor", func(t *testing.T) {
		r.rc.Take()
		code, body, err := send(t, c, gw, "POST", fixture.APIRoot+"/Accounts/"+sid+".json", top.Email, top.Password,
			"Status=closed")
		require.NoError(t, err)
		require.Equal(t, 200, code, body)
		r.drained(t, 10*time.Second)
		var closes []restcommtest.Received
		for _, rec := range r.rc.Take() {
			if rec.Method == "PUT" {
				closes = append(closes, rec)
			}
		}
		require.Len(t, closes, 1)
		assert.Equal(t, restcommtest.APIRoot+"Accounts/"+sid+".json", closes[0].Path)
		assert.Equal(t, "closed", closes[0].Form.Get("Status"))
		assert.Equal(t, top.Sid, closes[0].Caller, "the nearest active Administrator ancestor")
		assert.Equal(t, 200, closes[0].Status, "RestComm closed it itself")
		assert.Equal(t, 403, r.rc.Status(t, calls(sid), sid, restcommtest.MD5("Mirror-pw-2!")))
	})

	t.Run("metrics, status and verify", func(t *testing.T) {
		m := scrape(t, "http://"+gw.admin+"/metrics")
		assert.GreaterOrEqual(t, m["restcomm_gateway_mirror_delivered_total"], 5.0)
		assert.Equal(t, 1.0, m["restcomm_gateway_mirror_worker"])
		assert.Contains(t, m, "restcomm_gateway_mirror_backlog")
		assert.Contains(t, m, "restcomm_gateway_mirror_oldest_pending_age_seconds")
		assert.Contains(t, m, "restcomm_gateway_mirror_delivery_latency_seconds_count")
		assert.Contains(t, m, `restcomm_gateway_mirror_dead_lettered_total{kind="rejected"}`)
		out := r.run(t, 0, "mirror", "status", "--redis", r.rd.URL(), "--database", r.dbURL)
		t.Log("\n" + out)
		assert.Contains(t, out, fmt.Sprintf("/%d/", gw.pid), "the worker is that gateway")
		assert.Contains(t, out, "backlog:       0")
		assert.NotContains(t, out, "pw'", "no password printed")
		out = r.run(t, 0, "mirror", "verify", "--redis", r.rd.URL(), "--database", r.dbURL)
		assert.Contains(t, out, "no difference")
	})

	t.Run("figures: delivery latency, cost per change", func(t *testing.T) {
		// steady state: one change at a time, each timed from its answer
		// to its delivery (its account's pending mark gone)
		var kids []restcommtest.Account
		for _, a := range r.data.Good() {
			if a.ParentSid == top.Sid && a.Status != "closed" {
				kids = append(kids, a)
			}
		}
		require.NotEmpty(t, kids)
		st := store.New(r.rdb, "")
		var lat []time.Duration
		for i := range 200 {
			k := kids[i%len(kids)]
			code, body, err := send(t, c, gw, "POST", fixture.APIRoot+"/Accounts/"+k.Sid+".json", top.Email, top.Password,
				fmt.Sprintf("FriendlyName=steady %d", i))
			require.NoError(t, err)
			require.Equal(t, 200, code, body)
			answered := time.Now()
			for {
				p, err := st.Pending(context.Background(), k.Sid)
				require.NoError(t, err)
				if p[0] == "" {
					break
				}
				time.Sleep(200 * time.Microsecond) // polled tightly: the latency is the measurement
			}
			lat = append(lat, time.Since(answered))
		}
		t.Logf("FIGURE delivery latency, steady state, %d changes: p50 %v, p99 %v, max %v",
			len(lat), pct(lat, 50), pct(lat, 99), pct(lat, 100))

		// the cost of a change at the gateway with and without the mirror:
		// the same renames against a gateway on a namespace that is not
		// mirrored (same Redis, same machine), in alternating blocks, each
		// mirrored block with its deliveries running alongside
		r.run(t, 0, "accounts", "import", "--from", r.dbURL, "--redis", r.rd.URL(), "--key-prefix", "plain")
		plainCfg := strings.Replace(readCaddyfile(t, "testdata/e2e.Caddyfile"), "redis {$RESTCOMM_REDIS:redis://127.0.0.1:6379/0}",
			"redis {$RESTCOMM_REDIS:redis://127.0.0.1:6379/0}\n\t\tkey_prefix plain", 1)
		require.Contains(t, plainCfg, "key_prefix plain")
		plain := startGateway(t, r.bin, plainCfg, r.env)
		pc := plain.client(false)
		var with, without []time.Duration
		block := func(g *gateway, c *http.Client, round int, out *[]time.Duration) {
			for i := range 50 {
				k := kids[i%len(kids)]
				start := time.Now()
				code, body, err := send(t, c, g, "POST", fixture.APIRoot+"/Accounts/"+k.Sid+".json", top.Email, top.Password,
					fmt.Sprintf("FriendlyName=cost %d.%d", round, i))
				d := time.Since(start)
				require.NoError(t, err)
				require.Equal(t, 200, code, body)
				if round > 0 { // the first round warms up
					*out = append(*out, d)
				}
			}
		}
		for round := range 11 {
			block(gw, c, round, &with)
			r.drained(t, 20*time.Second)
			block(plain, pc, round, &without)
		}
		t.Logf("FIGURE change latency at the gateway, %d renames each: with mirror p50 %v p99 %v mean %v; without p50 %v p99 %v mean %v; extra per change: mean %v, p50 %v",
			len(with), pct(with, 50), pct(with, 99), mean(with), pct(without, 50), pct(without, 99), mean(without),
			mean(with)-mean(without), pct(with, 50)-pct(without, 50))
		r.drained(t, 20*time.Second)
		r.run(t, 0, "mirror", "verify", "--redis", r.rd.URL(), "--database", r.dbURL)
	})

	t.Run("a change that can never apply is dead-lettered; the others go on", func(t *testing.T) {
		// a name RestComm's latin1 table cannot hold is refused up front
		// now; an account given one before the gateway checked names
		// against RestComm's columns still has it, and any change of its
		// row can never apply
		bad := "dead.letter@example.com"
		code, body, err := send(t, c, gw, "POST", fixture.APIRoot+"/Accounts.json", top.Email, top.Password,
			"EmailAddress="+bad+"&Password=Mirror-pw-1!&FriendlyName="+url.QueryEscape("名前 ☎"))
		require.NoError(t, err)
		require.Equal(t, 400, code, body)
		code, body, err = send(t, c, gw, "POST", fixture.APIRoot+"/Accounts.json", top.Email, top.Password,
			"EmailAddress="+bad+"&Password=Mirror-pw-1!")
		require.NoError(t, err)
		require.Equal(t, 200, code, body)
		r.drained(t, 10*time.Second)
		require.NoError(t, r.rdb.HSet(context.Background(), "{restcomm}:acct:"+restcommtest.SidOf(bad), "fname", "名前 ☎").Err())
		code, body, err = send(t, c, gw, "POST", fixture.APIRoot+"/Accounts/"+restcommtest.SidOf(bad)+".json", top.Email, top.Password,
			"Role=Developer")
		require.NoError(t, err)
		require.Equal(t, 200, code, body)
		var others []string
		for i := range 5 {
			email := fmt.Sprintf("behind%d@example.com", i)
			code, body, err := send(t, c, gw, "POST", fixture.APIRoot+"/Accounts.json", top.Email, top.Password,
				"EmailAddress="+email+"&Password=Mirror-pw-1!")
			require.NoError(t, err)
			require.Equal(t, 200, code, body)
			others = append(others, restcommtest.SidOf(email))
		}
		r.drained(t, 20*time.Second)
		for _, sid := range others {
			assert.Equal(t, 200, r.rc.Status(t, calls(sid), sid, restcommtest.MD5("Mirror-pw-1!")), "delivered behind the dead letter")
		}
		st := r.status(t)
		assert.EqualValues(t, 1, st.Dead)
		out := r.run(t, 0, "mirror", "status", "--redis", r.rd.URL())
		t.Log("\n" + out)
		assert.Contains(t, out, "dead-lettered: 1")
		assert.Contains(t, out, "update "+restcommtest.SidOf(bad))
		assert.Contains(t, out, "character set")
		m := scrape(t, "http://"+gw.admin+"/metrics")
		assert.Equal(t, 1.0, m[`restcomm_gateway_mirror_dead_lettered_total{kind="rejected"}`])
		out = r.run(t, 1, "mirror", "verify", "--redis", r.rd.URL(), "--database", r.dbURL)
		t.Log("\n" + out)
		assert.Contains(t, out, "account "+restcommtest.SidOf(bad)+": friendly_name")
		assert.Contains(t, out, "account "+restcommtest.SidOf(bad)+": role")
	})
}

// TestEndToEndMirrorOutage: MariaDB stopped for 30 s while 600 requests
// change accounts through two gateways, one of which is killed mid-way:
// every update is accepted and waits in the outbox, every create is
// refused with 503 (a create must first find that RestComm's table does
// not hold the account); afterwards the backlog drains, verify finds no
// difference, nothing was dead-lettered, and the survivor delivers.
func TestEndToEndMirrorOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	r := startMirrorRig(t, 60)
	gws := []*gateway{r.gateway(t), r.gateway(t)}
	r.drained(t, 10*time.Second)
	holderPid := func() int {
		m := regexp.MustCompile(`/(\d+)/`).FindStringSubmatch(r.status(t).Holder)
		if m == nil {
			return 0
		}
		pid, _ := strconv.Atoi(m[1])
		return pid
	}
	require.Eventually(t, func() bool { return holderPid() != 0 }, 10*time.Second, 20*time.Millisecond)
	victim := slices.IndexFunc(gws, func(g *gateway) bool { return g.pid == holderPid() })
	require.GreaterOrEqual(t, victim, 0, "the worker is one of the two gateways")
	survivor := gws[1-victim]
	top := r.top

	// the accounts the outage's updates change, created while RestComm's
	// database answers
	var created []string
	for i := range 40 {
		email := fmt.Sprintf("before.outage%d@example.com", i)
		code, body, err := send(t, gws[i%2].client(false), gws[i%2], "POST", fixture.APIRoot+"/Accounts.json", top.Email, top.Password,
			"EmailAddress="+email+"&Password=Outage-pw-1!")
		require.NoError(t, err)
		require.Equal(t, 200, code, body)
		created = append(created, restcommtest.SidOf(email))
	}
	r.drained(t, 20*time.Second)

	r.maria.Stop()
	stopped := time.Now()
	var (
		mu      sync.Mutex
		made    int // updates accepted
		refused int // creates refused with 503
		killed  bool
	)
	const total = 600
	work := make(chan int)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			clients := []*http.Client{gws[0].client(false), gws[1].client(false)}
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range work {
				mu.Lock()
				g := gws[i%2]
				if killed {
					g = survivor
				}
				target := created[rnd.IntN(len(created))]
				mu.Unlock()
				c := clients[slices.Index(gws, g)]
				var code int
				var err error
				switch {
				case i%10 == 0:
					email := fmt.Sprintf("outage%d@example.com", i)
					var body string
					code, body, err = send(t, c, g, "POST", fixture.APIRoot+"/Accounts.json", top.Email, top.Password,
						"EmailAddress="+email+"&Password=Outage-pw-1!")
					if err == nil {
						assert.Equal(t, 503, code, "a create while RestComm's database is down: %s", body)
						mu.Lock()
						refused++
						mu.Unlock()
					}
					continue
				case i%3 == 1:
					code, _, err = send(t, c, g, "POST", fixture.APIRoot+"/Accounts/"+target+".json", top.Email, top.Password,
						fmt.Sprintf("FriendlyName=outage rename %d", i))
				case i%7 == 2:
					code, _, err = send(t, c, g, "POST", fixture.APIRoot+"/Accounts/"+target+".json", top.Email, top.Password,
						"Status="+[]string{"suspended", "active"}[rnd.IntN(2)])
				default:
					code, _, err = send(t, c, g, "POST", fixture.APIRoot+"/Accounts/"+target+".json", top.Email, top.Password,
						fmt.Sprintf("Password=Outage-pw-%d!", i))
				}
				mu.Lock()
				if err == nil && (code == 200 || code == 400) { // 400: closed meanwhile
					made++
				}
				mu.Unlock()
			}
		})
	}
	for i := range total {
		time.Sleep(40 * time.Millisecond) // spread over most of the outage
		if i == total/2 {
			mu.Lock()
			require.NoError(t, syscall.Kill(gws[victim].pid, syscall.SIGKILL), "kill the delivering gateway")
			killed = true
			mu.Unlock()
		}
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("%d changes made and %d creates refused in %v with MariaDB down; the delivering gateway (pid %d) was killed after %d",
		made, refused, time.Since(stopped).Round(time.Millisecond), gws[victim].pid, total/2)
	assert.GreaterOrEqual(t, made, 500)
	assert.Equal(t, total/10, refused)
	require.Eventually(t, func() bool { return holderPid() == survivor.pid }, 15*time.Second, 50*time.Millisecond,
		"the survivor took the delivery over")

	time.Sleep(time.Until(stopped.Add(30 * time.Second))) // the scenario: MariaDB 30 s down
	before := r.status(t)
	t.Logf("after 30 s down: backlog %d, %d being delivered, dead %d", before.Backlog, before.Unsettled, before.Dead)
	assert.Greater(t, before.Backlog, int64(total/2))
	r.maria.Restart(t)
	restarted := time.Now()
	var first time.Time
	require.Eventually(t, func() bool {
		st := r.status(t)
		if first.IsZero() && st.Backlog < before.Backlog {
			first = time.Now()
		}
		return st.Backlog == 0
	}, 120*time.Second, 10*time.Millisecond, "the backlog drains")
	done := time.Now()
	t.Logf("FIGURE drain after the outage: %d entries in %v from the first delivery (%.0f entries/s); %v from the restart",
		before.Backlog, done.Sub(first).Round(time.Millisecond), float64(before.Backlog)/done.Sub(first).Seconds(),
		done.Sub(restarted).Round(time.Millisecond))

	after := r.status(t)
	assert.Zero(t, after.Dead, "nothing dead-lettered")
	assert.Zero(t, after.DeadLetters)
	out := r.run(t, 0, "mirror", "verify", "--redis", r.rd.URL(), "--database", r.dbURL)
	assert.Contains(t, out, "no difference")
	out = r.run(t, 0, "mirror", "status", "--redis", r.rd.URL())
	t.Log("\n" + out)
	assert.Contains(t, out, fmt.Sprintf("/%d/", survivor.pid), "the survivor delivers")
	m := scrape(t, "http://"+survivor.admin+"/metrics")
	assert.Equal(t, 1.0, m["restcomm_gateway_mirror_worker"])
	assert.Greater(t, m["restcomm_gateway_mirror_retries_total"], 0.0)
}

// scrape reads a Prometheus text page into name{labels} → value.
func scrape(t *testing.T, u string) map[string]float64 {
	t.Helper()
	res, err := http.Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	require.NoError(t, sc.Err())
	return out
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*p+99)/100-1)
	return s[max(0, i)].Round(10 * time.Microsecond)
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return (sum / time.Duration(len(ds))).Round(time.Microsecond)
}
