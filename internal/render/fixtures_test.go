package render

import (
	"strings"
	"time"

	"github.com/restcomm/restcomm-gateway/store"
)

// specAccountXML and specAccountJSON are copied verbatim from
// RestComm's own answers for the seeded default administrator.
const specAccountXML = `<RestcommResponse>
  <Account>
    <Sid>ACae6e420f425248d6a26948c17a9e2acf</Sid>
    <organization>ORafbe225ad37541eba518a74248f0ac4c</organization>
    <FriendlyName>Default Administrator Account</FriendlyName>
    <EmailAddress>administrator@company.com</EmailAddress>
    <Status>uninitialized</Status>
    <Role>Administrator</Role>
    <Type>Full</Type>
    <DateCreated>Tue, 24 Apr 2012 00:00:00 +0000</DateCreated>
    <DateUpdated>Tue, 24 Apr 2012 00:00:00 +0000</DateUpdated>
    <AuthToken>77f8c12cc7b8f8423e5c38b035249166</AuthToken>
    <Uri>/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf</Uri>
    <SubresourceUris>
      <AvailablePhoneNumbers>/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/AvailablePhoneNumbers</AvailablePhoneNumbers>
      <Calls>/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Calls</Calls>
      <Conferences>/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Conferences</Conferences>
      <IncomingPhoneNumbers>/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/IncomingPhoneNumbers</IncomingPhoneNumbers>
      <Notifications>/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Notifications</Notifications>
      <OutgoingCallerIds>/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/OutgoingCallerIds</OutgoingCallerIds>
      <Recordings>/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Recordings</Recordings>
      <Sandbox>/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Sandbox</Sandbox>
      <SMSMessages>/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/SMS/Messages</SMSMessages>
      <Transcriptions>/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Transcriptions</Transcriptions>
    </SubresourceUris>
  </Account>
</RestcommResponse>`

const specAccountJSON = `{
  "sid": "ACae6e420f425248d6a26948c17a9e2acf",
  "organization": "ORafbe225ad37541eba518a74248f0ac4c",
  "friendly_name": "Default Administrator Account",
  "email_address": "administrator@company.com",
  "type": "Full",
  "status": "uninitialized",
  "role": "Administrator",
  "date_created": "Tue, 24 Apr 2012 00:00:00 +0000",
  "date_updated": "Tue, 24 Apr 2012 00:00:00 +0000",
  "auth_token": "77f8c12cc7b8f8423e5c38b035249166",
  "uri": "/2012-04-24/Accounts.json/ACae6e420f425248d6a26948c17a9e2acf",
  "subresource_uris": {
    "available_phone_numbers": "/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/AvailablePhoneNumbers.json",
    "calls": "/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Calls.json",
    "conferences": "/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Conferences.json",
    "incoming_phone_numbers": "/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/IncomingPhoneNumbers.json",
    "notifications": "/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Notifications.json",
    "outgoing_caller_ids": "/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/OutgoingCallerIds.json",
    "recordings": "/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Recordings.json",
    "sandbox": "/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Sandbox.json",
    "sms_messages": "/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/SMS/Messages.json",
    "transcriptions": "/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Transcriptions.json"
  }
}`

var seeded = time.Date(2012, 4, 24, 0, 0, 0, 0, time.UTC)

func defaultAdmin() store.Account {
	return store.Account{
		Sid:             "ACae6e420f425248d6a26948c17a9e2acf",
		OrganizationSid: "ORafbe225ad37541eba518a74248f0ac4c",
		FriendlyName:    "Default Administrator Account",
		EmailAddress:    "administrator@company.com",
		Type:            "Full",
		Status:          store.StatusUninitialized,
		Role:            "Administrator",
		AuthToken:       "77f8c12cc7b8f8423e5c38b035249166",
		URI:             "/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf",
		DateCreated:     seeded,
		DateUpdated:     seeded,
	}
}

// childAccount and childReplacer describe a second account as a textual
// edit of RestComm's documents above, so list expectations never come from the code
// under test.
func childAccount() store.Account {
	a := defaultAdmin()
	a.Sid = "AC574d775522c96f9aacacc5ca60c8c74f"
	a.FriendlyName = "Child"
	a.EmailAddress = "child@company.com"
	a.Status = store.StatusActive
	a.Role = "Developer"
	a.URI = "/2012-04-24/Accounts/AC574d775522c96f9aacacc5ca60c8c74f"
	a.ParentSid = "ACae6e420f425248d6a26948c17a9e2acf"
	a.DateUpdated = time.Date(2018, 12, 5, 9, 7, 3, 0, time.UTC)
	return a
}

var childReplacer = strings.NewReplacer(
	"ACae6e420f425248d6a26948c17a9e2acf", "AC574d775522c96f9aacacc5ca60c8c74f",
	"Default Administrator Account", "Child",
	"administrator@company.com", "child@company.com",
	"uninitialized", "active",
	"Administrator<", "Developer<",
	`"Administrator"`, `"Developer"`,
	"DateUpdated>Tue, 24 Apr 2012 00:00:00 +0000", "DateUpdated>Wed, 5 Dec 2018 09:07:03 +0000",
	`"date_updated": "Tue, 24 Apr 2012 00:00:00 +0000"`, `"date_updated": "Wed, 5 Dec 2018 09:07:03 +0000"`,
)

// indentLines adds n spaces in front of every line but the first.
func indentLines(s string, n int) string {
	return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n))
}

// specAccountElement is the <Account> element of RestComm's XML representation, without the root.
func specAccountElement(doc string) string {
	doc = strings.TrimPrefix(doc, "<RestcommResponse>\n  ")
	return strings.TrimSuffix(doc, "\n</RestcommResponse>")
}
