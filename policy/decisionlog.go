package policy

import (
	"context"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"

	"github.com/restcomm/restcomm-gateway/internal/version"
)

// DecisionPath is the decision's path as OPA's decision logs name the
// rule a query evaluated: DecisionQuery without "data.", slash-separated.
const DecisionPath = "restcomm/authz/decision"

// Evaluation is what a decision log records of one evaluation of the
// decision: the documents in and out, as JSON decodes them, and OPA's
// metrics of it.
type Evaluation struct {
	// Input is the input document the policy evaluated.
	Input any
	// Result is the decision document the policy returned; nil when the
	// evaluation failed.
	Result any
	// Metrics are OPA's metrics of the evaluation, as OPA logs them
	// (timer_rego_query_eval_ns, …).
	Metrics map[string]any
}

// DecideLogged is Decide, recording the evaluation for a decision log. It
// evaluates the policy every time, whatever the decision cache holds, so
// that the result logged is the policy's and its time is measured: only
// a gateway that logs its decisions pays for that.
func (p *Policy) DecideLogged(ctx context.Context, in *Input) (Decision, Evaluation, error) {
	input := in.value()
	var ev Evaluation
	doc, err := ast.JSON(input)
	if err != nil {
		return Deny, ev, fmt.Errorf("policy: the input as JSON: %w", err)
	}
	ev.Input = doc
	m := metrics.New()
	v, err := p.evalValue(ctx, input, m)
	ev.Metrics = m.All()
	if err != nil {
		return Deny, ev, err
	}
	if ev.Result, err = ast.JSON(v); err != nil {
		return Deny, ev, fmt.Errorf("policy: the decision as JSON: %w", err)
	}
	d, err := parseDecision(v)
	return d, ev, err
}

// Evaluate evaluates the decision document for an input document given
// as JSON decodes it (a logged input), as `opa eval` would on this
// policy: the decision document, as JSON decodes it.
func (p *Policy) Evaluate(ctx context.Context, input any) (any, error) {
	in, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, fmt.Errorf("policy: input: %w", err)
	}
	v, err := p.evalValue(ctx, in, noMetrics)
	if err != nil {
		return nil, err
	}
	return ast.JSON(v)
}

// BundleRevisions name what the policy in force is made of, as a
// decision log's "bundles" (name: revision):
//
//   - the built-in policy alone: "builtin", with the revision that
//     `policy show-builtin --bundle` writes in its manifest (the gateway's
//     version, "+", the hash of the built-in policy's files);
//   - an overlay: "builtin" as above and "overlay", with the policy's
//     revision as the gateway reports it everywhere (policy loaded,
//     reloaded, refused; `policy test`): a hash over the overlay's files
//     and the built-in policy's;
//   - a replacement policy: "policy", with the policy's revision (the hash
//     of its files).
//
// A policy bundle's revision begins with its manifest's (Engine.Swap).
func (p *Policy) BundleRevisions() map[string]string {
	b, err := loadBuiltin()
	if err != nil { // the built-in policy always loads: it is part of the binary
		return map[string]string{"policy": p.revision}
	}
	builtin := version.Get().Version + "+" + b.digest[:12]
	for name := range p.modules {
		if strings.HasPrefix(name, builtinModulePrefix) {
			return map[string]string{"builtin": builtin, "overlay": p.revision}
		}
	}
	if p.revision == b.digest[:12] {
		return map[string]string{"builtin": builtin}
	}
	return map[string]string{"policy": p.revision}
}
