package caddymodule

import (
	"net/http"

	"github.com/restcomm/restcomm-gateway/caddymodule/restpath"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
)

// Operation names, as the policy sees them (input.operation).
const (
	opProxy              = "proxy"
	opNone               = "none" // a route without this method: 405, or no route: 404
	opReadAccount        = "accounts:read"
	opListAccounts       = "accounts:list"
	opCreateAccount      = "accounts:create"
	opUpdateAccount      = "accounts:update"
	opMigrateAccount     = "accounts:migrate"
	opReadOrganization   = "organizations:read"
	opListOrganizations  = "organizations:list"
	opCreateOrganization = "organizations:create"
)

// operation is what a request asks for: its name for the policy, how to
// find the account it operates on, which request facts the policy needs,
// and how to serve it once allowed.
type operation struct {
	name   string
	target store.LookupMode // "" when the operation has no target account
	facts  func(x *exchange, in *policy.Input)
	serve  func(g *Gateway, x *exchange) error
}

func noFacts(*exchange, *policy.Input) {}

// operationOf maps a route and method to the operation (Jersey's routing;
// HEAD is GET without a body, which net/http takes care of).
func operationOf(p *restpath.Path, method string) operation {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	switch p.Route {
	case restpath.Proxied:
		return operation{name: opProxy, facts: noFacts}
	case restpath.Account:
		switch method {
		case http.MethodGet:
			return operation{name: opReadAccount, target: store.ByGetIdentifier, facts: noFacts, serve: (*Gateway).readAccount}
		}
	}
	return operation{name: opNone, facts: noFacts}
}
