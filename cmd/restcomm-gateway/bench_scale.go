package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// The scale mode of bench (bench --accounts N): N accounts imported the way
// an operator imports them, then the gateway's account GETs measured
// against that Redis, with the CPU time each process spent per request.
//
// Nothing here is asserted: it prints figures for docs/capacity.md, "Capacity
// and scaling out".

// scaleTree is a generated RestComm account tree: a few top-level
// accounts (the first is RestComm's default administrator), many
// sub-accounts under each, and most accounts on the third level, as
// resellers, their customers and the customers' own sub-accounts.
type scaleTree struct {
	n                   int
	tops, children      int
	superAdmin, ownSelf scaleCaller // the callers of the two GET rows
}

type scaleCaller struct{ sid, email string }

// scaleShape is the tree's shape for n accounts: up to 10 top-level
// accounts, n/50 on the second level, the rest on the third.
func scaleShape(n int) scaleTree {
	t := scaleTree{n: n, tops: min(10, max(1, n/100))}
	t.children = min(n-t.tops, max(t.tops, n/50))
	return t
}

// scaleSid is account i's SID: 34 characters as RestComm's, deterministic.
func scaleSid(i int) string {
	if i == 0 {
		return store.DefaultAdminSid
	}
	return "AC" + md5hex("bench account "+strconv.Itoa(i))
}

// scaleOrg is the organization of top-level account t (0: the default).
func scaleOrg(t int) (sid, domain string) {
	if t == 0 {
		return store.DefaultOrganizationSid, store.DefaultOrganizationDomain
	}
	return "OR" + md5hex("bench organization "+strconv.Itoa(t)), fmt.Sprintf("tenant%d.example.com", t)
}

// scaleFewTargets is the size of the small set of random targets: one the
// policy's memory of recent decisions holds whole (policy/cache.go keeps
// two generations of 2,048 inputs).
const scaleFewTargets = 1000

// Widths of the lines of the lists wrk reads (newline included): a SID; a
// SID, a space and the base64 of "e-mail:password", padded with spaces.
const (
	scaleSidWidth    = 35
	scaleCallerWidth = 128
)

// scaleFiles are the files the scale mode writes: the accounts as the
// JSON lines "accounts import --from file.jsonl" reads (the format of
// "accounts export"), and for wrk's random picks every SID, scaleFewTargets
// SIDs spread over the tree, and every active account with its
// credentials.
type scaleFiles struct{ jsonl, sids, few, callers string }

func newScaleFiles(dir string) scaleFiles {
	return scaleFiles{jsonl: filepath.Join(dir, "accounts.jsonl"), sids: filepath.Join(dir, "sids.txt"),
		few: filepath.Join(dir, "few.txt"), callers: filepath.Join(dir, "callers.txt")}
}

// writeScaleFiles writes the tree's files.
func writeScaleFiles(files scaleFiles, t *scaleTree) (err error) {
	var closers []*os.File
	defer func() {
		for _, c := range closers {
			if cerr := c.Close(); err == nil {
				err = cerr
			}
		}
	}()
	create := func(path string) (*bufio.Writer, error) {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		closers = append(closers, f)
		return bufio.NewWriterSize(f, 1<<16), nil
	}
	var out, sids, few, callers *bufio.Writer
	for _, c := range []struct {
		w    **bufio.Writer
		path string
	}{{&out, files.jsonl}, {&sids, files.sids}, {&few, files.few}, {&callers, files.callers}} {
		if *c.w, err = create(c.path); err != nil {
			return err
		}
	}
	stride := max(1, t.n/scaleFewTargets)
	w := restcommdb.NewJSONLWriter(out)
	base := time.Date(2016, 3, 1, 9, 0, 0, 0, time.UTC)
	date := func(i int) string { return base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339) }
	if err := w.Write(restcommdb.Header{Kind: restcommdb.KindExport, Format: restcommdb.JSONLFormat}); err != nil {
		return err
	}
	for i := 0; i < t.tops; i++ {
		sid, domain := scaleOrg(i)
		if err := w.Write(restcommdb.JSONOrganization{Kind: restcommdb.KindOrganization, Sid: sid, DomainName: domain,
			Status: "active", DateCreated: date(0), DateUpdated: date(0)}); err != nil {
			return err
		}
	}
	token := md5hex(benchPassword)
	for i := 0; i < t.n; i++ {
		sid := scaleSid(i)
		var top int
		var parent *string
		a := restcommdb.JSONAccount{Kind: restcommdb.KindAccount, Sid: sid, DateCreated: date(i), DateUpdated: date(i + 1),
			Type: "Full", Status: "active", AuthToken: token, URI: "/2012-04-24/Accounts/" + sid}
		switch {
		case i == 0:
			a.EmailAddress, a.FriendlyName, a.Role = store.DefaultAdminEmail, "Default Administrator Account", "Administrator"
			t.superAdmin = scaleCaller{sid, a.EmailAddress}
		case i < t.tops:
			top = i
			a.EmailAddress, a.FriendlyName, a.Role = fmt.Sprintf("ops@tenant%d.example.com", i), fmt.Sprintf("Reseller %d", i), "Administrator"
		case i < t.tops+t.children:
			top = (i - t.tops) % t.tops
			p := scaleSid(top)
			parent = &p
			a.EmailAddress, a.FriendlyName, a.Role = fmt.Sprintf("customer%d@tenant%d.example.com", i, top), fmt.Sprintf("Customer %d", i), "Administrator"
		default:
			c := t.tops + (i-t.tops-t.children)%t.children
			top = (c - t.tops) % t.tops
			p := scaleSid(c)
			parent = &p
			a.EmailAddress, a.FriendlyName, a.Role = fmt.Sprintf("user%d@tenant%d.example.com", i, top), fmt.Sprintf("User %d", i), "Developer"
			// some suspended and closed accounts, as any real system has
			switch {
			case i%50 == 7:
				a.Status = "closed"
			case i%20 == 9:
				a.Status = "suspended"
			case t.ownSelf.sid == "":
				t.ownSelf = scaleCaller{sid, a.EmailAddress}
			}
		}
		a.ParentSid = parent
		a.OrganizationSid, _ = scaleOrg(top)
		if err := w.Write(a); err != nil {
			return err
		}
		if _, err := sids.WriteString(sid + "\n"); err != nil {
			return err
		}
		if i%stride == 0 && i/stride < scaleFewTargets {
			if _, err := few.WriteString(sid + "\n"); err != nil {
				return err
			}
		}
		if a.Status == "active" {
			line := sid + " " + base64.StdEncoding.EncodeToString([]byte(a.EmailAddress+":"+benchPassword))
			if len(line) >= scaleCallerWidth {
				return fmt.Errorf("bench: caller line wider than %d: %s", scaleCallerWidth, line)
			}
			if _, err := callers.WriteString(line + strings.Repeat(" ", scaleCallerWidth-1-len(line)) + "\n"); err != nil {
				return err
			}
		}
	}
	if t.ownSelf.sid == "" { // a tree without a third level
		t.ownSelf = t.superAdmin
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, b := range []*bufio.Writer{sids, few, callers} {
		if err := b.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// scaleWrkScript is a wrk script that GETs a random account of a list in
// every request: the list's file has fixed-width lines (the width, then
// the file, are the format's arguments), each a SID, and, for rows whose
// callers vary, a space and the base64 credentials the request is made
// with. Each request reads its line from the file at a random offset (the
// file is in the page cache): loading a list of a million lines into each
// thread's Lua state costs seconds of CPU, which wrk spends while its
// first thread already runs, and a big Lua heap makes every later request
// dearer, on the two cores it shares with what it measures. Each thread
// seeds its own generator.
const scaleWrkScript = `local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local width = %d
local f, count
function init(args)
  f = assert(io.open(%q, "rb"))
  count = math.floor(f:seek("end") / width)
  f:setvbuf("no")
  math.randomseed(os.time() * 1000 + id)
end
function request()
  f:seek("set", (math.random(count) - 1) * width)
  local line = f:read(width)
  local sid = line:sub(1, 34)
  if width == 35 then
    return wrk.format("GET", "/restcomm/2012-04-24/Accounts.json/" .. sid)
  end
  return wrk.format("GET", "/restcomm/2012-04-24/Accounts.json/" .. sid,
    {Authorization = "Basic " .. line:match("^%%S+ (%%S+)")})
end
`

// superAdminOverlay lets top-level Administrators read every account: a
// support desk's Super Admin, through the policy's documented extension
// point (RestComm's own rule reaches descendants only).
const superAdminOverlay = `package restcomm.overlay.bench

may_read_target if {
	count(input.caller.ancestors) == 0
	input.caller.role == "Administrator"
}
`

func cmdBenchScale(n int, duration time.Duration, conns, threads, rounds int, pin bool) (int, error) {
	if n < 1 {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("bench: --accounts must be at least 1")
	}
	rounds = max(1, rounds)
	if pin {
		if err := ensureTool("taskset", "util-linux"); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	}
	env, err := newBenchEnv()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	defer env.close()
	dir := env.dir
	exe, err := os.Executable()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	redisAddr, err := env.startRedis()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	ctx := context.Background()
	redisPid, err := redisProcessID(ctx, rdb)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	memBefore, err := redisUsedMemory(ctx, rdb)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	// the input an operator would have: RestComm's accounts as JSON lines
	tree := scaleShape(n)
	files := newScaleFiles(dir)
	if err := writeScaleFiles(files, &tree); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	fmt.Printf("%d accounts: %d top-level, %d on the second level, %d on the third; %d organizations\n",
		n, tree.tops, tree.children, n-tree.tops-tree.children, tree.tops)

	// the import, as an operator runs it
	importArgs := []string{"accounts", "import", "--from", files.jsonl, "--redis", "redis://" + redisAddr + "/0", "--key-prefix", "bench"}
	fmt.Printf("restcomm-gateway %s\n", strings.Join(importArgs, " "))
	fmt.Printf("load average before the import: %s\n", loadAverage())
	var report strings.Builder
	imp := exec.Command(exe, importArgs...)
	imp.Stdout, imp.Stderr = &report, os.Stderr
	start := time.Now()
	if err := imp.Run(); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("bench: accounts import: %w\n%s", err, report.String())
	}
	importTime := time.Since(start)
	if want := fmt.Sprintf("accounts:      read %d, imported %d,", n, n); !strings.Contains(report.String(), want) {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("bench: the import did not import every account:\n%s", report.String())
	}
	memAfter, err := redisUsedMemory(ctx, rdb)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	keys, _ := rdb.DBSize(ctx).Result()

	// the stand-in upstream and the gateway
	upstreamAddr, err := env.startUpstream()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	policyDir := filepath.Join(dir, "policy")
	if err := os.MkdirAll(policyDir, 0o755); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if err := os.WriteFile(filepath.Join(policyDir, "bench.rego"), []byte(superAdminOverlay), 0o644); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	gwAddr := freeLoopback()
	gateway := benchConfig(dir, gwAddr, []any{
		route(scaleMetricsPath, map[string]any{"handler": "metrics"}),
		route("", map[string]any{"handler": "restcomm", "key_prefix": "bench", "policy_dir": policyDir,
			"redis": map[string]any{"urls": []string{"redis://" + redisAddr + "/0"}}}, reverseProxy(upstreamAddr)),
	})
	gw, err := startCaddy(dir, "gateway", gateway, gwAddr)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	env.atClose(func() { _ = gw.Process.Signal(syscall.SIGTERM); _ = gw.Wait() })
	defer func(pid int) { fmt.Printf("gateway RSS   peak %d kB\n", procStatusKB(pid, "VmHWM:")) }(gw.Process.Pid)
	if pin {
		for _, p := range []struct {
			pid  int
			core string
		}{{gw.Process.Pid, "0"}, {redisPid, "1"}} {
			if out, err := exec.Command("taskset", "-a", "-p", "-c", p.core, strconv.Itoa(p.pid)).CombinedOutput(); err != nil {
				return caddy.ExitCodeFailedStartup, fmt.Errorf("bench: taskset: %w\n%s", err, out)
			}
		}
	}

	script, fewScript, callerScript := filepath.Join(dir, "random.lua"), filepath.Join(dir, "few.lua"), filepath.Join(dir, "callers.lua")
	for _, s := range []struct {
		path, list string
		width      int
	}{{script, files.sids, scaleSidWidth}, {fewScript, files.few, scaleSidWidth}, {callerScript, files.callers, scaleCallerWidth}} {
		if err := os.WriteFile(s.path, []byte(fmt.Sprintf(scaleWrkScript, s.width, s.list)), 0o644); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	}
	basic := func(c scaleCaller) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.email+":"+benchPassword))
	}
	newRows := func() []*benchRow {
		return []*benchRow{
			{name: "gateway pass-through", url: "http://" + gwAddr + "/restcomm/2012-04-24/Accounts/" + tree.ownSelf.sid + "/Calls.json",
				auth: basic(tree.ownSelf)},
			{name: "account GET, own (JSON)", url: "http://" + gwAddr + "/restcomm/2012-04-24/Accounts.json/" + tree.ownSelf.sid,
				auth: basic(tree.ownSelf)},
			{name: "account GET, own, random caller (JSON)", url: "http://" + gwAddr, script: callerScript, auth: basic(tree.ownSelf)},
			{name: fmt.Sprintf("account GET, random of %d (JSON)", min(n, scaleFewTargets)), url: "http://" + gwAddr, script: fewScript,
				auth: basic(tree.superAdmin)},
			{name: fmt.Sprintf("account GET, random of all %d (JSON)", n), url: "http://" + gwAddr, script: script, auth: basic(tree.superAdmin)},
		}
	}
	where := ""
	if pin {
		where = ", gateway pinned to core 0 and redis-server to core 1 (taskset), wrk on both"
	}
	fmt.Printf("import        %s for %d accounts (%.0f accounts/s), wall clock of the command\n",
		importTime.Round(time.Millisecond), n, float64(n)/importTime.Seconds())
	fmt.Printf("redis memory  used_memory %s before, %s after, %d keys: %.0f bytes per account\n\n",
		mib(memBefore), mib(memAfter), keys, float64(memAfter-memBefore)/float64(n))
	fmt.Printf("wrk -t%d -c%d -d%s, one row at a time, on %s%s\n", threads, conns, duration, hostName(), where)
	metrics := "http://" + gwAddr + scaleMetricsPath
	var all [][]*benchRow
	for round := 1; round <= rounds; round++ {
		rows := newRows()
		fmt.Printf("\nround %d of %d, load average before: %s\n", round, rounds, loadAverage())
		for _, r := range rows {
			gw0, rd0, pol0 := processCPU(gw.Process.Pid), processCPU(redisPid), policyTime(metrics)
			if err := runWrk(r, r.auth, threads, conns, duration); err != nil {
				return caddy.ExitCodeFailedQuit, err
			}
			r.gatewayCPU, r.redisCPU = processCPU(gw.Process.Pid)-gw0, processCPU(redisPid)-rd0
			r.policy = policyTime(metrics).minus(pol0)
		}
		printScaleRows(rows)
		fmt.Printf("load average after: %s\n", loadAverage())
		all = append(all, rows)
	}
	if rounds > 1 {
		fmt.Printf("\nmedian of the %d rounds, column by column\n", rounds)
		printScaleRows(medianRows(all))
	}
	fmt.Println("\nCPU/req is the process's user+system CPU time over the row divided by its requests;")
	fmt.Println("req/s per core is its inverse: what one core busy with that process alone would carry.")
	fmt.Println("policy/decision is the gateway's mean time to decide (its decision_duration_seconds metric).")
	fmt.Println("The policy remembers a few thousand recent decisions (policy/cache.go): the rows of one caller")
	fmt.Printf("and of random-of-%d targets hit that memory; random callers and random-of-all targets miss it\n", min(n, scaleFewTargets))
	fmt.Println("once N is in the thousands, and each of their requests is a Rego evaluation.")
	return caddy.ExitCodeSuccess, nil
}

// scaleMetricsPath serves the gateway's metrics (Caddy's metrics handler),
// for the policy's decision time.
const scaleMetricsPath = "/bench-metrics"

// printScaleRows prints one table of the scale mode's rows.
func printScaleRows(rows []*benchRow) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "row\treq/s\tp50\tp99\terrors\tgateway CPU/req\tpolicy/decision\tredis CPU/req\twrk CPU/req\treq/s per gateway core\treq/s per redis core\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name, r.rps, r.p50, r.p99, r.errors,
			perRequest(r.gatewayCPU, r.requests), r.policy.mean(), perRequest(r.redisCPU, r.requests),
			perRequest(r.wrkCPU, r.requests), perCore(r.gatewayCPU, r.requests), perCore(r.redisCPU, r.requests))
	}
	_ = tw.Flush()
}

// medianRows is, row by row, the median of each column over the rounds
// (CPU times are taken per request), and the errors of all rounds.
func medianRows(rounds [][]*benchRow) []*benchRow {
	out := make([]*benchRow, len(rounds[0]))
	for i := range out {
		var rps, p50, p99, gwc, rdc, wrkc, pol []float64
		errs := 0
		for _, rows := range rounds {
			r := rows[i]
			rps, p50, p99 = append(rps, r.rps), append(p50, float64(r.p50)), append(p99, float64(r.p99))
			errs += r.errors
			per := func(d time.Duration) float64 { return float64(d) / float64(max(1, r.requests)) }
			gwc, rdc, wrkc = append(gwc, per(r.gatewayCPU)), append(rdc, per(r.redisCPU)), append(wrkc, per(r.wrkCPU))
			if d, ok := r.policy.meanDuration(); ok {
				pol = append(pol, float64(d))
			}
		}
		const perMillion = 1_000_000 // CPU times per request, kept over a million requests
		out[i] = &benchRow{name: rounds[0][i].name, rps: median(rps), p50: time.Duration(median(p50)).Round(time.Microsecond),
			p99: time.Duration(median(p99)).Round(time.Microsecond), errors: errs, requests: perMillion,
			gatewayCPU: time.Duration(median(gwc) * perMillion), redisCPU: time.Duration(median(rdc) * perMillion),
			wrkCPU: time.Duration(median(wrkc) * perMillion)}
		if len(pol) > 0 {
			out[i].policy = policySample{count: 1, sum: time.Duration(median(pol))}
		}
	}
	return out
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// policySample is the gateway's policy decision histogram's count and sum.
type policySample struct {
	count float64
	sum   time.Duration
}

func (p policySample) minus(q policySample) policySample {
	return policySample{count: p.count - q.count, sum: p.sum - q.sum}
}

// meanDuration is the mean time per decision; false without decisions.
func (p policySample) meanDuration() (time.Duration, bool) {
	if p.count <= 0 {
		return 0, false
	}
	return time.Duration(float64(p.sum) / p.count), true
}

// mean is the mean time per decision, "-" without decisions.
func (p policySample) mean() string {
	d, ok := p.meanDuration()
	if !ok {
		return "-"
	}
	return d.Round(100 * time.Nanosecond).String()
}

// policyTime reads the policy decision histogram's count and sum from the
// gateway's metrics (zero when they cannot be read).
func policyTime(url string) policySample {
	resp, err := http.Get(url)
	if err != nil {
		return policySample{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return policySample{}
	}
	return parsePolicyMetrics(string(b))
}

func parsePolicyMetrics(text string) policySample {
	var p policySample
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "restcomm_gateway_policy_decision_duration_seconds_sum":
			p.sum = time.Duration(v * float64(time.Second))
		case "restcomm_gateway_policy_decision_duration_seconds_count":
			p.count = v
		}
	}
	return p
}

// redisProcessID is the server's process id, from INFO.
func redisProcessID(ctx context.Context, rdb *redis.Client) (int, error) {
	v, err := redisInfoField(ctx, rdb, "server", "process_id")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

// redisUsedMemory is INFO memory's used_memory: the bytes Redis's
// allocator holds for data and its own structures.
func redisUsedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	v, err := redisInfoField(ctx, rdb, "memory", "used_memory")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

func redisInfoField(ctx context.Context, rdb *redis.Client, section, field string) (string, error) {
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("bench: INFO %s has no %s", section, field)
}

// processCPU is the user+system CPU time process pid has used, all its
// threads, from /proc/<pid>/stat (Linux; 0 elsewhere).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return parseProcStatCPU(string(b))
}

// parseProcStatCPU reads utime and stime (fields 14 and 15, in clock
// ticks of 1/100 s, Linux's USER_HZ) from a /proc/<pid>/stat line. The
// command name (field 2) is in parentheses and may hold spaces.
func parseProcStatCPU(stat string) time.Duration {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * (time.Second / 100)
}

func perRequest(cpu time.Duration, requests int) string {
	if requests == 0 || cpu == 0 {
		return "-"
	}
	return (cpu / time.Duration(requests)).Round(100 * time.Nanosecond).String()
}

func perCore(cpu time.Duration, requests int) string {
	if requests == 0 || cpu == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(requests)/cpu.Seconds(), 'f', 0, 64)
}

// loadAverage is the machine's 1, 5 and 15 minute load averages (Linux),
// for reading the figures: other work on the cores lowers them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
