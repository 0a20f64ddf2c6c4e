// Package render writes the byte-exact RestComm Connect representations of
// accounts, organizations and typed error messages: the XML that XStream
// 1.4.2's PrettyPrintWriter produces from RestComm's converters and the JSON
// that Gson 2.3.1 produces (pretty printed, HTML-safe escaping), as
// RestComm prints them.
//
// Everything appends to a caller-supplied []byte with no reflection and no
// encoding/json or encoding/xml, so a reused buffer renders an account
// without allocating. Outputs never end with a newline, because neither
// XStream's toXML nor Gson's toJson writes one. Lists can also be rendered
// one item at a time (AccountList, OrganizationList), to be sent while they
// are read; the pieces add up to the same bytes.
//
// Inputs are Go strings, which may hold invalid UTF-8; each invalid byte is
// written as U+FFFD (what the servlet container would have decoded it to), so
// the output is always valid UTF-8 and rendering never panics.
package render

import (
	"time"

	"github.com/restcomm/restcomm-gateway/store"
)

// APIVersion is RestComm's runtime-settings/api-version, the first segment of
// every URI that the converters compute.
const APIVersion = "2012-04-24"

// Indentation. XStream indents two spaces per element depth and Gson two
// spaces per nesting level; a line break is always a bare "\n".
const indent = "\n                " // long enough for the deepest level used (8)

func nl(depth int) string { return indent[:1+2*depth] }

// subresources are AccountConverter.writeSubResourceUris, in order: XML
// element name, JSON key, path suffix appended to /{v}/Accounts/{sid} (the
// JSON form adds ".json" to it).
var subresources = [...]struct{ xml, json, path string }{
	{"AvailablePhoneNumbers", "available_phone_numbers", "/AvailablePhoneNumbers"},
	{"Calls", "calls", "/Calls"},
	{"Conferences", "conferences", "/Conferences"},
	{"IncomingPhoneNumbers", "incoming_phone_numbers", "/IncomingPhoneNumbers"},
	{"Notifications", "notifications", "/Notifications"},
	{"OutgoingCallerIds", "outgoing_caller_ids", "/OutgoingCallerIds"},
	{"Recordings", "recordings", "/Recordings"},
	{"Sandbox", "sandbox", "/Sandbox"},
	{"SMSMessages", "sms_messages", "/SMS/Messages"},
	{"Transcriptions", "transcriptions", "/Transcriptions"},
}

const accountsPrefix = "/" + APIVersion + "/Accounts/"

// ---- XML ----

// xmlElem appends one text element on its own line at depth. An empty value
// gives <Name></Name>, not <Name/>: the converters always call setValue,
// which closes the start tag, and XStream only self-closes elements that got
// neither text nor children.
func xmlElem(dst []byte, depth int, name, value string) []byte {
	dst = append(dst, nl(depth)...)
	dst = append(dst, '<')
	dst = append(dst, name...)
	dst = append(dst, '>')
	dst = appendXMLText(dst, value)
	dst = append(dst, "</"...)
	dst = append(dst, name...)
	return append(dst, '>')
}

// xmlDate appends a date element; appendDate's output needs no escaping.
func xmlDate(dst []byte, depth int, name string, t time.Time) []byte {
	dst = append(dst, nl(depth)...)
	dst = append(dst, '<')
	dst = append(dst, name...)
	dst = append(dst, '>')
	dst = appendDate(dst, t)
	dst = append(dst, "</"...)
	dst = append(dst, name...)
	return append(dst, '>')
}

func xmlOpen(dst []byte, depth int, name string) []byte {
	dst = append(dst, nl(depth)...)
	dst = append(dst, '<')
	dst = append(dst, name...)
	return append(dst, '>')
}

func xmlClose(dst []byte, depth int, name string) []byte {
	dst = append(dst, nl(depth)...)
	dst = append(dst, "</"...)
	dst = append(dst, name...)
	return append(dst, '>')
}

// appendAccountXMLBody is AccountConverter.marshal with <Account> at depth.
// Order is Sid, organization (lower case in RestComm), FriendlyName,
// EmailAddress, Status, Role, Type, DateCreated, DateUpdated, AuthToken, Uri
// (the stored uri column, not recomputed), SubresourceUris.
func appendAccountXMLBody(dst []byte, a *store.Account, depth int) []byte {
	d := depth + 1
	dst = xmlOpen(dst, depth, "Account")
	// The escaped SID is reused for the ten sub-resource URIs: escaping is
	// most of the rendering cost, and Java's prefix() + suffix escapes the
	// same way because the constant parts contain nothing to escape.
	dst = append(dst, nl(d)...)
	dst = append(dst, "<Sid>"...)
	sid0 := len(dst)
	dst = appendXMLText(dst, a.Sid)
	sid1 := len(dst)
	dst = append(dst, "</Sid>"...)
	dst = xmlElem(dst, d, "organization", a.OrganizationSid)
	dst = xmlElem(dst, d, "FriendlyName", a.FriendlyName)
	dst = xmlElem(dst, d, "EmailAddress", a.EmailAddress)
	dst = xmlElem(dst, d, "Status", a.Status)
	dst = xmlElem(dst, d, "Role", a.Role)
	dst = xmlElem(dst, d, "Type", a.Type)
	dst = xmlDate(dst, d, "DateCreated", a.DateCreated)
	dst = xmlDate(dst, d, "DateUpdated", a.DateUpdated)
	dst = xmlElem(dst, d, "AuthToken", a.AuthToken)
	dst = xmlElem(dst, d, "Uri", a.URI)
	dst = xmlOpen(dst, d, "SubresourceUris")
	for _, s := range subresources {
		dst = append(dst, nl(d+1)...)
		dst = append(dst, '<')
		dst = append(dst, s.xml...)
		dst = append(dst, '>')
		dst = append(dst, accountsPrefix...)
		dst = append(dst, dst[sid0:sid1]...)
		dst = append(dst, s.path...)
		dst = append(dst, "</"...)
		dst = append(dst, s.xml...)
		dst = append(dst, '>')
	}
	dst = xmlClose(dst, d, "SubresourceUris")
	return xmlClose(dst, depth, "Account")
}

// AppendAccountXML appends the whole GET /Accounts/{sid} XML document:
// <RestcommResponse> around one <Account>, no XML declaration.
func AppendAccountXML(dst []byte, a *store.Account) []byte {
	dst = append(dst, "<RestcommResponse>"...)
	dst = appendAccountXMLBody(dst, a, 1)
	return append(dst, "\n</RestcommResponse>"...)
}

// AppendAccountListXML appends the GET /Accounts XML document
// (AccountListConverter): <RestcommResponse><Accounts> with one <Account>
// per element and no paging data. An empty list is a self-closed
// <Accounts/>, which is how XStream ends a node that got no children.
func AppendAccountListXML(dst []byte, as []store.Account) []byte {
	return appendAccountList(dst, AccountList{}, as)
}

func appendAccountList(dst []byte, l AccountList, as []store.Account) []byte {
	for i := range as {
		dst = l.Append(dst, &as[i])
	}
	return l.End(dst)
}

// appendOrganizationXMLBody is OrganizationConverter.marshal: Sid,
// DomainName, Status, DateCreated, DateUpdated.
func appendOrganizationXMLBody(dst []byte, o *store.Organization, depth int) []byte {
	d := depth + 1
	dst = xmlOpen(dst, depth, "Organization")
	dst = xmlElem(dst, d, "Sid", o.Sid)
	dst = xmlElem(dst, d, "DomainName", o.DomainName)
	dst = xmlElem(dst, d, "Status", o.Status)
	dst = xmlDate(dst, d, "DateCreated", o.DateCreated)
	dst = xmlDate(dst, d, "DateUpdated", o.DateUpdated)
	return xmlClose(dst, depth, "Organization")
}

// AppendOrganizationXML appends <RestcommResponse> around one <Organization>.
func AppendOrganizationXML(dst []byte, o *store.Organization) []byte {
	dst = append(dst, "<RestcommResponse>"...)
	dst = appendOrganizationXMLBody(dst, o, 1)
	return append(dst, "\n</RestcommResponse>"...)
}

// AppendOrganizationListXML appends <RestcommResponse><Organizations>
// (OrganizationListConverter). RestComm itself answers 404 instead of an
// empty organization list (OrganizationsEndpoint.getOrganizations); if
// called with none this writes <Organizations/> as XStream would.
func AppendOrganizationListXML(dst []byte, orgs []store.Organization) []byte {
	return appendOrganizationList(dst, OrganizationList{}, orgs)
}

func appendOrganizationList(dst []byte, l OrganizationList, orgs []store.Organization) []byte {
	for i := range orgs {
		dst = l.Append(dst, &orgs[i])
	}
	return l.End(dst)
}

// AppendMessageXML appends the typed error body of
// AbstractEndpoint.buildErrorResponseBody: one line, no declaration.
// RestComm concatenates the message unescaped; its messages are constants
// with nothing to escape, and escaping here keeps any other message
// well-formed.
func AppendMessageXML(dst []byte, msg string) []byte {
	dst = append(dst, "<RestcommResponse><Message>"...)
	dst = appendXMLText(dst, msg)
	return append(dst, "</Message></RestcommResponse>"...)
}

// ---- JSON ----

// jsonField appends `,\n<indent>"key": "value"`; first omits the comma.
// Keys are constants needing no escaping. Fields are never omitted: the
// Go model has no null, and Gson writes an empty string as "".
func jsonField(dst []byte, depth int, first bool, key, value string) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, nl(depth)...)
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, `": `...)
	return appendJSONString(dst, value)
}

// jsonDate appends a date member; appendDate's output needs no escaping.
func jsonDate(dst []byte, depth int, key string, t time.Time) []byte {
	dst = append(dst, ',')
	dst = append(dst, nl(depth)...)
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, `": "`...)
	dst = appendDate(dst, t)
	return append(dst, '"')
}

// appendAccountJSONObject is AccountConverter.serialize as Gson pretty
// prints it, with the object's members at depth+1. Key order differs from
// the XML: type comes before status. uri is computed as
// /{v}/Accounts.json/{sid}; subresource URIs use the plain /{v}/Accounts/
// prefix with ".json" on the last segment.
func appendAccountJSONObject(dst []byte, a *store.Account, depth int) []byte {
	d := depth + 1
	dst = append(dst, '{')
	dst = append(dst, nl(d)...)
	dst = append(dst, `"sid": "`...)
	sid0 := len(dst)
	dst = appendJSONChars(dst, a.Sid) // reused below, as in the XML
	sid1 := len(dst)
	dst = append(dst, '"')
	dst = jsonField(dst, d, false, "organization", a.OrganizationSid)
	dst = jsonField(dst, d, false, "friendly_name", a.FriendlyName)
	dst = jsonField(dst, d, false, "email_address", a.EmailAddress)
	dst = jsonField(dst, d, false, "type", a.Type)
	dst = jsonField(dst, d, false, "status", a.Status)
	dst = jsonField(dst, d, false, "role", a.Role)
	dst = jsonDate(dst, d, "date_created", a.DateCreated)
	dst = jsonDate(dst, d, "date_updated", a.DateUpdated)
	dst = jsonField(dst, d, false, "auth_token", a.AuthToken)
	dst = append(dst, ',')
	dst = append(dst, nl(d)...)
	dst = append(dst, `"uri": "/`+APIVersion+`/Accounts.json/`...)
	dst = append(dst, dst[sid0:sid1]...)
	dst = append(dst, `",`...)
	dst = append(dst, nl(d)...)
	dst = append(dst, `"subresource_uris": {`...)
	for i, s := range subresources {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, nl(d+1)...)
		dst = append(dst, '"')
		dst = append(dst, s.json...)
		dst = append(dst, `": "`+accountsPrefix...)
		dst = append(dst, dst[sid0:sid1]...)
		dst = append(dst, s.path...)
		dst = append(dst, `.json"`...)
	}
	dst = append(dst, nl(d)...)
	dst = append(dst, '}')
	dst = append(dst, nl(depth)...)
	return append(dst, '}')
}

// AppendAccountJSON appends the GET /Accounts.json/{sid} body.
func AppendAccountJSON(dst []byte, a *store.Account) []byte {
	return appendAccountJSONObject(dst, a, 0)
}

// AppendAccountListJSON appends the GET /Accounts.json body: a bare,
// pretty-printed array of account objects with no wrapper or paging; Gson
// writes an empty array as [] on one line.
func AppendAccountListJSON(dst []byte, as []store.Account) []byte {
	return appendAccountList(dst, AccountList{JSON: true}, as)
}

// appendOrganizationJSONObject is OrganizationConverter.serialize: sid,
// domain_name, status, date_created, date_updated. The Organizations Gson
// has serializeNulls on, so a null domain would print as null rather than
// be omitted; the Go model cannot be null, and "" prints as "".
func appendOrganizationJSONObject(dst []byte, o *store.Organization, depth int) []byte {
	d := depth + 1
	dst = append(dst, '{')
	dst = jsonField(dst, d, true, "sid", o.Sid)
	dst = jsonField(dst, d, false, "domain_name", o.DomainName)
	dst = jsonField(dst, d, false, "status", o.Status)
	dst = jsonDate(dst, d, "date_created", o.DateCreated)
	dst = jsonDate(dst, d, "date_updated", o.DateUpdated)
	dst = append(dst, nl(depth)...)
	return append(dst, '}')
}

// AppendOrganizationJSON appends one pretty-printed organization object.
func AppendOrganizationJSON(dst []byte, o *store.Organization) []byte {
	return appendOrganizationJSONObject(dst, o, 0)
}

// AppendOrganizationListJSON appends the GET /Organizations.json body, a
// bare pretty-printed array (gson.toJson(List<Organization>)). RestComm
// answers 404 rather than an empty list; if called with none this writes [].
func AppendOrganizationListJSON(dst []byte, orgs []store.Organization) []byte {
	return appendOrganizationList(dst, OrganizationList{JSON: true}, orgs)
}

// AppendMessageJSON appends the typed error body {"message":"..."} of
// AbstractEndpoint.buildErrorResponseBody: compact, no spaces, built by
// string concatenation in RestComm (not Gson). RestComm does not escape the
// message; escaping the Gson way changes nothing for its constant messages
// and keeps any other message valid JSON.
func AppendMessageJSON(dst []byte, msg string) []byte {
	dst = append(dst, `{"message":`...)
	dst = appendJSONString(dst, msg)
	return append(dst, '}')
}
