package caddymodule

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/restcomm/restcomm-gateway/policy"
)

// Monitor mode: a policy directory loaded beside the policy in force,
// which decides every API request's input too but is not enforced. Where
// its decision differs from the one in force, the difference is logged
// (logger http.handlers.restcomm.policy.monitor) and counted
// (restcomm_gateway_policy_monitor_differences_total), so that a security
// team sees what a candidate policy would do to live traffic before it is
// enforced. The monitored directory reloads on edits as policy_dir does,
// and a refused edit leaves the last good one monitoring.

// policyMonitorSettings are the handler's monitor-mode options and state;
// Gateway embeds them, so that their JSON is the handler's.
type policyMonitorSettings struct {
	// PolicyMonitorDir is a policy directory decided beside the policy in
	// force but not enforced: read in PolicyMode, as PolicyDir, it is
	// compiled, tested and reloaded on edits as PolicyDir is.
	PolicyMonitorDir string `json:"policy_monitor_dir,omitempty"`

	monitor *policyMonitor
}

// policyMonitorLogger names the logger, under the handler's, of the
// monitored policy's differences, loads and reloads.
const policyMonitorLogger = "policy.monitor"

// policyMonitor decides inputs with the monitored policy.
type policyMonitor struct {
	engine *pooledEngine
	key    string // in enginePool
	logger *zap.Logger
	counts *prometheus.CounterVec
}

// loadMonitor loads the monitored directory, if any, in m (the
// handler's policy_mode), and returns it; nil without one. Its engine is
// pooled as the policy in force's (loadEngine), under a key of its own:
// its reloads are logged on the monitor's logger and not counted as the
// enforced policy's.
func (s *policyMonitorSettings) loadMonitor(ctx caddy.Context, repl *caddy.Replacer, m policy.Mode) (*policyMonitor, error) {
	dir := repl.ReplaceAll(s.PolicyMonitorDir, "")
	if dir == "" {
		return nil, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("policy_monitor_dir %q: %w", dir, err)
	}
	counts := monitorMetrics()
	if err := registerAll(ctx.GetMetricsRegistry(), counts); err != nil { // metrics.go
		return nil, err
	}
	logger := ctx.Logger().Named(policyMonitorLogger)
	key := poolKey("monitor", string(m), abs)
	v, loaded, err := enginePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		p := &pooledEngine{stop: func() {}}
		p.use(logger, nil)
		e, err := policy.OpenDir(ctx, abs, p.options(m))
		if err != nil {
			return nil, fmt.Errorf("policy_monitor_dir %q: %w", dir, err)
		}
		watchCtx, stop := context.WithCancel(context.Background())
		e.Watch(watchCtx)
		p.Engine, p.stop = e, stop
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	e := v.(*pooledEngine)
	e.use(logger, nil)
	if loaded {
		if err := e.Reload(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("monitored policy directory holds a refused edit; monitoring the last good policy",
				zap.String("revision", e.Policy().Revision()), zap.Error(err))
		}
	}
	p := e.Policy()
	logger.Info("policy monitored, not enforced",
		zap.String("dir", abs), zap.String("revision", p.Revision()), zap.Int("tests_passed", p.Tests()))
	return &policyMonitor{engine: e, key: key, logger: logger, counts: counts}, nil
}

// monitorHook is the service's Monitor (accountsapi.Config), nil without
// a monitored policy.
func (s *policyMonitorSettings) monitorHook() func(context.Context, func() string, *policy.Input, policy.Decision) {
	if s.monitor == nil {
		return nil
	}
	return s.monitor.decide
}

// cleanupMonitor lets go of the monitored policy's engine.
func (s *policyMonitorSettings) cleanupMonitor() error {
	if s.monitor == nil {
		return nil
	}
	_, err := enginePool.Delete(s.monitor.key)
	s.monitor = nil
	return err
}

// decide decides in with the monitored policy (from its decision cache
// when it can) and reports a difference with enforced, the decision the
// gateway acted on. The request is not changed.
func (m *policyMonitor) decide(ctx context.Context, requestID func() string, in *policy.Input, enforced policy.Decision) {
	p := m.engine.Policy()
	d, err := p.Decide(ctx, in)
	if err != nil {
		if ctx.Err() != nil {
			return // the request went away: no decision to compare
		}
		d = policy.Deny // as the gateway would: it fails closed
	}
	kind := policy.Change(enforced, d)
	if kind == "" {
		return
	}
	op := monitorOperation(in.Operation)
	m.counts.WithLabelValues(kind, op).Inc()
	fields := []zap.Field{
		zap.String("decision_id", requestID()),
		zap.String("operation", in.Operation),
		zap.Object("enforced", decisionFields(enforced)),
		zap.Object("monitored", decisionFields(d)),
		zap.String("monitored_revision", p.Revision()),
	}
	if in.Caller != nil {
		fields = append(fields, zap.String("caller", in.Caller.Sid))
	}
	if err != nil {
		fields = append(fields, zap.NamedError("monitored_error", err))
	}
	m.logger.Info(kind, fields...)
}

// decisionFields logs a decision as the gateway acts on it.
type decisionFields policy.Decision

func (d decisionFields) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddBool("allow", d.Allow)
	if d.Allow {
		if d.Anonymous {
			enc.AddBool("anonymous", true)
		}
		if d.HideAuthToken {
			enc.AddBool("hide_auth_token", true)
		}
		return nil
	}
	enc.AddInt("status", d.Status)
	if d.Message != "" {
		enc.AddString("message", d.Message)
	}
	enc.AddString("body", d.Body)
	enc.AddInt("stage", d.Stage)
	if len(d.Headers) > 0 {
		return enc.AddReflected("headers", d.Headers)
	}
	return nil
}

// monitorOperations are the operations the gateway decides
// (accountsapi's input.operation): the metric's operation label takes
// these values, and "other".
var monitorOperations = map[string]bool{
	"proxy": true, "none": true,
	"accounts:read": true, "accounts:list": true, "accounts:create": true,
	"accounts:update": true, "accounts:migrate": true,
	"organizations:read": true, "organizations:list": true,
	"organizations:create": true, "organizations:migrate": true,
}

func monitorOperation(op string) string {
	if monitorOperations[op] {
		return op
	}
	return "other"
}

var monitorCounts struct {
	once sync.Once
	vec  *prometheus.CounterVec
}

// monitorMetrics is the process's counter of differences, made on first
// use and registered in every config's registry that monitors a policy,
// as the other collectors are (metrics.go): a reload keeps the counts.
func monitorMetrics() *prometheus.CounterVec {
	monitorCounts.once.Do(func() {
		monitorCounts.vec = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: "policy_monitor",
			Name:      "differences_total",
			Help: "API requests the monitored policy (policy_monitor_dir) decides otherwise than the policy in force, " +
				"by kind (would_deny, would_allow, status_changed, response_changed) and operation. Not enforced.",
		}, []string{"kind", "operation"})
	})
	return monitorCounts.vec
}
