package caddymodule

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// upstreamFailed is the service's UpstreamFailed (accountsapi/proxy.go):
// an API request passed to reverse_proxy that the upstream did not answer,
// when no response has begun. It only reads reverse_proxy's error as the
// status it stands for (502 unreachable, 503 no upstream available, 504
// timed out) and hands it to the service, which answers and logs it
// (accountsapi.Service.AnswerUpstreamFailure). Anything else, a client
// that went away included, is left to Caddy.
func (g *Gateway) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	he, ok := errors.AsType[caddyhttp.HandlerError](err)
	if !ok || !g.service.AnswerUpstreamFailure(w, r, he.StatusCode, he.Err) {
		return err
	}
	return nil
}
