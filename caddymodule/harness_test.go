package caddymodule

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/redistest"
)

// The conformance fixture of spec §16 (mirrors RestComm's test data).
const (
	sidAdmin  = "ACae6e420f425248d6a26948c17a9e2acf"
	sidDev    = "AC574d775522c96f9aacacc5ca60c8c74f"
	sidCadm   = "AC574d775522c96f9aacacc5ca60c8c74g"
	sidGrand  = "AC55555555555555555555555555555555"
	sidGuest  = "AC11111111111111111111111111111111"
	sidTopDev = "AC44444444444444444444444444444444"
	sidSusp   = "AC22222222222222222222222222222222"
	sidClosed = "AC33333333333333333333333333333333"
	sidUninit = "AC66666666666666666666666666666666"
	sidOrg0   = "ORafbe225ad37541eba518a74248f0ac4c"
	sidOrg1   = "ORafbe225ad37541eba518a74248f0ac4d"
	tokenT    = "77f8c12cc7b8f8423e5c38b035249166" // md5("RestComm")
	apiRoot   = "/restcomm/2012-04-24"
)

// fixtureUser names each fixture account's login e-mail.
var fixtureUser = map[string]string{
	"ADMIN": "administrator@company.com", "DEV": "child@company.com", "CADM": "admin@company.com",
	"GRAND": "grandchild@company.com", "GUEST": "guest@company.com", "TOPDEV": "nonSubAccount@company.com",
	"SUSP": "suspended@company.com", "CLOSED": "closed@company.com", "UNINIT": "uninit@company.com",
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

type harness struct {
	t       *testing.T
	g       *Gateway
	store   *store.Store
	redis   *redistest.Server
	proxied []*http.Request // requests handed to the next handler
}

// newHarness provisions the handler against a fresh redis-server. With
// fixture, the spec §16 accounts are loaded (ADMIN active).
func newHarness(t *testing.T, fixture bool, configure ...func(*Gateway)) *harness {
	t.Helper()
	srv := redistest.Start(t)
	g := &Gateway{Redis: RedisConfig{URLs: []string{srv.URL()}}}
	for _, c := range configure {
		c(g)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	require.NoError(t, g.Provision(ctx))
	require.NoError(t, g.Validate())
	t.Cleanup(func() { _ = g.Cleanup() })
	h := &harness{t: t, g: g, store: g.store, redis: srv}
	if fixture {
		h.loadFixture()
	}
	return h
}

func (h *harness) loadFixture() {
	t, st, bg := h.t, h.store, context.Background()
	_, err := st.Seed(bg, "")
	require.NoError(t, err)
	active := "active"
	_, err = st.UpdateAccount(bg, sidAdmin, store.AccountUpdate{Status: &active, Now: time.Date(2012, 4, 24, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	_, err = st.CreateOrganization(bg, &store.Organization{Sid: sidOrg1, DomainName: "org1.restcomm.com", Status: "active",
		DateCreated: time.Date(2017, 4, 19, 0, 0, 0, 0, time.UTC), DateUpdated: time.Date(2017, 4, 19, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	add := func(sid, email, role, status, parent string) {
		when := time.Date(2012, 4, 24, 0, 0, 0, 0, time.UTC)
		_, err := st.CreateAccount(bg, &store.Account{
			Sid: sid, OrganizationSid: sidOrg0, FriendlyName: email, EmailAddress: email, Type: "Full",
			Status: status, Role: role, AuthToken: tokenT, URI: "/2012-04-24/Accounts/" + sid,
			ParentSid: parent, DateCreated: when, DateUpdated: when,
		})
		require.NoError(t, err)
	}
	add(sidDev, fixtureUser["DEV"], "Developer", "active", sidAdmin)
	add(sidCadm, fixtureUser["CADM"], "Administrator", "active", sidAdmin)
	add(sidGrand, fixtureUser["GRAND"], "Administrator", "active", sidDev)
	add(sidGuest, fixtureUser["GUEST"], "Guest", "active", "")
	add(sidTopDev, fixtureUser["TOPDEV"], "Developer", "active", "")
	add(sidSusp, fixtureUser["SUSP"], "Developer", "suspended", sidAdmin)
	add(sidClosed, fixtureUser["CLOSED"], "Developer", "closed", sidAdmin)
	add(sidUninit, fixtureUser["UNINIT"], "Developer", "uninitialized", sidAdmin)
}

// call is one request to the handler.
type call struct {
	method, path string
	as           string // fixture name (ADMIN, DEV, …) logging in with email:T
	user, secret string // explicit credentials instead of as
	auth         string // raw Authorization header instead of either
	header       http.Header
	form         string // form body, sent as x-www-form-urlencoded
	body         io.Reader
	remote       string // the client's host:port, 192.0.2.1:1234 by default
}

func basic(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

func (h *harness) do(c call) *httptest.ResponseRecorder {
	h.t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	body := c.body
	if c.form != "" {
		body = strings.NewReader(c.form)
	}
	r := httptest.NewRequest(method, "https://gw.example.com"+c.path, body)
	if c.remote != "" {
		r.RemoteAddr = c.remote
	}
	for k, v := range c.header {
		r.Header[k] = v
	}
	if c.form != "" && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	switch {
	case c.auth != "":
		r.Header.Set("Authorization", c.auth)
	case c.user != "":
		r.Header.Set("Authorization", basic(c.user, c.secret))
	case c.as != "":
		r.Header.Set("Authorization", basic(fixtureUser[c.as], tokenT))
	}
	repl := caddy.NewReplacer()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	w := httptest.NewRecorder()
	next := handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		h.proxied = append(h.proxied, r)
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(http.StatusTeapot)
		return nil
	})
	require.NoError(h.t, h.g.ServeHTTP(w, r, next))
	return w
}

type handlerFunc func(http.ResponseWriter, *http.Request) error

func (f handlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return f(w, r) }
