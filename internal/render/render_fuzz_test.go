package render

import (
	"encoding/xml"
	"testing"
	"time"

	"github.com/restcomm/restcomm-gateway/store"
)

// FuzzRender gives every field the same string, which proves escaping but
// not that each field lands in its own element or key. FuzzRenderFields
// gives each field of accounts and organizations its own value and its own
// date, renders single documents and lists of zero to three elements in
// XML and JSON, and reads every field back with encoding/xml and
// encoding/json.

// fuzzDateLayout is FormatDate's pattern in Go's notation; Go pads the year
// to four digits as SimpleDateFormat's "yyyy" does, for years 1 to 9999.
const fuzzDateLayout = "Mon, 2 Jan 2006 15:04:05 -0700"

// fuzzTime maps any int64 to an instant in years 1 to 9999 with
// nanoseconds, which the rendering must drop.
func fuzzTime(n int64) time.Time {
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	span := hi - lo + 1
	s := n % span
	if s < 0 {
		s += span
	}
	// a zone other than UTC, which the rendering must convert from
	return time.Unix(lo+s, int64(uint64(n)%1e9)).In(time.FixedZone("X", -(7*3600 + 30*60)))
}

func fuzzAccount(i int, a, b, c string, created, updated int64) store.Account {
	tag := string(rune('0' + i))
	return store.Account{
		Sid:             a + tag,
		OrganizationSid: b + tag,
		FriendlyName:    c + tag,
		EmailAddress:    a + "@" + b + tag,
		Type:            b + c + tag,
		Status:          c + a + tag,
		Role:            "R" + a + tag,
		AuthToken:       b + "T" + tag,
		URI:             "/" + c + tag,
		ParentSid:       a + b + c + tag,
		DateCreated:     fuzzTime(created + int64(i)),
		DateUpdated:     fuzzTime(updated - int64(i)),
	}
}

func fuzzOrganization(i int, a, b, c string, created, updated int64) store.Organization {
	tag := string(rune('0' + i))
	return store.Organization{
		Sid:         a + tag,
		DomainName:  b + tag,
		Status:      c + tag,
		DateCreated: fuzzTime(created + int64(i)),
		DateUpdated: fuzzTime(updated - int64(i)),
	}
}

type xmlFullAccount struct {
	Sid             string
	Organization    string `xml:"organization"`
	FriendlyName    string
	EmailAddress    string
	Status          string
	Role            string
	Type            string
	DateCreated     string
	DateUpdated     string
	AuthToken       string
	Uri             string
	SubresourceUris struct {
		Items []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	}
}

type xmlFullOrganization struct {
	Sid, DomainName, Status, DateCreated, DateUpdated string
}

func checkXMLAccount(t *testing.T, got xmlFullAccount, a *store.Account) {
	t.Helper()
	x := func(s string) string { return decoded(s, true) }
	for _, f := range []struct{ name, got, want string }{
		{"Sid", got.Sid, x(a.Sid)},
		{"organization", got.Organization, x(a.OrganizationSid)},
		{"FriendlyName", got.FriendlyName, x(a.FriendlyName)},
		{"EmailAddress", got.EmailAddress, x(a.EmailAddress)},
		{"Status", got.Status, x(a.Status)},
		{"Role", got.Role, x(a.Role)},
		{"Type", got.Type, x(a.Type)},
		{"DateCreated", got.DateCreated, a.DateCreated.UTC().Format(fuzzDateLayout)},
		{"DateUpdated", got.DateUpdated, a.DateUpdated.UTC().Format(fuzzDateLayout)},
		{"AuthToken", got.AuthToken, x(a.AuthToken)},
		{"Uri", got.Uri, x(a.URI)},
	} {
		if f.got != f.want {
			t.Fatalf("XML account %s: got %q want %q", f.name, f.got, f.want)
		}
	}
	if len(got.SubresourceUris.Items) != len(subresources) {
		t.Fatalf("XML account: %d subresource URIs", len(got.SubresourceUris.Items))
	}
	for i, s := range subresources {
		item := got.SubresourceUris.Items[i]
		if want := "/" + APIVersion + "/Accounts/" + x(a.Sid) + s.path; item.XMLName.Local != s.xml || item.Value != want {
			t.Fatalf("XML account subresource %d: got %s=%q want %s=%q", i, item.XMLName.Local, item.Value, s.xml, want)
		}
	}
}

func checkJSONAccount(t *testing.T, got map[string]any, a *store.Account) {
	t.Helper()
	j := func(s string) string { return decoded(s, false) }
	want := map[string]string{
		"sid":           j(a.Sid),
		"organization":  j(a.OrganizationSid),
		"friendly_name": j(a.FriendlyName),
		"email_address": j(a.EmailAddress),
		"type":          j(a.Type),
		"status":        j(a.Status),
		"role":          j(a.Role),
		"date_created":  a.DateCreated.UTC().Format(fuzzDateLayout),
		"date_updated":  a.DateUpdated.UTC().Format(fuzzDateLayout),
		"auth_token":    j(a.AuthToken),
		"uri":           "/" + APIVersion + "/Accounts.json/" + j(a.Sid),
	}
	if len(got) != len(want)+1 {
		t.Fatalf("JSON account keys: %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("JSON account %s: got %q want %q", k, got[k], v)
		}
	}
	subs, ok := got["subresource_uris"].(map[string]any)
	if !ok || len(subs) != len(subresources) {
		t.Fatalf("JSON account subresource_uris: %v", got["subresource_uris"])
	}
	for _, s := range subresources {
		if want := "/" + APIVersion + "/Accounts/" + j(a.Sid) + s.path + ".json"; subs[s.json] != want {
			t.Fatalf("JSON account %s: got %q want %q", s.json, subs[s.json], want)
		}
	}
}

func checkXMLOrganization(t *testing.T, got xmlFullOrganization, o *store.Organization) {
	t.Helper()
	want := xmlFullOrganization{
		Sid: decoded(o.Sid, true), DomainName: decoded(o.DomainName, true), Status: decoded(o.Status, true),
		DateCreated: o.DateCreated.UTC().Format(fuzzDateLayout), DateUpdated: o.DateUpdated.UTC().Format(fuzzDateLayout),
	}
	if got != want {
		t.Fatalf("XML organization: got %+v want %+v", got, want)
	}
}

func checkJSONOrganization(t *testing.T, got map[string]any, o *store.Organization) {
	t.Helper()
	want := map[string]any{
		"sid": decoded(o.Sid, false), "domain_name": decoded(o.DomainName, false), "status": decoded(o.Status, false),
		"date_created": o.DateCreated.UTC().Format(fuzzDateLayout), "date_updated": o.DateUpdated.UTC().Format(fuzzDateLayout),
	}
	if len(got) != len(want) {
		t.Fatalf("JSON organization keys: %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("JSON organization %s: got %q want %q", k, got[k], v)
		}
	}
}

func FuzzRenderFields(f *testing.F) {
	for _, s := range []struct {
		a, b, c          string
		created, updated int64
		n                uint8
	}{
		{"ACae6e420f425248d6a26948c17a9e2acf", "ORafbe225ad37541eba518a74248f0ac4c", "Default Administrator Account", 1335225600, 1544000823, 2},
		{"", "", "", 0, 0, 0},
		{"<a>", "&amp;", `"'`, -62135596800, 253402300799, 1},
		{"\x00\r\n\t", "\u0085\u2028", "\ufffe\U0001F600", 1<<62 + 12345, -1 << 62, 3},
		{"\xff", "\xc3", "\xed\xa0\x80", -1, 1, 3},
		{"]]>", "&#x0;", "日本", 951782400, 4107542400, 2}, // 29 Feb 2000; 2100
	} {
		f.Add(s.a, s.b, s.c, s.created, s.updated, s.n)
	}
	f.Fuzz(func(t *testing.T, a, b, c string, created, updated int64, n uint8) {
		count := int(n % 4)
		accounts := make([]store.Account, count)
		orgs := make([]store.Organization, count)
		for i := range count {
			accounts[i] = fuzzAccount(i, a, b, c, created, updated)
			orgs[i] = fuzzOrganization(i, a, b, c, created, updated)
		}
		acc := fuzzAccount(7, a, b, c, created, updated)
		org := fuzzOrganization(7, a, b, c, created, updated)

		// FormatDate against Go's own formatting, and back to the instant.
		for _, d := range []time.Time{acc.DateCreated, acc.DateUpdated} {
			s := FormatDate(d)
			if want := d.UTC().Format(fuzzDateLayout); s != want {
				t.Fatalf("FormatDate(%v) = %q, want %q", d, s, want)
			}
			back, err := time.Parse(fuzzDateLayout, s)
			if err != nil || !back.Equal(d.Truncate(time.Second)) {
				t.Fatalf("FormatDate(%v) = %q reads back as %v (%v)", d, s, back, err)
			}
		}

		// Accounts, XML.
		var one struct {
			Account xmlFullAccount
		}
		parseXML(t, AppendAccountXML(nil, &acc), &one)
		checkXMLAccount(t, one.Account, &acc)
		var list struct {
			Accounts *struct {
				Account []xmlFullAccount
			}
		}
		parseXML(t, AppendAccountListXML(nil, accounts), &list)
		if list.Accounts == nil || len(list.Accounts.Account) != count {
			t.Fatalf("XML account list: %+v, want %d", list.Accounts, count)
		}
		for i := range accounts {
			checkXMLAccount(t, list.Accounts.Account[i], &accounts[i])
		}

		// Accounts, JSON.
		var obj map[string]any
		parseJSON(t, AppendAccountJSON(nil, &acc), &obj)
		checkJSONAccount(t, obj, &acc)
		var arr []map[string]any
		parseJSON(t, AppendAccountListJSON(nil, accounts), &arr)
		if arr == nil || len(arr) != count {
			t.Fatalf("JSON account list: %v, want %d", arr, count)
		}
		for i := range accounts {
			checkJSONAccount(t, arr[i], &accounts[i])
		}

		// Organizations, XML.
		var oneOrg struct {
			Organization xmlFullOrganization
		}
		parseXML(t, AppendOrganizationXML(nil, &org), &oneOrg)
		checkXMLOrganization(t, oneOrg.Organization, &org)
		var orgList struct {
			Organizations *struct {
				Organization []xmlFullOrganization
			}
		}
		parseXML(t, AppendOrganizationListXML(nil, orgs), &orgList)
		if orgList.Organizations == nil || len(orgList.Organizations.Organization) != count {
			t.Fatalf("XML organization list: %+v, want %d", orgList.Organizations, count)
		}
		for i := range orgs {
			checkXMLOrganization(t, orgList.Organizations.Organization[i], &orgs[i])
		}

		// Organizations, JSON.
		obj = nil
		parseJSON(t, AppendOrganizationJSON(nil, &org), &obj)
		checkJSONOrganization(t, obj, &org)
		arr = nil
		parseJSON(t, AppendOrganizationListJSON(nil, orgs), &arr)
		if arr == nil || len(arr) != count {
			t.Fatalf("JSON organization list: %v, want %d", arr, count)
		}
		for i := range orgs {
			checkJSONOrganization(t, arr[i], &orgs[i])
		}
	})
}
