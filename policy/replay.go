package policy

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// DecisionOf is the decision the gateway acts on for a decision document
// as JSON decodes it (a decision log's result, or Evaluate's): an error
// when the document is not a valid decision, which the gateway answers
// with Deny.
func DecisionOf(doc any) (Decision, error) {
	v, err := ast.InterfaceToValue(doc)
	if err != nil {
		return Deny, fmt.Errorf("policy: decision: %w", err)
	}
	return parseDecision(v)
}

// Deterministic says whether the policy decides the same input the same
// way every time (it calls no function of the clock or chance), so that
// a decision of an input may stand for every other of the same input.
func (p *Policy) Deterministic() bool { return p.cache != nil }
