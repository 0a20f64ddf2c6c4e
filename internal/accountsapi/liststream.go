package accountsapi

import (
	"errors"
	"net/http"

	"go.uber.org/zap"
)

// listStream sends a list while it is read from Redis in batches
// (store.EachChild and the others), so that neither Redis nor the gateway
// holds a whole list: the gateway holds one batch, rendered.
//
// What the first batch renders is held until the next batch has been read,
// or the list has ended: a list read in one batch is answered whole with
// its Content-Length, as before, and a Redis failure before any byte was
// sent is still a 503. From then on each batch is written and flushed as
// it is read, without a Content-Length. A Redis failure after the status
// line can no longer be answered: the response is aborted (the connection
// is reset, so the client sees a truncated body rather than a list that
// looks complete) and the failure is logged.
type listStream struct {
	svc     *Service
	x       *exchange
	buf     []byte // rendered, not sent yet
	started bool   // the status line was written
	sent    int
}

// clientGone is a failed write: the client stopped reading.
type clientGone struct{ error }

// next sends what the batches read so far rendered. The handler calls it
// as each batch arrives, before rendering that batch into buf.
func (s *listStream) next() error {
	if len(s.buf) == 0 {
		return nil
	}
	w := s.x.w
	if !s.started {
		w.Header().Set("Content-Type", s.x.contentType)
		w.WriteHeader(http.StatusOK)
		s.started = true
	}
	n, err := w.Write(s.buf)
	s.sent += n
	if err != nil {
		return clientGone{err}
	}
	s.buf = s.buf[:0]
	if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return clientGone{err}
	}
	return nil
}

// finish ends the response after the list was read with err, end rendering
// the list's tail (or the whole empty list).
func (s *listStream) finish(err error, end func([]byte) []byte) error {
	if err != nil {
		if !s.started {
			return s.svc.unavailable(s.x, err)
		}
		s.abort(err)
	}
	s.buf = end(s.buf)
	if !s.started {
		return s.x.respondOK(s.buf)
	}
	_, _ = s.x.w.Write(s.buf) // a client gone now has had everything but the tail
	return nil
}

// abort resets the connection of a response already under way.
func (s *listStream) abort(err error) {
	var gone clientGone
	if errors.As(err, &gone) || s.x.r.Context().Err() != nil {
		s.svc.logger.Debug("list abandoned by the client", zap.String("path", s.x.r.URL.Path),
			zap.Int("bytes_sent", s.sent), zap.Error(err))
	} else {
		s.svc.logger.Error("account store failed during a list; response aborted",
			zap.String("path", s.x.r.URL.Path), zap.Int("bytes_sent", s.sent), zap.Error(err))
	}
	panic(http.ErrAbortHandler)
}
