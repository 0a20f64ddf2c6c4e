package accountsapi

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

// The gateway's divergence from RestComm on roles (docs/restcomm-contract.md, divergences): a role
// is given only when the policy knows it and it carries nothing the giver
// lacks, SuperAdmin only by a structural Super Admin, and no account
// changes its own. In RestComm any Administrator stores any role text, and
// a stored "SuperAdmin" passes @RolesAllowed("SuperAdmin"): a sub-account
// Administrator made itself a Super Admin with one PUT.

// noCache resolves every request in Redis, so that a test's own writes to
// the store are seen by the next request at once.
func noCache(c *setup) { c.noCache = true }

func TestASubAccountAdministratorCannotMakeItselfSuperAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, noCache)
	w := h.do(put("/Accounts.json/"+fixture.SidCadm, "CADM", "Role=SuperAdmin"))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, w.Body.String(), "An account may not change its own role")
	assert.Equal(t, "Administrator", account(t, h, fixture.SidCadm).Role)

	// and so it is no Super Admin: no organizations, no other organization
	for _, c := range []call{
		get("/Organizations.json", "CADM"),
		put("/Organizations.json/evil.example.com", "CADM", ""),
		get("/Accounts.json?OrganizationSid="+fixture.SidOrg1, "CADM"),
		post("/Accounts.json", "CADM", "EmailAddress=moved@x.com&Password=RestComm12&OrganizationSid="+fixture.SidOrg1),
	} {
		assert.Equal(t, http.StatusForbidden, h.do(c).Code, c.method+" "+c.path)
	}
	_, err := h.store.OrganizationByDomain(t.Context(), "evil.example.com")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestASubAccountAdministratorCannotMakeItsChildSuperAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, noCache)
	kid := addAccount(t, h, "kid@x.com", "kid", "Developer", "active", fixture.SidCadm)
	w := h.do(put("/Accounts.json/"+kid.Sid, "CADM", "Role=SuperAdmin"))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, w.Body.String(), "Role not allowed")
	assert.Equal(t, "Developer", account(t, h, kid.Sid).Role)

	w = h.do(post("/Accounts.json", "CADM", "EmailAddress=sa@x.com&Password=RestComm12&Role=SuperAdmin"))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, w.Body.String(), "Role not allowed")
	_, err := h.store.Account(t.Context(), "AC"+md5hex("sa@x.com"))
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing created")

	// the child it may give a role it holds
	require.Equal(t, http.StatusOK, h.do(put("/Accounts.json/"+kid.Sid, "CADM", "Role=Administrator")).Code)
	assert.Equal(t, "Administrator", account(t, h, kid.Sid).Role)
}

func TestAStructuralSuperAdminGivesSuperAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, noCache)
	w := h.do(put("/Accounts.json/"+fixture.SidCadm, "ADMIN", "Role=SuperAdmin"))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "SuperAdmin", account(t, h, fixture.SidCadm).Role)
	w = h.do(post("/Accounts.json", "ADMIN", "EmailAddress=sa@x.com&Password=RestComm12&Role=SuperAdmin"))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "SuperAdmin", account(t, h, "AC"+md5hex("sa@x.com")).Role)

	// the stored role keeps RestComm's @RolesAllowed("SuperAdmin")
	assert.Equal(t, http.StatusOK, h.do(get("/Organizations.json", "CADM")).Code)

	// a top-level account that is not active is no Super Admin
	setStatusRaw(t, h, fixture.SidAdmin, store.StatusUninitialized)
	w = h.do(put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Role=SuperAdmin"))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Equal(t, "Developer", account(t, h, fixture.SidDev).Role)
}

func TestRolesUnknownToThePolicyAreRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, noCache)
	for i, role := range []string{"Anything", "", "administrator", "SUPERADMIN", "Developer ", "Guest"} {
		w := h.do(put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Role="+strings.ReplaceAll(role, " ", "+")))
		assert.Equal(t, http.StatusForbidden, w.Code, "%q", role)
		assert.Contains(t, w.Body.String(), "Role not allowed")
		assert.Equal(t, "Developer", account(t, h, fixture.SidDev).Role)

		email := "unknown" + itoa(i) + "@x.com"
		w = h.do(post("/Accounts.json", "ADMIN", "EmailAddress="+email+"&Password=RestComm12&Role="+strings.ReplaceAll(role, " ", "+")))
		assert.Equal(t, http.StatusForbidden, w.Code, "%q", role)
		_, err := h.store.Account(t.Context(), "AC"+md5hex(email))
		assert.ErrorIs(t, err, store.ErrNotFound, "%q: nothing created", role)
	}
}

func TestNoAccountChangesItsOwnRole(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, noCache)
	for _, name := range []string{"ADMIN", "CADM"} {
		sid := map[string]string{"ADMIN": fixture.SidAdmin, "CADM": fixture.SidCadm}[name]
		w := h.do(put("/Accounts.json/"+sid, name, "Role=Developer"))
		assert.Equal(t, http.StatusForbidden, w.Code, name)
		assert.Contains(t, w.Body.String(), "An account may not change its own role")
		assert.Equal(t, "Administrator", account(t, h, sid).Role)

		// its own role again changes nothing: an Admin UI sends the whole form
		w = h.do(put("/Accounts.json/"+sid, name, "FriendlyName=me&Role=Administrator"))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, "me", account(t, h, sid).FriendlyName)
		assert.Equal(t, "Administrator", account(t, h, sid).Role)
	}
}

// The overlay a team wrote to let Developers look up the accounts of their
// organization, with the one reach boolean of earlier releases.
const orgLookupOverlay = `package restcomm.overlay.lookup

may_operate_on_target if {
	input.caller.role == "Developer"
	input.target.organization_sid == input.caller.organization_sid
}
`

func overlayDir(t *testing.T, rego string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "team.rego"), []byte(rego), 0o644))
	return dir
}

// With that overlay a Developer reset the top-level administrator's
// password and logged in as the Super Admin. Read reach reads now, without
// the AuthToken (RestComm accepts it as the password), and modifies
// nothing.
func TestReadReachIsNoTakeover(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"may_operate_on_target", "may_read_target"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			rego := strings.Replace(orgLookupOverlay, "may_operate_on_target", point, 1)
			h := newHarness(t, true, noCache, withPolicyDir(t, overlayDir(t, rego), "overlay"))
			for _, sid := range []string{fixture.SidAdmin, fixture.SidCadm} {
				w := h.do(get("/Accounts.json/"+sid, "DEV"))
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				m := jsonObject(t, w.Body.String())
				assert.Equal(t, sid, m["sid"])
				assert.Equal(t, "", m["auth_token"], "a reader gets no credential")

				w = h.do(put("/Accounts.json/"+sid, "DEV", "Password=Hacked12345678x"))
				assert.Equal(t, http.StatusForbidden, w.Code)
				w = h.do(put("/Accounts.json/"+sid, "DEV", "Status=suspended"))
				assert.Equal(t, http.StatusForbidden, w.Code)
				a := account(t, h, sid)
				assert.Equal(t, fixture.Token, a.AuthToken)
				assert.Equal(t, store.StatusActive, a.Status)
			}
			w := h.do(get("/Accounts", "DEV"))
			require.Equal(t, http.StatusOK, w.Code)
			assert.NotContains(t, w.Body.String(), fixture.SidAdmin, "the list is still the caller's children")

			// its own token, and its administrator's view of it, are unchanged
			assert.Equal(t, fixture.Token, jsonObject(t, h.do(get("/Accounts.json/"+fixture.SidDev, "DEV")).Body.String())["auth_token"])
			assert.Equal(t, fixture.Token, jsonObject(t, h.do(get("/Accounts.json/"+fixture.SidDev, "ADMIN")).Body.String())["auth_token"])
			w = h.do(get("/Accounts/"+fixture.SidAdmin, "DEV"))
			require.Equal(t, http.StatusOK, w.Code)
			assert.Contains(t, w.Body.String(), "<AuthToken></AuthToken>")
			assert.NotContains(t, w.Body.String(), fixture.Token)
		})
	}
}

// Modify reach (may_modify_target) stops below the caller: over an
// ancestor, a Super Admin or an account of more permissions it takes
// may_modify_above, a grant of its own.
func TestModifyReachStopsBelowTheCaller(t *testing.T) {
	t.Parallel()
	modify := strings.Replace(orgLookupOverlay, "may_operate_on_target", "may_modify_target", 1)
	h := newHarness(t, true, noCache, withPolicyDir(t, overlayDir(t, modify), "overlay"))
	peer := addAccount(t, h, "peer@x.com", "peer", "Developer", "active", fixture.SidAdmin)
	require.Equal(t, http.StatusOK, h.do(put("/Accounts.json/"+peer.Sid, "DEV", "FriendlyName=looked-after")).Code)
	for _, sid := range []string{fixture.SidAdmin, fixture.SidTopDev, fixture.SidCadm, fixture.SidGrand} {
		assert.Equal(t, http.StatusForbidden, h.do(put("/Accounts.json/"+sid, "DEV", "Password=Hacked12345678x")).Code, sid)
		assert.Equal(t, fixture.Token, account(t, h, sid).AuthToken)
	}

	above := newHarness(t, true, noCache, withPolicyDir(t, overlayDir(t, modify+"\nmay_modify_above if input.caller.role == \"Developer\"\n"), "overlay"))
	w := above.do(put("/Accounts.json/"+fixture.SidAdmin, "DEV", "Password=Granted12345678x"))
	assert.Equal(t, http.StatusOK, w.Code, "granted, explicitly: %s", w.Body.String())
}

// Every field a caller can set, on itself and on the accounts related to
// it, under the built-in policy and under overlays that add reach: nothing
// lets a caller gain what it does not hold. 200 allowed, 403 refused; a
// refused request changes nothing.
func TestSettableFieldsByCallerKind(t *testing.T) {
	t.Parallel()
	overlays := map[string]string{
		"built-in":               "",
		"old read overlay":       orgLookupOverlay,
		"modify reach, same org": strings.Replace(orgLookupOverlay, "may_operate_on_target", "may_modify_target", 1),
	}
	updates := []string{"FriendlyName=renamed", "Password=Taken12345678x", "Status=suspended",
		"Role=SuperAdmin", "Role=Administrator", "Role=Developer"}
	const ok, no = http.StatusOK, http.StatusForbidden
	all := func(s int) [6]int { return [6]int{s, s, s, s, s, s} }
	type kind struct {
		caller, relation, target string
		want                     [6]int // per field of updates
	}
	kinds := []kind{
		{"CADM", "self", fixture.SidCadm, [6]int{ok, ok, ok, no, ok, no}},
		{"CADM", "child", "kid", [6]int{ok, ok, ok, no, ok, ok}},
		{"CADM", "ancestor", fixture.SidAdmin, all(no)},
		{"CADM", "Super Admin", fixture.SidTopDev, all(no)},
		{"CADM", "beside", fixture.SidDev, all(no)},
		{"DEV", "self", fixture.SidDev, [6]int{ok, ok, ok, no, no, no}},
		{"DEV", "child", fixture.SidGrand, all(no)}, // an Administrator: more than a Developer holds
		{"DEV", "ancestor", fixture.SidAdmin, all(no)},
		{"DEV", "Super Admin", fixture.SidTopDev, all(no)},
		{"ADMIN", "self", fixture.SidAdmin, [6]int{ok, ok, ok, no, ok, no}},
		{"ADMIN", "child", fixture.SidCadm, all(ok)},
		{"ADMIN", "Super Admin", fixture.SidGuest, all(no)},
	}
	creates := []struct {
		caller, form string
		want         int
		role         string // the new account's, when created
	}{
		{"CADM", "OrganizationSid=" + fixture.SidOrg1, no, ""},
		{"CADM", "Role=SuperAdmin", no, ""},
		{"CADM", "Role=Anything", no, ""},
		{"CADM", "Role=Administrator", ok, "Administrator"},
		{"DEV", "OrganizationSid=" + fixture.SidOrg1, no, ""},
		{"DEV", "Role=SuperAdmin", ok, "Developer"}, // RestComm ignores a Developer's Role
		{"DEV", "Role=Administrator", ok, "Developer"},
		{"ADMIN", "OrganizationSid=" + fixture.SidOrg1, ok, "Administrator"},
		{"ADMIN", "Role=SuperAdmin", ok, "SuperAdmin"},
		{"ADMIN", "Role=Anything", no, ""},
	}
	migrates := []struct {
		caller, target string
		want           int
	}{
		{"CADM", "kid", no}, {"CADM", fixture.SidCadm, no}, {"CADM", fixture.SidAdmin, no},
		{"DEV", fixture.SidGrand, no}, {"DEV", fixture.SidAdmin, no},
		{"ADMIN", fixture.SidCadm, ok}, // last: it moves CADM's subtree
	}
	for name, rego := range overlays {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			configure := []func(*setup){noCache}
			if rego != "" {
				configure = append(configure, withPolicyDir(t, overlayDir(t, rego), "overlay"))
			}
			h := newHarness(t, true, configure...)
			kid := addAccount(t, h, "kid@x.com", "kid", "Developer", "active", fixture.SidCadm).Sid
			sid := func(s string) string {
				if s == "kid" {
					return kid
				}
				return s
			}
			snapshot := func() map[string]store.Account {
				out := map[string]store.Account{}
				for _, s := range []string{fixture.SidAdmin, fixture.SidCadm, fixture.SidDev, fixture.SidGrand, fixture.SidGuest, fixture.SidTopDev, kid} {
					a := account(t, h, s)
					a.DateUpdated = time.Time{}
					out[s] = *a
				}
				return out
			}
			restore := func(before map[string]store.Account) {
				for s, a := range before {
					if now := account(t, h, s); now.FriendlyName != a.FriendlyName || now.AuthToken != a.AuthToken ||
						now.Role != a.Role || now.Status != a.Status {
						_, err := h.store.UpdateAccount(t.Context(), nil, s, store.AccountUpdate{
							FriendlyName: &a.FriendlyName, AuthToken: &a.AuthToken, Role: &a.Role, Status: &a.Status, Now: time.Now()})
						require.NoError(t, err)
					}
				}
			}
			for _, k := range kinds {
				for i, form := range updates {
					before := snapshot()
					w := h.do(put("/Accounts.json/"+sid(k.target), k.caller, form))
					assert.Equal(t, k.want[i], w.Code, "%s on its %s: %s; %s", k.caller, k.relation, form, w.Body.String())
					if w.Code != ok {
						assert.Equal(t, before, snapshot(), "%s on its %s: %s changed nothing", k.caller, k.relation, form)
					}
					restore(before)
				}
			}
			for i, c := range creates {
				email := "new" + itoa(i) + "@x.com"
				w := h.do(post("/Accounts.json", c.caller, "EmailAddress="+email+"&Password=RestComm12&"+c.form))
				assert.Equal(t, c.want, w.Code, "%s creates with %s: %s", c.caller, c.form, w.Body.String())
				a, err := h.store.Account(t.Context(), "AC"+md5hex(email))
				if c.want != ok {
					assert.ErrorIs(t, err, store.ErrNotFound, "%s creates with %s: nothing created", c.caller, c.form)
					continue
				}
				require.NoError(t, err)
				assert.Equal(t, c.role, a.Role, "%s creates with %s", c.caller, c.form)
			}
			for _, m := range migrates {
				before := account(t, h, sid(m.target)).OrganizationSid
				w := h.do(post("/Accounts.json/migrate/"+sid(m.target), m.caller, "Organization="+fixture.SidOrg1))
				assert.Equal(t, m.want, w.Code, "%s migrates %s: %s", m.caller, m.target, w.Body.String())
				if m.want != ok {
					assert.Equal(t, before, account(t, h, sid(m.target)).OrganizationSid)
				}
			}
		})
	}
}

// RestComm's status cascade ignores the descendants' own status: a
// Developer that made itself uninitialized (it still logs in on Accounts
// paths) and then active again reopened the child its administrator had
// closed, which it may not modify. No account makes itself uninitialized;
// closing itself, or any other status, stays its own choice.
func TestNoAccountReopensItsClosedChildrenThroughItsOwnStatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, noCache)
	w := h.do(put("/Accounts.json/"+fixture.SidGrand, "ADMIN", "Status=closed"))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())

	for _, status := range []string{"uninitialized", "Uninitialized", "UNINITIALIZED"} {
		w = h.do(put("/Accounts.json/"+fixture.SidDev, "DEV", "Status="+status))
		assert.Equal(t, http.StatusForbidden, w.Code, status)
		assert.Contains(t, w.Body.String(), "An account may not make itself uninitialized")
	}
	assert.Equal(t, "active", account(t, h, fixture.SidDev).Status)
	assert.Equal(t, "closed", account(t, h, fixture.SidGrand).Status, "still closed")

	// its administrator may: it reaches every account below it
	w = h.do(put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Status=uninitialized"))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = h.do(put("/Accounts.json/"+fixture.SidDev, "ADMIN", "Status=active"))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	// and an account still closes itself
	w = h.do(put("/Accounts.json/"+fixture.SidDev, "DEV", "Status=closed"))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
}
