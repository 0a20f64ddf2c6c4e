package accountsapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
)

// bulkAccounts writes n accounts of organization org, children of parent
// (none when empty), straight into Redis with the store's key layout (the
// account hash, the parent's children, the organization's members),
// pipelined: a 100,000-account organization in a couple of seconds rather
// than 100,000 API calls. Their SIDs are "AC" and tag and a number, their
// friendly names need escaping in both formats.
func bulkAccounts(tb testing.TB, rdb redis.UniversalClient, org, parent, tag string, n int) {
	tb.Helper()
	ctx := context.Background()
	when := time.Date(2020, 2, 29, 12, 0, 0, 0, time.UTC).Unix()
	pipe := rdb.Pipeline()
	for i := range n {
		sid := fmt.Sprintf("AC%s%0*d", tag, 32-len(tag), i)
		email := fmt.Sprintf("%s%d@bulk.example.com", tag, i)
		pipe.HSet(ctx, "{restcomm}:acct:"+sid, "sid", sid, "org", org, "fname", "Bulk <"+tag+"> & \"Zoë\" #"+strconv.Itoa(i),
			"email", email, "type", "Full", "status", "active", "role", "Developer", "token", fixture.Token,
			"uri", "/2012-04-24/Accounts/"+sid, "parent", parent, "created", when, "updated", when+int64(i))
		pipe.ZAdd(ctx, "{restcomm}:orgacc:"+org, redis.Z{Member: sid})
		if parent != "" {
			pipe.ZAdd(ctx, "{restcomm}:children:"+parent, redis.Z{Member: sid})
		}
		if pipe.Len() >= 1000 {
			_, err := pipe.Exec(ctx)
			require.NoError(tb, err)
		}
	}
	_, err := pipe.Exec(ctx)
	require.NoError(tb, err)
}

// serveHTTP runs the gateway behind a real HTTP server, so that a response
// is streamed to a client that reads it as it comes.
func (h *harness) serveHTTP(tb testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := UpstreamFunc(func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusBadGateway) // lists are never forwarded
			return nil
		})
		_ = h.s.ServeHTTP(w, r, next)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// fetch GETs path as the fixture account as, reads the body through and
// returns the status, the body's length and the time to its first byte.
func fetch(c *http.Client, base, path, as string) (status int, n int64, firstByte time.Duration, err error) {
	req, err := http.NewRequest(http.MethodGet, base+fixture.APIRoot+path, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	req.Header.Set("Authorization", fixture.Basic(fixture.Users[as], fixture.Token))
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	var one [1]byte
	k, err := io.ReadFull(resp.Body, one[:])
	firstByte = time.Since(start)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return resp.StatusCode, int64(k), firstByte, err
	}
	n, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, n + int64(k), firstByte, err
}

// redisCalls has Redis log every command slower than 100µs (SLOWLOG) and
// reports the longest single command since, and the mean time per call of
// the commands a list runs (INFO commandstats).
type redisCalls struct{ rdb redis.UniversalClient }

func watchRedisCalls(tb testing.TB, rdb *redis.Client) *redisCalls {
	// its own client, which waits as long as Redis is busy (with the
	// scripts of lists that timed out, before lists were read in batches)
	o := *rdb.Options()
	o.ReadTimeout = 10 * time.Minute
	rdb = redis.NewClient(&o)
	tb.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	require.NoError(tb, rdb.ConfigSet(ctx, "slowlog-log-slower-than", "100").Err())
	require.NoError(tb, rdb.ConfigSet(ctx, "slowlog-max-len", "100000").Err())
	require.NoError(tb, rdb.Do(ctx, "SLOWLOG", "RESET").Err())
	require.NoError(tb, rdb.Do(ctx, "CONFIG", "RESETSTAT").Err())
	return &redisCalls{rdb}
}

// longest is the longest single command (0 when none took 100µs), its
// name, and how many commands took over a millisecond.
func (r *redisCalls) longest(tb testing.TB) (d time.Duration, name string, over1ms int) {
	logs, err := r.rdb.SlowLogGet(context.Background(), -1).Result()
	require.NoError(tb, err)
	for _, l := range logs {
		if l.Duration > time.Millisecond {
			over1ms++
		}
		if l.Duration > d && len(l.Args) > 0 {
			d, name = l.Duration, strings.ToLower(l.Args[0])
		}
	}
	return d, name, over1ms
}

// perCall is INFO commandstats for the commands lists run.
func (r *redisCalls) perCall(tb testing.TB) string {
	info, err := r.rdb.Info(context.Background(), "commandstats").Result()
	require.NoError(tb, err)
	var out []string
	for _, l := range strings.Split(info, "\n") {
		for _, c := range []string{"hgetall:", "zrange:", "evalsha_ro:", "eval_ro:", "evalsha:"} {
			if strings.HasPrefix(l, "cmdstat_"+c) {
				out = append(out, strings.TrimSpace(l))
			}
		}
	}
	return strings.Join(out, "; ")
}

// rss is the process's resident set now and at its peak (VmRSS, VmHWM), in
// MiB.
func rss() (now, peak float64) {
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			now = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return now, peak
}

// resetPeakRSS returns the memory the heap no longer uses to the system and
// restarts the peak RSS from the current RSS (Linux's clear_refs), so that
// a sub-benchmark's peak is its own, not the set-up's.
func resetPeakRSS(tb testing.TB) float64 {
	runtime.GC()
	debug.FreeOSMemory()
	require.NoError(tb, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0))
	now, _ := rss()
	return now
}

// BenchmarkOrganizationList100k measures the largest list: the Super Admin's
// GET /Accounts.json?OrganizationSid= over a 100,000-account organization,
// read through a real HTTP client.
//
//	one: one list at a time; ns/op is a whole list.
//	16-concurrent: sixteen lists at once while other clients GET one
//	account in a loop; ns/op is the sixteen lists, get-p99-ms the 99th
//	percentile of those GETs.
//
// Both report the longest single Redis call (SLOWLOG, and how many calls
// took over 1ms), the gateway process's peak RSS during the sub-benchmark
// and its growth over the RSS before it (the harness, the Redis client and
// the policy engine, without the set-up's garbage).
func BenchmarkOrganizationList100k(b *testing.B) {
	const n = 100_000
	h := newHarness(b, true)
	rdb := h.redis.Client(b)
	start := time.Now()
	bulkAccounts(b, rdb, fixture.SidOrg1, "", "b", n)
	b.Logf("loaded %d accounts in %v", n, time.Since(start))
	srv := h.serveHTTP(b)
	path := "/Accounts.json?OrganizationSid=" + fixture.SidOrg1

	report := func(b *testing.B, calls *redisCalls, base float64) {
		d, name, over := calls.longest(b)
		b.ReportMetric(float64(d.Microseconds()), "longest-redis-µs")
		b.ReportMetric(float64(over), "redis-calls-over-1ms")
		b.Logf("longest single Redis call: %v (%s); %s", d, name, calls.perCall(b))
		_, peak := rss()
		b.ReportMetric(peak, "peak-RSS-MiB")
		b.ReportMetric(peak-base, "RSS-growth-MiB")
	}

	b.Run("one", func(b *testing.B) {
		c := srv.Client()
		calls := watchRedisCalls(b, rdb)
		base := resetPeakRSS(b)
		var first time.Duration
		var size int64
		failed := 0
		for b.Loop() {
			status, nb, fb, err := fetch(c, srv.URL, path, "ADMIN")
			require.NoError(b, err)
			if status != http.StatusOK {
				failed++
				b.Logf("status %d", status)
			}
			first, size = max(first, fb), nb
		}
		b.ReportMetric(float64(first.Milliseconds()), "first-byte-ms")
		b.ReportMetric(float64(size)/(1<<20), "body-MiB")
		b.ReportMetric(float64(failed), "failed-lists")
		report(b, calls, base)
	})

	b.Run("16-concurrent", func(b *testing.B) {
		c := srv.Client()
		c.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
		idle := accountGETs(c, srv.URL)
		time.Sleep(2 * time.Second) // the measurement: the idle latency over 2 s
		idleLat, _ := idle.stop()
		calls := watchRedisCalls(b, rdb)
		base := resetPeakRSS(b)
		busy := accountGETs(c, srv.URL)
		listFails := 0
		for b.Loop() {
			var lw sync.WaitGroup
			var lmu sync.Mutex
			for range 16 {
				lw.Add(1)
				go func() {
					defer lw.Done()
					status, _, _, err := fetch(c, srv.URL, path, "ADMIN")
					if err != nil || status != http.StatusOK {
						lmu.Lock()
						listFails++
						lmu.Unlock()
					}
				}()
			}
			lw.Wait()
		}
		lat, fails := busy.stop()
		if len(lat) > 0 {
			b.ReportMetric(percentile(lat, 99), "get-p99-ms")
			b.ReportMetric(percentile(lat, 50), "get-p50-ms")
		}
		b.ReportMetric(float64(listFails), "failed-lists")
		b.ReportMetric(float64(fails), "failed-gets")
		b.Logf("alone: %d account GETs, p50 %.1fms, p99 %.1fms; during the lists: %d GETs, %d failed; %d lists failed",
			len(idleLat), percentile(idleLat, 50), percentile(idleLat, 99), len(lat), fails, listFails)
		report(b, calls, base)
	})
}

// getLoad is four clients reading one account in a loop, each GET timed.
type getLoad struct {
	mu    sync.Mutex
	lat   []time.Duration
	fails int
	done  chan struct{}
	wg    sync.WaitGroup
}

func accountGETs(c *http.Client, base string) *getLoad {
	g := &getLoad{done: make(chan struct{})}
	for range 4 {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			for {
				select {
				case <-g.done:
					return
				default:
				}
				t0 := time.Now()
				status, _, _, err := fetch(c, base, "/Accounts.json/"+fixture.SidDev, "DEV")
				d := time.Since(t0)
				g.mu.Lock()
				g.lat = append(g.lat, d)
				if err != nil || status != http.StatusOK {
					g.fails++
				}
				g.mu.Unlock()
			}
		}()
	}
	return g
}

// stop ends the load and returns the GETs' times, sorted, and how many
// failed.
func (g *getLoad) stop() ([]time.Duration, int) {
	close(g.done)
	g.wg.Wait()
	slices.Sort(g.lat)
	return g.lat, g.fails
}

// percentile of sorted durations, in milliseconds.
func percentile(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[(len(sorted)-1)*p/100].Microseconds()) / 1000
}
