package accountsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/restcomm/restcomm-gateway/internal/javacompat"
	"github.com/restcomm/restcomm-gateway/internal/password"
	"github.com/restcomm/restcomm-gateway/internal/render"
	"github.com/restcomm/restcomm-gateway/store"
)

// defaultProfileSid is RestComm's default profile, created at its boot.
// Profiles live upstream; the gateway links every account to the default.
const defaultProfileSid = "PRae6e420f425248d6a26948c17a9e2acf"

// RestComm's messages (AccountsEndpoint, Account.Status, Sid).
const (
	msgEmailNull      = "Email address can not be null."
	msgPasswordNull   = "Password can not be null."
	msgEmailInvalid   = "Provided email address %s is not valid"
	msgLoginInvalid   = "Login %s contains invalid character(s) "
	msgBadStatus      = "%s is not a valid account status."
	msgBadSid         = "%s is an INVALID_SID sid value."
	msgNoOrganization = "provided OrganizationSid does not exist"
	msgTooWeak        = "Password too weak"
	msgDuplicate      = "The email address used for the new account is already in use."
	msgClosed         = "Account is closed"
	msgMissingOrg     = "Missing Organization SID or Domain Name"
	msgSameOrg        = "Account already in the requested Organization"
)

// Stages of the Accounts endpoint's own checks, in RestComm's order; the
// policy's denials (authz.rego) sit between them.
const (
	stageReadForm = 5 // Jersey reads the form just before the method runs

	// GET /Accounts: 10 permission, 20 filter by a non-Super-Admin (policy)
	stageListQuery  = 15 // malformed, or a field over its limit
	stageListFilter = 30

	// POST /Accounts: 10 permission, 20 depth, 81 other organization, 110
	// caller not active, 121 a Role the caller may not give (policy)
	stageFieldLimits     = 39 // create and update: a field over its limit
	stageEmailMissing    = 40
	stagePasswordMissing = 41
	stageEmailInvalid    = 50
	stageLoginInvalid    = 60
	stageStatusInvalid   = 70
	stageOrgSidInvalid   = 80
	stageOrgMissing      = 82
	stageWeakPassword    = 90
	stageDuplicate       = 100
	stageColumnWidth     = 120 // RestComm's database error on insert (and the mirror's columns)

	// POST|PUT /Accounts/{id}: 10 permission, 20 not found, 30 hierarchy,
	// 54 Role by a non-Administrator, 56 its own role or one it may not give,
	// 57 making itself uninitialized (policy); the gateway's own 404 for a missing target (never trusting
	// the policy to give it) at 20
	stageTargetNotFound  = 20
	stageClosed          = 40
	stageUpdateStatus    = 51
	stageUpdateName      = 52
	stageUpdatePassword  = 53
	stageUpdateRoleWidth = 55

	// POST /Accounts/migrate/{id}: 10 not Super Admin, 30 not found, 40
	// not a direct child (policy)
	stageMigrateForm     = 11 // the form is read after @RolesAllowed
	stageMigrateLimits   = 19
	stageMigrateOrg      = 20
	stageMigrateNotFound = 30
	stageSameOrg         = 50
)

// readAccount serves GET /Accounts/{id} (AccountsEndpoint.getAccount).
func (s *Service) readAccount(x *exchange) error {
	if x.verdict().refused(x) {
		return nil
	}
	a := x.target.Account
	if a == nil { // the shipped policy answers 404 itself; never trust it to
		WritePage(x.w, http.StatusNotFound, "")
		return nil
	}
	if x.decision.HideAuthToken { // a caller that reads but may not modify it (policy)
		shown := *a // the resolver's own may be shared
		shown.AuthToken = ""
		a = &shown
	}
	x.w.Header().Set("Link", profileLink(x.r))
	return x.respondAccount(a)
}

// profileLink is the Link header RestComm adds to a single account or
// organization: its effective profile, which for the gateway is always the
// default profile (profiles live upstream).
func profileLink(r *http.Request) string {
	return "<" + baseURI(r) + "Profiles/" + defaultProfileSid + `>;rel=related;title="Profiles"`
}

func (x *exchange) respondAccount(a *store.Account) error {
	bp := accountBodies.Get().(*[]byte)
	body := (*bp)[:0]
	if x.json() {
		body = render.AppendAccountJSON(body, a)
	} else {
		body = render.AppendAccountXML(body, a)
	}
	err := x.respondOK(body) // written before it returns: the buffer is free again
	if cap(body) <= maxPooledBody {
		*bp = body
		accountBodies.Put(bp)
	}
	return err
}

// accountBodies are buffers for one account's representation (about 1.5
// KB), reused: the most frequent answer then allocates no body.
var accountBodies = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// maxPooledBody keeps an account with unusually long fields from pinning
// a large buffer in the pool.
const maxPooledBody = 16 << 10

// listAccounts serves GET /Accounts (AccountsEndpoint.getAccounts): the
// caller's direct children, or with OrganizationSid / DomainName (Super
// Admins) every account of an organization, at any depth, in any status.
func (s *Service) listAccounts(x *exchange) error {
	v := x.verdict()
	q, ok := x.query()
	if !ok && v.open(stageListQuery) {
		v.fail(pageProblem(http.StatusBadRequest, "Malformed query string", stageListQuery))
	}
	if v.open(stageListQuery) {
		v.fail(tooLong(q, stageListQuery, "OrganizationSid", "DomainName"))
	}
	orgSid, domain := javacompat.Trim(q["OrganizationSid"]), javacompat.Trim(q["DomainName"])
	rawSid := q["OrganizationSid"]
	if orgSid != "" && !validSid(rawSid) && v.open(stageListFilter) {
		// RestComm: new Sid(value) throws, 500 (docs/restcomm-contract.md, divergences: 400)
		v.fail(textProblem(http.StatusBadRequest, fmt.Sprintf(msgBadSid, rawSid), stageListFilter))
	}
	var org string
	if orgSid == "" && domain != "" && v.open(stageListFilter) {
		o, err := s.store.OrganizationByDomain(x.r.Context(), q["DomainName"])
		switch {
		case errors.Is(err, store.ErrNotFound):
			v.fail(pageProblem(http.StatusNotFound, "", stageListFilter))
		case err != nil:
			return s.unavailable(x, err)
		default:
			org = o.Sid
		}
	}
	if v.refused(x) {
		return nil
	}
	// read in batches and sent as read (liststream.go)
	ctx, l, ls := x.r.Context(), render.AccountList{JSON: x.json()}, listStream{svc: s, x: x}
	batch := func(as []store.Account) error {
		if err := ls.next(); err != nil {
			return err
		}
		for i := range as {
			ls.buf = l.Append(ls.buf, &as[i])
		}
		return nil
	}
	var err error
	switch {
	case orgSid != "":
		err = s.store.EachOrganizationAccount(ctx, rawSid, batch)
	case domain != "":
		err = s.store.EachOrganizationAccount(ctx, org, batch)
	default:
		err = s.store.EachChild(ctx, x.caller.Account.Sid, batch)
	}
	return ls.finish(err, l.End)
}

// createAccount serves POST /Accounts (AccountsEndpoint.putAccount and
// createFrom): a new child of the caller.
func (s *Service) createAccount(x *exchange) error {
	v := x.verdict()
	form, st := x.formBody()
	span := x.redisSpan()
	defer span.end() // the last of the request's Redis spans
	v.fail(bodyProblem(st, stageReadForm))
	if v.p != nil && v.p.stage < stageEmailMissing {
		v.refused(x)
		return nil
	}
	n, err := s.checkNewAccount(x, v, span, form)
	if err != nil {
		return s.unavailable(x, err)
	}
	if v.refused(x) {
		return nil
	}

	a, err := s.store.CreateAccount(span.ctx, x.guard(), n.account(x.caller.Account, s.now()),
		store.WithPassword(n.pass), store.WithClientLogin(n.login)) // for the mirror's SIP client (store/seal.go)
	if ended, err := s.writeOutcome(x, err,
		refusal{store.ErrDuplicate, textProblem(http.StatusConflict, msgDuplicate, stageDuplicate)},              // a concurrent create won
		refusal{store.ErrNoOrganization, textProblem(http.StatusBadRequest, msgNoOrganization, stageOrgMissing)}, // removed meanwhile
		refusal{store.ErrNoParent, pageProblem(http.StatusNotFound, "", stageTargetNotFound)},                    // the caller vanished meanwhile
	); ended {
		return err
	}
	return x.respondAccount(a)
}

// newAccount is the account POST /Accounts asks for, as its checks found
// it.
type newAccount struct {
	sid, email, pass string // email lower-cased, as stored
	login            string // the SIP client's login: the address's local part, in the case given
	status, orgSid   string
	name, role       string
}

// checkNewAccount makes the Accounts endpoint's checks of a new account,
// in RestComm's order, from the field limits (stageFieldLimits) to the
// row's columns (stageColumnWidth), and returns the account they found.
// An error is the store failing (503).
func (s *Service) checkNewAccount(x *exchange, v *verdict, span *redisSpan, form javacompat.Params) (*newAccount, error) {
	parent := x.caller.Account
	email, pass := checkNewLogin(v, form)
	n := &newAccount{pass: pass, status: checkNewStatus(v, form)}
	var err error
	if n.orgSid, err = s.checkNewOrganization(span.ctx, v, form, parent.OrganizationSid); err != nil {
		return nil, err
	}
	if v.open(stageWeakPassword) && !password.Strong(pass) {
		v.fail(typedProblem(http.StatusBadRequest, msgTooWeak, stageWeakPassword))
	}
	n.login = javacompat.ClientLogin(email) // RestComm's SIP client keeps the case given
	n.email = password.ToLower(email)
	n.sid = "AC" + hexMD5(n.email)
	if err := s.checkNotTaken(x, v, span, n.sid, n.email); err != nil {
		return nil, err
	}
	n.name = n.email
	if name, ok := form.Get("FriendlyName"); ok {
		n.name = name
	}
	n.role = newAccountRole(parent.Role, form)
	s.checkNewRow(v, n)
	return n, nil
}

// checkNewLogin checks the fields' lengths (stageFieldLimits), then the
// e-mail address and password given (stageEmailMissing to
// stageLoginInvalid), and returns them as given.
func checkNewLogin(v *verdict, form javacompat.Params) (email, pass string) {
	if v.open(stageFieldLimits) {
		v.fail(tooLong(form, stageFieldLimits, "EmailAddress", "Password", "Status", "OrganizationSid"))
	}
	email, hasEmail := form.Get("EmailAddress")
	pass, hasPass := form.Get("Password")
	if !hasEmail && v.open(stageEmailMissing) {
		v.fail(textProblem(http.StatusBadRequest, msgEmailNull, stageEmailMissing))
	}
	if !hasPass && v.open(stagePasswordMissing) {
		v.fail(textProblem(http.StatusBadRequest, msgPasswordNull, stagePasswordMissing))
	}
	if v.open(stageEmailInvalid) && !javacompat.ValidEmail(email) {
		v.fail(textProblem(http.StatusBadRequest, fmt.Sprintf(msgEmailInvalid, email), stageEmailInvalid))
	}
	if login := javacompat.ClientLogin(email); v.open(stageLoginInvalid) && !javacompat.ValidClientLogin(login) {
		v.fail(textProblem(http.StatusBadRequest, fmt.Sprintf(msgLoginInvalid, login), stageLoginInvalid))
	}
	return email, pass
}

// checkNewStatus returns the new account's status, lower-cased, active
// when none is given, and checks it (stageStatusInvalid).
func checkNewStatus(v *verdict, form javacompat.Params) string {
	given, ok := form.Get("Status")
	if !ok {
		return store.StatusActive
	}
	status := password.ToLower(given)
	if v.open(stageStatusInvalid) && !store.ValidStatus(status) {
		v.fail(textProblem(http.StatusBadRequest, fmt.Sprintf(msgBadStatus, status), stageStatusInvalid))
	}
	return status
}

// checkNewOrganization returns the new account's organization, the
// caller's own (callerOrg) when none is given, and checks a given one: a
// SID (stageOrgSidInvalid), and one that exists (stageOrgMissing). Another
// organization than the caller's is for Super Admins only (policy, stage
// 81). An error is the store failing.
func (s *Service) checkNewOrganization(ctx context.Context, v *verdict, form javacompat.Params, callerOrg string) (string, error) {
	given, ok := form.Get("OrganizationSid")
	switch {
	case !ok:
		return callerOrg, nil
	case !validSid(given):
		if v.open(stageOrgSidInvalid) {
			v.fail(textProblem(http.StatusBadRequest, fmt.Sprintf(msgBadSid, given), stageOrgSidInvalid))
		}
		return callerOrg, nil
	case given == callerOrg:
		return callerOrg, nil
	}
	if v.open(stageOrgMissing) {
		_, err := s.store.Organization(ctx, given)
		switch {
		case errors.Is(err, store.ErrNotFound):
			v.fail(textProblem(http.StatusBadRequest, msgNoOrganization, stageOrgMissing))
		case err != nil:
			return "", err
		}
	}
	return given, nil
}

// checkNotTaken checks that no account has the new account's SID or
// e-mail address (stageDuplicate): in the store, and with a mirror in
// RestComm's own table too. An error is the store (or the database)
// failing.
func (s *Service) checkNotTaken(x *exchange, v *verdict, span *redisSpan, sid, email string) error {
	if !v.open(stageDuplicate) {
		return nil
	}
	taken := strings.EqualFold(email, store.DefaultAdminEmail) // the default admin's SID is not derived
	if !taken {
		var err error
		if taken, err = s.store.AccountTaken(span.ctx, sid, email); err != nil {
			return err
		}
	}
	if !taken && s.cfg.RestCommDB != nil {
		// RestComm's own table, with a mirror: an account there that the
		// gateway lacks (made in RestComm, skipped by an import) would
		// make the delivery conflict, and logins by its address
		// ambiguous. The database's time is not the request's Redis time.
		var err error
		span.outside(func() { taken, err = s.takenInRestComm(x, sid, email) })
		if err != nil {
			return err
		}
	}
	if taken {
		v.fail(textProblem(http.StatusConflict, msgDuplicate, stageDuplicate))
	}
	return nil
}

// checkNewRow checks what the row would hold, the defaults included
// (RestComm's insert fails on them alike), against the columns
// (stageColumnWidth); the other fields' bounds were checked as given, at
// stageFieldLimits.
func (s *Service) checkNewRow(v *verdict, n *newAccount) {
	if !v.open(stageColumnWidth) {
		return
	}
	row := javacompat.Params{"EmailAddress": n.email, "FriendlyName": n.name, "Status": n.status, "Role": n.role,
		"OrganizationSid": n.orgSid}
	v.fail(tooLong(row, stageColumnWidth, "FriendlyName", "Role"))
	v.fail(s.columnProblem(row, stageColumnWidth, "EmailAddress", "FriendlyName", "Status", "Role", "OrganizationSid"))
}

// account is the row of n, a child of parent, created at now.
func (n *newAccount) account(parent *store.Account, now time.Time) *store.Account {
	return &store.Account{
		Sid:             n.sid,
		OrganizationSid: n.orgSid,
		FriendlyName:    n.name,
		EmailAddress:    n.email,
		Type:            "Full",
		Status:          n.status,
		Role:            n.role,
		AuthToken:       hexMD5(n.pass),
		URI:             "/2012-04-24/Accounts/" + n.sid,
		ParentSid:       parent.Sid,
		DateCreated:     now,
		DateUpdated:     now,
	}
}

// redisSpan is a request's current span of Redis time (exchange.redis),
// which a query to another store interrupts (outside).
type redisSpan struct {
	x    *exchange
	ctx  context.Context
	done func()
}

func (x *exchange) redisSpan() *redisSpan {
	ctx, done := x.redis()
	return &redisSpan{x: x, ctx: ctx, done: done}
}

// outside runs f, whose time is not the request's Redis time, between two
// spans.
func (r *redisSpan) outside(f func()) {
	r.done()
	f()
	r.ctx, r.done = r.x.redis()
}

func (r *redisSpan) end() { r.done() }

// newAccountRole is RestComm's role rule on create: a Role parameter is
// honoured only when the caller's own role is Administrator; otherwise, and
// when none is given, the new account gets the caller's role. (The policy
// has no output through which it could return a role; this mirrors
// PermissionEvaluator.hasAccountRole exactly.)
func newAccountRole(callerRole string, form javacompat.Params) string {
	if r, ok := form.Get("Role"); ok && callerRole == administratorRole {
		return r
	}
	return callerRole
}

// administratorRole is the role RestComm grants everything
// (PermissionEvaluator.getAdministratorRole).
const administratorRole = "Administrator"

// updateAccount serves POST and PUT /Accounts/{id}
// (AccountsEndpoint.updateAccount and prepareAccountForUpdate).
func (s *Service) updateAccount(x *exchange) error {
	v := x.verdict()
	form, st := x.formBody()
	v.fail(bodyProblem(st, stageReadForm))
	t := x.targetAccount()
	if t == nil { // the shipped policy answers 404 itself; never trust it to
		v.fail(pageProblem(http.StatusNotFound, "", stageTargetNotFound))
		v.refused(x) // whatever came earlier, or the 404: nothing below has a target
		return nil
	}
	if v.p != nil && v.p.stage < stageClosed {
		v.refused(x)
		return nil
	}
	if v.open(stageFieldLimits) {
		v.fail(tooLong(form, stageFieldLimits, "Password", "Status"))
	}
	if v.open(stageClosed) && t.Status == store.StatusClosed {
		v.fail(pageProblem(http.StatusBadRequest, msgClosed, stageClosed))
	}
	u, opts := s.checkAccountChanges(v, form)
	if v.refused(x) {
		return nil
	}

	u.Now = s.now()
	ctx, done := x.redis()
	defer done()
	a, err := s.store.UpdateAccount(ctx, x.guard(), t.Sid, u, opts...)
	if ended, err := s.writeOutcome(x, err,
		refusal{store.ErrNotFound, pageProblem(http.StatusNotFound, "", stageTargetNotFound)},
		refusal{store.ErrClosed, pageProblem(http.StatusBadRequest, msgClosed, stageClosed)}, // closed by a concurrent request
	); ended {
		return err
	}
	// RestComm answers with the updated object rebuilt with "now" for both
	// dates; a later GET shows the real creation date (RestComm's update builds its answer from the form, then re-reads nothing).
	a.DateCreated = a.DateUpdated
	return x.respondAccount(a)
}

// targetAccount is the account the operation is on; nil when there is
// none.
func (x *exchange) targetAccount() *store.Account {
	if x.target == nil {
		return nil
	}
	return x.target.Account
}

// checkAccountChanges reads the changes the form asks for and checks
// them, field by field in RestComm's order (stageUpdateStatus to
// stageUpdateRoleWidth). opts carry the new password, for the mirror
// (store/seal.go).
func (s *Service) checkAccountChanges(v *verdict, form javacompat.Params) (u store.AccountUpdate, opts []store.ChangeOption) {
	u.Status = s.checkStatusChange(v, form)
	u.FriendlyName = s.checkFieldChange(v, form, "FriendlyName", stageUpdateName)
	if pass, ok := form.Get("Password"); ok {
		if v.open(stageUpdatePassword) && !password.Strong(pass) {
			v.fail(pageProblem(http.StatusBadRequest, msgTooWeak, stageUpdatePassword))
		}
		token := hexMD5(pass)
		u.AuthToken = &token
		opts = append(opts, store.WithPassword(pass))
	}
	// who may send a Role is the policy's (stage 54)
	u.Role = s.checkFieldChange(v, form, "Role", stageUpdateRoleWidth)
	return u, opts
}

// checkStatusChange returns the status the form asks for, lower-cased, nil
// for none, and checks it (stageUpdateStatus).
func (s *Service) checkStatusChange(v *verdict, form javacompat.Params) *string {
	status, ok := form.Get("Status")
	if !ok {
		return nil
	}
	status = password.ToLower(status)
	if v.open(stageUpdateStatus) && !store.ValidStatus(status) {
		// RestComm: an unmapped IllegalArgumentException, 500
		// (docs/restcomm-contract.md, divergences: 400 with the message create uses)
		v.fail(textProblem(http.StatusBadRequest, fmt.Sprintf(msgBadStatus, status), stageUpdateStatus))
	}
	if v.open(stageUpdateStatus) {
		v.fail(s.columnProblem(map[string]string{"Status": status}, stageUpdateStatus, "Status"))
	}
	return &status
}

// checkFieldChange returns the value the form gives field, nil for none,
// and checks its length and column at stage.
func (s *Service) checkFieldChange(v *verdict, form javacompat.Params, field string, stage int) *string {
	value, ok := form.Get(field)
	if !ok {
		return nil
	}
	if v.open(stage) {
		v.fail(tooLong(form, stage, field))
		v.fail(s.columnProblem(form, stage, field))
	}
	return &value
}

// migrateAccount serves POST /Accounts/migrate/{id}
// (AccountsEndpoint.migrateAccountOrganization): a direct child of the
// caller, and its own direct children, move to another organization.
func (s *Service) migrateAccount(x *exchange) error {
	v := x.verdict()
	form, st := x.formBody()
	ctx, done := x.redis()
	defer done()
	v.fail(bodyProblem(st, stageMigrateForm))
	if v.open(stageMigrateLimits) {
		v.fail(tooLong(form, stageMigrateLimits, "Organization"))
	}
	var org *store.Organization
	if v.open(stageMigrateOrg) {
		var err error
		if org, err = s.organizationParam(ctx, form); err != nil {
			return s.unavailable(x, err)
		}
		if org == nil {
			v.fail(textProblem(http.StatusPreconditionFailed, msgMissingOrg, stageMigrateOrg))
		}
	}
	t := x.targetAccount()
	if t == nil { // the shipped policy answers 404 itself; never trust it to
		v.fail(pageProblem(http.StatusNotFound, "", stageMigrateNotFound))
	}
	if t == nil || org == nil { // refused above: nothing to compare
		v.refused(x)
		return nil
	}
	if v.open(stageSameOrg) && t.OrganizationSid == org.Sid {
		v.fail(textProblem(http.StatusBadRequest, msgSameOrg, stageSameOrg))
	}
	if v.refused(x) {
		return nil
	}

	a, err := s.store.MigrateAccount(ctx, x.guard(), t.Sid, org.Sid, s.now())
	if ended, err := s.writeOutcome(x, err,
		refusal{store.ErrNotFound, pageProblem(http.StatusNotFound, "", stageMigrateNotFound)},
		refusal{store.ErrNoOrganization, textProblem(http.StatusPreconditionFailed, msgMissingOrg, stageMigrateOrg)},
		refusal{store.ErrSameOrg, textProblem(http.StatusBadRequest, msgSameOrg, stageSameOrg)},
	); ended {
		return err
	}
	return x.respondAccount(a)
}
