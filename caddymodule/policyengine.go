package caddymodule

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/internal/policybundle"
	"github.com/restcomm/restcomm-gateway/policy"
)

// enginePool shares one policy engine per policy directory and mode (and
// one for the built-in policy) among the configs that use it. A `caddy reload`
// provisions the new config before the old one is cleaned up, so the
// engine, its compiled policy and its watch carry over; the last config to
// let go of it stops the watch. A usage pool is Caddy's own tool for what
// must outlive one config (it is process-wide by design, and each config
// holds a counted reference from Provision to Cleanup); nothing else here
// is shared between configs.
var enginePool = caddy.NewUsagePool()

// policyLogger names the logger, under the handler's, of every line about
// the policy: loaded, reloaded, refused, its warnings.
const policyLogger = "policy"

// builtinPolicy is the pool key of the built-in policy's engine.
const builtinPolicy = "builtin"

// pooledEngine is an engine in enginePool. It outlives the config that
// made it, so it logs its reloads to, and counts them in the metrics of,
// the config provisioned last with it: the one in force once a reload is
// through.
type pooledEngine struct {
	*policy.Engine
	stop    context.CancelFunc
	logger  atomic.Pointer[zap.Logger]
	metrics atomic.Pointer[metrics]
	bundle  *policybundle.Source // the policy's bundle, nil for a directory or the built-in (policybundle.go)
}

func (p *pooledEngine) Destruct() error {
	p.stop()
	return p.Close()
}

// use makes the engine log to logger and count in m from now on.
func (p *pooledEngine) use(logger *zap.Logger, m *metrics) {
	p.logger.Store(logger)
	p.metrics.Store(m)
}

// options are the engine's options in mode: its logger and reload counts
// are those of the config in force (use).
func (p *pooledEngine) options(mode policy.Mode) policy.EngineOptions {
	return policy.EngineOptions{
		Mode:   mode,
		Logger: p.logger.Load,
		OnReload: func(_ *policy.Policy, err error) {
			if m := p.metrics.Load(); m != nil {
				m.reload(err)
			}
		},
	}
}

// checkPolicyMode refuses a policy_mode other than overlay or replace
// (checkSettings).
func checkPolicyMode(mode string) error {
	if _, err := policy.ParseMode(mode); err != nil {
		return fmt.Errorf("policy_mode: %w", err)
	}
	return nil
}

// loadEngine takes a hold on the engine of dir ("" for the built-in
// policy) in mode (policy_mode, parsed by checkSettings), creating it on
// first use. An engine that already exists is asked to re-read its
// directory, since a `caddy reload` with an unchanged config must still
// pick up edited policy files.
func loadEngine(ctx caddy.Context, dir string, m policy.Mode, counts *metrics) (*pooledEngine, string, error) {
	key := builtinPolicy
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, "", fmt.Errorf("policy_dir %q: %w", dir, err)
		}
		key = poolKey(string(m), abs)
		dir = abs
	} else if m == policy.Replace {
		return nil, "", fmt.Errorf("policy_mode %s: no policy_dir to replace the built-in policy with", m)
	}
	logger := ctx.Logger().Named(policyLogger)
	v, loaded, err := enginePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		p := &pooledEngine{stop: func() {}}
		p.use(logger, counts)
		if dir == "" {
			// the built-in policy is a complete one
			e, err := policy.NewEngine(ctx, policy.Default(), p.options(policy.Replace))
			if err != nil {
				return nil, err
			}
			p.Engine = e
			return p, nil
		}
		e, err := policy.OpenDir(ctx, dir, p.options(m))
		if err != nil {
			return nil, fmt.Errorf("policy_dir %q: %w", dir, err)
		}
		// The watch belongs to the pool entry, not to this config: it ends
		// when the last config using the directory is cleaned up.
		watchCtx, stop := context.WithCancel(context.Background())
		e.Watch(watchCtx)
		p.Engine, p.stop = e, stop
		return p, nil
	})
	if err != nil {
		return nil, "", err
	}
	e := v.(*pooledEngine)
	e.use(logger, counts)
	if loaded {
		if err := e.Reload(ctx); err != nil && ctx.Err() == nil {
			// Logged and counted by the engine; the config still loads,
			// with the last good policy in force.
			logger.Warn("policy directory holds a refused edit; serving the last good policy",
				zap.String("revision", e.Policy().Revision()), zap.Error(err))
		}
	}
	return e, key, nil
}
