package restpath

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRoutes(t *testing.T) {
	const admin = "ACae6e420f425248d6a26948c17a9e2acf"
	cases := []struct {
		path  string
		route Route
		id    string
		json  bool
		rel   string
	}{
		{"/restcomm/2012-04-24/Accounts", AccountList, "", false, "Accounts"},
		{"/restcomm/2012-04-24/Accounts/", AccountList, "", false, "Accounts/"},
		{"/restcomm/2012-04-24/Accounts.json", AccountList, "", true, "Accounts.json"},
		{"/restcomm/2012-04-24/Accounts/" + admin, Account, admin, false, "Accounts/" + admin},
		{"/restcomm/2012-04-24/Accounts.json/" + admin, Account, admin, true, "Accounts.json/" + admin},
		{"/restcomm/2012-04-24/Accounts/" + admin + ".json", Account, admin, true, "Accounts/" + admin + ".json"},
		{"/restcomm/2012-04-24/Accounts.json/" + admin + ".json", Account, admin, true, ""},
		{"/restcomm/2012-04-24/Accounts.json/" + admin + "/", Account, admin, true, ""},
		{"/restcomm/2012-04-24/Accounts.json/administrator%40company.com", Account, "administrator@company.com", true, "Accounts.json/administrator@company.com"},
		{"/restcomm/2012-04-24/Accounts.json/Default%20Administrator%20Account", Account, "Default Administrator Account", true, ""},
		{"/restcomm/2012-04-24/Accounts.json/migrate/" + admin, Migrate, admin, true, ""},
		{"/restcomm/2012-04-24/Accounts/migrate", Account, "migrate", false, ""},
		{"/restcomm/2012-04-24/Organizations.json", OrganizationList, "", true, ""},
		{"/restcomm/2012-04-24/Organizations/ORx", Organization, "ORx", false, ""},
		{"/restcomm/2012-04-24/Accounts.json/" + admin + "/Calls.json", Proxied, "", true, ""},
		{"/restcomm/2012-04-24/Profiles/PRx.json", Proxied, "", false, ""},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			p, err := Parse(c.path)
			require.NoError(t, err)
			assert.Equal(t, c.route, p.Route)
			assert.Equal(t, c.id, p.ID)
			assert.Equal(t, c.json, p.JSON)
			if c.rel != "" {
				assert.Equal(t, c.rel, p.Rel)
			}
		})
	}
}

func TestParseSubresourceAccount(t *testing.T) {
	p, err := Parse("/restcomm/2012-04-24/Accounts.json/ACx/Calls.json")
	require.NoError(t, err)
	assert.Equal(t, "ACx", p.AccountSid)
	assert.Equal(t, []string{"Accounts", "ACx", "Calls"}, p.Segments)
}

func TestParseRefusesAmbiguousPaths(t *testing.T) {
	for _, path := range []string{
		"/restcomm/2012-04-24/Accounts/a%2Fb",
		"/restcomm/2012-04-24/Accounts/..",
		"/restcomm/2012-04-24/Accounts/%2e%2e",
		"/restcomm/2012-04-24//Accounts",
		"/restcomm/2012-04-24/Accounts;x=1/ACx",
		"/restcomm/2012-04-24/Accounts/a%00b",
		"/restcomm/2012-04-24/Accounts/%C0%AF",
		"/restcomm/2012-04-24/Accounts/%zz",
		"/restcomm/2012-04-24/Accounts/.json",
	} {
		_, err := Parse(path)
		assert.ErrorIs(t, err, ErrAmbiguous, path)
	}
}

func TestParseNotAPI(t *testing.T) {
	for _, path := range []string{"/", "/restcomm/", "/restcomm/2012-04-24", "/other/2012-04-24/Accounts"} {
		_, err := Parse(path)
		assert.ErrorIs(t, err, ErrNotAPI, path)
	}
}
