package mirror

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/restcomm/restcomm-gateway/store"
)

// upstream asks RestComm itself, directly (not through a gateway), for the
// side effects only its own code performs: closing an account (numbers
// released; clients, recordings, applications deleted; RVD notified), and
// the account's SIP client, which RestComm creates with the account and
// keeps in step with its password (hashed by RestComm: it needs the
// plaintext) and friendly name.
type upstream struct {
	base   string // e.g. http://restcomm:8080
	client *http.Client
}

// apiRoot is RestComm's REST API below its base URL.
const apiRoot = "/restcomm/2012-04-24/"

// callFailed is an answer that is not the one wanted.
type callFailed struct {
	status int
	body   string
}

func (e *callFailed) Error() string {
	body := strings.TrimSpace(e.body)
	if len(body) > 200 {
		body = body[:200] + "…"
	}
	return fmt.Sprintf("RestComm answered %d %q", e.status, body)
}

// do sends one request as the account (sid, token): RestComm accepts an
// account's SID as user and its auth token as password. It returns the
// status and body; err only when no answer came (transient).
func (u *upstream) do(ctx context.Context, method, path string, form url.Values, sid, token string) (int, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(u.base, "/")+apiRoot+path, body)
	if err != nil {
		return 0, "", permanent(kindRefused, "request to RestComm: %v", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(sid, token)
	res, err := u.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("RestComm: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return 0, "", fmt.Errorf("RestComm: %w", err)
	}
	return res.StatusCode, string(b), nil
}

// answerError turns an unwanted answer into a failure: RestComm down or
// failing (502, 503, 504, and 500 a few times) is transient; anything
// else is RestComm refusing, permanently.
func answerError(status int, body, what string, attempt int) error {
	e := &callFailed{status: status, body: body}
	switch {
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout,
		status >= 500 && attempt < maxServerErrors:
		return fmt.Errorf("%s: %w", what, e)
	}
	return permanent(kindRefused, "%s: %v", what, e)
}

// maxServerErrors is how often a 500 (or another 5xx but 502–504) is
// retried before the entry is dead-lettered: RestComm failing on one
// account (e.g. two rows with one e-mail address) fails every time.
const maxServerErrors = 5

// closeAccount asks RestComm to close sid as caller, so that RestComm runs
// its own cascade. 200, or 400 "Account is closed" (closed already: a
// replay), both mean done.
func (u *upstream) closeAccount(ctx context.Context, sid string, caller *store.Account, attempt int) error {
	status, body, err := u.do(ctx, http.MethodPut, "Accounts/"+sid+".json", url.Values{"Status": {"closed"}},
		caller.Sid, caller.AuthToken)
	switch {
	case err != nil:
		return err
	case status == http.StatusOK:
		return nil
	case status == http.StatusBadRequest && strings.Contains(body, "Account is closed"):
		return nil
	}
	return answerError(status, body, fmt.Sprintf("close of %s as %s", sid, caller.Sid), attempt)
}

// createClient creates the account's linked SIP client as RestComm's own
// account create does: login the e-mail address's local part as the
// client gave it (login; derived from the stored address when the entry
// predates it), the
// plaintext password, the account's friendly name. RestComm's Clients API
// decides as its account create does, on its database (the organization's
// client of that login, compared by the database's collation): none, a new
// client; one of this account, left as it is (200); one of another account,
// 409. All three are done: an existing client is never overwritten.
func (u *upstream) createClient(ctx context.Context, a, caller *store.Account, login, password string, attempt int) error {
	if login == "" {
		login = clientLogin(a.EmailAddress)
	}
	form := url.Values{"Login": {login}, "Password": {password}, "FriendlyName": {a.FriendlyName}}
	status, body, err := u.do(ctx, http.MethodPost, "Accounts/"+a.Sid+"/Clients.json", form, caller.Sid, caller.AuthToken)
	switch {
	case err != nil:
		return err
	case status == http.StatusOK || status == http.StatusCreated || status == http.StatusConflict:
		return nil
	}
	return answerError(status, body, fmt.Sprintf("SIP client of %s", a.Sid), attempt)
}

// updateClient sets a client's fields (Password, FriendlyName) through
// RestComm's Clients API, which hashes the password with the domain of the
// owner's organization, as RestComm's updateLinkedClient does. The client
// is named under its owner, as RestComm requires. 404 (deleted meanwhile:
// RestComm would have found nothing to update) is done.
func (u *upstream) updateClient(ctx context.Context, owner, clientSid string, form url.Values, caller *store.Account, attempt int) error {
	status, body, err := u.do(ctx, http.MethodPost, "Accounts/"+owner+"/Clients/"+clientSid+".json", form, caller.Sid, caller.AuthToken)
	switch {
	case err != nil:
		return err
	case status == http.StatusOK || status == http.StatusNotFound:
		return nil
	}
	return answerError(status, body, fmt.Sprintf("SIP client %s of %s", clientSid, owner), attempt)
}

// clientLogin is RestComm's SIP client login of an account: its e-mail
// address's local part.
func clientLogin(email string) string {
	login, _, _ := strings.Cut(email, "@")
	return login
}

// httpClient is the default client for RestComm: bounded, no redirects.
func httpClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
