package policy

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
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
	// Role: the Role a create or an update sends, exactly as sent (it may
	// be empty); nil when it sends none.
	Role *string
	// Status: the Status an update sends, lower-cased as RestComm reads
	// it; "" when it sends none.
	Status string
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
	// Throttle holds the failed-login counts of a request that presents
	// credentials; nil for one that presents none.
	Throttle *Throttle
}

// Throttle is what the gateway counted of failed logins within the
// policy's throttle window (data.restcomm.throttle.window_seconds).
type Throttle struct {
	// LoginIPFailures: failed logins with this request's login (compared
	// without regard to case) from its client IP.
	LoginIPFailures int
	// IPFailures: failed logins of any login from its client IP.
	IPFailures int
	// RetryAfter: seconds until the counts at their limits fall below them.
	RetryAfter int
}

// Decision is the policy's answer.
type Decision struct {
	Allow bool
	// Anonymous: allowed, but without the caller's identity (a path
	// RestComm serves without credentials, for a caller that would not pass
	// the checks an authenticated request gets). Only for pass-through.
	Anonymous bool
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
	// HideAuthToken: allowed, but the account read is answered without
	// its AuthToken, a credential, to a caller that only reads it.
	HideAuthToken bool
}

// Deny is the fail-closed decision used whenever the policy cannot answer.
var Deny = Decision{Status: http.StatusForbidden, Body: "page"}

// noMetrics spares each evaluation the allocation of OPA's metrics.
var noMetrics = metrics.NoOp()

// Decide evaluates the decision for in. An error means no valid decision:
// callers must deny (Deny). The Decision's Headers are shared: callers must
// not modify them.
func (p *Policy) Decide(ctx context.Context, in *Input) (Decision, error) {
	if p.cache == nil {
		return p.eval(ctx, in.value())
	}
	var buf [1024]byte // a key with a caller, a target and their ancestors fits
	key := in.appendKey(buf[:0])
	if d, ok := p.cache.get(key); ok {
		return d, nil
	}
	d, err := p.eval(ctx, in.value())
	if err == nil {
		p.cache.put(key, d)
	}
	return d, err
}

func (p *Policy) eval(ctx context.Context, input ast.Value) (Decision, error) {
	v, err := p.evalValue(ctx, input, noMetrics)
	if err != nil {
		return Deny, err
	}
	return parseDecision(v)
}

// evalValue evaluates the decision document for input, with OPA's
// metrics in m.
func (p *Policy) evalValue(ctx context.Context, input ast.Value, m metrics.Metrics) (ast.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("policy evaluation: %w", err)
	}
	// Cancellation without OPA's goroutine per evaluation: the callback
	// runs only if ctx ends while the policy is being evaluated.
	cancel := topdown.NewCancel()
	stop := context.AfterFunc(ctx, cancel.Cancel)
	rs, err := p.query.Eval(ctx,
		rego.EvalParsedInput(input),
		rego.EvalExternalCancel(cancel),
		rego.EvalMetrics(m))
	stop()
	if err != nil {
		return nil, fmt.Errorf("policy evaluation: %w", err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, fmt.Errorf("policy: %s gave %d results, want exactly one", DecisionQuery, len(rs))
	}
	v, ok := rs[0].Expressions[0].Value.(ast.Value)
	if !ok {
		return nil, fmt.Errorf("policy: unexpected result %T", rs[0].Expressions[0].Value)
	}
	return v, nil
}

// The decision's keys, built once.
var (
	keyAllow   = ast.StringTerm("allow")
	keyStatus  = ast.StringTerm("status")
	keyMessage = ast.StringTerm("message")
	keyBody    = ast.StringTerm("body")
	keyStage   = ast.StringTerm("stage")
	keyHeaders = ast.StringTerm("headers")
	keyAnon    = ast.StringTerm("anonymous")
	keyHide    = ast.StringTerm("hide_auth_token")
)

func parseDecision(v ast.Value) (Decision, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return Deny, fmt.Errorf("policy: decision is %s, want an object", ast.ValueName(v))
	}
	allow, ok := valueOf(obj, keyAllow).(ast.Boolean)
	if !ok {
		return Deny, fmt.Errorf("policy: decision.allow is %s, want a boolean", nameOf(valueOf(obj, keyAllow)))
	}
	if allow {
		anon, err := flag(obj, keyAnon)
		if err != nil {
			return Deny, err
		}
		hide, err := flag(obj, keyHide)
		if err != nil {
			return Deny, err
		}
		return Decision{Allow: true, Anonymous: anon, HideAuthToken: hide}, nil
	}
	d := Decision{Status: http.StatusForbidden, Body: "page"}
	if s := valueOf(obj, keyStatus); s != nil {
		n, err := intOf(s)
		if err != nil || n < 400 || n > 499 {
			return Deny, fmt.Errorf("policy: decision.status %v is not a 4xx status", s)
		}
		d.Status = n
	}
	if m, ok := valueOf(obj, keyMessage).(ast.String); ok {
		d.Message = string(m)
	}
	if b, ok := valueOf(obj, keyBody).(ast.String); ok && b != "" {
		switch b {
		case "page", "plain", "text", "typed":
			d.Body = string(b)
		default:
			return Deny, fmt.Errorf("policy: decision.body %v is not page, plain, text or typed", b)
		}
	}
	if s := valueOf(obj, keyStage); s != nil {
		n, err := intOf(s)
		if err != nil {
			return Deny, fmt.Errorf("policy: decision.stage: %w", err)
		}
		d.Stage = n
	}
	if h, ok := valueOf(obj, keyHeaders).(ast.Object); ok {
		d.Headers = make(map[string]string, h.Len())
		err := h.Iter(func(k, v *ast.Term) error {
			ks, ok := k.Value.(ast.String)
			if !ok {
				return fmt.Errorf("policy: decision.headers key %v is not a string", k)
			}
			vs, ok := v.Value.(ast.String)
			if !ok {
				return fmt.Errorf("policy: decision.headers[%v] is not a string", k)
			}
			d.Headers[string(ks)] = string(vs)
			return nil
		})
		if err != nil {
			return Deny, err
		}
	}
	return d, nil
}

// flag reads an optional boolean field of the decision: false when absent.
func flag(obj ast.Object, key *ast.Term) (bool, error) {
	switch v := valueOf(obj, key).(type) {
	case nil:
		return false, nil
	case ast.Boolean:
		return bool(v), nil
	default:
		return false, fmt.Errorf("policy: decision.%s is %s, want a boolean", key.Value.(ast.String), nameOf(v))
	}
}

func valueOf(obj ast.Object, key *ast.Term) ast.Value {
	if t := obj.Get(key); t != nil {
		return t.Value
	}
	return nil
}

func nameOf(v ast.Value) string {
	if v == nil {
		return "undefined"
	}
	return ast.ValueName(v)
}

func intOf(v ast.Value) (int, error) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	i, ok := n.Int()
	if !ok {
		return 0, fmt.Errorf("%v is not an integer", v)
	}
	return i, nil
}

// The input's keys, built once: each evaluation shares them.
var (
	keyOperation          = ast.StringTerm("operation")
	keyMethod             = ast.StringTerm("method")
	keyPath               = ast.StringTerm("path")
	keyClientIP           = ast.StringTerm("client_ip")
	keyCaller             = ast.StringTerm("caller")
	keyTarget             = ast.StringTerm("target")
	keyPathAccountSid     = ast.StringTerm("path_account_sid")
	keyPathAccount        = ast.StringTerm("path_account")
	keyOrganization       = ast.StringTerm("organization")
	keyRequest            = ast.StringTerm("request")
	keyRoleChange         = ast.StringTerm("role_change")
	keyOrganizationSid    = ast.StringTerm("organization_sid")
	keyOrganizationFilter = ast.StringTerm("organization_filter")
	keySid                = ast.StringTerm("sid")
	keyRole               = ast.StringTerm("role")
	keyStatusField        = ast.StringTerm("status")
	keyAncestors          = ast.StringTerm("ancestors")
	keyThrottle           = ast.StringTerm("throttle")
	keyLoginIPFailures    = ast.StringTerm("login_ip_failures")
	keyIPFailures         = ast.StringTerm("ip_failures")
	keyRetryAfter         = ast.StringTerm("retry_after")
	termTrue              = ast.BooleanTerm(true)
)

// value builds the input as an AST value directly, skipping a JSON round
// trip on every request. Absent facts are left out, never sent empty.
func (in *Input) value() ast.Value {
	items := make([][2]*ast.Term, 0, 10)
	items = append(items,
		[2]*ast.Term{keyOperation, ast.StringTerm(in.Operation)},
		[2]*ast.Term{keyMethod, ast.StringTerm(in.Method)},
		[2]*ast.Term{keyPath, ast.StringTerm(in.Path)},
	)
	if in.ClientIP != "" {
		items = append(items, [2]*ast.Term{keyClientIP, ast.StringTerm(in.ClientIP)})
	}
	if in.Caller != nil {
		items = append(items, [2]*ast.Term{keyCaller, ast.NewTerm(in.Caller.value())})
	}
	if in.Target != nil {
		items = append(items, [2]*ast.Term{keyTarget, ast.NewTerm(in.Target.value())})
	}
	if in.PathAccountSid != "" {
		items = append(items, [2]*ast.Term{keyPathAccountSid, ast.StringTerm(in.PathAccountSid)})
	}
	if in.PathAccount != nil {
		items = append(items, [2]*ast.Term{keyPathAccount, ast.NewTerm(in.PathAccount.value())})
	}
	if in.OrganizationExists {
		items = append(items, [2]*ast.Term{keyOrganization, termTrue})
	}
	req := make([][2]*ast.Term, 0, 4)
	if in.Request.RoleChange {
		req = append(req, [2]*ast.Term{keyRoleChange, termTrue})
	}
	if in.Request.Role != nil {
		req = append(req, [2]*ast.Term{keyRole, ast.StringTerm(*in.Request.Role)})
	}
	if in.Request.Status != "" {
		req = append(req, [2]*ast.Term{keyStatusField, ast.StringTerm(in.Request.Status)})
	}
	if in.Request.OrganizationSid != "" {
		req = append(req, [2]*ast.Term{keyOrganizationSid, ast.StringTerm(in.Request.OrganizationSid)})
	}
	if in.Request.OrganizationFilter {
		req = append(req, [2]*ast.Term{keyOrganizationFilter, termTrue})
	}
	items = append(items, [2]*ast.Term{keyRequest, ast.NewTerm(ast.NewObject(req...))})
	if t := in.Throttle; t != nil {
		items = append(items, [2]*ast.Term{keyThrottle, ast.ObjectTerm(
			[2]*ast.Term{keyLoginIPFailures, ast.IntNumberTerm(t.LoginIPFailures)},
			[2]*ast.Term{keyIPFailures, ast.IntNumberTerm(t.IPFailures)},
			[2]*ast.Term{keyRetryAfter, ast.IntNumberTerm(t.RetryAfter)},
		)})
	}
	return ast.NewObject(items...)
}

func (s *Subject) value() ast.Value {
	anc := make([]*ast.Term, len(s.Ancestors))
	for i, a := range s.Ancestors {
		anc[i] = ast.StringTerm(a)
	}
	return ast.NewObject(
		[2]*ast.Term{keySid, ast.StringTerm(s.Sid)},
		[2]*ast.Term{keyRole, ast.StringTerm(s.Role)},
		[2]*ast.Term{keyStatusField, ast.StringTerm(s.Status)},
		[2]*ast.Term{keyOrganizationSid, ast.StringTerm(s.OrganizationSid)},
		[2]*ast.Term{keyAncestors, ast.NewTerm(ast.NewArray(anc...))},
	)
}

// appendKey appends an encoding of every fact of the input that value
// puts in the input document, distinct for distinct inputs: each value is
// tagged and length-prefixed. Every field of Input must be here
// (TestCacheKeyCoversEveryFact).
func (in *Input) appendKey(b []byte) []byte {
	b = appendString(b, 'o', in.Operation)
	b = appendString(b, 'm', in.Method)
	b = appendString(b, 'p', in.Path)
	b = appendString(b, 'i', in.ClientIP)
	b = in.Caller.appendKey(b, 'c')
	b = in.Target.appendKey(b, 't')
	b = appendString(b, 'a', in.PathAccountSid)
	b = in.PathAccount.appendKey(b, 'q')
	b = appendBool(b, 'e', in.OrganizationExists)
	b = appendBool(b, 'r', in.Request.RoleChange)
	if r := in.Request.Role; r != nil {
		b = appendString(b, 'R', *r)
	}
	b = appendString(b, 'S', in.Request.Status)
	b = appendString(b, 's', in.Request.OrganizationSid)
	b = appendBool(b, 'f', in.Request.OrganizationFilter)
	if t := in.Throttle; t != nil {
		b = append(b, 'T')
		b = binary.AppendVarint(append(b, 'l'), int64(t.LoginIPFailures))
		b = binary.AppendVarint(append(b, 'i'), int64(t.IPFailures))
		b = binary.AppendVarint(append(b, 'r'), int64(t.RetryAfter))
	}
	return b
}

func (s *Subject) appendKey(b []byte, tag byte) []byte {
	if s == nil {
		return b
	}
	b = append(b, tag)
	b = appendString(b, 's', s.Sid)
	b = appendString(b, 'r', s.Role)
	b = appendString(b, 't', s.Status)
	b = appendString(b, 'o', s.OrganizationSid)
	b = binary.AppendUvarint(append(b, 'a'), uint64(len(s.Ancestors)))
	for _, a := range s.Ancestors {
		b = appendString(b, 'x', a)
	}
	return b
}

func appendString(b []byte, tag byte, s string) []byte {
	b = binary.AppendUvarint(append(b, tag), uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, tag byte, v bool) []byte {
	if v {
		return append(b, tag)
	}
	return b
}
