package caddymodule

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

// The worked examples of policy/README.md, each an overlay of the built-in
// policy (policy_mode overlay, the default), through the real handler and
// Redis (their Rego tests run in the policy package and with `policy
// test`, command_test.go). own-subtree's is TestOwnSubtreePolicyAtTheEdge.

// networks: the client's address is the request's, as the policy sees it
// in input.client_ip.
func TestNetworksExample(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, func(g *Gateway) { g.PolicyDir = "../policy/examples/networks" })
	orgs := call{path: fixture.APIRoot + "/Organizations.json", as: "ADMIN"}
	for remote, want := range map[string]int{
		"10.1.2.3:40000":      200,
		"[fd00:10::5]:40000":  200,
		"192.168.10.9:40000":  200,
		"203.0.113.7:40000":   403,
		"[2001:db8::1]:40000": 403,
	} {
		c := orgs
		c.remote = remote
		assert.Equal(t, want, h.do(c).Code, remote)
	}
	// Away from the admin networks, ADMIN still reads its subtree.
	assert.Equal(t, 200, h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "ADMIN", remote: "203.0.113.7:40000"}).Code)
}

// org-block: every account of the listed organization is refused at the
// edge, with nothing passed upstream.
func TestOrgBlockExample(t *testing.T) {
	t.Parallel()
	dir := copyExample(t, "org-block")
	writeFile(t, dir+"/restcomm/blocked/data.json", `{"organizations": ["`+fixture.SidOrg0+`"]}`)
	h := newHarness(t, true, func(g *Gateway) { g.PolicyDir = dir })
	for _, c := range []call{
		{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"},
		{path: fixture.APIRoot + "/Accounts/" + fixture.SidDev + "/Calls.json", as: "DEV"},
		{method: "POST", path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "ADMIN", form: "FriendlyName=x"},
		{path: fixture.APIRoot + "/Accounts/" + fixture.SidDev + "/Calls/Logout", as: "DEV"}, // a path RestComm serves without credentials
	} {
		w := h.do(c)
		assert.Equal(t, 403, w.Code, c.path)
		assert.Equal(t, "Organization is blocked", w.Body.String())
	}
	assert.Empty(t, h.proxied)
	assert.Equal(t, 401, h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin}).Code)
}

// auditor: a read-only role, given to an account of the fixture.
func TestAuditorExample(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, func(g *Gateway) { g.PolicyDir = "../policy/examples/auditor" })
	setRole(t, h, fixture.SidCadm, "Auditor") // below ADMIN, beside DEV
	setRole(t, h, fixture.SidDev, "Auditor")  // GRAND is below DEV
	assert.Equal(t, 200, h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidGrand, as: "DEV"}).Code)
	assert.Equal(t, 200, h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "DEV"}).Code)
	assert.Equal(t, 403, h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "DEV"}).Code)
	assert.Equal(t, 403, h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "CADM"}).Code)
	assert.Equal(t, 403, h.do(call{method: "POST", path: fixture.APIRoot + "/Accounts.json/" + fixture.SidGrand, as: "DEV", form: "FriendlyName=x"}).Code)
	assert.Equal(t, 403, h.do(call{method: "POST", path: fixture.APIRoot + "/Accounts/" + fixture.SidDev + "/Calls.json", as: "DEV", form: "To=1"}).Code)
	assert.Equal(t, 418, h.do(call{path: fixture.APIRoot + "/Accounts/" + fixture.SidDev + "/Calls.json", as: "DEV"}).Code, "reads pass upstream")
}

// org-lookup: Developers read the accounts of their organization, the
// top-level administrator's included, without their AuthToken, and update
// none of them.
func TestOrgLookupExample(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, func(g *Gateway) { g.PolicyDir = "../policy/examples/org-lookup" })
	admin := fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin
	w := h.do(call{path: admin, as: "DEV"})
	require.Equal(t, 200, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"auth_token": ""`)
	assert.NotContains(t, w.Body.String(), fixture.Token)
	assert.Equal(t, 403, h.do(call{method: "PUT", path: admin, as: "DEV", form: "Password=Hacked12345678x"}).Code)
	assert.Equal(t, 200, h.do(call{path: admin, as: "ADMIN"}).Code, "the old password still logs in")
	assert.Contains(t, h.do(call{path: admin, as: "ADMIN"}).Body.String(), fixture.Token)
	assert.Equal(t, 403, h.do(call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "CADM"}).Code, "for Developers only")
}

// copyExample copies policy/examples/<name> into a new directory.
func copyExample(t *testing.T, name string) string {
	t.Helper()
	src, dir := filepath.Join("..", "policy", "examples", name), t.TempDir()
	require.NoError(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		if d.IsDir() {
			return os.Mkdir(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	}))
	return dir
}

func setRole(t *testing.T, h *harness, sid, role string) {
	t.Helper()
	_, err := h.store.UpdateAccount(context.Background(), nil, sid, store.AccountUpdate{Role: &role, Now: time.Now()})
	require.NoError(t, err)
}
