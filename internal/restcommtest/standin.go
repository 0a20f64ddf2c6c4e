// Package restcommtest is a stand-in RestComm Connect for tests, on a real
// MariaDB holding RestComm's tables (see internal/mariadbtest), and the
// RestComm datasets the import tests load into it.
//
// The stand-in does what a drop-in test needs RestComm to do, as RestComm
// does it:
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
//   - permissions: Administrator may do anything, Developer the Calls and
//     Clients APIs, on its own account or one below it (by parent_sid);
//     403 otherwise;
//   - GET /Accounts/{sid}/Calls(.json): an empty list;
//   - the Clients API subset that mirroring needs: POST /Accounts/{sid}/Clients
//     (Login, Password, FriendlyName; 409 when another account of the
//     organization has the login), GET /Accounts/{sid}/Clients,
//     GET and POST/PUT /Accounts/{sid}/Clients/{clientSid} (Password,
//     FriendlyName), stored in a restcomm_clients table it creates, the
//     password as RestComm stores it (md5 of login:domain:password);
//   - POST/PUT /Accounts/{sid} with Status (what closing through RestComm's
//     API does to its tables): the account and its whole subtree get the
//     status; 400 "Account is closed" for a closed account; only the
//     account itself or an Administrator above it;
//   - everything else: 404.
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
	"fmt"
	"io"
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
}

// ClientsSchema is the stand-in's clients table: the columns of RestComm's
// restcomm_clients that the Clients API subset uses.
const ClientsSchema = `CREATE TABLE IF NOT EXISTS restcomm_clients (
	sid                VARCHAR(34)  NOT NULL,
	date_created       DATETIME     NOT NULL,
	date_updated       DATETIME     NOT NULL,
	account_sid        VARCHAR(34)  NOT NULL,
	api_version        VARCHAR(10)  NOT NULL,
	friendly_name      VARCHAR(64)  NOT NULL,
	login              VARCHAR(64)  NOT NULL,
	password           VARCHAR(64)  NOT NULL,
	password_algorithm VARCHAR(255) NOT NULL,
	status             INT          NOT NULL,
	uri                MEDIUMTEXT   NOT NULL,
	PRIMARY KEY (sid)
)`

// Start serves the stand-in on db (which holds RestComm's tables) until
// the test ends.
func Start(t testing.TB, db *sql.DB) *StandIn {
	t.Helper()
	if _, err := db.Exec(ClientsSchema); err != nil {
		t.Fatalf("restcommtest: %v", err)
	}
	s := &StandIn{db: db}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

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
	s.mu.Lock()
	s.seen = append(s.seen, rec)
	s.mu.Unlock()
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
		return s.updateStatus(caller, target, rec.Form)
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
	Password     string `json:"-"` // md5(login:domain:password)
	Status       string `json:"status"`
	URI          string `json:"uri"`
}

// Clients returns the clients stored for an account, for tests to check.
func (s *StandIn) Clients(accountSid string) ([]Client, error) {
	return s.clients("WHERE account_sid = ?", accountSid)
}

func (s *StandIn) clients(where string, args ...any) ([]Client, error) {
	rows, err := s.db.Query(`SELECT sid, date_created, date_updated, account_sid, api_version, friendly_name,
		login, password, status, uri FROM restcomm_clients `+where+` ORDER BY sid`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Client
	for rows.Next() {
		var c Client
		if err := rows.Scan(&c.Sid, &c.DateCreated, &c.DateUpdated, &c.AccountSid, &c.APIVersion,
			&c.FriendlyName, &c.Login, &c.Password, &c.Status, &c.URI); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// HA1 is RestComm's stored SIP client password: md5(login:domain:password).
func HA1(login, domain, password string) string { return MD5(login + ":" + domain + ":" + password) }

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
	// a login is unique in an organization
	existing, err := s.clients(`WHERE login = ? AND account_sid IN
		(SELECT sid FROM restcomm_accounts WHERE `+s.orgColumn()+` = ?)`, login, a.org)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	if len(existing) > 0 {
		if existing[0].AccountSid != a.sid {
			return http.StatusConflict, "A client with the same name was already created by another account. Please, choose a different name and try again."
		}
		return jsonOf(existing[0])
	}
	domain, err := s.domainOf(a)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	now := time.Now().UTC().Format(time.DateTime)
	c := Client{Sid: "CL" + hex.EncodeToString(raw[:]), DateCreated: now, DateUpdated: now, AccountSid: a.sid,
		APIVersion: "2012-04-24", FriendlyName: login, Login: login, Password: HA1(login, domain, form.Get("Password")), Status: "1"}
	if form.Has("FriendlyName") {
		c.FriendlyName = form.Get("FriendlyName")
	}
	c.URI = "/2012-04-24/Accounts/" + a.sid + "/Clients/" + c.Sid
	_, err = s.db.Exec(`INSERT INTO restcomm_clients VALUES (?,?,?,?,?,?,?,?,?,?,?)`, c.Sid, c.DateCreated, c.DateUpdated,
		c.AccountSid, c.APIVersion, c.FriendlyName, c.Login, c.Password, "MD5", 1, c.URI)
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
	if form.Has("FriendlyName") {
		c.FriendlyName = form.Get("FriendlyName")
	}
	if form.Has("Password") {
		domain, err := s.domainOf(a)
		if err != nil {
			return http.StatusInternalServerError, err.Error()
		}
		c.Password = HA1(c.Login, domain, form.Get("Password"))
	}
	c.DateUpdated = time.Now().UTC().Format(time.DateTime)
	_, err = s.db.Exec("UPDATE restcomm_clients SET friendly_name = ?, password = ?, date_updated = ? WHERE sid = ?",
		c.FriendlyName, c.Password, c.DateUpdated, c.Sid)
	if err != nil {
		return http.StatusInternalServerError, fmt.Sprint(err)
	}
	return jsonOf(c)
}

// updateStatus is the part of AccountsEndpoint.updateAccount that a
// gateway mirroring a close needs: the status of the account and of every
// account below it (RestComm's cascade).
func (s *StandIn) updateStatus(caller, target *account, form url.Values) (int, string) {
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
	status := strings.ToLower(form.Get("Status"))
	switch status {
	case "active", "suspended", "closed", "inactive", "uninitialized":
	case "":
		return jsonOf(map[string]string{"sid": target.sid, "status": target.status})
	default:
		return http.StatusInternalServerError, ""
	}
	now := time.Now().UTC().Format(time.DateTime)
	queue := []string{target.sid}
	for i := 0; i < len(queue) && i < 100000; i++ {
		if _, err := s.db.Exec("UPDATE restcomm_accounts SET status = ?, date_updated = ? WHERE sid = ?", status, now, queue[i]); err != nil {
			return http.StatusInternalServerError, err.Error()
		}
		rows, err := s.db.Query("SELECT sid FROM restcomm_accounts WHERE parent_sid = ?", queue[i])
		if err != nil {
			return http.StatusInternalServerError, err.Error()
		}
		for rows.Next() {
			var sid string
			if err := rows.Scan(&sid); err == nil {
				queue = append(queue, sid)
			}
		}
		rows.Close()
	}
	return jsonOf(map[string]string{"sid": target.sid, "status": status})
}
