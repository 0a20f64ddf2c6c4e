package accountsapi

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

// addAccount stores an account below parent with the fixture's token.
func addAccount(t *testing.T, h *harness, email, name, role, status, parent string) *store.Account {
	t.Helper()
	sid := "AC" + md5hex(email)
	now := time.Now()
	a, err := h.store.CreateAccount(t.Context(), nil, &store.Account{
		Sid: sid, OrganizationSid: fixture.SidOrg0, FriendlyName: name, EmailAddress: email, Type: "Full",
		Status: status, Role: role, AuthToken: fixture.Token, URI: "/2012-04-24/Accounts/" + sid,
		ParentSid: parent, DateCreated: now, DateUpdated: now,
	})
	require.NoError(t, err)
	return a
}

// The review's reproductions of the "…Logout" hole: a served operation
// whose id ends in "Logout" (or looks like a recording file) got no
// authorization at all. Tree: ADMIN → DEV (Developer) → A1 (Developer);
// ADMIN → CADM (B in the review: another subtree, not a Super Admin).
func TestLogoutSpellingSkipsNoCheck(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	a1 := addAccount(t, h, "a1@x.com", "a1@x.com", "Developer", "active", fixture.SidDev)
	as := func(c call, user string) call { c.user, c.secret = user, fixture.Token; return c }

	w := h.do(as(put("/Accounts.json/"+a1.Sid, "", "FriendlyName=a1Logout"), "a1@x.com"))
	require.Equal(t, http.StatusOK, w.Code, "an account renames itself")

	w = h.do(as(put("/Accounts.json/a1Logout", "", "Role=Administrator"), "a1@x.com"))
	assert.Equal(t, http.StatusForbidden, w.Code, "a Developer may not make itself Administrator")
	w = h.do(as(put("/Accounts.json/a1Logout", "", "Password=Hacked1234x"), fixture.Users["CADM"]))
	assert.Equal(t, http.StatusForbidden, w.Code, "another subtree may not take A1 over")
	got := account(t, h, a1.Sid)
	assert.Equal(t, "Developer", got.Role)
	assert.Equal(t, fixture.Token, got.AuthToken)

	w = h.do(as(put("/Organizations.json/evilLogout", "", ""), fixture.Users["CADM"]))
	assert.Equal(t, http.StatusForbidden, w.Code, "organizations are created by Super Admins only")
	w = h.do(as(put("/Organizations.json/closedLogout", "", ""), fixture.Users["CLOSED"]))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, w.Body.String(), "Provided Account is not active")
	for _, d := range []string{"evilLogout", "closedLogout"} {
		_, err := h.store.OrganizationByDomain(t.Context(), d)
		assert.ErrorIs(t, err, store.ErrNotFound, d)
	}

	// a suspended account cannot un-suspend itself through its own name
	e := addAccount(t, h, "e@x.com", "eLogout", "Developer", "active", fixture.SidDev)
	setStatusRaw(t, h, e.Sid, store.StatusSuspended)
	w = h.do(as(put("/Accounts.json/eLogout", "", "Status=active"), "e@x.com"))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Equal(t, store.StatusSuspended, account(t, h, e.Sid).Status)

	// no escalated identity reaches upstream either
	h.proxied = nil
	w = h.do(as(call{path: fixture.APIRoot + "/Accounts/" + a1.Sid + "/Calls.json"}, "a1@x.com"))
	require.Equal(t, http.StatusTeapot, w.Code)
	require.Len(t, h.proxied, 1)
	assert.Equal(t, "Developer", h.proxied[0].Header.Get(HeaderAccountRole))
}

// Every served operation, with its id spelt in every way that names the
// same account, gets the same answer as with the plain SID, for every kind
// of caller; and an id in the shape of an unauthenticated RestComm path
// (…Logout, ….wav, RE…) gets the same answer as its neutral twin.
func TestServedOperationsDecideAlikeWhateverTheIDSpelling(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	// targets: Developers below CADM (an Administrator below ADMIN), each
	// named in one of the spellings, and a twin named in a neutral one
	type spelling struct{ kind, name, twin string }
	spellings := []spelling{
		{"logout", "tLogout", "tLogon"},
		{"wav", "t.wav", "t.wab"},
		{"recording", "RE1t", "XE1t"},
		{"recording file", "RE1.mp4", "XE1.mp3"},
		{"friendly name", "Target Name", "Target Twin"},
	}
	type target struct {
		sid, email, name string
	}
	var targets, twins []target
	for i, s := range spellings {
		a := addAccount(t, h, fmt.Sprintf("t%d@x.com", i), s.name, "Developer", "active", fixture.SidCadm)
		b := addAccount(t, h, fmt.Sprintf("twin%d@x.com", i), s.twin, "Developer", "active", fixture.SidCadm)
		targets = append(targets, target{a.Sid, a.EmailAddress, a.FriendlyName})
		twins = append(twins, target{b.Sid, b.EmailAddress, b.FriendlyName})
	}
	// a SID-shaped friendly name is no SID: it names nothing, like a SID
	// nobody has
	addAccount(t, h, "sidname@x.com", "AC0123456789abcdef0123456789abcdef", "Developer", "active", fixture.SidCadm)
	const noSuchSid = "ACfedcba9876543210fedcba9876543210"

	type op struct {
		name, method, path, form string
	}
	ops := []op{
		{"read", "GET", "/Accounts.json/%s", ""},
		{"read XML", "GET", "/Accounts/%s", ""},
		{"update POST", "POST", "/Accounts.json/%s", "Status=bogus"},
		{"update PUT", "PUT", "/Accounts.json/%s", "Status=bogus"},
		{"role change", "POST", "/Accounts.json/%s", "Role=" + strings.Repeat("r", 65)},
		{"migrate", "POST", "/Accounts.json/migrate/%s", "Organization=" + fixture.SidOrg0},
		{"no such method", "DELETE", "/Accounts.json/%s", ""},
		{"options", "OPTIONS", "/Accounts.json/%s", ""},
	}
	callers := []string{"ADMIN", "CADM", "DEV", "GRAND", "TOPDEV", "GUEST", "SUSP", "CLOSED", "UNINIT", "self"}

	type answer struct {
		code int
		body string
	}
	ask := func(o op, as, self, id string) answer {
		c := call{method: o.method, path: fixture.APIRoot + fmt.Sprintf(o.path, url.PathEscape(id)), form: o.form}
		if o.form == "" && (o.method == "POST" || o.method == "PUT") {
			c.header = http.Header{"Content-Type": {typeForm}}
		}
		if as == "self" {
			c.user, c.secret = self, fixture.Token
		} else {
			c.as = as
		}
		w := h.do(c)
		a := answer{code: w.Code}
		if w.Code >= 300 { // a success shows the account itself, which differs
			a.body = w.Body.String()
		}
		return a
	}
	decisions := 0
	for _, o := range ops {
		for _, as := range callers {
			for i, s := range spellings {
				tg, tw := targets[i], twins[i]
				plain := ask(o, as, tg.email, tg.sid)
				for _, id := range []string{tg.name, tg.email} {
					assert.Equal(t, plain, ask(o, as, tg.email, id), "%s as %s: %q vs its SID", o.name, as, id)
					decisions++
				}
				assert.Equal(t, ask(o, as, tw.email, tw.name), ask(o, as, tg.email, tg.name),
					"%s as %s: %s spelling %q vs its twin %q", o.name, as, s.kind, tg.name, tw.name)
			}
			assert.Equal(t, ask(o, as, "sidname@x.com", noSuchSid), ask(o, as, "sidname@x.com", "AC0123456789abcdef0123456789abcdef"),
				"%s as %s: a SID-shaped friendly name", o.name, as)
		}
	}
	require.Greater(t, decisions, 500)

	// Organizations: an id in an unauthenticated shape decides as its twin
	orgOps := []op{
		{"read", "GET", "/Organizations.json/%s", ""},
		{"create", "PUT", "/Organizations.json/%s", ""},
		{"migrate clients", "PUT", "/Organizations.json/%s/Migrate", ""},
		{"no such method", "POST", "/Organizations.json/%s", ""},
	}
	for _, o := range orgOps {
		for _, as := range callers {
			if as == "self" {
				continue
			}
			for _, s := range spellings {
				n := strings.NewReplacer(" ", "", ".", "-").Replace(as + s.name)
				tw := strings.NewReplacer(" ", "", ".", "-").Replace(as + s.twin)
				got, want := ask(o, as, "", n), ask(o, as, "", tw)
				assert.Equal(t, want.code, got.code, "%s as %s: %q vs %q", o.name, as, n, tw)
			}
		}
	}
}

// stalledBody is a request body that signals its first read and then
// waits until it is released.
type stalledBody struct {
	reading chan struct{}
	release chan struct{}
	once    sync.Once
	r       io.Reader
}

func newStalledBody(form string) *stalledBody {
	return &stalledBody{reading: make(chan struct{}), release: make(chan struct{}), r: strings.NewReader(form)}
}

func (b *stalledBody) Read(p []byte) (int, error) {
	b.once.Do(func() { close(b.reading); <-b.release })
	return b.r.Read(p)
}

// stalled starts r, whose body is b, and returns once the handler has read
// the caller and waits for the body; done delivers the response.
func stalled(h *harness, r *http.Request, b *stalledBody) (done chan *httpResult) {
	done = make(chan *httpResult, 1)
	go func() {
		w := h.serve(r)
		done <- &httpResult{code: w.Code, body: w.Body.String()}
	}()
	<-b.reading
	return done
}

type httpResult struct {
	code int
	body string
}

// A write is made on the caller as it is when the write happens, not as it
// was when the request's headers arrived.
func TestWritesAreDecidedOnTheCallerAsItIsNow(t *testing.T) {
	t.Parallel()
	t.Run("suspended while its body was on its way", func(t *testing.T) {
		h := newHarness(t, true)
		e := addAccount(t, h, "e@x.com", "e", "Administrator", "active", fixture.SidCadm)
		kid := addAccount(t, h, "ekid@x.com", "ekid", "Administrator", "active", e.Sid)
		b := newStalledBody("Status=active")
		r := formRequest("PUT", "/Accounts.json/"+e.Sid, "e@x.com", fixture.Token, "")
		r.Body = io.NopCloser(b)
		done := stalled(h, r, b)
		w := h.do(put("/Accounts.json/"+e.Sid, "ADMIN", "Status=suspended"))
		require.Equal(t, http.StatusOK, w.Code)
		close(b.release)
		res := <-done
		assert.Equal(t, http.StatusForbidden, res.code)
		assert.Contains(t, res.body, "Provided Account is not active")
		assert.Equal(t, store.StatusSuspended, account(t, h, e.Sid).Status)
		assert.Equal(t, store.StatusSuspended, account(t, h, kid.Sid).Status)
	})

	t.Run("closed while creating a child", func(t *testing.T) {
		h := newHarness(t, true)
		e := addAccount(t, h, "e@x.com", "e", "Administrator", "active", fixture.SidAdmin)
		b := newStalledBody("EmailAddress=kid@x.com&Password=RestComm12")
		r := formRequest("POST", "/Accounts.json", "e@x.com", fixture.Token, "")
		r.Body = io.NopCloser(b)
		done := stalled(h, r, b)
		require.Equal(t, http.StatusOK, h.do(put("/Accounts.json/"+e.Sid, "ADMIN", "Status=closed")).Code)
		close(b.release)
		res := <-done
		assert.Equal(t, http.StatusForbidden, res.code)
		assert.Contains(t, res.body, "Provided Account is not active")
		_, err := h.store.Account(t.Context(), "AC"+md5hex("kid@x.com"))
		assert.ErrorIs(t, err, store.ErrNotFound, "no child under a closed parent")
	})

	t.Run("password reset by an administrator", func(t *testing.T) {
		h := newHarness(t, true)
		e := addAccount(t, h, "e@x.com", "e", "Developer", "active", fixture.SidAdmin)
		b := newStalledBody("Password=Mine12345678x")
		r := formRequest("PUT", "/Accounts.json/"+e.Sid, "e@x.com", fixture.Token, "")
		r.Body = io.NopCloser(b)
		done := stalled(h, r, b)
		require.Equal(t, http.StatusOK, h.do(put("/Accounts.json/"+e.Sid, "ADMIN", "Password=Reset12345678x")).Code)
		close(b.release)
		res := <-done
		assert.Equal(t, http.StatusUnauthorized, res.code, "the old credentials no longer log in")
		assert.Equal(t, md5hex("Reset12345678x"), account(t, h, e.Sid).AuthToken)
	})

	t.Run("role taken away", func(t *testing.T) {
		h := newHarness(t, true)
		e := addAccount(t, h, "e@x.com", "e", "Administrator", "active", fixture.SidAdmin)
		kid := addAccount(t, h, "ekid@x.com", "ekid", "Developer", "active", e.Sid)
		b := newStalledBody("Role=Administrator")
		r := formRequest("PUT", "/Accounts.json/"+kid.Sid, "e@x.com", fixture.Token, "")
		r.Body = io.NopCloser(b)
		done := stalled(h, r, b)
		require.Equal(t, http.StatusOK, h.do(put("/Accounts.json/"+e.Sid, "ADMIN", "Role=Developer")).Code)
		close(b.release)
		res := <-done
		assert.Equal(t, http.StatusForbidden, res.code)
		assert.Equal(t, "Developer", account(t, h, kid.Sid).Role)
	})
}

// A parent closed while it creates fifty children at once: afterwards no
// child of it is active (closed is terminal, so none could ever be
// closed later).
func TestCloseRacingCreatesLeavesNoActiveChild(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	p := addAccount(t, h, "parent@x.com", "parent", "Administrator", "active", fixture.SidAdmin)
	const n = 50
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			<-start
			r := formRequest("POST", "/Accounts.json", "parent@x.com", fixture.Token,
				fmt.Sprintf("EmailAddress=kid%d@x.com&Password=RestComm12", i))
			codes[i] = h.serve(r).Code
		})
	}
	wg.Go(func() {
		<-start
		time.Sleep(time.Millisecond) // the race under test: some creates begin first, the rest race the close
		r := formRequest("PUT", "/Accounts.json/"+p.Sid, fixture.Users["ADMIN"], fixture.Token, "Status=closed")
		if c := h.serve(r).Code; c != http.StatusOK {
			t.Errorf("close: %d", c)
		}
	})
	close(start)
	wg.Wait()
	kids, err := h.store.Children(t.Context(), p.Sid)
	require.NoError(t, err)
	created := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			created++
		case http.StatusForbidden:
		default:
			t.Errorf("create answered %d", c)
		}
	}
	assert.Len(t, kids, created, "every 200 is a child, every 403 is none")
	for _, k := range kids {
		assert.Equal(t, store.StatusClosed, k.Status, "child %s", k.Sid)
	}
}
