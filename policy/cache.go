package policy

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
)

// A policy that calls only deterministic functions decides the same input
// the same way every time: its data never changes (a new revision is a new
// Policy). Such a policy remembers its recent decisions, keyed by every
// fact of the input, so that a repeated request is not evaluated again. A
// policy that reads the clock or chance is evaluated every time.

// cacheGeneration bounds the cache: at most two generations of this many
// inputs are kept; when the newer one fills up, the older one is dropped.
const cacheGeneration = 2048

// timeDependent are deterministic-looking builtins whose result depends on
// the moment of evaluation (they verify expiry or validity periods).
var timeDependent = map[string]bool{
	"io.jwt.decode_verify":                                   true,
	"crypto.x509.parse_and_verify_certificates":              true,
	"crypto.x509.parse_and_verify_certificates_with_options": true,
}

// cacheable says whether every builtin the policy's rules call is a pure
// function of its arguments.
func cacheable(files *loader.Result) bool {
	pure := true
	check := func(ref ast.Ref) {
		name := ref.String()
		if b, ok := ast.BuiltinMap[name]; ok && (b.Nondeterministic || timeDependent[name]) {
			pure = false
		}
	}
	for name, f := range files.Modules {
		if isTest(name) {
			continue
		}
		ast.WalkExprs(f.Parsed, func(e *ast.Expr) bool {
			if e.IsCall() {
				check(e.Operator())
			}
			return !pure
		})
		ast.WalkTerms(f.Parsed, func(t *ast.Term) bool {
			if c, ok := t.Value.(ast.Call); ok && len(c) > 0 {
				if ref, ok := c[0].Value.(ast.Ref); ok {
					check(ref)
				}
			}
			return !pure
		})
	}
	return pure
}

// decisionCache maps inputs (Input.appendKey) to decisions.
type decisionCache struct {
	mu       sync.RWMutex
	cur, old map[string]Decision
}

func newDecisionCache() *decisionCache {
	return &decisionCache{cur: map[string]Decision{}, old: map[string]Decision{}}
}

func (c *decisionCache) get(key []byte) (Decision, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if d, ok := c.cur[string(key)]; ok {
		return d, true
	}
	d, ok := c.old[string(key)]
	return d, ok
}

func (c *decisionCache) put(key []byte, d Decision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cur) >= cacheGeneration {
		c.old, c.cur = c.cur, make(map[string]Decision, cacheGeneration)
	}
	c.cur[string(key)] = d
}
