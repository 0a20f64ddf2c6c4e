package caddymodule

import (
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/restcomm/restcomm-gateway/internal/collation"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("restcomm", parseCaddyfile)
	// Guard the whole API before any other auth or routing directive, so
	// that no `order` line is needed.
	httpcaddyfile.RegisterDirectiveOrder("restcomm", httpcaddyfile.Before, "basic_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	g := new(Gateway)
	err := g.UnmarshalCaddyfile(h.Dispenser)
	return g, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	restcomm [<matcher>] {
//	    redis                   <url>...
//	    redis_master_name       <name>
//	    redis_username          <user>
//	    redis_password          <password>
//	    redis_sentinel_password <password>
//	    redis_timeout           <duration>
//	    redis_read_replicas
//	    redis_wait_replicas     <n> [<timeout>]
//	    key_prefix              <prefix>
//	    policy_dir              <directory>
//	    policy_mode             overlay|replace
//	    policy_monitor_dir      <directory>
//	    policy_bundle [<name>] { (policybundle_caddyfile.go; excludes policy_dir)
//	        url                  https://bundles.example.com
//	        resource             bundles/restcomm-overlay.tar.gz
//	        polling              10s 60s
//	        long_polling_timeout 0
//	        credentials          bearer {env.BUNDLE_TOKEN}
//	        verification_key     /etc/restcomm-gateway/bundle.pub [algorithm RS256] [key_id global] [scope <scope>]
//	        max_size             32MiB
//	        on_missing           deny|builtin
//	    }
//	    decision_log            [on|off]
//	    organization_domain     <domain>
//	    seed                    auto|off
//	    health_path             <path>|off  (health.go; default /restcomm-gateway)
//	    account_cache           off | {
//	        max_entries 10000
//	        max_memory  32MiB
//	    }
//	    mirror {                (mirror.go: parseMirror)
//	        database         mysql://user:{env.PASSWORD}@host:3306/restcomm
//	        upstream         http://restcomm:8080
//	        time_zone        UTC
//	        secret_key       {env.KEY}
//	        read_your_writes 2s
//	    }
//	}
//
// Every subdirective is optional; unknown ones are errors. Secrets are best
// given as {env.NAME} placeholders, resolved when the config loads and never
// stored in the adapted JSON.
func (g *Gateway) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		parse, ok := gatewayOptions[d.Val()]
		if !ok {
			return d.Errf("unrecognized restcomm subdirective %q", d.Val())
		}
		if err := parse(g, d); err != nil {
			return err
		}
	}
	if err := checkPolicySource(g.PolicyDir, g.PolicyBundle); err != nil { // policybundle.go
		return d.Err(err.Error())
	}
	return nil
}

// optionParser reads one subdirective of the restcomm block into g; d is
// at the subdirective's name.
type optionParser func(g *Gateway, d *caddyfile.Dispenser) error

// gatewayOptions are the restcomm block's subdirectives, each with its
// parser: every option the directive accepts is a key here (docs_test.go
// reads them, and checks that docs/caddyfile.md documents each).
var gatewayOptions = map[string]optionParser{
	"redis":                   parseRedisURLs,
	"redis_master_name":       stringOption(func(g *Gateway) *string { return &g.Redis.MasterName }),
	"redis_username":          stringOption(func(g *Gateway) *string { return &g.Redis.Username }),
	"redis_password":          stringOption(func(g *Gateway) *string { return &g.Redis.Password }),
	"redis_sentinel_password": stringOption(func(g *Gateway) *string { return &g.Redis.SentinelPassword }),
	"redis_timeout":           parseRedisTimeout,
	"redis_wait_replicas":     func(g *Gateway, d *caddyfile.Dispenser) error { return parseWaitReplicas(d, &g.Redis) },
	"redis_read_replicas":     parseReadReplicas,
	"key_prefix":              stringOption(func(g *Gateway) *string { return &g.KeyPrefix }),
	"policy_dir":              stringOption(func(g *Gateway) *string { return &g.PolicyDir }),
	"policy_bundle":           parsePolicyBundleOption,
	"policy_monitor_dir":      stringOption(func(g *Gateway) *string { return &g.PolicyMonitorDir }), // policymonitor.go
	"policy_mode":             parsePolicyMode,
	"decision_log":            parseDecisionLog,
	"organization_domain":     stringOption(func(g *Gateway) *string { return &g.OrganizationDomain }),
	"seed":                    parseSeed,
	"health_path":             parseHealthPath,
	"login_collation":         parseLoginCollation,
	"account_cache":           parseAccountCacheOption,
	"mirror":                  parseMirrorOption,
}

// stringOption reads exactly one argument into the field of g that field
// names.
func stringOption(field func(g *Gateway) *string) optionParser {
	return func(g *Gateway, d *caddyfile.Dispenser) error { return oneArg(d, field(g)) }
}

// parseRedisURLs reads `redis <url>...`; the URLs add up over several lines.
func parseRedisURLs(g *Gateway, d *caddyfile.Dispenser) error {
	urls := d.RemainingArgs()
	if len(urls) == 0 {
		return d.ArgErr()
	}
	g.Redis.URLs = append(g.Redis.URLs, urls...)
	return nil
}

// parseRedisTimeout reads `redis_timeout <duration>`, a positive one.
func parseRedisTimeout(g *Gateway, d *caddyfile.Dispenser) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil || dur <= 0 {
		return d.Errf("redis_timeout: invalid duration %q", s)
	}
	g.Redis.Timeout = caddy.Duration(dur)
	return nil
}

// parseReadReplicas reads `redis_read_replicas`, which takes no argument.
func parseReadReplicas(g *Gateway, d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	g.Redis.ReadFromReplicas = true
	return nil
}

// parsePolicyBundleOption reads the policy_bundle block
// (policybundle_caddyfile.go).
func parsePolicyBundleOption(g *Gateway, d *caddyfile.Dispenser) error {
	b, err := parsePolicyBundle(d)
	if err != nil {
		return err
	}
	g.PolicyBundle = b
	return nil
}

// parsePolicyMode reads `policy_mode overlay|replace`.
func parsePolicyMode(g *Gateway, d *caddyfile.Dispenser) error {
	if err := oneArg(d, &g.PolicyMode); err != nil {
		return err
	}
	if err := checkPolicyMode(g.PolicyMode); err != nil { // as checkSettings does
		return d.Err(err.Error())
	}
	return nil
}

// parseDecisionLog reads `decision_log [on|off]` (alone: on).
func parseDecisionLog(g *Gateway, d *caddyfile.Dispenser) error {
	switch args := d.RemainingArgs(); {
	case len(args) == 0 || len(args) == 1 && args[0] == "on":
		g.DecisionLog = true
	case len(args) == 1 && args[0] == "off":
		g.DecisionLog = false
	default:
		return d.Errf("decision_log: want on or off, got %q", args)
	}
	return nil
}

// parseSeed reads `seed auto|off`.
func parseSeed(g *Gateway, d *caddyfile.Dispenser) error {
	if err := oneArg(d, &g.Seed); err != nil {
		return err
	}
	if err := checkSeed(g.Seed); err != nil { // as checkSettings does
		return d.Err(err.Error())
	}
	return nil
}

// parseHealthPath reads `health_path <path>`.
func parseHealthPath(g *Gateway, d *caddyfile.Dispenser) error {
	if err := oneArg(d, &g.HealthPath); err != nil {
		return err
	}
	if err := checkHealthPath(g.HealthPath); err != nil {
		return d.Err(err.Error())
	}
	return nil
}

// parseLoginCollation reads `login_collation <rule>`; a placeholder is
// checked when it is resolved.
func parseLoginCollation(g *Gateway, d *caddyfile.Dispenser) error {
	if err := oneArg(d, &g.LoginCollation); err != nil {
		return err
	}
	if _, err := collation.Parse(g.LoginCollation); err != nil && !strings.Contains(g.LoginCollation, "{") {
		return d.Errf("login_collation: %v", err)
	}
	return nil
}

// parseAccountCacheOption reads `account_cache off` or its block.
func parseAccountCacheOption(g *Gateway, d *caddyfile.Dispenser) error {
	c, err := parseAccountCache(d)
	if err != nil {
		return err
	}
	g.AccountCache = c
	return nil
}

// parseMirrorOption reads the mirror block (mirror.go).
func parseMirrorOption(g *Gateway, d *caddyfile.Dispenser) error {
	m, err := parseMirror(d)
	if err != nil {
		return err
	}
	g.Mirror = m
	return nil
}

// oneArg reads exactly one argument into dst.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// parseAccountCache reads `account_cache off` or its block.
func parseAccountCache(d *caddyfile.Dispenser) (*AccountCacheConfig, error) {
	c := &AccountCacheConfig{}
	switch args := d.RemainingArgs(); {
	case len(args) == 1 && args[0] == "off":
		c.Disabled = true
		return c, nil
	case len(args) != 0:
		return nil, d.Errf("account_cache: want off or a block, got %q", args)
	}
	for d.NextBlock(1) {
		name := d.Val()
		var v string
		if err := oneArg(d, &v); err != nil {
			return nil, err
		}
		switch name {
		case "max_entries":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, d.Errf("account_cache max_entries: want a positive number, got %q", v)
			}
			c.MaxEntries = n
		case "max_memory":
			n, err := humanize.ParseBytes(v)
			if err != nil || n == 0 || n > 1<<40 {
				return nil, d.Errf("account_cache max_memory: want a size such as 32MiB, got %q", v)
			}
			c.MaxBytes = int(n)
		default:
			return nil, d.Errf("unrecognized account_cache option %q", name)
		}
	}
	return c, nil
}

// parseWaitReplicas reads `redis_wait_replicas <n> [<timeout>]`.
func parseWaitReplicas(d *caddyfile.Dispenser, r *RedisConfig) error {
	args := d.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return d.ArgErr()
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		return d.Errf("redis_wait_replicas: invalid number of replicas %q", args[0])
	}
	r.WaitReplicas = n
	if len(args) == 2 {
		dur, err := caddy.ParseDuration(args[1])
		if err != nil || dur <= 0 {
			return d.Errf("redis_wait_replicas: invalid timeout %q", args[1])
		}
		r.WaitTimeout = caddy.Duration(dur)
	}
	return nil
}

var _ caddyfile.Unmarshaler = (*Gateway)(nil)
