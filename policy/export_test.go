package policy

import (
	"context"

	"github.com/open-policy-agent/opa/v1/ast"
)

// DecideUncached evaluates the policy even when it remembers the decision,
// to measure and compare evaluation itself.
func DecideUncached(ctx context.Context, p *Policy, in *Input) (Decision, error) {
	return p.eval(ctx, in.value())
}

// Cached says whether the policy remembers its decisions.
func Cached(p *Policy) bool { return p.cache != nil }

// CacheKey is the key a decision about in is remembered by.
func CacheKey(in *Input) string { return string(in.appendKey(nil)) }

// InputDocument is the input document the policy is given for in.
func InputDocument(in *Input) ast.Value { return in.value() }

// Capabilities are the gateway's: OPA's, less the unsafe built-ins.
func Capabilities() *ast.Capabilities { return capabilities() }
