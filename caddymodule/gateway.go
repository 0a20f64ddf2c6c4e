// Package caddymodule is the Caddy HTTP handler "restcomm": RestComm's
// authentication and authorization at the edge, the Accounts and
// Organizations APIs served from Redis, and every other RestComm API path
// passed to the next handler (reverse_proxy to the upstream RestComm).
//
// The handler is a thin adapter: the service itself, which imports no
// Caddy, is package accountsapi. This package holds what ties it to Caddy:
// the module and its provisioning (gateway.go), shared across config
// reloads through Caddy's usage pools (the Redis client, the policy engine
// and its watch, the mirror's worker), the Caddyfile (caddyfile.go), the
// request's Caddy context handed to the service (handler.go), the
// upstream's failures (proxy.go), the health and readiness probes
// (health.go), metrics (metrics.go), and the
// restcomm-gateway subcommands (command.go, accounts_command.go,
// accounts_import_command.go, mirror_command.go).
package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
)

func init() {
	caddy.RegisterModule(Gateway{})
}

// Gateway is the "restcomm" HTTP handler. It must see every request below
// /restcomm/2012-04-24/ and be followed by a reverse_proxy to RestComm.
type Gateway struct {
	// Redis is where accounts and organizations live.
	Redis RedisConfig `json:"redis,omitzero"`

	// KeyPrefix is the Redis Cluster hash tag of every key, "restcomm" by
	// default: keys look like "{restcomm}:acct:AC…". Gateways sharing one
	// Redis and one prefix share their accounts.
	KeyPrefix string `json:"key_prefix,omitempty"`

	// PolicyDir is a directory of Rego policies and data: an overlay of the
	// built-in policy (RestComm's own rules), or a policy that replaces it,
	// as PolicyMode says. Empty: the built-in policy alone.
	PolicyDir string `json:"policy_dir,omitempty"`

	// PolicyMode says what PolicyDir is: "overlay" (the default), rules
	// and data plugged into the extension points of the built-in policy,
	// which stays loaded; or "replace", a complete policy used instead of
	// the built-in one (see policy/README.md).
	PolicyMode string `json:"policy_mode,omitempty"`

	// PolicyBundle is where a security team publishes the policy as an OPA
	// bundle, polled, verified, tested and activated as PolicyDir's edits
	// are (policybundle.go); PolicyMode says what it is. It excludes
	// PolicyDir.
	PolicyBundle *PolicyBundleConfig `json:"policy_bundle,omitempty"`

	// policy_monitor_dir: a policy decided beside the one in force but
	// not enforced (policymonitor.go).
	policyMonitorSettings

	// DecisionLog writes one structured log line per policy decision
	// (logger http.handlers.restcomm.decision): decision id, operation,
	// caller and target SIDs, result, policy revision and evaluation time;
	// never a credential.
	DecisionLog bool `json:"decision_log,omitempty"`

	// OrganizationDomain is the domain name given to RestComm's default
	// organization when the gateway seeds an empty Redis;
	// "default.restcomm.com" by default. Existing data is never changed.
	OrganizationDomain string `json:"organization_domain,omitempty"`

	// Seed says whether the gateway seeds a namespace that holds nothing
	// and was never marked as seeded: "auto" (the default) or "off" (only
	// `restcomm-gateway accounts seed` does; until then requests get 503).
	// A namespace that lost its data is never seeded by a gateway that
	// had seen it seeded.
	Seed string `json:"seed,omitempty"`

	// LoginCollation is how logins, /Accounts/{id} lookups and create
	// conflicts compare e-mail addresses, SIDs and friendly names: as
	// RestComm's database compares them. Empty: the namespace's own rule,
	// which `accounts import` records from the source database (exact for
	// a namespace never imported into). A rule named here (exact,
	// exact_pad, latin1_swedish_ci, unicode_ci, or a MariaDB collation
	// name) is imposed: the namespace is re-keyed under it.
	LoginCollation string `json:"login_collation,omitempty"`

	// Mirror writes every account and organization change into RestComm's
	// own database (mirror.go); nil: no mirror.
	Mirror *MirrorConfig `json:"mirror,omitempty"`

	// AccountCache bounds the in-process cache of resolved accounts
	// (accountcache.go); nil: on, with its defaults.
	AccountCache *AccountCacheConfig `json:"account_cache,omitempty"`

	// HealthPath is where the site answers health probes without
	// credentials: <HealthPath>/healthz and <HealthPath>/readyz (health.go).
	// Empty: DefaultHealthPath, /restcomm-gateway; "off": none (the admin
	// API's /restcomm/healthz and /restcomm/readyz stay). It may not lie
	// in RestComm's /restcomm context.
	HealthPath string `json:"health_path,omitempty"`

	logger *zap.Logger
	logs   *accountsapi.LogSampler // repeated errors, sampled
	store  *store.Store
	// collation: the login_collation imposed, or nil
	collation *collation.Rule
	redis     *redisHandle  // the shared Redis client, held by in-flight requests
	pool      string        // key of the shared Redis client in redisPool
	engine    *pooledEngine // the policy in force, shared across config reloads
	metrics   *metrics      // this config's collectors (metrics.go)
	// engineKey is the engine's key in enginePool
	engineKey      string
	decisionLogger *zap.Logger            // nil unless DecisionLog
	redisTimeout   time.Duration          // each request's Redis time
	mirrorKey      string                 // the delivery worker's key in mirrorPool (mirror.go)
	restcommDB     accountsapi.RestCommDB // RestComm's database, with a mirror (mirror.go); nil without
	cache          *cacheHandle           // nil when the cache is off (accountcache.go)
	cacheKey       string                 // its key in cachePool
	service        *accountsapi.Service
	health         *healthState // the site's probes (health.go)
}

// RedisConfig says how to reach Redis: one node, Sentinel or Cluster.
// Values may be placeholders such as {env.REDIS_PASSWORD}, resolved when
// the config is loaded, so secrets need not be written in the config.
type RedisConfig struct {
	// URLs are redis:// or rediss:// URLs; default redis://127.0.0.1:6379/0.
	// Several URLs are Cluster seed nodes, or Sentinels when MasterName is set.
	URLs []string `json:"urls,omitempty"`
	// MasterName turns on Sentinel: the name of the monitored master.
	MasterName string `json:"master_name,omitempty"`
	// Username and Password for Redis (override those in the URLs).
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// SentinelPassword authenticates to the Sentinels.
	SentinelPassword string `json:"sentinel_password,omitempty"`
	// ReadFromReplicas sends lookups and lists to replicas (Sentinel,
	// Cluster); off by default. Reads may lag by the replication lag.
	ReadFromReplicas bool `json:"read_from_replicas,omitempty"`
	// Timeout bounds the Redis work of each request, however many commands
	// and retries it takes; 1s by default. When Redis does not answer in
	// time the gateway answers 503.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// WaitReplicas: an account or organization change is answered only
	// once that many replicas acknowledged it (Redis WAIT); 503 when fewer
	// did within WaitTimeout. 0 (the default) does not wait.
	WaitReplicas int `json:"wait_replicas,omitempty"`
	// WaitTimeout bounds that wait: half of Timeout by default, and
	// shorter than Timeout.
	WaitTimeout caddy.Duration `json:"wait_timeout,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Gateway) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.restcomm",
		New: func() caddy.Module { return new(Gateway) },
	}
}

// Provision resolves placeholders, connects the (shared) Redis client
// lazily and compiles the policy. It does no network I/O: Caddy also
// provisions to validate a config. It reads as the ordered list of its
// steps, each given what the steps before it made.
func (g *Gateway) Provision(ctx caddy.Context) error {
	if err := g.checkSettings(); err != nil { // before anything is made of them
		return err
	}
	g.logger = ctx.Logger()
	g.logs = accountsapi.NewLogSampler(accountsapi.LogSampleWindow, accountsapi.LogSampleBurst)
	g.health = newHealthState(ctx, g.HealthPath) // health.go
	repl := caddy.NewReplacer()
	opts := g.Redis.clientOptions(repl)
	prefix := repl.ReplaceAll(g.KeyPrefix, "")
	g.redisTimeout = g.Redis.timeout()
	var err error
	if g.redis, g.pool, err = loadRedis(opts); err != nil {
		return err
	}
	if g.collation, err = loginCollation(repl.ReplaceAll(g.LoginCollation, "")); err != nil {
		return err
	}
	if g.metrics, err = newMetrics(ctx.GetMetricsRegistry()); err != nil { // metrics.go
		return err
	}
	sealer, err := g.Mirror.sealer(repl) // mirror.go
	if err != nil {
		return err
	}
	if g.store, err = newStore(g.redis, prefix, g.Redis, sealer); err != nil {
		return err
	}
	mirror, mirrorKey, err := g.joinMirror(ctx, repl, prefix, opts, sealer) // mirror.go
	g.mirrorKey = mirrorKey
	if err != nil {
		return err
	}
	g.restcommDB = mirror.restCommDB()
	if g.cache, g.cacheKey, err = g.provisionAccountCache(g.store, g.pool, prefix); err != nil { // accountcache.go
		return err
	}
	// the policy_mode checkSettings accepted
	mode, _ := policy.ParseMode(g.PolicyMode)
	if g.engine, g.engineKey, err = g.loadPolicy(ctx, repl, mode, g.metrics); err != nil { // policybundle.go
		return err
	}
	if g.monitor, err = g.loadMonitor(ctx, repl, mode); err != nil { // policymonitor.go
		return err
	}
	if g.DecisionLog {
		g.decisionLogger = g.logger.Named("decision")
	}
	if err := g.newService(repl); err != nil { // handler.go
		return err
	}
	if p := g.engine.Policy(); p != nil { // nil: a bundle not yet activated (policybundle.go)
		g.logger.Named(policyLogger).Info("policy loaded", // as the engine logs its reloads
			zap.String("revision", p.Revision()),
			zap.Int("tests_passed", p.Tests()))
	}
	listGateway(g) // for the admin API's probes (health.go)
	return nil
}

// checkSettings refuses options that are malformed or exclude each
// other, as written (before placeholders are resolved): the seed, the
// policy's mode and source, the health path and the mirror's secrets.
// Provision runs it before any step, since the steps act on these
// options; the Caddyfile's parser calls the same checks, each where it
// reads its option, so that an adapted config reports them with their
// line.
func (g *Gateway) checkSettings() error {
	if err := checkSeed(g.Seed); err != nil { // durability.go
		return err
	}
	if err := checkPolicyMode(g.PolicyMode); err != nil { // policyengine.go
		return err
	}
	if err := checkPolicySource(g.PolicyDir, g.PolicyBundle); err != nil { // policybundle.go
		return err
	}
	if err := checkHealthPath(g.HealthPath); err != nil { // health.go
		return err
	}
	if g.Mirror != nil {
		return g.Mirror.secretsArePlaceholders() // mirror.go
	}
	return nil
}

// Validate checks that the handler was provisioned; its options were
// checked before Provision acted on them (checkSettings).
func (g *Gateway) Validate() error {
	if g.store == nil || g.engine == nil || g.service == nil {
		return errors.New("restcomm: not provisioned")
	}
	return nil
}

// clientOptions are the Redis client's options, placeholders resolved;
// redis://127.0.0.1:6379/0 by default.
func (r RedisConfig) clientOptions(repl *caddy.Replacer) store.ClientOptions {
	opts := store.ClientOptions{
		MasterName:       repl.ReplaceAll(r.MasterName, ""),
		Username:         repl.ReplaceAll(r.Username, ""),
		Password:         repl.ReplaceAll(r.Password, ""),
		SentinelPassword: repl.ReplaceAll(r.SentinelPassword, ""),
		ReadFromReplicas: r.ReadFromReplicas,
		ReadTimeout:      time.Duration(r.Timeout),
		WriteTimeout:     time.Duration(r.Timeout),
	}
	for _, u := range r.URLs {
		opts.URLs = append(opts.URLs, repl.ReplaceAll(u, ""))
	}
	if len(opts.URLs) == 0 {
		opts.URLs = []string{"redis://127.0.0.1:6379/0"}
	}
	return opts
}

// timeout is each request's Redis time: redis_timeout, or the service's
// default.
func (r RedisConfig) timeout() time.Duration {
	if t := time.Duration(r.Timeout); t > 0 {
		return t
	}
	return accountsapi.DefaultRedisTimeout
}

// loginCollation is the login_collation imposed (name resolved), nil for
// none.
func loginCollation(name string) (*collation.Rule, error) {
	if name == "" {
		return nil, nil
	}
	r, err := collation.Parse(name)
	if err != nil {
		return nil, fmt.Errorf("login_collation: %w", err)
	}
	return &r, nil
}

// newStore is the store of the namespace prefix on the shared client, made
// once: it waits for replicas as r says (redis_wait_replicas, durability.go)
// and seals passwords for the mirror's outbox with sealer (nil: none).
func newStore(h *redisHandle, prefix string, r RedisConfig, sealer *store.Sealer) (*store.Store, error) {
	n, wait, err := r.replicaWait()
	if err != nil {
		return nil, err
	}
	st := store.New(h.client, prefix)
	if n > 0 {
		st = st.WithWait(n, wait)
	}
	if sealer != nil {
		st = st.WithSealer(sealer)
	}
	return st, nil
}

// Cleanup releases this config's hold on the shared Redis client and
// policy engine; the last config to let go closes them.
func (g *Gateway) Cleanup() error {
	unlistGateway(g) // health.go
	var errs []error
	errs = append(errs, g.cleanupAccountCache()) // before the client it uses
	if g.pool != "" {
		_, err := redisPool.Delete(g.pool)
		errs = append(errs, err)
		g.pool = ""
	}
	errs = append(errs, g.cleanupMirror()) // mirror.go
	if g.engineKey != "" {
		_, err := enginePool.Delete(g.engineKey)
		errs = append(errs, err)
		g.engineKey = ""
	}
	errs = append(errs, g.cleanupMonitor()) // policymonitor.go
	return errors.Join(errs...)
}

// redisPool shares one Redis client among the configs that use the same
// settings, so a config reload does not drop and re-dial connections. A
// usage pool is process-wide by design, and Caddy's own way to share what
// must outlive one config: its entries are counted references that each
// config takes in Provision and drops in Cleanup.
var redisPool = caddy.NewUsagePool()

// redisHandle is a pooled Redis client. The last config to let go of it
// destructs it, but a `caddy reload` cleans up the old config while its
// requests may still be running, and for a moment new ones may still reach
// its handler: the client is closed only after a grace period and once no
// request holds it, so a reload never fails a request.
type redisHandle struct {
	client   redis.UniversalClient
	inflight atomic.Int64
}

// redisCloseGrace is how long a destructed client stays open for requests
// that reach the old config's handler after the switch.
const redisCloseGrace = time.Second

// hold marks a request as using the client; release ends it.
func (h *redisHandle) hold()    { h.inflight.Add(1) }
func (h *redisHandle) release() { h.inflight.Add(-1) }

func (h *redisHandle) Destruct() error {
	time.AfterFunc(redisCloseGrace, h.closeWhenIdle)
	return nil
}

// closeWhenIdle closes the client once no request holds it; each request
// ends within its own timeouts. It waits on timers, not on a goroutine.
func (h *redisHandle) closeWhenIdle() {
	if h.inflight.Load() > 0 {
		time.AfterFunc(50*time.Millisecond, h.closeWhenIdle)
		return
	}
	_ = h.client.Close()
}

// poolKey names an entry of a usage pool (redisPool, cachePool,
// enginePool, mirrorPool) by the parts that make it what it is, joined by
// ":". A part that may hold a secret is given as its digest, never as it
// is.
func poolKey(parts ...string) string { return strings.Join(parts, ":") }

// digest stands for settings that may hold a secret (a password, a
// token) in a pool key: the SHA-256 of their JSON, in hex.
func digest(settings any) string {
	raw, _ := json.Marshal(settings)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// loadRedis takes a hold on the client of opts, and returns it with its
// key in redisPool.
func loadRedis(opts store.ClientOptions) (*redisHandle, string, error) {
	key := poolKey("redis", digest(opts))
	v, _, err := redisPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		c, err := opts.NewClient()
		if err != nil {
			return nil, err
		}
		c.AddHook(gatewayMetrics().redisHook(redisClientService)) // metrics.go
		return &redisHandle{client: c}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return v.(*redisHandle), key, nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Gateway)(nil)
	_ caddy.Validator             = (*Gateway)(nil)
	_ caddy.CleanerUpper          = (*Gateway)(nil)
	_ caddyhttp.MiddlewareHandler = (*Gateway)(nil)
)
