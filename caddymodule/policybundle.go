package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/keys"
	"github.com/open-policy-agent/opa/v1/logging"
	bundleplugin "github.com/open-policy-agent/opa/v1/plugins/bundle"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
	"github.com/restcomm/restcomm-gateway/internal/restpath"
	"github.com/restcomm/restcomm-gateway/policy"
)

// A policy bundle: the policy overlay (or, with policy_mode replace, the
// whole policy) published by a security team as an OPA bundle, which each
// gateway polls, verifies, tests and activates (policy_bundle). OPA's own
// packages do the work that OPA does for its bundles: the service's HTTP
// client and credentials (plugins/rest), polling with ETags and long
// polling (download), the tarball, its size limits and its signature
// (bundle). What the gateway adds is what policy_dir has: a bundle is put
// in force only when it compiles, passes the overlay's checks and its own
// tests (policy.Engine.Swap); otherwise it is refused, logged and counted,
// and the last good policy stays in force.

// PolicyBundleConfig is the policy_bundle block: where the bundle is, how
// often to poll it, and the key that signs it. It mirrors OPA's own
// configuration (services, bundles, keys), into which it is turned
// (opaConfig). Values may be placeholders such as {env.BUNDLE_TOKEN},
// resolved when the config loads.
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

// Bounds and defaults of a policy bundle's settings.
const (
	defaultBundleName     = "restcomm"
	defaultBundleMinDelay = 60 * time.Second
	defaultBundleMaxDelay = 120 * time.Second
	maxBundleDelay        = 24 * time.Hour
	maxBundleLongPoll     = time.Hour
	defaultBundleMaxSize  = 32 << 20
	maxBundleMaxSize      = 1 << 30
	minBundleMaxSize      = 1 << 10
	maxBundleKeyFile      = 64 << 10
	maxBundleToken        = 8 << 10
	maxBundleURL          = 2048
	maxBundleResource     = 1024
	maxBundleReason       = 1024 // a refusal's reason, as the status keeps it

	bundleOnMissingDeny    = "deny"
	bundleOnMissingBuiltin = "builtin"
)

var (
	bundleNameSyntax     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	bundleResourceSyntax = regexp.MustCompile(`^[A-Za-z0-9._~!$&'()*+,;=:@%/-]+$`)
	bundleKeyIDSyntax    = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
)

// hasPlaceholder says whether s holds a placeholder, which only Provision
// can check.
func hasPlaceholder(s string) bool { return strings.Contains(s, "{") }

// check refuses settings that are out of bounds or inconsistent; values
// holding placeholders are checked once resolved (Provision).
func (c *PolicyBundleConfig) check() error {
	if c.Name != "" && !hasPlaceholder(c.Name) && !bundleNameSyntax.MatchString(c.Name) {
		return fmt.Errorf("policy_bundle name %q: want letters, digits, '.', '_' or '-', at most 64", c.Name)
	}
	switch {
	case c.URL == "":
		return errors.New("policy_bundle: url is required")
	case !hasPlaceholder(c.URL):
		if err := checkBundleURL(c.URL); err != nil {
			return err
		}
	}
	if c.Resource != "" && !hasPlaceholder(c.Resource) {
		if err := checkBundleResource(c.Resource); err != nil {
			return err
		}
	}
	minD, maxD := time.Duration(c.MinDelay), time.Duration(c.MaxDelay)
	switch {
	case minD == 0 && maxD == 0:
	case minD < time.Second || maxD < time.Second:
		return errors.New("policy_bundle polling: the delays are at least 1s")
	case maxD < minD:
		return fmt.Errorf("policy_bundle polling: the max delay %s is shorter than the min delay %s", maxD, minD)
	case maxD > maxBundleDelay:
		return fmt.Errorf("policy_bundle polling: the max delay is at most %s", maxBundleDelay)
	}
	if lp := time.Duration(c.LongPollingTimeout); lp != 0 && (lp < time.Second || lp > maxBundleLongPoll) {
		return fmt.Errorf("policy_bundle long_polling_timeout: 0 (off) or between 1s and %s", maxBundleLongPoll)
	}
	if len(c.BearerToken) > maxBundleToken || strings.ContainsAny(c.BearerToken, "\r\n") {
		return errors.New("policy_bundle credentials: the bearer token is too long or spans lines")
	}
	if c.BearerScheme != "" && !bundleNameSyntax.MatchString(c.BearerScheme) {
		return fmt.Errorf("policy_bundle credentials: invalid scheme %q", c.BearerScheme)
	}
	if c.VerificationKey == "" {
		if !c.AllowUnsigned {
			return errors.New("policy_bundle: a verification_key is required (or allow_unsigned, to take unverified bundles)")
		}
		if c.KeyAlgorithm != "" || c.KeyID != "" || c.Scope != "" {
			return errors.New("policy_bundle: algorithm, key_id and scope need a verification_key")
		}
	} else {
		if c.AllowUnsigned {
			return errors.New("policy_bundle: allow_unsigned and verification_key exclude each other")
		}
		if c.KeyAlgorithm != "" && !keys.IsSupportedAlgorithm(c.KeyAlgorithm) {
			return fmt.Errorf("policy_bundle verification_key: unsupported algorithm %q", c.KeyAlgorithm)
		}
		if c.KeyID != "" && !bundleKeyIDSyntax.MatchString(c.KeyID) {
			return fmt.Errorf("policy_bundle verification_key: invalid key_id %q", c.KeyID)
		}
		if len(c.Scope) > 256 {
			return errors.New("policy_bundle verification_key: the scope is too long")
		}
	}
	if c.MaxSize != 0 && (c.MaxSize < minBundleMaxSize || c.MaxSize > maxBundleMaxSize) {
		return fmt.Errorf("policy_bundle max_size: between %d bytes and 1GiB", minBundleMaxSize)
	}
	switch c.OnMissing {
	case "", bundleOnMissingDeny, bundleOnMissingBuiltin:
	default:
		return fmt.Errorf("policy_bundle on_missing: want builtin or deny, got %q", c.OnMissing)
	}
	return nil
}

func checkBundleURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case len(s) > maxBundleURL:
		return errors.New("policy_bundle url: too long")
	case err != nil:
		return errors.New("policy_bundle url: not a URL") // url's error repeats the URL
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return errors.New("policy_bundle url: want an http or https URL with a host")
	case u.User != nil:
		return errors.New("policy_bundle url: no credentials in the URL; use credentials")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("policy_bundle url: no query or fragment")
	}
	return nil
}

func checkBundleResource(s string) error {
	if len(s) > maxBundleResource || !bundleResourceSyntax.MatchString(s) || strings.HasPrefix(s, "//") {
		return fmt.Errorf("policy_bundle resource %q: want a path such as bundles/restcomm-overlay.tar.gz", s)
	}
	for _, seg := range strings.Split(strings.Trim(s, "/"), "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("policy_bundle resource %q: dot segments are not allowed", s)
		}
	}
	return nil
}

// bundleSettings are a policy_bundle block resolved: placeholders
// replaced, defaults in, the key read.
type bundleSettings struct {
	PolicyBundleConfig
	key string // the verification key's content
}

// resolve replaces placeholders, fills in defaults, reads the key and
// checks the result.
func (c *PolicyBundleConfig) resolve(repl *caddy.Replacer) (*bundleSettings, error) {
	s := &bundleSettings{PolicyBundleConfig: *c}
	for _, v := range []*string{&s.Name, &s.URL, &s.Resource, &s.BearerToken, &s.BearerScheme,
		&s.VerificationKey, &s.KeyAlgorithm, &s.KeyID, &s.Scope} {
		*v = repl.ReplaceAll(*v, "")
	}
	if s.Name == "" {
		s.Name = defaultBundleName
	}
	if s.Resource == "" {
		s.Resource = path.Join("bundles", s.Name)
	}
	if s.MinDelay == 0 && s.MaxDelay == 0 {
		s.MinDelay, s.MaxDelay = caddy.Duration(defaultBundleMinDelay), caddy.Duration(defaultBundleMaxDelay)
	}
	if s.MaxSize == 0 {
		s.MaxSize = defaultBundleMaxSize
	}
	if s.OnMissing == "" {
		s.OnMissing = bundleOnMissingDeny
	}
	if s.VerificationKey != "" {
		if s.KeyAlgorithm == "" {
			s.KeyAlgorithm = "RS256"
		}
		if s.KeyID == "" {
			s.KeyID = "global"
		}
	}
	// checked once resolved: a placeholder may have hidden anything
	for _, v := range []string{s.Name, s.URL, s.Resource, s.BearerScheme, s.KeyAlgorithm, s.KeyID, s.Scope} {
		if hasPlaceholder(v) {
			return nil, errors.New("policy_bundle: a placeholder did not resolve")
		}
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.VerificationKey != "" {
		key, err := readBundleKey(s.VerificationKey)
		if err != nil {
			return nil, err
		}
		s.key = key
	}
	return s, nil
}

func readBundleKey(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("policy_bundle verification_key: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxBundleKeyFile+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("policy_bundle verification_key: %w", err)
	case len(b) > maxBundleKeyFile:
		return "", fmt.Errorf("policy_bundle verification_key %s: larger than %d bytes", file, maxBundleKeyFile)
	case len(b) == 0:
		return "", fmt.Errorf("policy_bundle verification_key %s: empty", file)
	}
	return string(b), nil
}

// opaConfig is the block as OPA's own configuration: its services, bundles
// and keys sections.
func (s *bundleSettings) opaConfig() map[string]any {
	service := map[string]any{"name": s.Name, "url": s.URL}
	if s.BearerToken != "" {
		bearer := map[string]any{"token": s.BearerToken}
		if s.BearerScheme != "" {
			bearer["scheme"] = s.BearerScheme
		}
		service["credentials"] = map[string]any{"bearer": bearer}
	}
	polling := map[string]any{
		"min_delay_seconds": ceilSeconds(time.Duration(s.MinDelay)),
		"max_delay_seconds": ceilSeconds(time.Duration(s.MaxDelay)),
	}
	if s.LongPollingTimeout != 0 {
		polling["long_polling_timeout_seconds"] = ceilSeconds(time.Duration(s.LongPollingTimeout))
	}
	src := map[string]any{
		"service":          s.Name,
		"resource":         s.Resource,
		"polling":          polling,
		"size_limit_bytes": s.MaxSize,
	}
	cfg := map[string]any{
		"services": map[string]any{s.Name: service},
		"bundles":  map[string]any{s.Name: src},
	}
	if s.key != "" {
		signing := map[string]any{"keyid": s.KeyID}
		if s.Scope != "" {
			signing["scope"] = s.Scope
		}
		src["signing"] = signing
		cfg["keys"] = map[string]any{s.KeyID: map[string]any{"algorithm": s.KeyAlgorithm, "key": s.key}}
	}
	return cfg
}

func ceilSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// poolKey names the engine of these settings in mode in enginePool: a
// digest, since the settings hold the token.
func (s *bundleSettings) poolKey(mode policy.Mode) string {
	return poolKey("bundle", digest(struct {
		OPA       map[string]any
		Mode      policy.Mode
		OnMissing string
	}{s.opaConfig(), mode, s.OnMissing}))
}

// downloader builds, through OPA's own parsers, the service client and
// the bundle's downloader (not started) of these settings.
func (s *bundleSettings) downloader(update func(context.Context, download.Update) error) (*download.Downloader, *bundleplugin.Source, error) {
	cfg := s.opaConfig()
	var ks map[string]*keys.Config
	if k, ok := cfg["keys"]; ok {
		raw, _ := json.Marshal(k)
		var err error
		if ks, err = keys.ParseKeysConfig(raw); err != nil {
			return nil, nil, fmt.Errorf("policy_bundle verification_key: %w", err)
		}
	}
	svc, _ := json.Marshal(cfg["services"].(map[string]any)[s.Name])
	client, err := rest.New(svc, ks, rest.Logger(logging.NewNoOpLogger()), rest.Name(s.Name))
	if err != nil {
		return nil, nil, errors.New("policy_bundle: the service's configuration is invalid")
	}
	bundles, _ := json.Marshal(cfg["bundles"])
	parsed, err := bundleplugin.NewConfigBuilder().WithBytes(bundles).WithServices([]string{s.Name}).
		WithKeyConfigs(ks).Parse()
	if err != nil {
		return nil, nil, fmt.Errorf("policy_bundle: %w", err)
	}
	src := parsed.Bundles[s.Name]
	if src == nil {
		return nil, nil, errors.New("policy_bundle: no bundle")
	}
	if s.key != "" && !src.Signing.SignatureRequired() {
		return nil, nil, errors.New("policy_bundle: a signature would not be required") // never: a signing block requires one
	}
	d := download.New(src.Config, client, src.Resource).
		WithCallback(update).
		WithBundleVerificationConfig(src.Signing).
		WithSizeLimitBytes(src.SizeLimitBytes).
		WithBundleName(s.Name)
	return d, src, nil
}

// bundleSource polls one bundle and hands each one it downloads to its
// engine (Swap); it keeps the status of both for the admin API and the
// metrics.
type bundleSource struct {
	name, service, resource string
	mode                    policy.Mode
	onMissing               string
	signed                  bool
	engine                  *pooledEngine
	downloader              *download.Downloader
	pendingRefusals         atomic.Int64 // requests refused before any good bundle

	mu          sync.Mutex
	status      bundleStatus
	activations map[string]int64 // by result: activated, refused
	lastReason  string           // of the refusal of a bundle OPA would not read, reported once
	stopOnce    sync.Once
}

// bundleStatus is a bundle's status as the admin API shows it.
type bundleStatus struct {
	Name              string          `json:"name"`
	Service           string          `json:"service"`
	Resource          string          `json:"resource"`
	Mode              string          `json:"mode"`
	SignatureRequired bool            `json:"signature_required"`
	OnMissing         string          `json:"on_missing"`
	ActiveRevision    string          `json:"active_revision,omitempty"`
	LastActivation    *bundleEvent    `json:"last_activation,omitempty"`
	LastRefusal       *bundleEvent    `json:"last_refusal,omitempty"`
	LastDownload      *bundleDownload `json:"last_download,omitempty"`
}

// bundleEvent is an activation, or a refusal and its reason.
type bundleEvent struct {
	At       time.Time `json:"at"`
	Revision string    `json:"revision,omitempty"` // the manifest's, for a refusal
	ETag     string    `json:"etag,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// bundleDownload is the outcome of the last request for the bundle: the
// HTTP status (200: a bundle, 304: unchanged) or the error.
type bundleDownload struct {
	At     time.Time `json:"at"`
	Status int       `json:"status,omitempty"`
	ETag   string    `json:"etag,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// Results of an activation, as the status and metrics count them.
const (
	bundleActivated = "activated"
	bundleRefused   = "refused"
)

// sources are the live bundle sources, for the metrics.
var sources struct {
	sync.Mutex
	list []*bundleSource
}

// loadBundleEngine takes a hold on the pooled engine of the bundle in
// mode m, creating it and starting its downloader on first use: like a
// directory's, it outlives config reloads that keep its settings.
func loadBundleEngine(ctx caddy.Context, c *PolicyBundleConfig, m policy.Mode, counts *metrics) (*pooledEngine, string, error) {
	s, err := c.resolve(caddy.NewReplacer())
	if err != nil {
		return nil, "", err
	}
	if err := registerAll(ctx.GetMetricsRegistry(), bundleCollector{}); err != nil { // policybundle_metrics.go
		return nil, "", err
	}
	logger := ctx.Logger().Named(policyLogger)
	key := s.poolKey(m)
	v, _, err := enginePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		p := &pooledEngine{stop: func() {}}
		p.use(logger, counts)
		var initial *policy.Policy
		if s.OnMissing == bundleOnMissingBuiltin {
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
		src := &bundleSource{
			name: s.Name, service: s.URL, resource: s.Resource, mode: m,
			onMissing: s.OnMissing, signed: s.key != "", engine: p,
			activations: map[string]int64{},
		}
		src.status = bundleStatus{Name: src.name, Service: src.service, Resource: src.resource,
			Mode: string(m), SignatureRequired: src.signed, OnMissing: src.onMissing}
		if src.downloader, _, err = s.downloader(src.update); err != nil {
			return nil, err
		}
		p.bundle = src
		p.stop = src.stop
		src.start()
		return p, nil
	})
	if err != nil {
		return nil, "", err
	}
	e := v.(*pooledEngine)
	e.use(logger, counts)
	return e, key, nil
}

// start lists the source and starts polling (OPA's downloader, in
// goroutines of its own, the first request at once).
func (s *bundleSource) start() {
	sources.Lock()
	sources.list = append(sources.list, s)
	sources.Unlock()
	s.downloader.Start(context.Background())
	s.log().Info("policy bundle polling",
		zap.String("bundle", s.name), zap.String("service", s.service), zap.String("resource", s.resource),
		zap.Bool("signature_required", s.signed), zap.String("on_missing", s.onMissing))
}

// stop ends polling and unlists the source: the last config using it is
// gone.
func (s *bundleSource) stop() {
	s.stopOnce.Do(func() {
		s.downloader.Stop(context.Background())
		sources.Lock()
		sources.list = slices.DeleteFunc(sources.list, func(x *bundleSource) bool { return x == s })
		sources.Unlock()
	})
}

func (s *bundleSource) log() *zap.Logger {
	if l := s.engine.logger.Load(); l != nil {
		return l
	}
	return zap.NewNop()
}

// update is the downloader's callback: a download's outcome. A download
// that fails (no answer, an HTTP error) is only recorded: the bundle in
// force stays, and the downloader retries. A bundle that OPA would not
// read (its signature, its size, its format) is refused; one it read goes
// to the engine, which activates or refuses it.
func (s *bundleSource) update(ctx context.Context, u download.Update) error {
	now := time.Now()
	switch {
	case u.Error != nil && ctx.Err() != nil:
		return nil // stopping
	case u.Error != nil:
		if st, failed := downloadFailed(u.Error); failed {
			s.downloaded(bundleDownload{At: now, Status: st, Error: u.Error.Error()})
			s.log().Debug("policy bundle download failed", zap.String("bundle", s.name), zap.Error(u.Error))
			return nil
		}
		s.downloaded(bundleDownload{At: now, Status: http.StatusOK})
		s.refuse(now, "", "", u.Error)
	case u.Bundle == nil:
		s.downloaded(bundleDownload{At: now, Status: http.StatusNotModified, ETag: u.ETag})
	default:
		s.downloaded(bundleDownload{At: now, Status: http.StatusOK, ETag: u.ETag})
		s.activate(ctx, now, u.Bundle, u.ETag)
	}
	return nil
}

// downloadFailed says whether err is the request's failure, rather than
// the bundle's, and the HTTP status if there was one.
func downloadFailed(err error) (int, bool) {
	if he, ok := errors.AsType[download.HTTPError](err); ok {
		return he.StatusCode, true
	}
	// OPA's downloader wraps the client's failure so, and nothing else
	return 0, strings.HasPrefix(err.Error(), "request failed: ")
}

func (s *bundleSource) downloaded(d bundleDownload) {
	s.mu.Lock()
	s.status.LastDownload = &d
	s.mu.Unlock()
}

// activate gives the bundle to the engine.
func (s *bundleSource) activate(ctx context.Context, now time.Time, b *bundle.Bundle, etag string) {
	fsys, label, err := policy.BundleFS(b)
	if err != nil {
		s.refuse(now, policy.BundleLabel(b.Manifest.Revision), etag, err)
		return
	}
	changed, err := s.engine.Swap(ctx, fsys, label)
	if !changed {
		return // the content in force, or one refused already
	}
	if err != nil && ctx.Err() != nil {
		return // interrupted: tried again at the next download
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastReason = ""
	if err != nil {
		s.activations[bundleRefused]++
		s.status.LastRefusal = &bundleEvent{At: now, Revision: label, ETag: etag, Reason: clip(err.Error())}
		return // the engine logged and counted it
	}
	s.activations[bundleActivated]++
	p := s.engine.Policy()
	s.status.ActiveRevision = p.Revision()
	s.status.LastActivation = &bundleEvent{At: now, Revision: p.Revision(), ETag: etag}
	s.log().Info("policy bundle activated", zap.String("bundle", s.name), zap.String("revision", p.Revision()),
		zap.String("etag", etag))
}

// refuse records a bundle refused before the engine saw it, logging and
// counting it once while the same reason repeats (the downloader asks for
// it again and again).
func (s *bundleSource) refuse(now time.Time, label, etag string, err error) {
	reason := clip(err.Error())
	s.mu.Lock()
	repeated := reason == s.lastReason
	s.lastReason = reason
	if !repeated {
		s.activations[bundleRefused]++
		s.status.LastRefusal = &bundleEvent{At: now, Revision: label, ETag: etag, Reason: reason}
	}
	s.mu.Unlock()
	if repeated {
		return
	}
	p := s.engine.Policy()
	s.log().Error("policy bundle refused; the last good policy stays in force",
		zap.String("bundle", s.name), zap.String("revision", revisionOrNone(p)), zap.String("reason", reason))
	if m := s.engine.metrics.Load(); m != nil {
		m.reload(err)
	}
}

func revisionOrNone(p *policy.Policy) string {
	if p == nil {
		return "none"
	}
	return p.Revision()
}

func clip(s string) string {
	if len(s) > maxBundleReason {
		return s[:maxBundleReason] + "…"
	}
	return s
}

// snapshot is the source's status now.
func (s *bundleSource) snapshot() (bundleStatus, map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	counts := make(map[string]int64, len(s.activations))
	for k, v := range s.activations {
		counts[k] = v
	}
	return st, counts
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
		s.pendingRefusals.Add(1)
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
