package caddymodule

import (
	"errors"
	"net/http"

	"github.com/restcomm/restcomm-gateway/caddymodule/javacompat"
	"github.com/restcomm/restcomm-gateway/caddymodule/restpath"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
)

// Operation names, as the policy sees them (input.operation).
const (
	opProxy                 = "proxy"
	opNone                  = "none" // a route without this method: 405, or no route: 404
	opReadAccount           = "accounts:read"
	opListAccounts          = "accounts:list"
	opCreateAccount         = "accounts:create"
	opUpdateAccount         = "accounts:update"
	opMigrateAccount        = "accounts:migrate"
	opReadOrganization      = "organizations:read"
	opListOrganizations     = "organizations:list"
	opCreateOrganization    = "organizations:create"
	opMigrateOrganization   = "organizations:migrate"
	organizationMigrateTail = "Migrate" // PUT /Organizations/{sid}/Migrate
)

// operation is what a request asks for: its name for the policy, how to
// find the account it operates on, which request facts the policy needs,
// and how to serve it once the policy has decided.
type operation struct {
	name   string
	target store.LookupMode // "" when the operation has no target account
	facts  func(g *Gateway, x *exchange, in *policy.Input)
	serve  func(g *Gateway, x *exchange) error
}

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

func noFacts(*Gateway, *exchange, *policy.Input) {}

// operationOf maps a route and method to the operation (Jersey's routing;
// HEAD is GET without a body, which net/http takes care of).
func operationOf(p *restpath.Path, method string) operation {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	none := operation{name: opNone, facts: noFacts}
	switch p.Route {
	case restpath.Proxied:
		return operation{name: opProxy, facts: noFacts}
	case restpath.AccountList:
		switch method {
		case http.MethodGet:
			return operation{name: opListAccounts, facts: listFacts, serve: (*Gateway).listAccounts}
		case http.MethodPost:
			return operation{name: opCreateAccount, facts: createFacts, serve: (*Gateway).createAccount}
		}
	case restpath.Account:
		switch method {
		case http.MethodGet:
			return operation{name: opReadAccount, target: store.ByID, facts: noFacts, serve: (*Gateway).readAccount}
		case http.MethodPost, http.MethodPut:
			return operation{name: opUpdateAccount, target: store.ByID, facts: updateFacts, serve: (*Gateway).updateAccount}
		}
	case restpath.Migrate:
		if method == http.MethodPost {
			return operation{name: opMigrateAccount, target: store.ByID, facts: noFacts, serve: (*Gateway).migrateAccount}
		}
	case restpath.OrganizationList:
		if method == http.MethodGet {
			return operation{name: opListOrganizations, facts: noFacts, serve: (*Gateway).listOrganizations}
		}
	case restpath.Organization:
		switch method {
		case http.MethodGet:
			return operation{name: opReadOrganization, facts: organizationFacts, serve: (*Gateway).readOrganization}
		case http.MethodPut:
			return operation{name: opCreateOrganization, facts: noFacts, serve: (*Gateway).createOrganization}
		}
	case restpath.OrganizationOther:
		if isOrganizationMigrate(p) && method == http.MethodPut {
			return operation{name: opMigrateOrganization, facts: organizationFacts, serve: (*Gateway).migrateOrganization}
		}
	}
	return none
}

// isOrganizationMigrate reports whether p is /Organizations/{sid}/Migrate,
// OrganizationsEndpoint's client-password migration.
func isOrganizationMigrate(p *restpath.Path) bool {
	return p.Route == restpath.OrganizationOther && len(p.Segments) == 3 && p.Segments[2] == organizationMigrateTail
}

// allowFor is the Allow header of p's resource template (empty: no
// template, 404): allowHeader, plus the Organizations migrate template.
func allowFor(p *restpath.Path) string {
	if isOrganizationMigrate(p) {
		return "OPTIONS,PUT" // Java 8 HashMap order of {PUT, OPTIONS}
	}
	return allowHeader(p.Route)
}

// organizationID is the {sid} of /Organizations/{sid}[/Migrate].
func organizationID(p *restpath.Path) string {
	if len(p.Segments) > 1 {
		return p.Segments[1]
	}
	return ""
}

// listFacts: a list filtered by OrganizationSid or DomainName (blank
// values count as absent) is for Super Admins.
func listFacts(_ *Gateway, x *exchange, in *policy.Input) {
	q, ok := x.query()
	if !ok {
		return
	}
	in.Request.OrganizationFilter = javacompat.Trim(q["OrganizationSid"]) != "" || javacompat.Trim(q["DomainName"]) != ""
}

// createFacts: the OrganizationSid of a create (another organization is for
// Super Admins). The body is read only for an authenticated caller.
func createFacts(_ *Gateway, x *exchange, in *policy.Input) {
	if x.caller == nil {
		return
	}
	if form, st := x.formBody(); st == bodyOK {
		in.Request.OrganizationSid = form["OrganizationSid"]
	}
}

// updateFacts: whether an update sends a Role (Administrators only).
func updateFacts(_ *Gateway, x *exchange, in *policy.Input) {
	if x.caller == nil {
		return
	}
	if form, st := x.formBody(); st == bodyOK {
		_, in.Request.RoleChange = form.Get("Role")
	}
}

// organizationFacts: the organization asked for, and whether it exists.
func organizationFacts(g *Gateway, x *exchange, in *policy.Input) {
	id := organizationID(x.path)
	in.Request.OrganizationSid = id
	if x.caller == nil || !sidShaped(id) {
		return
	}
	ctx, done := x.redis()
	defer done()
	o, err := g.store.Organization(ctx, id)
	switch {
	case err == nil:
		x.req.org = o
		in.OrganizationExists = true
	case !errors.Is(err, store.ErrNotFound):
		x.req.err = err
	}
}

// sidShaped is RestComm's Sid.pattern: exactly 34 ASCII letters and digits.
func sidShaped(s string) bool {
	return len(s) == 34 && alnum(s)
}

// validSid is what RestComm's Sid constructor accepts: Sid.pattern, or a
// call SID "ID" + 32 + "-CA" + 32 (callSidPattern).
func validSid(s string) bool {
	if sidShaped(s) {
		return true
	}
	return len(s) == 69 && s[:2] == "ID" && s[34:37] == "-CA" && alnum(s[2:34]) && alnum(s[37:])
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// verdict finds the first problem RestComm would report: it starts with
// the policy's denial and each of Go's checks, made in RestComm's order,
// replaces it when it comes earlier. open says whether a check at a stage
// can still matter, so that checks (and store reads) after a known
// problem are skipped.
type verdict struct{ p *problem }

func (x *exchange) verdict() *verdict {
	return &verdict{p: earliest(x.denial(), x.unacceptable)}
}

func (v *verdict) open(stage int) bool { return v.p == nil || stage < v.p.stage }

func (v *verdict) fail(p *problem) { v.p = earliest(v.p, p) }

// refused writes the problem found, if any, and reports whether it did.
func (v *verdict) refused(x *exchange) bool {
	if v.p == nil {
		return false
	}
	v.p.write(x.w, x.r, x.contentType)
	return true
}

// textProblem is a plain-text entity in the negotiated type (Jersey fills
// in the type the method produces).
func textProblem(status int, msg string, stage int) *problem {
	return &problem{status: status, message: msg, body: "text", stage: stage}
}

// typedProblem is RestComm's {"message":…} / <Message> document.
func typedProblem(status int, msg string, stage int) *problem {
	return &problem{status: status, message: msg, body: "typed", stage: stage}
}

// pageProblem has no entity: the error page, with a reason.
func pageProblem(status int, reason string, stage int) *problem {
	return &problem{status: status, message: reason, body: "page", stage: stage}
}
