package policybundle

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/policy"
)

// Engine is what a Source hands its bundles to: a policy.Engine.
type Engine interface {
	Swap(ctx context.Context, fsys fs.FS, label string) (changed bool, err error)
	Policy() *policy.Policy
}

// Source polls one bundle and hands each one it downloads to its engine
// (Swap); it keeps the status of both for the admin API and the metrics
// (Collector).
type Source struct {
	name, service, resource string
	mode                    policy.Mode
	onMissing               string
	signed                  bool
	engine                  Engine
	logger                  func() *zap.Logger
	refused                 func(error)
	downloader              *download.Downloader
	pendingRefusals         atomic.Int64 // requests refused before any good bundle

	mu          sync.Mutex
	status      Status
	activations map[string]int64 // by result: activated, refused
	lastReason  string           // of the refusal of a bundle OPA would not read, reported once
	stopOnce    sync.Once
}

// Status is a bundle's status as the admin API shows it.
type Status struct {
	Name              string    `json:"name"`
	Service           string    `json:"service"`
	Resource          string    `json:"resource"`
	Mode              string    `json:"mode"`
	SignatureRequired bool      `json:"signature_required"`
	OnMissing         string    `json:"on_missing"`
	ActiveRevision    string    `json:"active_revision,omitempty"`
	LastActivation    *Event    `json:"last_activation,omitempty"`
	LastRefusal       *Event    `json:"last_refusal,omitempty"`
	LastDownload      *Download `json:"last_download,omitempty"`
}

// Event is an activation, or a refusal and its reason.
type Event struct {
	At       time.Time `json:"at"`
	Revision string    `json:"revision,omitempty"` // the manifest's, for a refusal
	ETag     string    `json:"etag,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// Download is the outcome of the last request for the bundle: the HTTP
// status (200: a bundle, 304: unchanged) or the error.
type Download struct {
	At     time.Time `json:"at"`
	Status int       `json:"status,omitempty"`
	ETag   string    `json:"etag,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// Results of an activation, as the status and metrics count them.
const (
	Activated = "activated"
	Refused   = "refused"
)

// sources are the live (started, not stopped) sources, for the metrics.
var sources struct {
	sync.Mutex
	list []*Source
}

// Live lists the sources started and not yet stopped.
func Live() []*Source {
	sources.Lock()
	defer sources.Unlock()
	return slices.Clone(sources.list)
}

// NewSource makes the source (not started) of the resolved settings s,
// which polls for engine in mode. It logs to what logger returns at the
// time (nil: nowhere), and tells refused of each bundle refused before
// the engine saw it (the engine reports the others itself).
func NewSource(s *Settings, mode policy.Mode, engine Engine, logger func() *zap.Logger, refused func(error)) (*Source, error) {
	src := &Source{
		name: s.Name, service: s.URL, resource: s.Resource, mode: mode,
		onMissing: s.OnMissing, signed: s.key != "", engine: engine,
		logger: logger, refused: refused,
		activations: map[string]int64{},
	}
	src.status = Status{Name: src.name, Service: src.service, Resource: src.resource,
		Mode: string(mode), SignatureRequired: src.signed, OnMissing: src.onMissing}
	var err error
	if src.downloader, _, err = s.downloader(src.update); err != nil {
		return nil, err
	}
	return src, nil
}

// Start lists the source and starts polling (OPA's downloader, in
// goroutines of its own, the first request at once).
func (s *Source) Start() {
	sources.Lock()
	sources.list = append(sources.list, s)
	sources.Unlock()
	s.downloader.Start(context.Background())
	s.log().Info("policy bundle polling",
		zap.String("bundle", s.name), zap.String("service", s.service), zap.String("resource", s.resource),
		zap.Bool("signature_required", s.signed), zap.String("on_missing", s.onMissing))
}

// Stop ends polling and unlists the source: the last config using it is
// gone.
func (s *Source) Stop() {
	s.stopOnce.Do(func() {
		s.downloader.Stop(context.Background())
		sources.Lock()
		sources.list = slices.DeleteFunc(sources.list, func(x *Source) bool { return x == s })
		sources.Unlock()
	})
}

// CountPendingRefusal counts a request refused because no bundle is in
// force yet (on_missing deny).
func (s *Source) CountPendingRefusal() { s.pendingRefusals.Add(1) }

func (s *Source) log() *zap.Logger {
	if s.logger != nil {
		if l := s.logger(); l != nil {
			return l
		}
	}
	return zap.NewNop()
}

// update is the downloader's callback: a download's outcome. A download
// that fails (no answer, an HTTP error) is only recorded: the bundle in
// force stays, and the downloader retries. A bundle that OPA would not
// read (its signature, its size, its format) is refused; one it read goes
// to the engine, which activates or refuses it.
func (s *Source) update(ctx context.Context, u download.Update) error {
	now := time.Now()
	switch {
	case u.Error != nil && ctx.Err() != nil:
		return nil // stopping
	case u.Error != nil:
		if st, failed := downloadFailed(u.Error); failed {
			s.downloaded(Download{At: now, Status: st, Error: u.Error.Error()})
			s.log().Debug("policy bundle download failed", zap.String("bundle", s.name), zap.Error(u.Error))
			return nil
		}
		s.downloaded(Download{At: now, Status: http.StatusOK})
		s.refuse(now, "", "", u.Error)
	case u.Bundle == nil:
		s.downloaded(Download{At: now, Status: http.StatusNotModified, ETag: u.ETag})
	default:
		s.downloaded(Download{At: now, Status: http.StatusOK, ETag: u.ETag})
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

func (s *Source) downloaded(d Download) {
	s.mu.Lock()
	s.status.LastDownload = &d
	s.mu.Unlock()
}

// activate gives the bundle to the engine.
func (s *Source) activate(ctx context.Context, now time.Time, b *bundle.Bundle, etag string) {
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
		s.activations[Refused]++
		s.status.LastRefusal = &Event{At: now, Revision: label, ETag: etag, Reason: ClipReason(err.Error())}
		return // the engine logged and counted it
	}
	s.activations[Activated]++
	p := s.engine.Policy()
	s.status.ActiveRevision = p.Revision()
	s.status.LastActivation = &Event{At: now, Revision: p.Revision(), ETag: etag}
	s.log().Info("policy bundle activated", zap.String("bundle", s.name), zap.String("revision", p.Revision()),
		zap.String("etag", etag))
}

// refuse records a bundle refused before the engine saw it, logging and
// counting it once while the same reason repeats (the downloader asks for
// it again and again).
func (s *Source) refuse(now time.Time, label, etag string, err error) {
	reason := ClipReason(err.Error())
	s.mu.Lock()
	repeated := reason == s.lastReason
	s.lastReason = reason
	if !repeated {
		s.activations[Refused]++
		s.status.LastRefusal = &Event{At: now, Revision: label, ETag: etag, Reason: reason}
	}
	s.mu.Unlock()
	if repeated {
		return
	}
	p := s.engine.Policy()
	s.log().Error("policy bundle refused; the last good policy stays in force",
		zap.String("bundle", s.name), zap.String("revision", revisionOrNone(p)), zap.String("reason", reason))
	if s.refused != nil {
		s.refused(err)
	}
}

func revisionOrNone(p *policy.Policy) string {
	if p == nil {
		return "none"
	}
	return p.Revision()
}

// ClipReason cuts a refusal's reason to the length the status keeps.
func ClipReason(s string) string {
	if len(s) > maxReason {
		return s[:maxReason] + "…"
	}
	return s
}

// Snapshot is the source's status now, and its activations by result
// (Activated, Refused).
func (s *Source) Snapshot() (Status, map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	counts := make(map[string]int64, len(s.activations))
	for k, v := range s.activations {
		counts[k] = v
	}
	return st, counts
}
