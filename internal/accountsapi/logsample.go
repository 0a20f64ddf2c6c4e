package accountsapi

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/restcomm/restcomm-gateway/store"
)

// Repeated errors are sampled: per message and cause, at most
// LogSampleBurst lines are written per LogSampleWindow; the rest are
// counted, and at the end of a window in which some were dropped one line
// (the same message, with the cause and "dropped": N) says how many. An
// outage of Redis or of the upstream thus writes a few lines a second
// instead of one per request, and every failure is accounted for.
const (
	LogSampleWindow = time.Second
	LogSampleBurst  = 5
)

// LogSampler samples repeated log lines. A nil *LogSampler logs every line.
type LogSampler struct {
	window time.Duration
	burst  int
	mu     sync.Mutex
	causes map[string]*sampleWindow
	// writing counts reports taken from their window but not yet written,
	// so that Pending holds until they are in the log
	writing int
}

type sampleWindow struct {
	start   time.Time // of the current window
	logged  int       // lines written in it
	dropped int       // lines dropped since the last report
	armed   bool      // a report is scheduled
}

// NewLogSampler writes at most burst lines per message and cause in each
// window.
func NewLogSampler(window time.Duration, burst int) *LogSampler {
	return &LogSampler{window: window, burst: burst, causes: map[string]*sampleWindow{}}
}

// Error logs msg on l at error level, unless cause has had its burst of
// lines in this window; then it is counted, and reported at its end.
func (s *LogSampler) Error(l *zap.Logger, cause, msg string, fields ...zap.Field) {
	s.log(l, zapcore.ErrorLevel, cause, msg, fields...)
}

// Warn is Error at warning level.
func (s *LogSampler) Warn(l *zap.Logger, cause, msg string, fields ...zap.Field) {
	s.log(l, zapcore.WarnLevel, cause, msg, fields...)
}

// Pending reports whether a report of dropped lines is yet to be written.
func (s *LogSampler) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writing > 0 {
		return true
	}
	for _, w := range s.causes {
		if w.armed {
			return true
		}
	}
	return false
}

// log writes or counts one line. It is called through Error or Warn, whose
// caller the line names.
func (s *LogSampler) log(l *zap.Logger, lvl zapcore.Level, cause, msg string, fields ...zap.Field) {
	if !l.Core().Enabled(lvl) {
		return // not logged at all: nothing to count
	}
	fields = append(fields, zap.String("cause", cause))
	write := func() {
		if ce := l.WithOptions(zap.AddCallerSkip(3)).Check(lvl, msg); ce != nil {
			ce.Write(fields...)
		}
	}
	if s == nil {
		write()
		return
	}
	key := msg + "\x00" + cause
	now := time.Now()
	s.mu.Lock()
	w := s.causes[key]
	if w == nil {
		w = &sampleWindow{}
		s.causes[key] = w
	}
	if now.Sub(w.start) >= s.window {
		w.start, w.logged = now, 0
	}
	if w.logged < s.burst {
		w.logged++
		s.mu.Unlock()
		write()
		return
	}
	w.dropped++
	if !w.armed {
		w.armed = true
		time.AfterFunc(w.start.Add(s.window).Sub(now), func() { s.report(l, lvl, key, cause, msg) })
	}
	s.mu.Unlock()
}

// report writes how many lines of one message and cause were dropped.
func (s *LogSampler) report(l *zap.Logger, lvl zapcore.Level, key, cause, msg string) {
	s.mu.Lock()
	w := s.causes[key]
	n := w.dropped
	w.dropped, w.armed = 0, false
	s.writing++
	s.mu.Unlock()
	if n > 0 {
		l.Log(lvl, msg, zap.String("cause", cause), zap.Int("dropped", n), zap.Duration("dropped_within", s.window))
	}
	s.mu.Lock()
	s.writing--
	s.mu.Unlock()
}

// ErrorCause names the kind of a failure, for sampling: the same for
// every request failing the same way, without per-connection details
// such as port numbers.
func ErrorCause(err error) string {
	var (
		nr *store.NotReplicatedError
		ue *store.UnreachableError
		re redis.Error
		oe *net.OpError
		ne net.Error
	)
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, errStoreLost):
		return "store lost its data"
	case errors.Is(err, errStoreEmpty):
		return "store not initialized"
	case errors.As(err, &nr):
		return "not replicated"
	case errors.Is(err, store.ErrStale):
		return "stale"
	case errors.As(err, &ue):
		// out of time while Redis refused its connections: the refusal
		// is the cause, not the deadline (store/dialcause.go)
		return ErrorCause(ue.Dial)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, redis.ErrClosed):
		return "client closed"
	case errors.As(err, &re):
		word, _, _ := strings.Cut(re.Error(), " ")
		return "redis " + word // LOADING, READONLY, MASTERDOWN, ERR, ...
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &oe):
		return oe.Op + " failed" // dial, read, write
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	return "other"
}
