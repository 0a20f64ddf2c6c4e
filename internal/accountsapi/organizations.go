package accountsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/restcomm/restcomm-gateway/internal/javacompat"
	"github.com/restcomm/restcomm-gateway/internal/password"
	"github.com/restcomm/restcomm-gateway/internal/render"
	"github.com/restcomm/restcomm-gateway/store"
)

// OrganizationsEndpoint's messages.
const (
	msgDomainPattern   = "Total Length of domain_name can be upto 255 Characters. It can contain only letters, number and hyphen - sign.. Please, choose a valid name and try again."
	msgDomainTaken     = "This domain name is not available. Please, choose a different name and try again."
	msgBadOrgStatus    = "%s is not a valid organization status."
	msgClientMigration = "Client password migration is done by RestComm, not by the gateway"
)

// Stages of the Organizations endpoint's own checks. The policy denies at
// 10 (@RolesAllowed), 12 (permission), 20 (another organization, or not a
// Super Admin) and 25 (no such organization).
const (
	stageOrgStatusFilter = 20
	stageOrgSidShape     = 15
	stageOrgNotFound     = 25 // the gateway's own 404; the policy gives it too
	stageDomainPattern   = 20
	stageDomainTaken     = 30
	stageDomainColumn    = 40 // RestComm's database error on insert (the mirror's column)
)

// listOrganizations serves GET /Organizations
// (OrganizationsEndpoint.getOrganizations), Super Admins only.
func (s *Service) listOrganizations(x *exchange) error {
	v := x.verdict()
	q, ok := x.query()
	if !ok && v.open(stageListQuery) {
		v.fail(pageProblem(http.StatusBadRequest, "Malformed query string", stageListQuery))
	}
	if v.open(stageListQuery) {
		v.fail(tooLong(q, stageListQuery, "Status"))
	}
	status, filtered := q.Get("Status")
	if filtered {
		status = password.ToLower(status)
		if v.open(stageOrgStatusFilter) && status != "active" && status != "closed" {
			// RestComm: Organization.Status.getValueOf throws, 500; the
			// gateway answers 400 as for an invalid account status.
			v.fail(textProblem(http.StatusBadRequest, fmt.Sprintf(msgBadOrgStatus, status), stageOrgStatusFilter))
		}
	}
	if v.refused(x) {
		return nil
	}
	// read in batches and sent as read (liststream.go); nothing is sent
	// before the first organization that passes the filter
	l, ls := render.OrganizationList{JSON: x.json()}, listStream{svc: s, x: x}
	err := s.store.EachOrganization(x.r.Context(), func(batch []store.Organization) error {
		if err := ls.next(); err != nil {
			return err
		}
		for i := range batch {
			if !filtered || batch[i].Status == status {
				ls.buf = l.Append(ls.buf, &batch[i])
			}
		}
		return nil
	})
	if err == nil && l.Len() == 0 { // RestComm answers 404 rather than an empty list
		WritePage(x.w, http.StatusNotFound, "")
		return nil
	}
	return ls.finish(err, l.End)
}

// readOrganization serves GET /Organizations/{sid}
// (OrganizationsEndpoint.getOrganization): Super Admins any, Administrators
// their own.
func (s *Service) readOrganization(x *exchange) error {
	if x.req.err != nil {
		return s.unavailable(x, x.req.err)
	}
	v := x.organizationChecks()
	if v.refused(x) {
		return nil
	}
	x.w.Header().Set("Link", profileLink(x.r))
	o := x.req.org
	if x.json() {
		return x.respondOK(render.AppendOrganizationJSON(nil, o))
	}
	return x.respondOK(render.AppendOrganizationXML(nil, o))
}

// organizationChecks are getOrganization's and migrateClientsOrganization's
// own checks: a SID-shaped {sid}, and an organization that exists.
func (x *exchange) organizationChecks() *verdict {
	v := x.verdict()
	if v.open(stageOrgSidShape) && !sidShaped(organizationID(x.path)) {
		v.fail(pageProblem(http.StatusBadRequest, "", stageOrgSidShape))
	}
	if x.req.org == nil { // the shipped policy answers 404 itself; never trust it to
		v.fail(pageProblem(http.StatusNotFound, "", stageOrgNotFound))
	}
	return v
}

// createOrganization serves PUT /Organizations/{domainName}
// (OrganizationsEndpoint.putOrganization without a DNS provisioning
// manager): a new organization named exactly as given.
func (s *Service) createOrganization(x *exchange) error {
	ctx, done := x.redis()
	defer done()
	v := x.verdict()
	domain := x.path.ID
	if v.open(stageDomainPattern) && !validDomainLabel(domain) {
		v.fail(textProblem(http.StatusBadRequest, msgDomainPattern, stageDomainPattern))
	}
	if v.open(stageDomainTaken) {
		_, err := s.store.OrganizationByDomain(ctx, domain)
		switch {
		case err == nil:
			v.fail(textProblem(http.StatusConflict, msgDomainTaken, stageDomainTaken))
		case !errors.Is(err, store.ErrNotFound):
			return s.unavailable(x, err)
		}
	}
	if v.open(stageDomainColumn) {
		v.fail(s.columnProblem(map[string]string{"DomainName": domain}, stageDomainColumn, "DomainName"))
	}
	if v.refused(x) {
		return nil
	}
	sid, err := organizationSid()
	if err != nil {
		return s.unavailable(x, err)
	}
	now := s.now()
	o, err := s.store.CreateOrganization(ctx, x.guard(), &store.Organization{
		Sid: sid, DomainName: domain, Status: "active", DateCreated: now, DateUpdated: now,
	})
	if ended, err := s.writeOutcome(x, err,
		refusal{store.ErrDuplicate, textProblem(http.StatusConflict, msgDomainTaken, stageDomainTaken)}, // a concurrent create won
	); ended {
		return err
	}
	if x.json() {
		return x.respondOK(render.AppendOrganizationJSON(nil, o))
	}
	return x.respondOK(render.AppendOrganizationXML(nil, o))
}

// migrateOrganization answers PUT /Organizations/{sid}/Migrate
// (OrganizationsEndpoint.migrateClientsOrganization). RestComm re-hashes
// the passwords of the organization's SIP clients there: upstream data the
// gateway does not hold. The gateway applies RestComm's checks, then
// answers 501 rather than forward an Organizations route or pretend.
func (s *Service) migrateOrganization(x *exchange) error {
	if x.req.err != nil {
		return s.unavailable(x, x.req.err)
	}
	if x.organizationChecks().refused(x) {
		return nil
	}
	WritePage(x.w, http.StatusNotImplemented, msgClientMigration)
	return nil
}

// organizationParam is AccountsEndpoint.getOrganization: the Organization
// form parameter names an organization by SID when SID-shaped, else by
// domain name. nil when it is missing or names nothing.
func (s *Service) organizationParam(ctx context.Context, form javacompat.Params) (*store.Organization, error) {
	id, ok := form.Get("Organization")
	if !ok {
		return nil, nil
	}
	var (
		o   *store.Organization
		err error
	)
	if sidShaped(id) {
		o, err = s.store.Organization(ctx, id)
	} else {
		o, err = s.store.OrganizationByDomain(ctx, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return o, err
}

// validDomainLabel is OrganizationsEndpoint's [A-Za-z0-9\-]{1,255}.
func validDomainLabel(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
