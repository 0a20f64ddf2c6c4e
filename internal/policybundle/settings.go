// Package policybundle polls a policy bundle — the policy overlay (or,
// with policy_mode replace, the whole policy) published by a security
// team as an OPA bundle — verifies it and hands it to the policy engine,
// which tests and activates it. OPA's own packages do the work that OPA
// does for its bundles: the service's HTTP client and credentials
// (plugins/rest), polling with ETags and long polling (download), the
// tarball, its size limits and its signature (bundle). What the gateway
// adds is what policy_dir has: a bundle is put in force only when it
// compiles, passes the overlay's checks and its own tests
// (policy.Engine.Swap); otherwise it is refused, logged and counted, and
// the last good policy stays in force.
//
// The package holds no Caddy: the policy_bundle block, the pooling of
// engines across config reloads and the admin API are caddymodule's.
package policybundle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/keys"
	"github.com/open-policy-agent/opa/v1/logging"
	bundleplugin "github.com/open-policy-agent/opa/v1/plugins/bundle"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
)

// Settings are a policy_bundle block's: where the bundle is, how often to
// poll it, and the key that signs it (the block's fields, documented with
// caddymodule.PolicyBundleConfig). They mirror OPA's own configuration
// (services, bundles, keys), into which they are turned (OPAConfig).
// Before Resolve, values may hold placeholders.
type Settings struct {
	Name, URL, Resource                    string
	MinDelay, MaxDelay, LongPollingTimeout time.Duration
	BearerToken, BearerScheme              string
	VerificationKey, KeyAlgorithm, KeyID   string
	Scope                                  string
	AllowUnsigned                          bool
	MaxSize                                int64
	OnMissing                              string

	key string // the verification key's content, once resolved
}

// Bounds and defaults of a policy bundle's settings.
const (
	defaultName     = "restcomm"
	defaultMinDelay = 60 * time.Second
	defaultMaxDelay = 120 * time.Second
	maxDelay        = 24 * time.Hour
	maxLongPoll     = time.Hour
	defaultMaxSize  = 32 << 20
	MaxMaxSize      = 1 << 30 // the largest max_size
	MinMaxSize      = 1 << 10 // the smallest max_size
	maxKeyFile      = 64 << 10
	maxToken        = 8 << 10
	maxURL          = 2048
	maxResource     = 1024
	maxReason       = 1024 // a refusal's reason, as the status keeps it

	// OnMissingDeny and OnMissingBuiltin are what the gateway does
	// before any good bundle is in force: answer every request 503, or
	// serve the built-in policy alone.
	OnMissingDeny    = "deny"
	OnMissingBuiltin = "builtin"
)

var (
	nameSyntax     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	resourceSyntax = regexp.MustCompile(`^[A-Za-z0-9._~!$&'()*+,;=:@%/-]+$`)
	keyIDSyntax    = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
)

// hasPlaceholder says whether s holds a placeholder, which only Resolve
// can check.
func hasPlaceholder(s string) bool { return strings.Contains(s, "{") }

// Check refuses settings that are out of bounds or inconsistent; values
// holding placeholders are checked once resolved (Resolve).
func (c *Settings) Check() error {
	if c.Name != "" && !hasPlaceholder(c.Name) && !nameSyntax.MatchString(c.Name) {
		return fmt.Errorf("policy_bundle name %q: want letters, digits, '.', '_' or '-', at most 64", c.Name)
	}
	switch {
	case c.URL == "":
		return errors.New("policy_bundle: url is required")
	case !hasPlaceholder(c.URL):
		if err := checkURL(c.URL); err != nil {
			return err
		}
	}
	if c.Resource != "" && !hasPlaceholder(c.Resource) {
		if err := checkResource(c.Resource); err != nil {
			return err
		}
	}
	minD, maxD := c.MinDelay, c.MaxDelay
	switch {
	case minD == 0 && maxD == 0:
	case minD < time.Second || maxD < time.Second:
		return errors.New("policy_bundle polling: the delays are at least 1s")
	case maxD < minD:
		return fmt.Errorf("policy_bundle polling: the max delay %s is shorter than the min delay %s", maxD, minD)
	case maxD > maxDelay:
		return fmt.Errorf("policy_bundle polling: the max delay is at most %s", maxDelay)
	}
	if lp := c.LongPollingTimeout; lp != 0 && (lp < time.Second || lp > maxLongPoll) {
		return fmt.Errorf("policy_bundle long_polling_timeout: 0 (off) or between 1s and %s", maxLongPoll)
	}
	if len(c.BearerToken) > maxToken || strings.ContainsAny(c.BearerToken, "\r\n") {
		return errors.New("policy_bundle credentials: the bearer token is too long or spans lines")
	}
	if c.BearerScheme != "" && !nameSyntax.MatchString(c.BearerScheme) {
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
		if c.KeyID != "" && !keyIDSyntax.MatchString(c.KeyID) {
			return fmt.Errorf("policy_bundle verification_key: invalid key_id %q", c.KeyID)
		}
		if len(c.Scope) > 256 {
			return errors.New("policy_bundle verification_key: the scope is too long")
		}
	}
	if c.MaxSize != 0 && (c.MaxSize < MinMaxSize || c.MaxSize > MaxMaxSize) {
		return fmt.Errorf("policy_bundle max_size: between %d bytes and 1GiB", MinMaxSize)
	}
	switch c.OnMissing {
	case "", OnMissingDeny, OnMissingBuiltin:
	default:
		return fmt.Errorf("policy_bundle on_missing: want builtin or deny, got %q", c.OnMissing)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case len(s) > maxURL:
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

func checkResource(s string) error {
	if len(s) > maxResource || !resourceSyntax.MatchString(s) || strings.HasPrefix(s, "//") {
		return fmt.Errorf("policy_bundle resource %q: want a path such as bundles/restcomm-overlay.tar.gz", s)
	}
	for _, seg := range strings.Split(strings.Trim(s, "/"), "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("policy_bundle resource %q: dot segments are not allowed", s)
		}
	}
	return nil
}

// Resolve replaces placeholders through replace, fills in defaults, reads
// the verification key and checks the result.
func Resolve(c Settings, replace func(string) string) (*Settings, error) {
	s := &c
	s.key = ""
	for _, v := range []*string{&s.Name, &s.URL, &s.Resource, &s.BearerToken, &s.BearerScheme,
		&s.VerificationKey, &s.KeyAlgorithm, &s.KeyID, &s.Scope} {
		*v = replace(*v)
	}
	if s.Name == "" {
		s.Name = defaultName
	}
	if s.Resource == "" {
		s.Resource = path.Join("bundles", s.Name)
	}
	if s.MinDelay == 0 && s.MaxDelay == 0 {
		s.MinDelay, s.MaxDelay = defaultMinDelay, defaultMaxDelay
	}
	if s.MaxSize == 0 {
		s.MaxSize = defaultMaxSize
	}
	if s.OnMissing == "" {
		s.OnMissing = OnMissingDeny
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
	if err := s.Check(); err != nil {
		return nil, err
	}
	if s.VerificationKey != "" {
		key, err := readKey(s.VerificationKey)
		if err != nil {
			return nil, err
		}
		s.key = key
	}
	return s, nil
}

func readKey(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("policy_bundle verification_key: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("policy_bundle verification_key: %w", err)
	case len(b) > maxKeyFile:
		return "", fmt.Errorf("policy_bundle verification_key %s: larger than %d bytes", file, maxKeyFile)
	case len(b) == 0:
		return "", fmt.Errorf("policy_bundle verification_key %s: empty", file)
	}
	return string(b), nil
}

// OPAConfig is the resolved settings as OPA's own configuration: its
// services, bundles and keys sections.
func (s *Settings) OPAConfig() map[string]any {
	service := map[string]any{"name": s.Name, "url": s.URL}
	if s.BearerToken != "" {
		bearer := map[string]any{"token": s.BearerToken}
		if s.BearerScheme != "" {
			bearer["scheme"] = s.BearerScheme
		}
		service["credentials"] = map[string]any{"bearer": bearer}
	}
	polling := map[string]any{
		"min_delay_seconds": ceilSeconds(s.MinDelay),
		"max_delay_seconds": ceilSeconds(s.MaxDelay),
	}
	if s.LongPollingTimeout != 0 {
		polling["long_polling_timeout_seconds"] = ceilSeconds(s.LongPollingTimeout)
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

// downloader builds, through OPA's own parsers, the service client and
// the bundle's downloader (not started) of these settings.
func (s *Settings) downloader(update func(context.Context, download.Update) error) (*download.Downloader, *bundleplugin.Source, error) {
	cfg := s.OPAConfig()
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
