package main

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/redis/go-redis/v9"

	"github.com/restcomm/restcomm-gateway/internal/render"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "bench",
		Usage: "[--duration 8s] [--connections 32] [--threads 2] [--rounds 1] [--accounts N [--pin]]",
		Short: "Measures the gateway side by side with plain Caddy on this machine",
		Long: `
Starts, on this machine and on loopback only: a private redis-server, a
stand-in upstream (a fast HTTP server answering every request), plain Caddy
(this same binary with a config without the restcomm handler: reverse_proxy
to the upstream, and a static respond of an account's JSON) and the gateway
(the restcomm handler, then the same reverse_proxy). It then runs wrk
against each, one row at a time, and prints req/s, p50, p99 and errors per
row and the ratios the project's targets are stated in:

  pass-through      gateway / plain reverse_proxy, same request   (target >= 0.95)
  account GET       gateway JSON GET / Caddy static respond       (target >= 0.80)
  p99 added         gateway p99 - plain p99, pass-through         (target <= 1 ms)
  gateway RSS       largest resident memory of the gateway under load (target <= 100 MB)

  monitor mode      account GET with policy_monitor_dir / without

--rounds K runs the rows K times, one after the other, and prints the
medians: a machine shared with other work drifts between rows, and
alternating them spreads the drift over both sides of each ratio.

With --accounts N it measures scale instead: it writes N accounts (a few
top-level accounts, many sub-accounts under each, most on the third level)
as the JSON lines "accounts import --from file.jsonl" reads, imports them
into the private Redis with this binary's "accounts import", and prints
the import's time and Redis's used_memory per account. Then it runs wrk
against the gateway: pass-through, an account's GET of itself, and a
top-level Administrator's GET of a random account among the N (a policy
overlay lets it read them all). For each row it also prints the CPU time
the gateway and redis-server spent per request, and so what one core of
each carries, and the gateway's mean time per policy decision. --rounds K
runs the rows K times on the one import and prints the medians as well.
--pin pins the gateway to core 0 and redis-server to core 1.

wrk is installed from Debian's package when missing (as root). Nothing is
asserted: the figures are for reading, and vary with the machine's load.`,
		Func: cmdBench,
		Flags: func() *flag.FlagSet {
			fs := flag.NewFlagSet("bench", flag.ExitOnError)
			fs.Duration("duration", 8*time.Second, "how long each row runs")
			fs.Int("connections", 32, "concurrent connections (wrk -c)")
			fs.Int("threads", 2, "wrk threads (wrk -t)")
			fs.Int("accounts", 0, "scale mode: import this many accounts and measure the gateway's GETs against them")
			fs.Int("rounds", 1, "run the rows this many times, alternating, then print the medians")
			fs.Bool("pin", false, "scale mode: pin the gateway to core 0 and redis-server to core 1 (taskset)")
			return fs
		}(),
	})
}

// benchRow is one wrk run.
type benchRow struct {
	name, url    string
	auth, script string // the Authorization header; a wrk Lua script, when set
	rps          float64
	p50, p99     time.Duration
	errors       int
	requests     int
	// CPU time wrk spent; the gateway and redis-server spent during the
	// row (scale mode)
	wrkCPU, gatewayCPU, redisCPU time.Duration
	policy                       policySample // the gateway's policy decisions during the row
}

func cmdBench(fl caddycmd.Flags) (int, error) {
	duration := fl.Duration("duration")
	conns, threads := fl.Int("connections"), fl.Int("threads")
	if n := fl.Int("accounts"); n != 0 {
		return cmdBenchScale(n, duration, conns, threads, fl.Int("rounds"), fl.Bool("pin"))
	}
	env, err := newBenchEnv()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	defer env.close()
	dir := env.dir

	// a private Redis with one active account
	redisAddr, err := env.startRedis()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	acct, err := seedBench(redisAddr)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	// the stand-in upstream: as fast as a Go server answers
	upstreamAddr, err := env.startUpstream()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	plainAddr, gwAddr := freeLoopback(), freeLoopback()
	accountJSON := string(render.AppendAccountJSON(nil, acct))
	plain := benchConfig(dir, plainAddr, []any{
		route("/static", map[string]any{"handler": "static_response", "status_code": 200,
			"headers": map[string][]string{"Content-Type": {"application/json"}}, "body": accountJSON}),
		route("", reverseProxy(upstreamAddr)),
	})
	gateway := benchConfig(dir, gwAddr, []any{
		route("", map[string]any{"handler": "restcomm", "key_prefix": "bench",
			"redis": map[string]any{"urls": []string{"redis://" + redisAddr + "/0"}}}, reverseProxy(upstreamAddr)),
	})
	// the same gateway with a monitored policy decided beside the one in
	// force (policy_monitor_dir): the starter overlay, which decides as the
	// built-in policy does, so that the row measures the cost of deciding
	// twice and nothing else
	monitorDir := filepath.Join(dir, "monitor-policy")
	if err := policy.WriteStarter(monitorDir); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	monAddr := freeLoopback()
	monitored := benchConfig(dir, monAddr, []any{
		route("", map[string]any{"handler": "restcomm", "key_prefix": "bench", "policy_monitor_dir": monitorDir,
			"redis": map[string]any{"urls": []string{"redis://" + redisAddr + "/0"}}}, reverseProxy(upstreamAddr)),
	})
	var gatewayPid int
	for _, c := range []struct{ name, config, addr string }{
		{"plain", plain, plainAddr}, {"gateway", gateway, gwAddr}, {"monitored", monitored, monAddr},
	} {
		cmd, err := startCaddy(dir, c.name, c.config, c.addr)
		if err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
		env.atClose(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
		if c.name == "gateway" {
			gatewayPid = cmd.Process.Pid
		}
	}

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(acct.EmailAddress+":"+benchPassword))
	calls := "/restcomm/2012-04-24/Accounts/" + acct.Sid + "/Calls.json"
	rows := []*benchRow{
		{name: "caddy reverse_proxy", url: "http://" + plainAddr + calls},
		{name: "gateway pass-through", url: "http://" + gwAddr + calls},
		{name: "caddy respond", url: "http://" + plainAddr + "/static"},
		{name: "gateway account GET (JSON)", url: "http://" + gwAddr + "/restcomm/2012-04-24/Accounts.json/" + acct.Sid},
		{name: "monitor mode account GET", url: "http://" + monAddr + "/restcomm/2012-04-24/Accounts.json/" + acct.Sid},
	}
	rounds := max(1, fl.Int("rounds"))
	fmt.Printf("wrk -t%d -c%d -d%s, one row at a time, %d round(s), on %s\n\n", threads, conns, duration, rounds, hostName())
	var underLoad int // the gateway's largest RSS seen during its rows, kB
	var all [][]*benchRow
	for range rounds {
		round := make([]*benchRow, len(rows))
		for i, r := range rows {
			row := &benchRow{name: r.name, url: r.url}
			var rss *rssWatch
			if strings.HasPrefix(r.name, "gateway") {
				rss = watchRSS(gatewayPid)
			}
			err := runWrk(row, auth, threads, conns, duration)
			if rss != nil {
				underLoad = max(underLoad, rss.stop())
			}
			if err != nil {
				return caddy.ExitCodeFailedQuit, err
			}
			round[i] = row
		}
		all = append(all, round)
	}
	rows = medianRows(all)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "row\treq/s\tp50\tp99\terrors\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%d\t\n", r.name, r.rps, r.p50, r.p99, r.errors)
	}
	_ = tw.Flush()
	fmt.Printf("\npass-through  %.2fx plain reverse_proxy (target >= 0.95)\n", rows[1].rps/rows[0].rps)
	fmt.Printf("account GET   %.2fx static respond (target >= 0.80)\n", rows[3].rps/rows[2].rps)
	fmt.Printf("p99 added     %s on pass-through (target <= 1ms)\n", rows[1].p99-rows[0].p99)
	fmt.Printf("monitor mode  %.2fx account GET without it, p99 %+v (one more decision per request, from its cache)\n",
		rows[4].rps/rows[3].rps, rows[4].p99-rows[3].p99)
	fmt.Printf("gateway RSS   %d kB at most under load (target <= 100 MB); %d kB peak since start, policy compilation included\n",
		underLoad, procStatusKB(gatewayPid, "VmHWM:"))
	return caddy.ExitCodeSuccess, nil
}

const benchPassword = "BenchPassw0rd!"

// ensureTool installs a Debian package when its command is missing.
func ensureTool(command, pkg string) error {
	if _, err := exec.LookPath(command); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s is missing: install Debian's %s package (apt-get install %s)", command, pkg, pkg)
	}
	fmt.Fprintf(os.Stderr, "installing %s\n", pkg)
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "--no-install-recommends", pkg}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}

// benchEnv is one bench run's scratch directory and what it started,
// stopped in reverse order by close. wrk and redis-server are installed
// first when missing.
type benchEnv struct {
	dir   string
	stops []func()
}

func newBenchEnv() (*benchEnv, error) {
	for _, tool := range []string{"wrk", "redis-server"} { // Debian's packages of those names
		if err := ensureTool(tool, tool); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "restcomm-bench-")
	if err != nil {
		return nil, err
	}
	return &benchEnv{dir: dir}, nil
}

func (e *benchEnv) atClose(stop func()) { e.stops = append(e.stops, stop) }

func (e *benchEnv) close() {
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
	_ = os.RemoveAll(e.dir)
}

// startUpstream starts the stand-in upstream: as fast as a Go server
// answers.
func (e *benchEnv) startUpstream() (string, error) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	upstream := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"calls":[]}`)
	})}
	go upstream.Serve(up)
	e.atClose(func() { _ = upstream.Close() })
	return up.Addr().String(), nil
}

// startRedis starts a private redis-server that keeps nothing on disk.
func (e *benchEnv) startRedis() (string, error) {
	addr := freeLoopback()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", e.dir)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	e.atClose(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c.Ping(context.Background()).Err() == nil {
			return addr, nil
		}
		if time.Now().After(deadline) {
			return "", errors.New("bench: redis-server did not start")
		}
	}
}

// seedBench creates the namespace with one active top-level account.
func seedBench(addr string) (*store.Account, error) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	st := store.New(c, "bench")
	ctx := context.Background()
	if _, err := st.Seed(ctx, ""); err != nil {
		return nil, err
	}
	email := "bench@example.com"
	sid := "AC" + md5hex(email)
	now := time.Now()
	return st.CreateAccount(ctx, nil, &store.Account{
		Sid: sid, OrganizationSid: store.DefaultOrganizationSid, FriendlyName: "bench", EmailAddress: email,
		Type: "Full", Status: store.StatusActive, Role: "Administrator", AuthToken: md5hex(benchPassword),
		URI: "/2012-04-24/Accounts/" + sid, DateCreated: now, DateUpdated: now,
	})
}

func route(path string, handlers ...any) map[string]any {
	r := map[string]any{"handle": handlers}
	if path != "" {
		r["match"] = []any{map[string]any{"path": []string{path}}}
	}
	return r
}

func reverseProxy(upstream string) map[string]any {
	return map[string]any{"handler": "reverse_proxy", "upstreams": []any{map[string]any{"dial": upstream}},
		"transport": map[string]any{"protocol": "http", "compression": false}}
}

// benchConfig writes a Caddy JSON config serving routes on addr, plain
// HTTP, no admin endpoint, logs at ERROR.
func benchConfig(dir, addr string, routes []any) string {
	cfg := map[string]any{
		"admin":   map[string]any{"disabled": true},
		"storage": map[string]any{"module": "file_system", "root": dir},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
		"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"bench": map[string]any{
			"listen": []string{addr}, "automatic_https": map[string]any{"disable": true}, "routes": routes,
		}}}},
	}
	raw, _ := json.Marshal(cfg)
	return string(raw)
}

func startCaddy(dir, name, config, addr string) (*exec.Cmd, error) {
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "run", "--config", path)
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return cmd, nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			b, _ := os.ReadFile(logFile.Name())
			return nil, fmt.Errorf("bench: %s did not start:\n%s", name, b)
		}
	}
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in `)
	wrkLatency  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func runWrk(r *benchRow, auth string, threads, conns int, d time.Duration) error {
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(int(d.Seconds())) + "s", "--latency", "-H", "Authorization: " + auth}
	if r.script != "" {
		args = append(args, "-s", r.script)
	}
	cmd := exec.Command("wrk", append(args, r.url)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("wrk %s: %w\n%s", r.url, err, out)
	}
	r.wrkCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	parseWrk(r, string(out))
	return nil
}

// parseWrk reads wrk --latency's output into r.
func parseWrk(r *benchRow, s string) {
	if m := wrkRPS.FindStringSubmatch(s); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	for _, m := range wrkLatency.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
		lat := time.Duration(v * float64(unit)).Round(time.Microsecond)
		if m[1] == "50" {
			r.p50 = lat
		} else {
			r.p99 = lat
		}
	}
	if m := wrkRequests.FindStringSubmatch(s); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	if m := wrkNon2xx.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		r.errors += n
	}
	if m := wrkSocket.FindStringSubmatch(s); m != nil {
		for _, x := range m[1:] {
			n, _ := strconv.Atoi(x)
			r.errors += n
		}
	}
}

// procStatusKB reads a kB field (VmRSS:, VmHWM:) of /proc/<pid>/status
// (Linux); 0 when it cannot.
func procStatusKB(pid int, field string) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// rssWatch samples a process's resident memory every 100 ms while a row
// runs: the target is the memory under load, which the lifetime peak
// (VmHWM) overstates by what compiling the policy took at start.
type rssWatch struct {
	done chan struct{}
	max  chan int
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{done: make(chan struct{}), max: make(chan int, 1)}
	go func() {
		peak := 0
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, procStatusKB(pid, "VmRSS:"))
			select {
			case <-w.done:
				w.max <- peak
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// stop ends the sampling and returns the largest RSS seen, in kB.
func (w *rssWatch) stop() int {
	close(w.done)
	return <-w.max
}

func freeLoopback() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

func hostName() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s (%d cores)", h, runtime.NumCPU())
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
