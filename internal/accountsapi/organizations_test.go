package accountsapi

import (
	"context"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/render"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

const profileLinkHeader = `<https://gw.example.com/restcomm/2012-04-24/Profiles/PRae6e420f425248d6a26948c17a9e2acf>;rel=related;title="Profiles"`

func organizations(t *testing.T, h *harness) []store.Organization {
	t.Helper()
	all, err := h.store.Organizations(context.Background())
	require.NoError(t, err)
	return all
}

func organization(t *testing.T, h *harness, sid string) *store.Organization {
	t.Helper()
	o, err := h.store.Organization(context.Background(), sid)
	require.NoError(t, err)
	return o
}

// GET /Organizations[.json] (OrganizationsEndpoint.getOrganizations): the
// JAX-RS role SuperAdmin only, no permission; an empty result is 404.
func TestListOrganizations(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	runRows(t, h, []row{
		{0, get("/Organizations.json", "ADMIN"), 200, func(t *testing.T, r *http.Response, body string) {
			assert.Equal(t, contentJSON, r.Header.Get("Content-Type"))
			assert.Equal(t, string(render.AppendOrganizationListJSON(nil, organizations(t, h))), body)
			assert.Regexp(t, `^\[\n  \{\n    "sid": "`+fixture.SidOrg0+`"`, body)
			noLink(t, r, body)
		}},
		{0, get("/Organizations", "ADMIN"), 200, func(t *testing.T, r *http.Response, body string) {
			assert.Equal(t, contentXML, r.Header.Get("Content-Type"))
			assert.Equal(t, string(render.AppendOrganizationListXML(nil, organizations(t, h))), body)
		}},
		{0, get("/Organizations.json?Status=ACTIVE", "ADMIN"), 200, func(t *testing.T, _ *http.Response, body string) {
			assert.Equal(t, []string{fixture.SidOrg0, fixture.SidOrg1}, sidsOf(jsonList(t, body)))
		}},
		{0, get("/Organizations.json?Status=closed", "ADMIN"), 404, wantPage("Not Found")},
		{0, get("/Organizations.json?Status=bogus", "ADMIN"), 400, wantText(contentJSON, "bogus is not a valid organization status.")},
		{0, get("/Organizations.json", "TOPDEV"), 200, nil}, // a Super Admin by structure
		{0, get("/Organizations.json", "CADM"), 403, wantPage("Forbidden")},
		{0, get("/Organizations.json", "UNINIT"), 403, wantBody("Provided Account is not active")},
		{0, get("/Organizations.json", ""), 401, wantHeader("WWW-Authenticate", wwwAuth)},
		{0, call{method: http.MethodHead, path: fixture.APIRoot + "/Organizations.json", as: "ADMIN"}, 200, nil},
		{0, call{method: http.MethodDelete, path: fixture.APIRoot + "/Organizations.json", as: "ADMIN"}, 405, wantHeader("Allow", "HEAD,GET,OPTIONS")},
		{0, call{method: http.MethodOptions, path: fixture.APIRoot + "/Organizations", as: "ADMIN"}, 200, wantHeader("Allow", "HEAD,GET,OPTIONS")},
	})
}

// GET /Organizations/{sid} (OrganizationsEndpoint.getOrganization): Super
// Admins read any organization, Administrators their own.
func TestReadOrganization(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	runRows(t, h, []row{
		{0, get("/Organizations.json/"+fixture.SidOrg1, "ADMIN"), 200, func(t *testing.T, r *http.Response, body string) {
			assert.Equal(t, string(render.AppendOrganizationJSON(nil, organization(t, h, fixture.SidOrg1))), body)
			assert.Equal(t, profileLinkHeader, r.Header.Get("Link"))
		}},
		{0, get("/Organizations/"+fixture.SidOrg0, "ADMIN"), 200, func(t *testing.T, r *http.Response, body string) {
			assert.Equal(t, contentXML, r.Header.Get("Content-Type"))
			assert.Equal(t, string(render.AppendOrganizationXML(nil, organization(t, h, fixture.SidOrg0))), body)
			assert.Equal(t, profileLinkHeader, r.Header.Get("Link"))
		}},
		{0, get("/Organizations/"+fixture.SidOrg0+".json", "CADM"), 200, wantJSONField("domain_name", "default.restcomm.com")},
		{0, get("/Organizations.json/"+fixture.SidOrg1, "CADM"), 403, wantPage("Forbidden")},
		{0, get("/Organizations.json/ORafbe225ad37541eba518a74248f0ac99", "CADM"), 403, nil}, // another org: before the lookup
		{0, get("/Organizations.json/"+fixture.SidOrg0, "DEV"), 403, nil},                    // neither role
		{0, get("/Organizations.json/"+fixture.SidOrg0, "TOPDEV"), 403, nil},                 // SuperAdmin, no permission
		{0, get("/Organizations.json/blabla", "ADMIN"), 400, wantPage("Bad Request")},
		{0, get("/Organizations.json/blabla", "DEV"), 403, nil},
		{0, get("/Organizations.json/ORafbe225ad37541eba518a74248f0ac99", "ADMIN"), 404, wantPage("Not Found")},
		{0, get("/Organizations.json/"+fixture.SidOrg0, "UNINIT"), 403, wantBody("Provided Account is not active")}, // row 13
		{0, call{path: fixture.APIRoot + "/Organizations/" + fixture.SidOrg0, as: "ADMIN", header: http.Header{"Accept": {"text/plain"}}}, 406, nil},
	})
}

// PUT /Organizations/{domainName} (OrganizationsEndpoint.putOrganization,
// no DNS provisioning manager).
func TestCreateOrganization(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	var sid string
	runRows(t, h, []row{
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Organizations.json/Acme-1", as: "ADMIN"}, 200, func(t *testing.T, r *http.Response, body string) {
			m := jsonObject(t, body)
			sid, _ = m["sid"].(string)
			assert.Regexp(t, regexp.MustCompile(`^OR[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`), sid)
			assert.Equal(t, "Acme-1", m["domain_name"])
			assert.Equal(t, "active", m["status"])
			assert.Equal(t, m["date_created"], m["date_updated"])
			assert.Equal(t, string(render.AppendOrganizationJSON(nil, organization(t, h, sid))), body)
			noLink(t, r, body)
		}},
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Organizations/acme-1", as: "ADMIN"}, 409,
			wantText(contentXML, "This domain name is not available. Please, choose a different name and try again.")},
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Organizations.json/acme.example.com", as: "ADMIN"}, 400,
			wantText(contentJSON, "Total Length of domain_name can be upto 255 Characters. It can contain only letters, number and hyphen - sign.. Please, choose a valid name and try again.")},
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Organizations.json/other", as: "CADM"}, 403, wantPage("Forbidden")},
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Organizations.json/with-body", as: "ADMIN",
			form: "ignored=yes", header: http.Header{"Content-Type": {"application/json"}}}, 200, nil}, // no @Consumes: no 415
	})
	require.NotEmpty(t, sid)
	w := h.do(get("/Organizations.json/"+sid, "ADMIN"))
	assert.Equal(t, 200, w.Code)
	_, err := h.store.OrganizationByDomain(context.Background(), "other")
	assert.ErrorIs(t, err, store.ErrNotFound)

	// the new organization is usable at once: create in it, migrate to it
	w = h.do(post("/Accounts.json", "ADMIN", "EmailAddress=acme@company.com&Password=RestComm12&OrganizationSid="+sid))
	require.Equal(t, 200, w.Code, w.Body.String())
	w = h.do(call{method: http.MethodPost, path: fixture.APIRoot + "/Accounts.json/migrate/" + fixture.SidDev, as: "ADMIN", form: "Organization=ACME-1"})
	require.Equal(t, 200, w.Code, w.Body.String())
	assert.Equal(t, sid, jsonObject(t, w.Body.String())["organization"])
}

// PUT /Organizations/{sid}/Migrate re-hashes SIP client passwords in
// RestComm: upstream data. The gateway applies RestComm's checks, then
// answers 501; it never forwards the route.
func TestOrganizationClientMigrationIsNotForwarded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	path := fixture.APIRoot + "/Organizations/" + fixture.SidOrg0 + "/Migrate"
	runRows(t, h, []row{
		{0, call{method: http.MethodPut, path: path, as: "ADMIN"}, 501, wantPage("Client password migration is done by RestComm")},
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Organizations.json/" + fixture.SidOrg1 + "/Migrate", as: "ADMIN"}, 501, nil},
		{0, call{method: http.MethodPut, path: path, as: "CADM"}, 403, wantPage("Forbidden")},
		{0, call{method: http.MethodPut, path: path, as: "TOPDEV"}, 403, nil},
		{0, call{method: http.MethodPut, path: path, as: ""}, 401, nil},
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Organizations/blabla/Migrate", as: "ADMIN"}, 400, wantPage("Bad Request")},
		{0, call{method: http.MethodPut, path: fixture.APIRoot + "/Organizations/ORafbe225ad37541eba518a74248f0ac99/Migrate", as: "ADMIN"}, 404, nil},
		{0, call{path: path, as: "ADMIN"}, 405, wantHeader("Allow", "OPTIONS,PUT")},
		{0, call{method: http.MethodOptions, path: path, as: "ADMIN"}, 200, wantHeader("Allow", "OPTIONS,PUT")},
		{0, call{path: fixture.APIRoot + "/Organizations/" + fixture.SidOrg0 + "/Other", as: "ADMIN"}, 404, nil},
	})
}
