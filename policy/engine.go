package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// Engine keeps the last good compilation of a policy in force. An Engine
// of a directory (OpenDir) recompiles it when it changes: it watches the
// directory tree for events, and also compares the content's hash every
// PollInterval, because file system events are unreliable on network file
// systems and Kubernetes volumes. A new revision replaces the one in force
// only when it compiles and its own tests pass; otherwise it is refused,
// logged and reported, and the last good revision stays in force.
type Engine struct {
	fsys    fs.FS
	dir     string // the watched directory; "" for a fixed file system
	label   string // names the content's revision before its digest (Swap); "" for none
	opts    EngineOptions
	current atomic.Pointer[Policy]

	mu      sync.Mutex // serializes reloads
	tried   string     // revision (or load error) of the content last tried
	refused error      // why the content last tried is not in force

	watchMu sync.Mutex
	stop    context.CancelFunc
	done    chan struct{}
}

// EngineOptions tune an Engine. The zero value is usable.
type EngineOptions struct {
	// Mode says what the file system is: an Overlay of the built-in
	// policy (the default) or a complete policy that Replaces it.
	Mode Mode
	// Logger returns the logger for reloads, looked up at each use so that
	// it may follow the host's logging configuration; no logging when nil.
	Logger func() *zap.Logger
	// OnReload is told the outcome of each reload that found new content:
	// the new policy, or the reason it was refused.
	OnReload func(p *Policy, err error)
	// PollInterval is how often the content's hash is compared: 1s by
	// default.
	PollInterval time.Duration
	// Debounce is how long file events must settle before a reload, so
	// that an editor's several writes are compiled once: 100ms by default.
	Debounce time.Duration
	// PollOnly watches by comparing the content only, without file system
	// events (for file systems that do not deliver them reliably).
	PollOnly bool
}

// DefaultPollInterval is how often a watched directory's content is
// compared when EngineOptions.PollInterval is not set.
const DefaultPollInterval = time.Second

const defaultDebounce = 100 * time.Millisecond

// NewEngine compiles fsys and keeps it in force. It fails when fsys does
// not compile or its tests fail: there is no last good policy yet.
func NewEngine(ctx context.Context, fsys fs.FS, opts EngineOptions) (*Engine, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Debounce <= 0 {
		opts.Debounce = defaultDebounce
	}
	mode, err := ParseMode(string(opts.Mode))
	if err != nil {
		return nil, err
	}
	opts.Mode = mode
	snap, digest, err := snapshot(fsys)
	if err != nil {
		return nil, err
	}
	revision, err := policyRevision(mode, digest)
	if err != nil {
		return nil, err
	}
	p, err := compileSnapshot(ctx, mode, snap, revision, TestOptions{})
	if err != nil {
		return nil, err
	}
	e := &Engine{fsys: fsys, opts: opts, tried: revision}
	e.current.Store(p)
	e.warn(p)
	return e, nil
}

// OpenDir is NewEngine for a directory of the operating system, which
// Watch can then follow.
func OpenDir(ctx context.Context, dir string, opts EngineOptions) (*Engine, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("policy directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("policy directory %s: not a directory", dir)
	}
	e, err := NewEngine(ctx, os.DirFS(dir), opts)
	if err != nil {
		return nil, err
	}
	e.dir = dir
	return e, nil
}

// NewPendingEngine is an engine without content yet, whose content Swap
// gives it: until then its policy in force is initial, nil for none
// (Policy is then nil, and the caller must refuse to decide).
func NewPendingEngine(initial *Policy, opts EngineOptions) (*Engine, error) {
	mode, err := ParseMode(string(opts.Mode))
	if err != nil {
		return nil, err
	}
	opts.Mode = mode
	e := &Engine{opts: opts}
	if initial != nil {
		e.current.Store(initial)
		e.tried = initial.Revision()
	}
	return e, nil
}

// Swap makes fsys the engine's content and reloads it (Reload): it is put
// in force only when it compiles, passes the overlay's checks and its own
// tests; otherwise it is refused, logged and reported, and the last good
// policy stays in force. Its revision is label, when set, then "@" and
// the revision of its digest. changed says whether the content (and label)
// was new; a refused content given again is not compiled, logged or
// reported again. Swap is for an engine that is not of a directory.
func (e *Engine) Swap(ctx context.Context, fsys fs.FS, label string) (changed bool, err error) {
	if e.dir != "" {
		return false, errors.New("policy: the content of a directory's engine is its directory")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fsys, e.label = fsys, label
	return e.reloadLocked(ctx)
}

// Policy is the policy in force; nil for a pending engine
// (NewPendingEngine) that has none yet.
func (e *Engine) Policy() *Policy { return e.current.Load() }

// revisionOf names p's revision in logs: "none" for no policy.
func revisionOf(p *Policy) string {
	if p == nil {
		return "none"
	}
	return p.Revision()
}

// Refused is why the content last found is not in force, or nil when the
// policy in force is that content.
func (e *Engine) Refused() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.refused
}

// Reload compiles the content if it changed since it was last tried. It
// returns nil when the policy in force is the current content, and the
// reason it was refused otherwise. A refusal is logged and reported once
// per content, however often Reload is called.
func (e *Engine) Reload(ctx context.Context) error {
	_, err := e.reload(ctx)
	return err
}

// reload is Reload, also saying whether the content was new.
func (e *Engine) reload(ctx context.Context) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reloadLocked(ctx)
}

func (e *Engine) reloadLocked(ctx context.Context) (bool, error) {
	if e.fsys == nil { // a pending engine given no content yet
		return false, e.refused
	}
	snap, digest, err := snapshot(e.fsys)
	var revision string
	if err == nil {
		revision, err = policyRevision(e.opts.Mode, digest)
	}
	if err == nil && e.label != "" {
		revision = e.label + "@" + revision
	}
	key := revision
	if err != nil {
		key = "error: " + err.Error()
	}
	if key == e.tried {
		return false, e.refused
	}
	var p *Policy
	switch {
	case err != nil:
	case revision == revisionOf(e.current.Load()):
		p = e.current.Load() // back to the content in force
	default:
		p, err = compileSnapshot(ctx, e.opts.Mode, snap, revision, TestOptions{})
	}
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
		return false, ctxErr // interrupted, not refused: tried again next time
	}
	e.tried = key
	old := e.current.Load()
	if err != nil {
		e.refused = fmt.Errorf("policy edit refused, revision %s stays in force: %w", revisionOf(old), err)
		e.log().Error("policy edit refused; the last good policy stays in force",
			zap.String("revision", revisionOf(old)),
			zap.String("refused_revision", revision),
			zap.Error(err))
		if e.opts.OnReload != nil {
			e.opts.OnReload(nil, err)
		}
		return true, e.refused
	}
	e.refused = nil
	if p == old {
		return true, nil
	}
	e.current.Store(p)
	e.log().Info("policy reloaded",
		zap.String("revision", p.Revision()),
		zap.String("previous_revision", revisionOf(old)),
		zap.Int("tests_passed", p.Tests()))
	e.warn(p)
	if e.opts.OnReload != nil {
		e.opts.OnReload(p, nil)
	}
	return true, nil
}

// warn logs the warnings of a policy put in force (Policy.Warnings), once
// per content: at start and at each reload that found it new.
func (e *Engine) warn(p *Policy) {
	if len(p.Warnings()) == 0 {
		return
	}
	e.log().Warn("policy overlay grants more than it may seem; it is in force",
		zap.String("revision", p.Revision()),
		zap.Strings("warnings", p.Warnings()))
}

func (e *Engine) log() *zap.Logger {
	if e.opts.Logger != nil {
		if l := e.opts.Logger(); l != nil {
			return l
		}
	}
	return zap.NewNop()
}

// Watch follows the directory until ctx is done or Close is called: file
// events reload it after Debounce, and its content is compared every
// PollInterval. It does nothing for an Engine that is not of a directory,
// or that already watches.
func (e *Engine) Watch(ctx context.Context) {
	e.watchMu.Lock()
	defer e.watchMu.Unlock()
	if e.dir == "" || e.done != nil {
		return
	}
	ctx, e.stop = context.WithCancel(ctx)
	e.done = make(chan struct{})
	var w *fsnotify.Watcher
	if !e.opts.PollOnly {
		var err error
		if w, err = fsnotify.NewWatcher(); err != nil {
			e.log().Warn("policy directory events unavailable; polling only",
				zap.String("dir", e.dir), zap.Duration("poll_interval", e.opts.PollInterval), zap.Error(err))
			w = nil
		}
	}
	e.addWatches(w) // before returning: no edit made after Watch is missed
	go e.watch(ctx, w)
}

// Close stops watching and waits until the watch has ended. The policy in
// force stays usable.
func (e *Engine) Close() error {
	e.watchMu.Lock()
	defer e.watchMu.Unlock()
	if e.done == nil {
		return nil
	}
	e.stop()
	<-e.done
	e.done = nil
	return nil
}

func (e *Engine) watch(ctx context.Context, w *fsnotify.Watcher) {
	defer close(e.done)
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		defer w.Close()
		events, errs = w.Events, w.Errors
	}
	poll := time.NewTicker(e.opts.PollInterval)
	defer poll.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			settle.Reset(e.opts.Debounce)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			e.log().Warn("policy directory events", zap.String("dir", e.dir), zap.Error(err))
		case <-settle.C:
			// Watch new directories first: a file created in one after the
			// reload has read the tree is then an event of its own.
			e.addWatches(w)
			_, _ = e.reload(ctx) // a refusal is logged and reported
		case <-poll.C:
			if changed, _ := e.reload(ctx); changed {
				e.addWatches(w) // the directory itself may have been replaced
			}
		}
	}
}

// addWatches watches the directory and each of its subdirectories that
// may hold policy files (fsnotify does not follow a tree by itself).
func (e *Engine) addWatches(w *fsnotify.Watcher) {
	if w == nil {
		return
	}
	_ = filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // gone or unreadable: Reload reports it
		}
		if !d.IsDir() {
			return nil
		}
		if p != e.dir && hidden(d.Name()) {
			return fs.SkipDir
		}
		if err := w.Add(p); err != nil {
			e.log().Debug("cannot watch policy directory", zap.String("dir", p), zap.Error(err))
		}
		return nil
	})
}
