// Package restcommtest is a stand-in RestComm Connect for tests, on a real
// MariaDB holding RestComm's tables (see internal/testkit/mariadbtest), and the
// RestComm datasets the import tests load into it.
//
// The stand-in does what a drop-in test needs RestComm to do, as RestComm
// does it, and leaves every comparison of a login, an e-mail address or a
// SIP client login to the database, as RestComm does (its mappers run
// `WHERE email_address = ?`, `WHERE sid = ?`, `WHERE login = ?`): on
// RestComm's latin1 tables MariaDB's latin1_swedish_ci decides, ignoring
// case and trailing spaces.
//
//   - it authenticates every request against the database, read again on
//     every request (RestComm has no cache): HTTP Basic, the user looked up
//     by e-mail address, then by SID; the secret is the auth token or its
//     md5 is; 401 with WWW-Authenticate: Basic realm="Restcomm realm"
//     otherwise (500 when two accounts share the e-mail address, as
//     RestComm's selectOne fails);
//   - the status gate: active accounts only, uninitialized ones on paths
//     starting with Accounts; 403 "Provided Account is not active";
//   - an account named in the path that does not exist: 404;
//   - permissions: Administrator may do anything, Developer the Accounts,
//     Calls and Clients APIs, on its own account or one below it (by
//     parent_sid); 403 otherwise;
//   - POST /Accounts(.json): a sub-account of the caller, as RestComm's
//     AccountsEndpoint creates it: SID "AC" + md5 of the lower-cased e-mail
//     address, stored lower-cased; 409 "The email address used for the new
//     account is already in use." when that SID exists; then the linked SIP
//     client (login the given address's local part, the account's friendly
//     name, the password as RestComm's account create stores it: plaintext,
//     no password_algorithm), unless the organization has a client of that
//     login;
//   - POST/PUT /Accounts/{sid}: Status (RestComm's cascade over the whole
//     subtree), FriendlyName, Password (an uninitialized account becomes
//     active), Role (Administrators only); 400 "Account is closed" for a
//     closed account; only the account itself or an Administrator above it.
//     With Password or FriendlyName, the linked SIP client (the stored
//     e-mail address's local part, in the account's organization) gets the
//     new password (md5 of login:domain:password) and the new friendly
//     name, as RestComm's updateLinkedClient does;
//   - GET /Accounts/{sid}/Calls(.json): an empty list;
//   - the Clients API subset that mirroring needs: POST /Accounts/{sid}/Clients
//     (Login, Password, FriendlyName; 409 when another account of the
//     organization has the login, the existing client unchanged when the
//     account has it), GET /Accounts/{sid}/Clients,
//     GET and POST/PUT /Accounts/{sid}/Clients/{clientSid} (Password,
//     FriendlyName), stored in a restcomm_clients table it creates, the
//     password as RestComm's Clients API stores it (md5 of
//     login:domain:password, password_algorithm MD5);
//   - everything else: 404. Closing deletes no clients (RestComm's does).
//
// It records every request it received (Take). Responses are JSON in
// RestComm's field names, not byte-exact RestComm.
package restcommtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// APIRoot is the path prefix of RestComm's REST API.
const APIRoot = "/restcomm/2012-04-24/"

// Received is one request as the stand-in received and answered it.
type Received struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Form                   url.Values // the body's form fields
	Caller                 string     // the authenticated account's SID, if any
	Status                 int        // what the stand-in answered
}

// StandIn is one running stand-in RestComm.
type StandIn struct {
	srv  *httptest.Server
	db   *sql.DB
	mu   sync.Mutex
	seen []Received
	// record keeps every request for Take: a test's stand-in does, a
	// long-running one does not (it would grow without bound).
	record bool
}

// ClientsSchema is the stand-in's clients table: the columns of RestComm's
// restcomm_clients that the Clients API subset uses, with RestComm's types
// and nullability (password_algorithm is NULL for a client RestComm's
// account create made), and like RestComm's no character set or collation
// of its own: the database's latin1_swedish_ci compares logins.
const ClientsSchema = `CREATE TABLE IF NOT EXISTS restcomm_clients (
	sid                VARCHAR(34) NOT NULL,
	date_created       DATETIME    NOT NULL,
	date_updated       DATETIME    NOT NULL,
	account_sid        VARCHAR(34) NOT NULL,
	api_version        VARCHAR(10) NOT NULL,
	friendly_name      VARCHAR(64) NOT NULL,
	login              VARCHAR(64) NOT NULL,
	password           VARCHAR(64) NOT NULL,
	status             INT         NOT NULL,
	uri                MEDIUMTEXT  NOT NULL,
	password_algorithm VARCHAR(34),
	PRIMARY KEY (sid)
)`

// Start serves the stand-in on db (which holds RestComm's tables) until
// the test ends, recording every request it receives (Take).
func Start(t testing.TB, db *sql.DB) *StandIn {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("restcommtest: %v", err)
	}
	s, err := serve(db, l, true)
	if err != nil {
		t.Fatalf("restcommtest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Serve serves the stand-in on db (which holds RestComm's tables) at l
// until Close, recording nothing: for a program that runs it for as long
// as someone uses it (cmd/restcomm-standin).
func Serve(db *sql.DB, l net.Listener) (*StandIn, error) { return serve(db, l, false) }

func serve(db *sql.DB, l net.Listener, record bool) (*StandIn, error) {
	if _, err := db.Exec(ClientsSchema); err != nil {
		_ = l.Close()
		return nil, err
	}
	s := &StandIn{db: db, record: record}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	_ = s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	return s, nil
}

// Close stops serving.
func (s *StandIn) Close() { s.srv.Close() }

// Addr is the stand-in's host:port.
func (s *StandIn) Addr() string { return s.srv.Listener.Addr().String() }

// URL is its base URL (http://host:port).
func (s *StandIn) URL() string { return s.srv.URL }

// Status is what the stand-in answers to a GET of path with these Basic
// credentials: what RestComm itself says.
func (s *StandIn) Status(t testing.TB, path, user, secret string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	require.NoError(t, err)
	req.SetBasicAuth(user, secret)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	return res.StatusCode
}

// Take returns the requests received since the last Take, in order.
func (s *StandIn) Take() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.seen
	s.seen = nil
	return out
}

// account is one restcomm_accounts row.
type account struct {
	sid, email, name, parent, typ, status, token, role, org string
}

func (s *StandIn) serve(w http.ResponseWriter, r *http.Request) {
	rec := Received{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rec.Form, _ = url.ParseQuery(string(body))
	}
	status, body := s.answer(r, &rec)
	rec.Status = status
	if s.record {
		s.mu.Lock()
		s.seen = append(s.seen, rec)
		s.mu.Unlock()
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="Restcomm realm"`)
	}
	if strings.HasPrefix(body, "{") || strings.HasPrefix(body, "[") {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (s *StandIn) answer(r *http.Request, rec *Received) (int, string) {
	if !strings.HasPrefix(r.URL.Path, APIRoot) {
		return http.StatusNotFound, ""
	}
	rel := strings.TrimPrefix(r.URL.Path, APIRoot)
	caller, status := s.authenticate(r)
	if status != 0 {
		return status, ""
	}
	rec.Caller = caller.sid
	if caller.status != "active" && !(caller.status == "uninitialized" && strings.HasPrefix(rel, "Accounts")) {
		return http.StatusForbidden, "Provided Account is not active"
	}
	seg := strings.Split(strings.ReplaceAll(rel, ".json", ""), "/")
	if len(seg) == 1 && seg[0] == "Accounts" && r.Method == http.MethodPost {
		return s.createAccount(caller, rec.Form)
	}
	if len(seg) < 2 || seg[0] != "Accounts" {
		return http.StatusNotFound, ""
	}
	target, err := s.bySid(seg[1])
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	if target == nil {
		return http.StatusNotFound, ""
	}
	if len(seg) == 2 {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			return http.StatusNotFound, ""
		}
		return s.updateAccount(caller, target, rec.Form)
	}
	switch {
	case seg[2] == "Calls" && len(seg) == 3 && r.Method == http.MethodGet:
		if code := s.secure(caller, target, "Calls"); code != 0 {
			return code, ""
		}
		return http.StatusOK, callsPage(target.sid)
	case seg[2] == "Clients" && len(seg) == 3:
		if code := s.secure(caller, target, "Clients"); code != 0 {
			return code, ""
		}
		switch r.Method {
		case http.MethodGet:
			return s.listClients(target)
		case http.MethodPost, http.MethodPut:
			return s.createClient(target, rec.Form)
		}
	case seg[2] == "Clients" && len(seg) == 4:
		if code := s.secure(caller, target, "Clients"); code != 0 {
			return code, ""
		}
		switch r.Method {
		case http.MethodGet:
			return s.getClient(target, seg[3])
		case http.MethodPost, http.MethodPut:
			return s.updateClient(target, seg[3], rec.Form)
		}
	}
	return http.StatusNotFound, ""
}

// authenticate is RestComm's UserIdentityContext: the account of the Basic
// user (by e-mail, then SID) whose token is the secret or its md5.
func (s *StandIn) authenticate(r *http.Request) (*account, int) {
	user, secret, ok := r.BasicAuth()
	if !ok {
		return nil, http.StatusUnauthorized
	}
	accts, err := s.query("WHERE email_address = ?", user)
	if err != nil || len(accts) > 1 {
		return nil, http.StatusInternalServerError // selectOne: too many results
	}
	var a *account
	if len(accts) == 1 {
		a = &accts[0]
	} else if a, err = s.bySid(user); err != nil {
		return nil, http.StatusInternalServerError
	}
	if a == nil || (secret != a.token && MD5(secret) != a.token) {
		return nil, http.StatusUnauthorized
	}
	return a, 0
}

// secure is PermissionEvaluator.secure with RestComm's default roles:
// Administrator holds every permission, Developer those of Calls and
// Clients; the caller is the target or one of its ancestors.
func (s *StandIn) secure(caller, target *account, api string) int {
	if caller.role != "Administrator" && !(caller.role == "Developer" && (api == "Calls" || api == "Clients" || api == "Accounts")) {
		return http.StatusForbidden
	}
	for a, depth := target, 0; a != nil && depth < 4; depth++ {
		if a.sid == caller.sid {
			return 0
		}
		if a.parent == "" {
			break
		}
		var err error
		if a, err = s.bySid(a.parent); err != nil {
			return http.StatusInternalServerError
		}
	}
	return http.StatusForbidden
}

func (s *StandIn) bySid(sid string) (*account, error) {
	accts, err := s.query("WHERE sid = ?", sid)
	if err != nil || len(accts) == 0 {
		return nil, err
	}
	return &accts[0], nil
}

func (s *StandIn) query(where string, arg any) ([]account, error) {
	org := "organization_sid"
	if !s.hasOrganizations() {
		org = "'" + DefaultOrg + "'"
	}
	rows, err := s.db.Query("SELECT sid, email_address, friendly_name, COALESCE(parent_sid, ''), type, status, auth_token, role, "+
		org+" FROM restcomm_accounts "+where, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []account
	for rows.Next() {
		var a account
		if err := rows.Scan(&a.sid, &a.email, &a.name, &a.parent, &a.typ, &a.status, &a.token, &a.role, &a.org); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *StandIn) hasOrganizations() bool {
	var n int
	_ = s.db.QueryRow(`SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
		AND TABLE_NAME = 'restcomm_accounts' AND COLUMN_NAME = 'organization_sid'`).Scan(&n)
	return n > 0
}

func callsPage(sid string) string {
	uri := APIRoot + "Accounts/" + sid + "/Calls.json"
	page := map[string]any{
		"page": 0, "num_pages": 0, "page_size": 50, "total": 0, "start": "0", "end": "0",
		"uri": uri, "first_page_uri": uri + "?Page=0&PageSize=50", "previous_page_uri": "null",
		"next_page_uri": "null", "last_page_uri": uri + "?Page=0&PageSize=50", "calls": []any{},
	}
	b, _ := json.MarshalIndent(page, "", "  ")
	return string(b)
}

// Client is one row of the stand-in's restcomm_clients.
type Client struct {
	Sid          string `json:"sid"`
	DateCreated  string `json:"date_created"`
	DateUpdated  string `json:"date_updated"`
	AccountSid   string `json:"account_sid"`
	APIVersion   string `json:"api_version"`
	FriendlyName string `json:"friendly_name"`
	Login        string `json:"login"`
	// Password is what RestComm stores: md5(login:domain:password) when
	// PasswordAlgorithm is MD5, the plaintext when it is "" (NULL: a
	// client RestComm's account create made, read by RestComm as cleartext).
	Password          string `json:"-"`
	PasswordAlgorithm string `json:"password_algorithm"`
	Status            string `json:"status"`
	URI               string `json:"uri"`
}

// Clients returns the clients stored for an account, for tests to check.
func (s *StandIn) Clients(accountSid string) ([]Client, error) {
	return s.clients("WHERE account_sid = ?", accountSid)
}

func (s *StandIn) clients(where string, args ...any) ([]Client, error) {
	rows, err := s.db.Query(`SELECT sid, date_created, date_updated, account_sid, api_version, friendly_name,
		login, password, COALESCE(password_algorithm, ''), status, uri FROM restcomm_clients `+where+` ORDER BY sid`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Client
	for rows.Next() {
		var c Client
		if err := rows.Scan(&c.Sid, &c.DateCreated, &c.DateUpdated, &c.AccountSid, &c.APIVersion,
			&c.FriendlyName, &c.Login, &c.Password, &c.PasswordAlgorithm, &c.Status, &c.URI); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// errTooMany is MyBatis's selectOne finding more than one row: RestComm
// answers 500.
var errTooMany = errors.New("selectOne: more than one row")

// clientByLogin is RestComm's ClientsDao.getClient(login, organization):
// the organization's client of that login, as the database compares it;
// nil when there is none.
func (s *StandIn) clientByLogin(login, org string) (*Client, error) {
	cs, err := s.clients(`WHERE login = ? AND account_sid IN
		(SELECT sid FROM restcomm_accounts WHERE `+s.orgColumn()+` = ?)`, login, org)
	switch {
	case err != nil:
		return nil, err
	case len(cs) > 1:
		return nil, errTooMany
	case len(cs) == 0:
		return nil, nil
	}
	return &cs[0], nil
}

// HA1 is RestComm's stored SIP client password: md5(login:domain:password).
func HA1(login, domain, password string) string { return MD5(login + ":" + domain + ":" + password) }

// clientAlgorithm is RestComm's default client-algorithm (restcomm.xml),
// recorded with every password it hashes.
const clientAlgorithm = "MD5"

func (s *StandIn) domainOf(a *account) (string, error) {
	var d string
	err := s.db.QueryRow("SELECT domain_name FROM restcomm_organizations WHERE sid = ?", a.org).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) || (err != nil && strings.Contains(err.Error(), "doesn't exist")) {
		return "default.restcomm.com", nil
	}
	return d, err
}

func jsonOf(v any) (int, string) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	return http.StatusOK, string(b)
}

func (s *StandIn) listClients(a *account) (int, string) {
	cs, err := s.Clients(a.sid)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	if cs == nil {
		cs = []Client{}
	}
	return jsonOf(cs)
}

func (s *StandIn) createClient(a *account, form url.Values) (int, string) {
	if !form.Has("Login") {
		return http.StatusBadRequest, "Login can not be null."
	}
	if !form.Has("Password") {
		return http.StatusBadRequest, "Password can not be null."
	}
	login := form.Get("Login")
	existing, err := s.clientByLogin(login, a.org) // a login is unique in an organization
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	if existing != nil {
		if existing.AccountSid != a.sid {
			return http.StatusConflict, "A client with the same name was already created by another account. Please, choose a different name and try again."
		}
		return jsonOf(existing)
	}
	domain, err := s.domainOf(a)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	name := login
	if form.Has("FriendlyName") {
		name = form.Get("FriendlyName")
	}
	return s.insertClient(a, login, name, HA1(login, domain, form.Get("Password")), clientAlgorithm)
}

// insertClient stores a new client of a; algorithm "" is NULL.
func (s *StandIn) insertClient(a *account, login, name, password, algorithm string) (int, string) {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	now := time.Now().UTC().Format(time.DateTime)
	c := Client{Sid: "CL" + hex.EncodeToString(raw[:]), DateCreated: now, DateUpdated: now, AccountSid: a.sid,
		APIVersion: "2012-04-24", FriendlyName: name, Login: login, Password: password, PasswordAlgorithm: algorithm, Status: "1"}
	c.URI = "/2012-04-24/Accounts/" + a.sid + "/Clients/" + c.Sid
	var alg any
	if algorithm != "" {
		alg = algorithm
	}
	_, err := s.db.Exec(`INSERT INTO restcomm_clients (sid, date_created, date_updated, account_sid, api_version,
		friendly_name, login, password, status, uri, password_algorithm) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		c.Sid, c.DateCreated, c.DateUpdated, c.AccountSid, c.APIVersion, c.FriendlyName, c.Login, c.Password, 1, c.URI, alg)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	return jsonOf(c)
}

func (s *StandIn) orgColumn() string {
	if s.hasOrganizations() {
		return "organization_sid"
	}
	return "'" + DefaultOrg + "'"
}

func (s *StandIn) getClient(a *account, sid string) (int, string) {
	cs, err := s.clients("WHERE sid = ? AND account_sid = ?", sid, a.sid)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	if len(cs) == 0 {
		return http.StatusNotFound, ""
	}
	return jsonOf(cs[0])
}

func (s *StandIn) updateClient(a *account, sid string, form url.Values) (int, string) {
	cs, err := s.clients("WHERE sid = ? AND account_sid = ?", sid, a.sid)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	if len(cs) == 0 {
		return http.StatusNotFound, ""
	}
	c := cs[0]
	if err := s.changeClient(&c, a, form); err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	return jsonOf(c)
}

// changeClient gives c the form's FriendlyName and Password (hashed with
// the domain of a's organization, as RestComm's Client.setPassword does),
// and stores it.
func (s *StandIn) changeClient(c *Client, a *account, form url.Values) error {
	if form.Has("FriendlyName") {
		c.FriendlyName = form.Get("FriendlyName")
	}
	if form.Has("Password") {
		domain, err := s.domainOf(a)
		if err != nil {
			return err
		}
		c.Password, c.PasswordAlgorithm = HA1(c.Login, domain, form.Get("Password")), clientAlgorithm
	}
	c.DateUpdated = time.Now().UTC().Format(time.DateTime)
	var alg any
	if c.PasswordAlgorithm != "" {
		alg = c.PasswordAlgorithm
	}
	_, err := s.db.Exec("UPDATE restcomm_clients SET friendly_name = ?, password = ?, password_algorithm = ?, date_updated = ? WHERE sid = ?",
		c.FriendlyName, c.Password, alg, c.DateUpdated, c.Sid)
	return err
}

// accountJSON is an account in RestComm's field names.
func accountJSON(a *account) map[string]string {
	return map[string]string{"sid": a.sid, "friendly_name": a.name, "email_address": a.email, "type": a.typ,
		"status": a.status, "role": a.role, "auth_token": a.token, "uri": "/2012-04-24/Accounts/" + a.sid,
		"organization_sid": a.org}
}

var validStatus = map[string]bool{"active": true, "suspended": true, "closed": true, "inactive": true, "uninitialized": true}

// createAccount is AccountsEndpoint.putAccount: a sub-account of the
// caller, then its linked SIP client.
func (s *StandIn) createAccount(caller *account, form url.Values) (int, string) {
	if caller.role != "Administrator" && caller.role != "Developer" {
		return http.StatusForbidden, ""
	}
	// three levels at most: an account with a grandparent has no sub-accounts
	if caller.parent != "" {
		p, err := s.bySid(caller.parent)
		if err != nil {
			return http.StatusInternalServerError, err.Error()
		}
		if p != nil && p.parent != "" {
			return http.StatusBadRequest, "This account is not allowed to have sub-accounts"
		}
	}
	if !form.Has("EmailAddress") {
		return http.StatusBadRequest, "Email address can not be null."
	}
	if !form.Has("Password") {
		return http.StatusBadRequest, "Password can not be null."
	}
	given, password := form.Get("EmailAddress"), form.Get("Password")
	email := strings.ToLower(given) // RestComm stores the address lower-cased, and derives the SID from it
	a := &account{sid: SidOf(email), email: email, name: email, parent: caller.sid, typ: "Full", status: "active",
		token: MD5(password), role: caller.role, org: caller.org}
	if form.Has("FriendlyName") {
		a.name = form.Get("FriendlyName")
	}
	if form.Has("Status") {
		if a.status = strings.ToLower(form.Get("Status")); !validStatus[a.status] {
			return http.StatusBadRequest, ""
		}
	}
	if org := form.Get("OrganizationSid"); form.Has("OrganizationSid") && org != caller.org {
		if caller.parent != "" { // another organization: a Super Admin (top-level account) only
			return http.StatusForbidden, ""
		}
		var n int
		if err := s.db.QueryRow("SELECT COUNT(*) FROM restcomm_organizations WHERE sid = ?", org).Scan(&n); err != nil {
			return http.StatusInternalServerError, err.Error()
		}
		if n == 0 {
			return http.StatusBadRequest, "provided OrganizationSid does not exist"
		}
		a.org = org
	}
	// the conflict is the SID, looked up by the database (and RestComm's
	// own administrator, whose SID is not derived from its address)
	existing, err := s.bySid(a.sid)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	if existing != nil || strings.EqualFold(email, "administrator@company.com") {
		return http.StatusConflict, "The email address used for the new account is already in use."
	}
	if caller.status != "active" {
		return http.StatusForbidden, ""
	}
	if caller.role == "Administrator" && form.Has("Role") {
		a.role = form.Get("Role")
	}
	now := time.Now().UTC().Format(time.DateTime)
	cols := "sid, date_created, date_updated, email_address, friendly_name, parent_sid, type, status, auth_token, role, uri"
	args := []any{a.sid, now, now, a.email, a.name, a.parent, a.typ, a.status, a.token, a.role, "/2012-04-24/Accounts/" + a.sid}
	if s.hasOrganizations() {
		cols += ", organization_sid"
		args = append(args, a.org)
	}
	if _, err := s.db.Exec("INSERT INTO restcomm_accounts ("+cols+") VALUES (?"+strings.Repeat(",?", len(args)-1)+")", args...); err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	// the linked SIP client: the local part of the address as given, the
	// password as given (RestComm's account create stores it unhashed and
	// records no algorithm), unless the organization has that login
	login, _, _ := strings.Cut(given, "@")
	c, err := s.clientByLogin(login, a.org)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	if c == nil {
		if code, body := s.insertClient(a, login, a.name, password, ""); code != http.StatusOK {
			return code, body
		}
	}
	return jsonOf(accountJSON(a))
}

// updateAccount is AccountsEndpoint.updateAccount: the status of the
// account and of every account below it (RestComm's cascade), its friendly
// name, password and role, and its linked SIP client.
func (s *StandIn) updateAccount(caller, target *account, form url.Values) (int, string) {
	if caller.role != "Administrator" && caller.role != "Developer" {
		return http.StatusForbidden, ""
	}
	if caller.sid != target.sid {
		if caller.role != "Administrator" || s.secure(caller, target, "Accounts") != 0 {
			return http.StatusForbidden, ""
		}
	}
	if target.status == "closed" {
		return http.StatusBadRequest, "Account is closed"
	}
	next := *target
	if form.Has("Status") {
		if next.status = strings.ToLower(form.Get("Status")); !validStatus[next.status] {
			return http.StatusInternalServerError, ""
		}
	}
	if form.Has("FriendlyName") {
		next.name = form.Get("FriendlyName")
	}
	if form.Has("Password") {
		next.token = MD5(form.Get("Password"))
		if target.status == "uninitialized" { // a password reset activates, whatever Status says
			next.status = "active"
		}
	}
	if form.Has("Role") {
		if caller.role != "Administrator" {
			return http.StatusForbidden, "Only Administrator allowed"
		}
		next.role = form.Get("Role")
	}
	if next == *target && !form.Has("Password") && !form.Has("FriendlyName") {
		return jsonOf(accountJSON(target))
	}
	now := time.Now().UTC().Format(time.DateTime)
	if next.status != target.status {
		if err := s.cascade(target.sid, next.status, now); err != nil {
			return http.StatusInternalServerError, err.Error()
		}
	}
	if form.Has("Password") || form.Has("FriendlyName") {
		if err := s.updateLinkedClient(target, form); err != nil {
			return http.StatusInternalServerError, err.Error()
		}
	}
	_, err := s.db.Exec("UPDATE restcomm_accounts SET friendly_name = ?, status = ?, auth_token = ?, role = ?, date_updated = ? WHERE sid = ?",
		next.name, next.status, next.token, next.role, now, target.sid)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	return jsonOf(accountJSON(&next))
}

// cascade gives every account below sid the status.
func (s *StandIn) cascade(sid, status, now string) error {
	queue := []string{sid}
	for i := 0; i < len(queue) && i < 100000; i++ {
		if i > 0 {
			if _, err := s.db.Exec("UPDATE restcomm_accounts SET status = ?, date_updated = ? WHERE sid = ?", status, now, queue[i]); err != nil {
				return err
			}
		}
		rows, err := s.db.Query("SELECT sid FROM restcomm_accounts WHERE parent_sid = ?", queue[i])
		if err != nil {
			return err
		}
		for rows.Next() {
			var kid string
			if err := rows.Scan(&kid); err == nil {
				queue = append(queue, kid)
			}
		}
		rows.Close()
	}
	return nil
}

// updateLinkedClient is RestComm's: the client of the organization whose
// login is the local part of the account's stored e-mail address (found
// by the database), if any, gets the new password and friendly name.
func (s *StandIn) updateLinkedClient(a *account, form url.Values) error {
	if a.email == "" {
		return nil
	}
	login, _, _ := strings.Cut(a.email, "@")
	c, err := s.clientByLogin(login, a.org)
	if err != nil || c == nil {
		return err
	}
	return s.changeClient(c, a, form)
}
