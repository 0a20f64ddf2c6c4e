package render

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/restcomm/restcomm-gateway/store"
)

// quirksRef matches the character references XStream's quirks mode emits
// for chars outside XML 1.0's Char production (&#x0;, &#x1;, &#xfffe;...).
// RestComm sends them as is and so do we; encoding/xml rightly rejects them,
// so the fuzz check maps them to U+FFFD before parsing and expects U+FFFD.
var quirksRef = regexp.MustCompile(`&#x([0-9a-f]+);`)

func isXMLChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		(r >= 0x20 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || (r >= 0x10000 && r <= 0x10ffff)
}

func neutraliseQuirks(b []byte) []byte {
	return quirksRef.ReplaceAllFunc(b, func(m []byte) []byte {
		n, err := strconv.ParseUint(string(m[3:len(m)-1]), 16, 32)
		if err != nil || !isXMLChar(rune(n)) {
			return []byte("\uFFFD")
		}
		return m
	})
}

// decoded is what a client should read back: invalid UTF-8 bytes become
// U+FFFD one for one (ranging over a string yields RuneError per bad byte);
// forXML also maps non-Char runes to U+FFFD, mirroring neutraliseQuirks.
func decoded(s string, forXML bool) string {
	var b strings.Builder
	for _, r := range s {
		if forXML && !isXMLChar(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

type xmlAccounts struct {
	Accounts []struct {
		Sid          string
		Organization string `xml:"organization"`
		FriendlyName string
		Uri          string
		Calls        string `xml:"SubresourceUris>Calls"`
	} `xml:"Accounts>Account"`
}

type xmlOrg struct {
	Sid        string `xml:"Organization>Sid"`
	DomainName string `xml:"Organization>DomainName"`
}

type xmlMessage struct {
	Message string
}

// parseXML insists on a complete, well-formed document (after the quirks
// references are neutralised) and decodes it into v.
func parseXML(t *testing.T, doc []byte, v any) {
	t.Helper()
	if !utf8.Valid(doc) {
		t.Fatalf("invalid UTF-8 in XML output %q", doc)
	}
	if err := xml.Unmarshal(neutraliseQuirks(doc), v); err != nil {
		t.Fatalf("XML not well-formed: %v\n%q", err, doc)
	}
}

func parseJSON(t *testing.T, doc []byte, v any) {
	t.Helper()
	if !json.Valid(doc) {
		t.Fatalf("invalid JSON %q", doc)
	}
	if err := json.Unmarshal(doc, v); err != nil {
		t.Fatalf("JSON: %v\n%q", err, doc)
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"", "Default Administrator Account", `o'neil=x@a.com <&> "q"`,
		"\x00\x01\t\n\r\x1f\x7f\u0085", "\u2028\u2029", "\xff\xed\xa0\x80\xc3",
		"\u0378\ufdd0\ufffe\uffff\U0001fffe", "]]>", "&#x0;", "\r\n", "😀日本",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := store.Account{
			Sid: s, OrganizationSid: s, FriendlyName: s, EmailAddress: s, Type: s,
			Status: s, Role: s, AuthToken: s, URI: s, ParentSid: s,
		}
		b := defaultAdmin()
		b.FriendlyName = s
		wantX, wantJ := decoded(s, true), decoded(s, false)

		// XML: single and list documents must parse and round-trip.
		var single struct {
			Sid          string `xml:"Account>Sid"`
			FriendlyName string `xml:"Account>FriendlyName"`
			Uri          string `xml:"Account>Uri"`
			Sandbox      string `xml:"Account>SubresourceUris>Sandbox"`
		}
		parseXML(t, AppendAccountXML(nil, &a), &single)
		if single.FriendlyName != wantX || single.Uri != wantX || single.Sid != wantX {
			t.Fatalf("XML round trip: got %q want %q", single.FriendlyName, wantX)
		}
		if want := "/" + APIVersion + "/Accounts/" + wantX + "/Sandbox"; single.Sandbox != want {
			t.Fatalf("XML Sandbox: got %q want %q", single.Sandbox, want)
		}
		var list xmlAccounts
		parseXML(t, AppendAccountListXML(nil, []store.Account{a, b}), &list)
		if len(list.Accounts) != 2 || list.Accounts[0].Organization != wantX || list.Accounts[1].FriendlyName != wantX {
			t.Fatalf("XML list round trip: %+v", list)
		}
		var org xmlOrg
		o := store.Organization{Sid: s, DomainName: s, Status: s}
		parseXML(t, AppendOrganizationXML(nil, &o), &org)
		if org.DomainName != wantX {
			t.Fatalf("XML org round trip: got %q want %q", org.DomainName, wantX)
		}
		var orgs struct {
			Orgs []struct{ DomainName string } `xml:"Organizations>Organization"`
		}
		parseXML(t, AppendOrganizationListXML(nil, []store.Organization{o, o}), &orgs)
		if len(orgs.Orgs) != 2 || orgs.Orgs[1].DomainName != wantX {
			t.Fatalf("XML org list round trip: %+v", orgs)
		}
		var msg xmlMessage
		parseXML(t, AppendMessageXML(nil, s), &msg)
		if msg.Message != wantX {
			t.Fatalf("XML message round trip: got %q want %q", msg.Message, wantX)
		}

		// JSON: every document valid and round-tripping.
		var obj map[string]any
		parseJSON(t, AppendAccountJSON(nil, &a), &obj)
		if obj["friendly_name"] != wantJ || obj["uri"] != "/"+APIVersion+"/Accounts.json/"+wantJ {
			t.Fatalf("JSON round trip: %v", obj)
		}
		if len(obj) != 12 || obj["parent_sid"] != nil {
			t.Fatalf("JSON keys: %v", obj)
		}
		var arr []map[string]any
		parseJSON(t, AppendAccountListJSON(nil, []store.Account{a, b}), &arr)
		if len(arr) != 2 || arr[1]["friendly_name"] != wantJ {
			t.Fatalf("JSON list round trip: %v", arr)
		}
		parseJSON(t, AppendOrganizationJSON(nil, &o), &obj)
		if obj["domain_name"] != wantJ {
			t.Fatalf("JSON org round trip: %v", obj)
		}
		parseJSON(t, AppendOrganizationListJSON(nil, []store.Organization{o}), &arr)
		var m map[string]string
		parseJSON(t, AppendMessageJSON(nil, s), &m)
		if m["message"] != wantJ {
			t.Fatalf("JSON message round trip: got %q want %q", m["message"], wantJ)
		}

		// No raw byte that a strict reader could choke on: nothing below
		// 0x20 but TAB/LF in XML, nothing below 0x20 at all inside JSON
		// strings (pretty-print newlines sit outside strings).
		for _, r := range string(AppendAccountXML(nil, &a)) {
			if !isXMLChar(r) || r == '\r' {
				t.Fatalf("raw %U in XML", r)
			}
		}
		if bytes.ContainsAny(AppendMessageJSON(nil, s), "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\u2028\u2029") {
			t.Fatalf("raw control char in JSON")
		}
	})
}
