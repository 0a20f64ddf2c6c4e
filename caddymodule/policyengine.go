package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/restcomm/restcomm-gateway/policy"
)

// enginePool shares one policy engine per policy directory and mode (and
// one for the built-in policy) among the configs that use it. A `caddy reload`
// provisions the new config before the old one is cleaned up, so the
// engine, its compiled policy and its watch carry over; the last config to
// let go of it stops the watch.
var enginePool = caddy.NewUsagePool()

// builtinPolicy is the pool key of the built-in policy's engine.
const builtinPolicy = "builtin"

type pooledEngine struct {
	*policy.Engine
	stop context.CancelFunc
}

func (p pooledEngine) Destruct() error {
	p.stop()
	return p.Close()
}

// policyLogger is where engines log their reloads. It is looked up at each
// use: an engine outlives the config that created it, and Caddy's default
// logger follows the config in force.
var policyLogger = func() *zap.Logger {
	return caddy.Log().Named("http.handlers.restcomm.policy")
}

// loadEngine takes a hold on the engine of dir ("" for the built-in
// policy) in the given policy_mode (overlay by default), creating it on
// first use. An engine that already exists is asked to re-read its
// directory, since a `caddy reload` with an unchanged config must still
// pick up edited policy files.
func loadEngine(ctx caddy.Context, dir, mode string) (*policy.Engine, string, error) {
	m, err := policy.ParseMode(mode)
	if err != nil {
		return nil, "", fmt.Errorf("policy_mode: %w", err)
	}
	key := builtinPolicy
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, "", fmt.Errorf("policy_dir %q: %w", dir, err)
		}
		key = string(m) + ":" + abs
		dir = abs
	} else if m == policy.Replace {
		return nil, "", fmt.Errorf("policy_mode %s: no policy_dir to replace the built-in policy with", m)
	}
	opts := policy.EngineOptions{Logger: policyLogger, OnReload: countReload, Mode: m}
	v, loaded, err := enginePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		if dir == "" {
			opts.Mode = policy.Replace // the built-in policy is a complete one
			e, err := policy.NewEngine(ctx, policy.Default(), opts)
			if err != nil {
				return nil, err
			}
			return pooledEngine{Engine: e, stop: func() {}}, nil
		}
		e, err := policy.OpenDir(ctx, dir, opts)
		if err != nil {
			return nil, fmt.Errorf("policy_dir %q: %w", dir, err)
		}
		// The watch belongs to the pool entry, not to this config: it ends
		// when the last config using the directory is cleaned up.
		watchCtx, stop := context.WithCancel(context.Background())
		e.Watch(watchCtx)
		return pooledEngine{Engine: e, stop: stop}, nil
	})
	if err != nil {
		return nil, "", err
	}
	e := v.(pooledEngine).Engine
	if loaded {
		if err := e.Reload(ctx); err != nil && ctx.Err() == nil {
			// Logged and counted by the engine; the config still loads,
			// with the last good policy in force.
			ctx.Logger().Warn("policy directory holds a refused edit; serving the last good policy",
				zap.String("revision", e.Policy().Revision()), zap.Error(err))
		}
	}
	return e, key, nil
}

// decisionLog writes one line per decision when the Caddyfile's
// decision_log is on. It never holds a secret: the input carries no
// credentials, only account SIDs, roles and the request's path.
func (g *Gateway) logDecision(x *exchange, in *policy.Input, p *policy.Policy, d policy.Decision, err error, took time.Duration) {
	ce := g.decisionLogger.Check(zapcore.InfoLevel, "decision")
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 14)
	fields = append(fields,
		zap.String("decision_id", x.id),
		zap.String("operation", in.Operation),
		zap.String("method", in.Method),
		zap.String("path", in.Path),
	)
	if in.Caller != nil {
		fields = append(fields, zap.String("caller_sid", in.Caller.Sid), zap.String("caller_role", in.Caller.Role))
	}
	if in.Target != nil {
		fields = append(fields, zap.String("target_sid", in.Target.Sid))
	}
	fields = append(fields, zap.Bool("allow", d.Allow))
	if !d.Allow {
		fields = append(fields, zap.Int("status", d.Status), zap.Int("stage", d.Stage))
		if d.Message != "" {
			fields = append(fields, zap.String("message", d.Message))
		}
	}
	if err != nil {
		fields = append(fields, zap.NamedError("policy_error", err))
	}
	fields = append(fields,
		zap.String("revision", p.Revision()),
		zap.Duration("eval_duration", took))
	ce.Write(fields...)
}

// decisionID is the request's id: Caddy's {http.request.uuid}, which the
// access log then carries too, or a new random UUID outside a Caddy
// server.
func decisionID(r *http.Request) string {
	if r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey) != nil {
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			if id, ok := repl.GetString("http.request.uuid"); ok && id != "" {
				return id
			}
		}
	}
	return uuid.NewString()
}

// countDecision feeds the decision metrics.
func countDecision(d policy.Decision, err error, took time.Duration) {
	policyDecisionSeconds.Observe(took.Seconds())
	switch {
	case err != nil:
		policyDecisions.WithLabelValues("error", strconv.Itoa(d.Status)).Inc()
	case d.Allow:
		policyAllowed.Inc()
	default:
		policyDecisions.WithLabelValues("deny", strconv.Itoa(d.Status)).Inc()
	}
}

// countReload feeds the reload metrics.
func countReload(_ *policy.Policy, err error) {
	if err != nil {
		policyReloads.WithLabelValues("refused").Inc()
		return
	}
	policyReloads.WithLabelValues("loaded").Inc()
}
