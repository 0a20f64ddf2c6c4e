package caddymodule

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
	"github.com/restcomm/restcomm-gateway/internal/policybundle"
	"github.com/restcomm/restcomm-gateway/internal/restpath"
	"github.com/restcomm/restcomm-gateway/policy"
)

// A policy bundle (policy_bundle): the bundle's engine, shared across
// config reloads in enginePool, and the gateway's answers while none is
// in force. Polling, verifying and handing bundles to the engine is
// internal/policybundle's.

// PolicyBundleConfig is the policy_bundle block: where the bundle is, how
// often to poll it, and the key that signs it. It mirrors OPA's own
// configuration (services, bundles, keys), into which it is turned
// (policybundle.Settings.OPAConfig). Values may be placeholders such as
// {env.BUNDLE_TOKEN}, resolved when the config loads.
type PolicyBundleConfig struct {
	// Name is the bundle's name, "restcomm" by default: OPA's bundle and
	// service name, the default resource's last segment, and the bundle
	// label of its metrics.
	Name string `json:"name,omitempty"`
	// URL is the bundle service's base URL, http or https, without
	// credentials.
	URL string `json:"url"`
	// Resource is the bundle's path below URL: bundles/<name> by default.
	Resource string `json:"resource,omitempty"`
	// MinDelay and MaxDelay bound the wait between two polls (OPA's
	// polling.min_delay_seconds and max_delay_seconds): 60s and 120s by
	// default, whole seconds, at least 1s.
	MinDelay caddy.Duration `json:"min_delay,omitempty"`
	MaxDelay caddy.Duration `json:"max_delay,omitempty"`
	// LongPollingTimeout turns on long polling when the service supports
	// it (OPA's polling.long_polling_timeout_seconds); 0: off.
	LongPollingTimeout caddy.Duration `json:"long_polling_timeout,omitempty"`
	// BearerToken authenticates to the service (Authorization: Bearer, or
	// BearerScheme); never logged.
	BearerToken  string `json:"bearer_token,omitempty"`
	BearerScheme string `json:"bearer_scheme,omitempty"`
	// VerificationKey is the file of the public key (PEM) or HMAC secret
	// that verifies the bundle's signature; KeyAlgorithm (RS256 by
	// default), KeyID ("global" by default) and Scope as OPA's keys and
	// bundles.signing have them. With a key, an unsigned bundle, or one
	// whose files do not match their signature, is refused.
	VerificationKey string `json:"verification_key,omitempty"`
	KeyAlgorithm    string `json:"key_algorithm,omitempty"`
	KeyID           string `json:"key_id,omitempty"`
	Scope           string `json:"scope,omitempty"`
	// AllowUnsigned must be set to go without VerificationKey: any bundle
	// the service serves is then taken, signed or not.
	AllowUnsigned bool `json:"allow_unsigned,omitempty"`
	// MaxSize bounds each file of the bundle (OPA's size_limit_bytes):
	// 32MiB by default, at most 1GiB.
	MaxSize int64 `json:"max_size,omitempty"`
	// OnMissing is what the gateway does before any good bundle is in
	// force: "deny" (the default) answers every request 503 and readiness
	// not ready; "builtin" serves the built-in policy alone.
	OnMissing string `json:"on_missing,omitempty"`
}

// settings are the block's, for policybundle.
func (c *PolicyBundleConfig) settings() policybundle.Settings {
	return policybundle.Settings{
		Name: c.Name, URL: c.URL, Resource: c.Resource,
		MinDelay: time.Duration(c.MinDelay), MaxDelay: time.Duration(c.MaxDelay),
		LongPollingTimeout: time.Duration(c.LongPollingTimeout),
		BearerToken:        c.BearerToken, BearerScheme: c.BearerScheme,
		VerificationKey: c.VerificationKey, KeyAlgorithm: c.KeyAlgorithm, KeyID: c.KeyID, Scope: c.Scope,
		AllowUnsigned: c.AllowUnsigned, MaxSize: c.MaxSize, OnMissing: c.OnMissing,
	}
}

// check refuses settings that are out of bounds or inconsistent; values
// holding placeholders are checked once resolved (Provision).
func (c *PolicyBundleConfig) check() error {
	s := c.settings()
	return s.Check()
}

// resolve replaces placeholders, fills in defaults, reads the key and
// checks the result.
func (c *PolicyBundleConfig) resolve(repl *caddy.Replacer) (*policybundle.Settings, error) {
	return policybundle.Resolve(c.settings(), func(v string) string { return repl.ReplaceAll(v, "") })
}

// bundlePoolKey names the engine of the resolved settings s in mode in
// enginePool: a digest, since the settings hold the token.
func bundlePoolKey(s *policybundle.Settings, mode policy.Mode) string {
	return poolKey("bundle", digest(struct {
		OPA       map[string]any
		Mode      policy.Mode
		OnMissing string
	}{s.OPAConfig(), mode, s.OnMissing}))
}

// loadBundleEngine takes a hold on the pooled engine of the bundle in
// mode m, creating it and starting its downloader on first use: like a
// directory's, it outlives config reloads that keep its settings.
func loadBundleEngine(ctx caddy.Context, c *PolicyBundleConfig, m policy.Mode, counts *metrics) (*pooledEngine, string, error) {
	s, err := c.resolve(caddy.NewReplacer())
	if err != nil {
		return nil, "", err
	}
	if err := registerAll(ctx.GetMetricsRegistry(), policybundle.Collector{}); err != nil {
		return nil, "", err
	}
	logger := ctx.Logger().Named(policyLogger)
	key := bundlePoolKey(s, m)
	v, _, err := enginePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		p := &pooledEngine{stop: func() {}}
		p.use(logger, counts)
		var initial *policy.Policy
		if s.OnMissing == policybundle.OnMissingBuiltin {
			// the built-in policy is a complete one
			if initial, err = policy.Compile(ctx, policy.Default()); err != nil {
				return nil, err
			}
		}
		e, err := policy.NewPendingEngine(initial, p.options(m))
		if err != nil {
			return nil, err
		}
		p.Engine = e
		src, err := policybundle.NewSource(s, m, p, p.logger.Load, func(refusal error) {
			if counts := p.metrics.Load(); counts != nil {
				counts.reload(refusal)
			}
		})
		if err != nil {
			return nil, err
		}
		p.bundle = src
		p.stop = src.Stop
		src.Start()
		return p, nil
	})
	if err != nil {
		return nil, "", err
	}
	e := v.(*pooledEngine)
	e.use(logger, counts)
	return e, key, nil
}

// bundleNotActivated is the readiness reason of a gateway that refuses
// requests for want of a bundle.
const bundleNotActivated = "policy bundle not yet activated"

// refusePending answers an API request 503 when the gateway's policy is a
// bundle of which none is in force yet (on_missing deny): fail closed, and say so as
// RestComm says it is unavailable, so that clients retry rather than take
// it as a decision about their rights.
func (g *Gateway) refusePending(w http.ResponseWriter, r *http.Request) bool {
	if g.engine == nil || g.engine.Policy() != nil {
		return false
	}
	// Only the API waits for a policy: other paths (the Admin UI, RVD, …)
	// are none of the policy's business and pass on as they always do.
	if _, err := restpath.Parse(r.URL.EscapedPath()); errors.Is(err, restpath.ErrNotAPI) {
		return false
	}
	if s := g.engine.bundle; s != nil {
		s.CountPendingRefusal()
	}
	g.logs.Warn(g.logger, "policy bundle", "request refused: "+bundleNotActivated, zap.String("path", r.URL.Path))
	w.Header().Set("Retry-After", "1")
	accountsapi.WritePage(w, http.StatusServiceUnavailable, "Policy not yet activated")
	return true
}

// policyNotReady is the readiness reason of the gateway's policy, "" when
// it has one in force.
func (g *Gateway) policyNotReady() string {
	switch {
	case g.engine == nil:
		return "policy: none loaded"
	case g.engine.Policy() != nil:
		return ""
	case g.engine.bundle != nil:
		return bundleNotActivated
	default:
		return "policy: none loaded"
	}
}

// loadPolicy takes a hold on the engine of the gateway's policy in mode
// m, counted in counts: its bundle's (policy_bundle), or its directory's,
// or the built-in's. checkPolicySource made sure there is one source.
func (g *Gateway) loadPolicy(ctx caddy.Context, repl *caddy.Replacer, m policy.Mode, counts *metrics) (*pooledEngine, string, error) {
	if g.PolicyBundle == nil {
		return loadEngine(ctx, repl.ReplaceAll(g.PolicyDir, ""), m, counts)
	}
	return loadBundleEngine(ctx, g.PolicyBundle, m, counts)
}

// checkPolicySource refuses a policy both from a directory and a bundle
// (checkSettings).
func checkPolicySource(dir string, b *PolicyBundleConfig) error {
	if b != nil && dir != "" {
		return errors.New("policy_dir and policy_bundle exclude each other: the policy comes from one of them")
	}
	return nil
}
