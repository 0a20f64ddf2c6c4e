package store

import (
	"fmt"
	"strings"
)

// The names Go and the Lua scripts share: the fields of the account and
// organization hashes, and the names of the scripts' arguments. Scripts
// receive their arguments as name/value pairs (ARGV[2..], read into the
// Lua table A), never by position, and read hash fields through the Lua
// table F; both tables are built from the constants below (scriptPrelude),
// so that Go and Lua cannot spell a name two ways.

// Hash fields.
const (
	fSid     = "sid"
	fOrg     = "org"
	fName    = "fname"
	fEmail   = "email"
	fType    = "type"
	fStatus  = "status"
	fRole    = "role"
	fToken   = "token"
	fURI     = "uri"
	fParent  = "parent"
	fCreated = "created"
	fUpdated = "updated"
	fDomain  = "domain"
	// fRequest is the id of the request that last changed the hash, so
	// that a gateway that lost a write's reply can tell whether its write
	// was applied (guard.go).
	fRequest = "req"
	// fPending is the id of the outbox entry of the account's latest
	// change while it is not yet delivered to RestComm's database (only
	// in a mirrored namespace: outbox.go), so that a request passed
	// upstream can wait for it (read your writes).
	fPending = "mp"
	// fEmailKey and fNameKey are the keys the account is filed under in
	// the e-mail and friendly-name indexes, kept only when they differ
	// from the e-mail address and friendly name themselves (keys.go).
	fEmailKey = "ek"
	fNameKey  = "nk"
)

// Fields of an outbox entry besides hash fields (sid, org, status, req):
// see outbox.lua.
const (
	eOp          = "op"           // create, update, migrate, organization
	eSids        = "sids"         // the accounts the change wrote, comma-separated
	eFrom        = "from"         // update: the account's status before
	eNewPassword = "new_password" // update: "1" when the password changed
	eSecret      = "secret"       // the new plaintext password, sealed (seal.go); optional
	eLogin       = "login"        // create: the SIP client's login as RestComm derives it (seal.go)
)

// Script arguments besides hash fields.
const (
	aCaller       = "caller"        // the guard: the caller's SID ('' for none)
	aCallerStatus = "caller_status" // ... and its status, token and role as decided
	aCallerToken  = "caller_token"
	aCallerRole   = "caller_role"
	aRequest      = "request" // the request's id, stored as fRequest
	aTarget       = "target"  // the account an update or migrate changes
	aNow          = "now"     // Unix seconds
	aDomainKey    = "domain_key"
	aLoginKey     = "login_key" // failed-login counters (throttle.go): the login's key under the namespace's rule
	aLoginSid     = "login_sid" // ... and its SID form
	aWindow       = "window"
	aLoginLimit   = "login_limit"
	aIPLimit      = "ip_limit"
	aMember       = "member"
	aIP           = "ip"        // the client network of a failed login (ClientNetwork)
	aLimit        = "limit"     // how many items a read returns at most
	aFields       = "fields"    // an import's field names (import.lua)
	aRows         = "rows"      // ... its entries' values
	aOverwrite    = "overwrite" // ... set: write over conflicts
	aDry          = "dry"       // ... set: write nothing
	aDefault      = "default"   // ... the seeded default entry's SID
	aSecret       = eSecret     // a change's sealed password, copied into its outbox entry
	aLogin        = eLogin      // a create's SIP client login, copied into its outbox entry
	aHolder       = "holder"    // the mirror's lease holder (outbox.go)
	aTTL          = "ttl"       // its lease's time to live, ms
	aGroup        = "group"     // the outbox's consumer group
	aID           = "id"        // an outbox entry's id
	aReason       = "reason"    // why an entry was dead-lettered
	aKeys         = "keys"      // the index keys' layout and rule the arguments were made under (keys.go)
	aFrom         = eFrom       // ... and those the namespace held, for a re-keying
	aEmailKey     = fEmailKey   // a new account's e-mail key
	aNameKey      = fNameKey    // its (new) friendly name's key
	aIndexKeys    = "ikeys"     // an import's index keys, per entry (import_accounts.lua)
)

var (
	accountFields      = []string{fSid, fOrg, fName, fEmail, fType, fStatus, fRole, fToken, fURI, fParent, fCreated, fUpdated}
	organizationFields = []string{fSid, fDomain, fStatus, fCreated, fUpdated}
	argumentNames      = []string{aCaller, aCallerStatus, aCallerToken, aCallerRole, aRequest, aTarget, aNow,
		aDomainKey, aLoginKey, aLoginSid, aWindow, aLoginLimit, aIPLimit, aMember, aIP, aLimit, aFields, aRows, aOverwrite, aDry, aDefault,
		aHolder, aTTL, aGroup, aID, aReason, aKeys, aIndexKeys}
	entryNames = []string{fPending, eOp, eSids, eFrom, eNewPassword, eSecret, eLogin, fEmailKey, fNameKey}
)

// scriptPrelude is the Lua every script starts with (after its shebang):
// F maps each hash field and argument name to itself, ACCOUNT and
// ORGANIZATION list the hash fields, A holds the named arguments.
var scriptPrelude = func() string {
	var b strings.Builder
	b.WriteString("local F = {")
	names := append(append(append(append([]string{fRequest}, accountFields...), fDomain), argumentNames...), entryNames...)
	for _, n := range names {
		fmt.Fprintf(&b, "%s = '%s', ", n, n)
	}
	b.WriteString("}\n")
	list := func(name string, fields []string) {
		fmt.Fprintf(&b, "local %s = {'%s'}\n", name, strings.Join(fields, "', '"))
	}
	list("ACCOUNT", accountFields)
	list("ORGANIZATION", organizationFields)
	b.WriteString("local A = {}\nfor i = 2, #ARGV - 1, 2 do A[ARGV[i]] = ARGV[i + 1] end\n")
	return b.String()
}()

// pairs flattens name/value pairs into script arguments, leaving out the
// optional values that are nil.
func pairs(kv ...any) []any {
	out := make([]any, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case *string:
			if v == nil {
				continue
			}
			out = append(out, kv[i], *v)
		default:
			out = append(out, kv[i], v)
		}
	}
	return out
}
