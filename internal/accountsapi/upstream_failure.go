package accountsapi

import (
	"net/http"
	"strconv"

	"go.uber.org/zap"
)

// AnswerUpstreamFailure answers an API request passed upstream that the
// upstream did not answer, before any response began, given the status
// the server's proxy reports for it and its cause: a small page naming
// the failure for 502 (unreachable), 503 (no upstream available) and 504
// (timed out), logged sampled per cause. For any other status it answers
// nothing and returns false: the failure is the server's to report.
//
// It is what a server's Config.UpstreamFailed calls once it has read its
// proxy's error as a status.
func (s *Service) AnswerUpstreamFailure(w http.ResponseWriter, r *http.Request, status int, cause error) bool {
	var reason string
	switch status {
	case http.StatusBadGateway:
		reason = "RestComm is unreachable"
	case http.StatusServiceUnavailable:
		reason = "RestComm is unavailable"
	case http.StatusGatewayTimeout:
		reason = "RestComm did not answer in time"
	default:
		return false
	}
	fields := []zap.Field{zap.Int("status", status), zap.String("method", r.Method),
		zap.String("path", r.URL.Path), zap.Error(cause)}
	if s.cfg.Logs != nil {
		s.cfg.Logs.Warn(s.logger, upstreamCause(status, cause), "upstream failed", fields...) // sampled per cause
	} else {
		s.logger.Warn("upstream failed", fields...)
	}
	WritePage(w, status, reason)
	return true
}

// upstreamCause is ErrorCause for a failed upstream: the status answered
// and the kind of failure.
func upstreamCause(status int, err error) string {
	return strconv.Itoa(status) + " " + ErrorCause(err)
}
