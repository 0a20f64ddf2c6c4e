package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Subject is what the policy knows of an account: the caller or the target.
type Subject struct {
	Sid             string
	Role            string
	Status          string
	OrganizationSid string
	// Ancestors are the SIDs above the account, nearest first; empty for a
	// top-level account.
	Ancestors []string
}

// Request carries the facts of the request body or query that a rule needs.
// Empty values are left out of the input document.
type Request struct {
	// RoleChange: an update sends a Role.
	RoleChange bool
	// OrganizationSid: create's OrganizationSid, or the organization asked
	// for by GET /Organizations/{sid}.
	OrganizationSid string
	// OrganizationFilter: a list filtered by OrganizationSid or DomainName.
	OrganizationFilter bool
}

// Input is the policy's input document (see policy/README.md).
type Input struct {
	Operation string
	Method    string
	// Path is the decoded request path below /restcomm/2012-04-24/, before
	// any .json is removed, as RestComm's SecurityFilter sees it.
	Path     string
	ClientIP string
	// Caller is the authenticated account; nil when the request carries no
	// valid credentials.
	Caller *Subject
	// Target is the account operated on, when the operation has one and it
	// exists.
	Target *Subject
	// PathAccountSid is the account SID a proxied path names, if any.
	PathAccountSid string
	// PathAccount is the account RestComm reads PathAccountSid as (friendly
	// name, e-mail, then SID), with its ancestors; nil when there is none,
	// when several accounts share that friendly name, or when the request
	// carries no credentials.
	PathAccount *Subject
	// OrganizationExists is set for organizations:read when the organization
	// asked for exists.
	OrganizationExists bool
	Request            Request
}

// Decision is the policy's answer.
type Decision struct {
	Allow bool
	// Status, Message, Body and Headers say how to deny: Body "page" (a
	// small HTML error page, the default), "plain" (Message as text/plain or
	// the Accept type), "text" (Message as the entity in the negotiated
	// type) or "typed" (RestComm's {"message":…} / <Message> document).
	Status  int
	Message string
	Body    string
	Headers map[string]string
	// Stage places a denial among the gateway's own input checks: RestComm
	// reports it after any input error of a lower stage (policy/README.md).
	Stage int
}

// Deny is the fail-closed decision used whenever the policy cannot answer.
var Deny = Decision{Status: http.StatusForbidden, Body: "page"}

// Decide evaluates the decision for in. An error means no valid decision:
// callers must deny (Deny).
func (p *Policy) Decide(ctx context.Context, in *Input) (Decision, error) {
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(in.value()))
	if err != nil {
		return Deny, fmt.Errorf("policy evaluation: %w", err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Deny, fmt.Errorf("policy: %s gave %d results, want exactly one", DecisionQuery, len(rs))
	}
	return parseDecision(rs[0].Expressions[0].Value)
}

func parseDecision(v any) (Decision, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Deny, fmt.Errorf("policy: decision is %T, want an object", v)
	}
	allow, ok := obj["allow"].(bool)
	if !ok {
		return Deny, fmt.Errorf("policy: decision.allow is %T, want a boolean", obj["allow"])
	}
	if allow {
		return Decision{Allow: true}, nil
	}
	d := Decision{Status: http.StatusForbidden, Body: "page"}
	if s, ok := obj["status"]; ok {
		n, err := intOf(s)
		if err != nil || n < 400 || n > 499 {
			return Deny, fmt.Errorf("policy: decision.status %v is not a 4xx status", s)
		}
		d.Status = n
	}
	if m, ok := obj["message"].(string); ok {
		d.Message = m
	}
	if b, ok := obj["body"].(string); ok && b != "" {
		switch b {
		case "page", "plain", "text", "typed":
			d.Body = b
		default:
			return Deny, fmt.Errorf("policy: decision.body %q is not page, plain, text or typed", b)
		}
	}
	if s, ok := obj["stage"]; ok {
		n, err := intOf(s)
		if err != nil {
			return Deny, fmt.Errorf("policy: decision.stage: %w", err)
		}
		d.Stage = n
	}
	if h, ok := obj["headers"].(map[string]any); ok {
		d.Headers = make(map[string]string, len(h))
		for k, v := range h {
			s, ok := v.(string)
			if !ok {
				return Deny, fmt.Errorf("policy: decision.headers[%q] is not a string", k)
			}
			d.Headers[k] = s
		}
	}
	return d, nil
}

func intOf(v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	i, err := n.Int64()
	return int(i), err
}

// value builds the input as an AST value directly, skipping a JSON round
// trip on every request.
func (in *Input) value() ast.Value {
	obj := ast.NewObject(
		item("operation", ast.String(in.Operation)),
		item("method", ast.String(in.Method)),
		item("path", ast.String(in.Path)),
	)
	if in.ClientIP != "" {
		obj.Insert(ast.StringTerm("client_ip"), ast.StringTerm(in.ClientIP))
	}
	if in.Caller != nil {
		obj.Insert(ast.StringTerm("caller"), ast.NewTerm(in.Caller.value()))
	}
	if in.Target != nil {
		obj.Insert(ast.StringTerm("target"), ast.NewTerm(in.Target.value()))
	}
	if in.PathAccountSid != "" {
		obj.Insert(ast.StringTerm("path_account_sid"), ast.StringTerm(in.PathAccountSid))
	}
	if in.PathAccount != nil {
		obj.Insert(ast.StringTerm("path_account"), ast.NewTerm(in.PathAccount.value()))
	}
	if in.OrganizationExists {
		obj.Insert(ast.StringTerm("organization"), ast.BooleanTerm(true))
	}
	req := ast.NewObject()
	if in.Request.RoleChange {
		req.Insert(ast.StringTerm("role_change"), ast.BooleanTerm(true))
	}
	if in.Request.OrganizationSid != "" {
		req.Insert(ast.StringTerm("organization_sid"), ast.StringTerm(in.Request.OrganizationSid))
	}
	if in.Request.OrganizationFilter {
		req.Insert(ast.StringTerm("organization_filter"), ast.BooleanTerm(true))
	}
	obj.Insert(ast.StringTerm("request"), ast.NewTerm(req))
	return obj
}

func (s *Subject) value() ast.Value {
	anc := make([]*ast.Term, len(s.Ancestors))
	for i, a := range s.Ancestors {
		anc[i] = ast.StringTerm(a)
	}
	return ast.NewObject(
		item("sid", ast.String(s.Sid)),
		item("role", ast.String(s.Role)),
		item("status", ast.String(s.Status)),
		item("organization_sid", ast.String(s.OrganizationSid)),
		item("ancestors", ast.NewArray(anc...)),
	)
}

func item(k string, v ast.Value) [2]*ast.Term {
	return [2]*ast.Term{ast.StringTerm(k), ast.NewTerm(v)}
}
