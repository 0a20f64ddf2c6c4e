package accountsapi

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/internal/decisionlog"
	"github.com/restcomm/restcomm-gateway/internal/javacompat"
	"github.com/restcomm/restcomm-gateway/internal/password"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
)

// decide asks the policy in force about x, on the facts authenticate found
// and those x's operation gathers. An error denies (fail closed) and is
// logged. The decision is counted (Config.Metrics) and, with a decision
// logger, logged.
func (s *Service) decide(ctx context.Context, x *exchange) policy.Decision {
	in := policy.Input{
		Operation:      x.op.name,
		Method:         x.r.Method,
		Path:           x.path.Rel,
		ClientIP:       s.clientIP(x.r),
		PathAccountSid: x.path.AccountSid,
	}
	if x.caller != nil {
		in.Caller = subject(x.caller)
	}
	if x.target != nil && x.target.Account != nil {
		in.Target = subject(x.target)
	}
	if x.pathAccount != nil && x.pathAccount.Account != nil {
		in.PathAccount = subject(x.pathAccount)
	}
	if f := x.failures; f != nil {
		in.Throttle = &policy.Throttle{
			LoginIPFailures: f.LoginIP,
			IPFailures:      f.IP,
			RetryAfter:      int((f.RetryAfter + time.Second - 1) / time.Second),
		}
	}
	x.op.facts(s, x, &in)
	p := s.cfg.Policy()
	var d policy.Decision
	if s.cfg.DecisionLogger != nil {
		d = s.decideLogged(ctx, x, &in, p)
	} else {
		start := time.Now()
		var err error
		d, err = p.Decide(ctx, &in)
		d = s.decided(&in, p, d, err, time.Since(start))
	}
	if s.cfg.Monitor != nil {
		s.cfg.Monitor(ctx, x.requestID, &in, d)
	}
	return d
}

// decided denies on a policy error, logging it, and counts the decision.
func (s *Service) decided(in *policy.Input, p *policy.Policy, d policy.Decision, err error, took time.Duration) policy.Decision {
	if err != nil {
		d = policy.Deny
		s.logger.Error("policy failed; denying",
			zap.String("operation", in.Operation), zap.String("revision", p.Revision()), zap.Error(err))
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Decision(d, err, took)
	}
	return d
}

func subject(r *store.Resolved) *policy.Subject {
	a := r.Account
	return &policy.Subject{
		Sid:             a.Sid,
		Role:            a.Role,
		Status:          a.Status,
		OrganizationSid: a.OrganizationSid,
		Ancestors:       r.Ancestors,
	}
}

// deny turns the policy's denial into a problem.
func (x *exchange) deny() *problem {
	d := x.decision
	return &problem{status: d.Status, message: d.Message, body: d.Body, stage: d.Stage, headers: d.Headers}
}

// denial is the policy's denial, or nil when it allowed.
func (x *exchange) denial() *problem {
	if x.decision.Allow {
		return nil
	}
	return x.deny()
}

// decideLogged is decide with a decision logger: the policy is evaluated
// (never answered from its decision cache) and the decision logged as an
// entry of OPA's decision log (internal/decisionlog), masked: the input
// the policy evaluated, the decision it returned, its revision and the
// evaluation's time.
func (s *Service) decideLogged(ctx context.Context, x *exchange, in *policy.Input, p *policy.Policy) policy.Decision {
	start := time.Now()
	d, ev, err := p.DecideLogged(ctx, in)
	d = s.decided(in, p, d, err, time.Since(start))
	e := &decisionlog.Event{
		Labels:     decisionlog.Labels(s.cfg.Version),
		DecisionID: x.requestID(),
		Path:       policy.DecisionPath,
		Bundles:    map[string]decisionlog.BundleInfoV1{},
		Timestamp:  start.UTC(),
		Metrics:    ev.Metrics,
	}
	for name, rev := range p.BundleRevisions() {
		e.Bundles[name] = decisionlog.BundleInfoV1{Revision: rev}
	}
	if ev.Input != nil {
		e.Input = &ev.Input
	}
	if ev.Result != nil {
		e.Result = &ev.Result
	}
	if err != nil {
		e.Error = &decisionlog.Error{Code: "internal_error", Message: err.Error()}
	}
	decisionlog.Write(s.cfg.DecisionLogger, e, nil)
	return d
}

// The facts an operation gathers for the policy, besides the caller and
// the target (classify.go names each operation's).

// requestFacts is what an operation's facts read from the request body,
// the query and the store before the decision, kept for serving it.
type requestFacts struct {
	body bodyState
	form javacompat.Params
	// org is the organization an /Organizations/{sid}[/Migrate] request
	// names, when it exists.
	org *store.Organization
	// err is a store failure while gathering facts: the request gets 503.
	err error
}

func noFacts(*Service, *exchange, *policy.Input) {}

// listFacts: a list filtered by OrganizationSid or DomainName (blank
// values count as absent) is for Super Admins.
func listFacts(_ *Service, x *exchange, in *policy.Input) {
	q, ok := x.query()
	if !ok {
		return
	}
	in.Request.OrganizationFilter = javacompat.Trim(q["OrganizationSid"]) != "" || javacompat.Trim(q["DomainName"]) != ""
}

// createFacts: the OrganizationSid of a create (another organization is for
// Super Admins) and its Role, as sent (a role the caller may give). The body
// is read only for an authenticated caller.
func createFacts(_ *Service, x *exchange, in *policy.Input) {
	if x.caller == nil {
		return
	}
	if form, st := x.formBody(); st == bodyOK {
		in.Request.OrganizationSid = form["OrganizationSid"]
		if role, ok := form.Get("Role"); ok {
			in.Request.Role = &role
		}
	}
}

// updateFacts: whether an update sends a Role (Administrators only), and
// which, as sent: what is stored (a role the caller may give, not its own);
// and the Status it sends (an account may not make itself uninitialized).
func updateFacts(_ *Service, x *exchange, in *policy.Input) {
	if x.caller == nil {
		return
	}
	if form, st := x.formBody(); st == bodyOK {
		if role, ok := form.Get("Role"); ok {
			in.Request.RoleChange, in.Request.Role = true, &role
		}
		if status, ok := form.Get("Status"); ok {
			in.Request.Status = password.ToLower(status)
		}
	}
}

// organizationFacts: the organization asked for, and whether it exists.
func organizationFacts(s *Service, x *exchange, in *policy.Input) {
	id := organizationID(x.path)
	in.Request.OrganizationSid = id
	if x.caller == nil || !sidShaped(id) {
		return
	}
	ctx, done := x.redis()
	defer done()
	o, err := s.store.Organization(ctx, id)
	switch {
	case err == nil:
		x.req.org = o
		in.OrganizationExists = true
	case !errors.Is(err, store.ErrNotFound):
		x.req.err = err
	}
}
