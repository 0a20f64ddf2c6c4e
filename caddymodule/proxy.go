package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
)

// upstreamFailed answers an API request passed to reverse_proxy that the
// upstream did not answer, when no response has begun (the service's
// proxy step, accountsapi/proxy.go, calls it): a small page naming the
// failure for reverse_proxy's 502 (unreachable), 503 (no upstream
// available) and 504 (timed out), logged sampled per cause. Anything else,
// a client that went away included, is left to Caddy.
func (g *Gateway) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	he, ok := errors.AsType[caddyhttp.HandlerError](err)
	if !ok {
		return err
	}
	var reason string
	switch he.StatusCode {
	case http.StatusBadGateway:
		reason = "RestComm is unreachable"
	case http.StatusServiceUnavailable:
		reason = "RestComm is unavailable"
	case http.StatusGatewayTimeout:
		reason = "RestComm did not answer in time"
	default:
		return err
	}
	g.logs.Warn(g.logger, upstreamCause(he.StatusCode, he.Err), "upstream failed", // sampled per cause
		zap.Int("status", he.StatusCode), zap.String("method", r.Method),
		zap.String("path", r.URL.Path), zap.Error(he.Err))
	accountsapi.WritePage(w, he.StatusCode, reason)
	return nil
}

// upstreamCause is accountsapi.ErrorCause for a failed upstream: the
// status answered and the kind of failure.
func upstreamCause(status int, err error) string {
	return strconv.Itoa(status) + " " + accountsapi.ErrorCause(err)
}
