package accountsapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/restcomm/restcomm-gateway/internal/restpath"
	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
)

// classify reads what r asks for: the path as RestComm reads it (restpath)
// and the operation of its route and method. The error is
// restpath.ErrNotAPI for a path outside the API (none of the gateway's
// business), errProtocolSwitch for an API request that asks to switch
// protocols, and another for a path RestComm could read differently from
// the gateway; refusalReason says what to answer to those two.
func (s *Service) classify(w http.ResponseWriter, r *http.Request) (*exchange, error) {
	p, err := restpath.ParseRequest(r.URL.EscapedPath(), r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	if switchesProtocol(r) {
		return nil, errProtocolSwitch
	}
	return &exchange{w: w, r: r, path: p, op: operationOf(p, r.Method), newID: s.requestID, redisLeft: s.cfg.RedisTimeout}, nil
}

// errProtocolSwitch refuses an API request that asks to leave HTTP for
// another protocol on its connection. RestComm's REST API never switches,
// and once reverse_proxy has relayed a 101 from the upstream the gateway
// no longer sees what goes through the connection: an h2c upgrade, say,
// would let every later request on it reach RestComm unauthenticated and
// unread. It is refused before authentication, so that an anonymous path
// (…/Logout) cannot carry one either.
var errProtocolSwitch = errors.New("protocol switch requested on an API path")

// Reasons on the 400 pages of requests classify refuses.
const (
	msgAmbiguousPath  = "Ambiguous request path"
	msgProtocolSwitch = "Protocol switching is not supported on the API"
)

// refusalReason is the reason on the 400 page of a request classify
// refused with err.
func refusalReason(err error) string {
	if errors.Is(err, errProtocolSwitch) {
		return msgProtocolSwitch
	}
	return msgAmbiguousPath
}

// switchesProtocol reports whether r asks to switch protocols: an Upgrade
// header (websocket, h2c, any value, even empty), the "upgrade" option in
// Connection (which makes a proxy treat Upgrade as hop-by-hop or carry
// it), or CONNECT, a tunnel, and over HTTP/2 and HTTP/3 an extended
// CONNECT (RFC 8441, the :protocol pseudo-header), which Caddy's
// reverse_proxy turns into an HTTP/1.1 Upgrade to the upstream.
func switchesProtocol(r *http.Request) bool {
	if r.Method == http.MethodConnect {
		return true
	}
	if _, ok := r.Header["Upgrade"]; ok {
		return true
	}
	if _, ok := r.Header[":protocol"]; ok {
		return true
	}
	for _, v := range r.Header["Connection"] {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return true
			}
		}
	}
	return false
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
// gateway serves (Java 8 HashMap order, as RestComm's Allow header lists them).
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
