package render

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/restcomm/restcomm-gateway/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAccountSpecDocuments(t *testing.T) {
	a := defaultAdmin()
	tests := []struct {
		name string
		fn   func([]byte, *store.Account) []byte
		want string
	}{
		{"xml representation", AppendAccountXML, specAccountXML},
		{"json representation", AppendAccountJSON, specAccountJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, string(tt.fn(nil, &a)))
			// Appends after existing content and leaves it intact.
			assert.Equal(t, "prefix"+tt.want, string(tt.fn([]byte("prefix"), &a)))
		})
	}
}

func TestAccountUsesStoredURIInXMLAndComputedURIInJSON(t *testing.T) {
	a := defaultAdmin()
	a.URI = "/2012-04-24/Accounts/ACsomethingElse" // seeded test data may differ (T-SCR)
	assert.Contains(t, string(AppendAccountXML(nil, &a)),
		"\n    <Uri>/2012-04-24/Accounts/ACsomethingElse</Uri>\n")
	assert.Contains(t, string(AppendAccountJSON(nil, &a)),
		"\n  \"uri\": \"/2012-04-24/Accounts.json/ACae6e420f425248d6a26948c17a9e2acf\",\n")
}

func TestAccountList(t *testing.T) {
	admin, child := defaultAdmin(), childAccount()
	adminXML := specAccountElement(specAccountXML)
	childXML := childReplacer.Replace(adminXML)
	childJSON := childReplacer.Replace(specAccountJSON)
	require.NotEqual(t, adminXML, childXML)
	require.NotEqual(t, specAccountJSON, childJSON)

	tests := []struct {
		name     string
		accounts []store.Account
		wantXML  string
		wantJSON string
	}{
		{
			name:     "empty list",
			accounts: nil,
			wantXML:  "<RestcommResponse>\n  <Accounts/>\n</RestcommResponse>",
			wantJSON: "[]",
		},
		{
			name:     "empty non-nil",
			accounts: []store.Account{},
			wantXML:  "<RestcommResponse>\n  <Accounts/>\n</RestcommResponse>",
			wantJSON: "[]",
		},
		{
			name:     "one",
			accounts: []store.Account{admin},
			wantXML: "<RestcommResponse>\n  <Accounts>\n    " + indentLines(adminXML, 2) +
				"\n  </Accounts>\n</RestcommResponse>",
			wantJSON: "[\n  " + indentLines(specAccountJSON, 2) + "\n]",
		},
		{
			name:     "two accounts",
			accounts: []store.Account{admin, child},
			wantXML: "<RestcommResponse>\n  <Accounts>\n    " + indentLines(adminXML, 2) +
				"\n    " + indentLines(childXML, 2) + "\n  </Accounts>\n</RestcommResponse>",
			wantJSON: "[\n  " + indentLines(specAccountJSON, 2) + ",\n  " + indentLines(childJSON, 2) + "\n]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantXML, string(AppendAccountListXML(nil, tt.accounts)))
			assert.Equal(t, tt.wantJSON, string(AppendAccountListJSON(nil, tt.accounts)))
		})
	}

	// A spot check written out by hand, so the derivation above is not the
	// only evidence of the list layout.
	got := string(AppendAccountListJSON(nil, []store.Account{admin, child}))
	assert.Contains(t, got, "\n      \"transcriptions\": \"/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Transcriptions.json\"\n    }\n  },\n  {\n    \"sid\": \"AC574d775522c96f9aacacc5ca60c8c74f\",\n")
	assert.True(t, strings.HasSuffix(got, "Transcriptions.json\"\n    }\n  }\n]"))
	gotXML := string(AppendAccountListXML(nil, []store.Account{admin, child}))
	assert.Contains(t, gotXML, "\n      </SubresourceUris>\n    </Account>\n    <Account>\n      <Sid>AC574d775522c96f9aacacc5ca60c8c74f</Sid>\n      <organization>")
}

func TestAccountFieldEscaping(t *testing.T) {
	tests := []struct {
		name     string
		friendly string
		wantXML  string // the FriendlyName element's content
		wantJSON string // the friendly_name value, with quotes
	}{
		{
			name:     "markup, quotes and html-safe chars",
			friendly: `o'neil=x@a.com <&> "q"`,
			wantXML:  `o&apos;neil=x@a.com &lt;&amp;&gt; &quot;q&quot;`,
			wantJSON: `"o\u0027neil\u003dx@a.com \u003c\u0026\u003e \"q\""`,
		},
		{
			name:     "empty string is not null",
			friendly: "",
			wantXML:  "",
			wantJSON: `""`,
		},
		{
			name:     "control chars",
			friendly: "a\x00b\x01\t\n\r\x08\x0c\x1f\x7f\u0085z",
			wantXML:  "a&#x0;b&#x1;\t\n&#xd;&#x8;&#xc;&#x1f;&#x7f;&#x85;z",
			wantJSON: "\"a\\u0000b\\u0001\\t\\n\\r\\b\\f\\u001f\x7f\u0085z\"",
		},
		{
			name:     "line and paragraph separators",
			friendly: "x\u2028y\u2029z",
			wantXML:  "x\u2028y\u2029z",
			wantJSON: `"x\u2028y\u2029z"`,
		},
		{
			name:     "non-ASCII kept raw",
			friendly: "Zoë Ünal 日本 😀 \u00a0/\\",
			wantXML:  "Zoë Ünal 日本 😀 \u00a0/\\",
			wantJSON: "\"Zoë Ünal 日本 😀 \u00a0/\\\\\"",
		},
		{
			name:     "invalid UTF-8 becomes U+FFFD per byte",
			friendly: "a\xffb\xed\xa0\x80c\xc3",
			wantXML:  "a\ufffdb\ufffd\ufffd\ufffdc\ufffd",
			wantJSON: "\"a\ufffdb\ufffd\ufffd\ufffdc\ufffd\"",
		},
		{
			name: "undefined in Java 8 (Unicode 6.2): escaped in XML only",
			// U+0378 unassigned, U+061C added in 6.3, U+20BB added in 7.0,
			// U+FDD0 and U+FFFE/U+FFFF noncharacters.
			friendly: "\u0378\u061c\u20bb\ufdd0\ufffe\uffff",
			wantXML:  "&#x378;&#x61c;&#x20bb;&#xfdd0;&#xfffe;&#xffff;",
			wantJSON: "\"\u0378\u061c\u20bb\ufdd0\ufffe\uffff\"",
		},
		{
			name: "defined in Java 8: raw",
			// U+20BA added in 6.2, private use, U+FFFD, supplementary
			// unassigned and noncharacter (Java sees two defined surrogates).
			friendly: "\u20ba\ue000\ufffd\U000e0080\U0001fffe",
			wantXML:  "\u20ba\ue000\ufffd\U000e0080\U0001fffe",
			wantJSON: "\"\u20ba\ue000\ufffd\U000e0080\U0001fffe\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := defaultAdmin()
			a.FriendlyName = tt.friendly
			assert.Contains(t, string(AppendAccountXML(nil, &a)),
				"\n    <FriendlyName>"+tt.wantXML+"</FriendlyName>\n")
			assert.Contains(t, string(AppendAccountJSON(nil, &a)),
				"\n  \"friendly_name\": "+tt.wantJSON+",\n")
			assert.Equal(t, tt.wantXML, string(appendXMLText(nil, tt.friendly)))
			assert.Equal(t, tt.wantJSON, string(appendJSONString(nil, tt.friendly)))
		})
	}
}

func TestSidEscapedInsideComputedURIs(t *testing.T) {
	a := defaultAdmin()
	a.Sid = "A<'>"
	x := string(AppendAccountXML(nil, &a))
	assert.Contains(t, x, "<Calls>/2012-04-24/Accounts/A&lt;&apos;&gt;/Calls</Calls>")
	j := string(AppendAccountJSON(nil, &a))
	assert.Contains(t, j, `"uri": "/2012-04-24/Accounts.json/A\u003c\u0027\u003e",`)
	assert.Contains(t, j, `"calls": "/2012-04-24/Accounts/A\u003c\u0027\u003e/Calls.json",`)
}

func TestFormatDate(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"seeded", seeded, "Tue, 24 Apr 2012 00:00:00 +0000"},
		{"single-digit day not padded", time.Date(2018, 12, 5, 9, 7, 3, 0, time.UTC), "Wed, 5 Dec 2018 09:07:03 +0000"},
		{"two-digit day", time.Date(2019, 1, 11, 23, 59, 59, 0, time.UTC), "Fri, 11 Jan 2019 23:59:59 +0000"},
		{"fractions dropped", time.Date(2020, 2, 29, 12, 0, 0, 999999999, time.UTC), "Sat, 29 Feb 2020 12:00:00 +0000"},
		{"non-UTC rendered in UTC", time.Date(2012, 4, 23, 20, 0, 0, 0, ny), "Tue, 24 Apr 2012 00:00:00 +0000"},
		{"fixed zone rendered in UTC", time.Date(2012, 4, 24, 5, 30, 0, 0, time.FixedZone("IST", 19800)), "Tue, 24 Apr 2012 00:00:00 +0000"},
		{"year padded to four digits", time.Date(1999, 9, 9, 1, 2, 3, 0, time.UTC), "Thu, 9 Sep 1999 01:02:03 +0000"},
		{"five-digit year", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "Sat, 1 Jan 10000 00:00:00 +0000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, FormatDate(tt.in))
		})
	}
}

func TestOrganization(t *testing.T) {
	org0 := store.Organization{
		Sid:         "ORafbe225ad37541eba518a74248f0ac4c",
		DomainName:  "default.restcomm.com",
		Status:      "active",
		DateCreated: seeded,
		DateUpdated: seeded,
	}
	org1 := store.Organization{
		Sid:         "ORafbe225ad37541eba518a74248f0ac4d",
		DomainName:  "org1.restcomm.com",
		Status:      "closed",
		DateCreated: seeded,
		DateUpdated: time.Date(2018, 12, 5, 9, 7, 3, 0, time.UTC),
	}

	assert.Equal(t, `<RestcommResponse>
  <Organization>
    <Sid>ORafbe225ad37541eba518a74248f0ac4c</Sid>
    <DomainName>default.restcomm.com</DomainName>
    <Status>active</Status>
    <DateCreated>Tue, 24 Apr 2012 00:00:00 +0000</DateCreated>
    <DateUpdated>Tue, 24 Apr 2012 00:00:00 +0000</DateUpdated>
  </Organization>
</RestcommResponse>`, string(AppendOrganizationXML(nil, &org0)))

	assert.Equal(t, `{
  "sid": "ORafbe225ad37541eba518a74248f0ac4c",
  "domain_name": "default.restcomm.com",
  "status": "active",
  "date_created": "Tue, 24 Apr 2012 00:00:00 +0000",
  "date_updated": "Tue, 24 Apr 2012 00:00:00 +0000"
}`, string(AppendOrganizationJSON(nil, &org0)))

	assert.Equal(t, `<RestcommResponse>
  <Organizations>
    <Organization>
      <Sid>ORafbe225ad37541eba518a74248f0ac4c</Sid>
      <DomainName>default.restcomm.com</DomainName>
      <Status>active</Status>
      <DateCreated>Tue, 24 Apr 2012 00:00:00 +0000</DateCreated>
      <DateUpdated>Tue, 24 Apr 2012 00:00:00 +0000</DateUpdated>
    </Organization>
    <Organization>
      <Sid>ORafbe225ad37541eba518a74248f0ac4d</Sid>
      <DomainName>org1.restcomm.com</DomainName>
      <Status>closed</Status>
      <DateCreated>Tue, 24 Apr 2012 00:00:00 +0000</DateCreated>
      <DateUpdated>Wed, 5 Dec 2018 09:07:03 +0000</DateUpdated>
    </Organization>
  </Organizations>
</RestcommResponse>`, string(AppendOrganizationListXML(nil, []store.Organization{org0, org1})))

	assert.Equal(t, `[
  {
    "sid": "ORafbe225ad37541eba518a74248f0ac4c",
    "domain_name": "default.restcomm.com",
    "status": "active",
    "date_created": "Tue, 24 Apr 2012 00:00:00 +0000",
    "date_updated": "Tue, 24 Apr 2012 00:00:00 +0000"
  },
  {
    "sid": "ORafbe225ad37541eba518a74248f0ac4d",
    "domain_name": "org1.restcomm.com",
    "status": "closed",
    "date_created": "Tue, 24 Apr 2012 00:00:00 +0000",
    "date_updated": "Wed, 5 Dec 2018 09:07:03 +0000"
  }
]`, string(AppendOrganizationListJSON(nil, []store.Organization{org0, org1})))

	// RestComm answers 404 for no organizations; the renderers still
	// produce what XStream/Gson would.
	assert.Equal(t, "<RestcommResponse>\n  <Organizations/>\n</RestcommResponse>", string(AppendOrganizationListXML(nil, nil)))
	assert.Equal(t, "[]", string(AppendOrganizationListJSON(nil, nil)))

	// Empty and escaped domain names.
	odd := org0
	odd.DomainName = ""
	assert.Contains(t, string(AppendOrganizationXML(nil, &odd)), "\n    <DomainName></DomainName>\n")
	assert.Contains(t, string(AppendOrganizationJSON(nil, &odd)), "\n  \"domain_name\": \"\",\n")
	odd.DomainName = "a&b=c"
	assert.Contains(t, string(AppendOrganizationXML(nil, &odd)), "<DomainName>a&amp;b=c</DomainName>")
	assert.Contains(t, string(AppendOrganizationJSON(nil, &odd)), `"domain_name": "a\u0026b\u003dc",`)
}

func TestMessage(t *testing.T) {
	tests := []struct {
		msg, wantXML, wantJSON string
	}{
		{ // a plain message
			"Password too weak",
			"<RestcommResponse><Message>Password too weak</Message></RestcommResponse>",
			`{"message":"Password too weak"}`,
		},
		{ // another
			"This account is not allowed to have sub-accounts",
			"<RestcommResponse><Message>This account is not allowed to have sub-accounts</Message></RestcommResponse>",
			`{"message":"This account is not allowed to have sub-accounts"}`,
		},
		{ // not a RestComm message: escaped so the body stays well-formed
			`a<b & "c"`,
			"<RestcommResponse><Message>a&lt;b &amp; &quot;c&quot;</Message></RestcommResponse>",
			`{"message":"a\u003cb \u0026 \"c\""}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			assert.Equal(t, tt.wantXML, string(AppendMessageXML(nil, tt.msg)))
			assert.Equal(t, tt.wantJSON, string(AppendMessageJSON(nil, tt.msg)))
		})
	}
}

// TestJava8UndefinedTable checks the generated table against Go's (newer)
// Unicode tables: whatever is unassigned today was unassigned in 6.2 too, so
// every Go-unassigned BMP code point must be in the table; and the table
// must be sorted, disjoint and never contain surrogates or private use.
func TestJava8UndefinedTable(t *testing.T) {
	assigned := []*unicode.RangeTable{unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C}
	for r := rune(0); r <= 0xffff; r++ {
		if !unicode.IsOneOf(assigned, r) && !xmlEscapeRune(r) {
			t.Fatalf("U+%04X is unassigned in Go's Unicode %s but not escaped", r, unicode.Version)
		}
	}
	prev := -1
	for _, rg := range java8Undefined {
		require.LessOrEqual(t, rg[0], rg[1])
		require.Greater(t, int(rg[0]), prev+1, "ranges must be sorted and not adjacent")
		prev = int(rg[1])
		for c := rune(rg[0]); c <= rune(rg[1]); c++ {
			require.False(t, unicode.Is(unicode.Cs, c) || unicode.Is(unicode.Co, c), "U+%04X", c)
		}
	}
	// Spot checks across Unicode versions.
	for r, want := range map[rune]bool{
		0x20ba: false, // 6.2: Turkish lira sign
		0x058f: false, // 6.1
		0x061c: true,  // 6.3
		0x20bb: true,  // 7.0
		0xa7f7: true,  // 7.0
		0xd800: false, // surrogates are "defined"
		0xfffd: false,
		0x00a0: false,
		0x009f: true, // ISO control
	} {
		assert.Equal(t, want, xmlEscapeRune(r), "U+%04X", r)
	}
}

func BenchmarkAccountJSON(b *testing.B) {
	a := defaultAdmin()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendAccountJSON(buf[:0], &a)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAccountXML(b *testing.B) {
	a := defaultAdmin()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendAccountXML(buf[:0], &a)
	}
	b.SetBytes(int64(len(buf)))
}

// escapableAccounts are n accounts whose names need escaping in both formats.
func escapableAccounts(n int) []store.Account {
	as := make([]store.Account, n)
	for i := range as {
		as[i] = defaultAdmin()
		as[i].FriendlyName = "Zoë <o'neil> & co"
	}
	return as
}

// BenchmarkAccountListJSON renders 100 accounts with escapable names.
func BenchmarkAccountListJSON(b *testing.B) {
	as := escapableAccounts(100)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendAccountListJSON(buf[:0], as)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAccountListXML(b *testing.B) {
	as := escapableAccounts(100)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendAccountListXML(buf[:0], as)
	}
	b.SetBytes(int64(len(buf)))
}
