package accountsapi

import (
	"net/http"

	"github.com/restcomm/restcomm-gateway/caddymodule/restpath"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
)

// classify reads what r asks for: the path as RestComm reads it (restpath)
// and the operation of its route and method. The error is
// restpath.ErrNotAPI for a path outside the API (none of the gateway's
// business), and another for a path RestComm could read differently from
// the gateway.
func (s *Service) classify(w http.ResponseWriter, r *http.Request) (*exchange, error) {
	p, err := restpath.ParseRequest(r.URL.EscapedPath(), r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	return &exchange{w: w, r: r, path: p, op: operationOf(p, r.Method), newID: s.requestID, redisLeft: s.cfg.RedisTimeout}, nil
}

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
	target store.LookupMode                                // "" when the operation has no target account
	facts  func(s *Service, x *exchange, in *policy.Input) // decide.go
	serve  func(s *Service, x *exchange) error             // accounts.go, organizations.go
}

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
			return operation{name: opListAccounts, facts: listFacts, serve: (*Service).listAccounts}
		case http.MethodPost:
			return operation{name: opCreateAccount, facts: createFacts, serve: (*Service).createAccount}
		}
	case restpath.Account:
		switch method {
		case http.MethodGet:
			return operation{name: opReadAccount, target: store.ByID, facts: noFacts, serve: (*Service).readAccount}
		case http.MethodPost, http.MethodPut:
			return operation{name: opUpdateAccount, target: store.ByID, facts: updateFacts, serve: (*Service).updateAccount}
		}
	case restpath.Migrate:
		if method == http.MethodPost {
			return operation{name: opMigrateAccount, target: store.ByID, facts: noFacts, serve: (*Service).migrateAccount}
		}
	case restpath.OrganizationList:
		if method == http.MethodGet {
			return operation{name: opListOrganizations, facts: noFacts, serve: (*Service).listOrganizations}
		}
	case restpath.Organization:
		switch method {
		case http.MethodGet:
			return operation{name: opReadOrganization, facts: organizationFacts, serve: (*Service).readOrganization}
		case http.MethodPut:
			return operation{name: opCreateOrganization, facts: noFacts, serve: (*Service).createOrganization}
		}
	case restpath.OrganizationOther:
		if isOrganizationMigrate(p) && method == http.MethodPut {
			return operation{name: opMigrateOrganization, facts: organizationFacts, serve: (*Service).migrateOrganization}
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

// allowHeader is what Jersey lists in Allow for each of the templates the
// gateway serves (Java 8 HashMap order, spec §7).
func allowHeader(route restpath.Route) string {
	switch route {
	case restpath.AccountList:
		return "HEAD,POST,GET,OPTIONS"
	case restpath.Account:
		return "HEAD,POST,GET,OPTIONS,PUT"
	case restpath.Migrate:
		return "POST,OPTIONS"
	case restpath.OrganizationList:
		return "HEAD,GET,OPTIONS"
	case restpath.Organization:
		return "HEAD,GET,OPTIONS,PUT"
	}
	return ""
}

// organizationID is the {sid} of /Organizations/{sid}[/Migrate].
func organizationID(p *restpath.Path) string {
	if len(p.Segments) > 1 {
		return p.Segments[1]
	}
	return ""
}
