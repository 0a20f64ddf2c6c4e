package restcommtest

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// Account is one restcomm_accounts row of a Dataset, as RestComm stores
// it; Password is its plaintext (the token is its md5), Bad the reason an
// import must skip it ("" for a good row).
type Account struct {
	Sid, Created, Updated, Email, FriendlyName, ParentSid string // ParentSid "" is NULL
	Type, Status, Token, Role, URI, Org                   string
	Password                                              string
	Bad                                                   string
}

// Organization is one restcomm_organizations row.
type Organization struct {
	Sid, Domain, Created, Updated, Status string
}

// Dataset is a RestComm database's accounts and organizations.
type Dataset struct {
	Organizations []Organization
	Accounts      []Account
}

// MD5 is the lower-case hex md5 of s (RestComm's auth token of a password).
func MD5(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// SidOf is RestComm's account SID for an e-mail address.
func SidOf(email string) string { return "AC" + MD5(strings.ToLower(email)) }

// Organization SIDs of every Dataset.
const (
	DefaultOrg = "ORafbe225ad37541eba518a74248f0ac4c"
	OtherOrg   = "OR0123456789abcdef0123456789abcdef"
	AdminSid   = "ACae6e420f425248d6a26948c17a9e2acf"
)

var statuses = []string{"active", "uninitialized", "suspended", "inactive", "closed"}

// names with quotes and Latin-1 letters (RestComm's database is latin1)
var names = []string{"O'Brien & Sons", "Zoë \"Zo\" Ångström", "Müller <GmbH>", "plain name", "Ça va? ¿Sí! ½ ©"}

// Generate makes n good accounts in three levels (about n/100 top-level
// accounts, n/10 children, the rest grandchildren) across two
// organizations, in every status, with quotes and non-ASCII names, plus
// RestComm's default administrator, plus (with bad) one row of every kind
// an import must skip. Dates are "2006-01-02 15:04:05" in RestComm's time
// zone.
func Generate(n int, bad bool) *Dataset {
	d := &Dataset{Organizations: []Organization{
		{DefaultOrg, "default.restcomm.com", "2017-04-19 00:00:00", "2017-04-19 00:00:00", "active"},
		{OtherOrg, "acme.example.com", "2018-02-03 04:05:06", "2019-03-04 05:06:07", "active"},
	}}
	d.Accounts = append(d.Accounts, Account{
		Sid: AdminSid, Created: "2012-04-24 00:00:00", Updated: "2012-04-24 00:00:00",
		Email: "administrator@company.com", FriendlyName: "Default Administrator Account",
		Type: "Full", Status: "active", Token: MD5("RestComm"), Role: "Administrator",
		URI: "/2012-04-24/Accounts/" + AdminSid, Org: DefaultOrg, Password: "RestComm",
	})
	tops, kids := max(2, n/100), max(2, n/10)
	base := time.Date(2015, 1, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("user%d.o'k@example.com", i)
		if i%7 == 3 {
			email = fmt.Sprintf("User%d@Example.COM", i) // stored as given; the SID is of the lower case
		}
		a := Account{
			Sid: SidOf(email), Email: email,
			Created: base.Add(time.Duration(i) * time.Hour).Format(time.DateTime),
			Updated: base.Add(time.Duration(i)*time.Hour + 90*time.Second).Format(time.DateTime),
			Type:    []string{"Full", "Trial"}[i%2], Role: []string{"Developer", "Administrator"}[i%3/2],
			Password: fmt.Sprintf("Pw%d-secret!", i), Org: []string{DefaultOrg, OtherOrg}[i%2],
			FriendlyName: fmt.Sprintf("%s %d", names[i%len(names)], i),
		}
		a.Token = MD5(a.Password)
		a.URI = "/2012-04-24/Accounts/" + a.Sid
		switch {
		case i < tops:
			// active Administrators, so that their subtrees are readable
			a.Status, a.Role = "active", "Administrator"
		case i < tops+kids:
			p := d.Accounts[1+(i-tops)%tops]
			a.ParentSid, a.Org = p.Sid, p.Org
			a.Status = statuses[i%len(statuses)]
		default:
			p := d.Accounts[1+tops+(i-tops-kids)%kids]
			a.ParentSid, a.Org = p.Sid, p.Org
			a.Status = statuses[i%len(statuses)]
		}
		d.Accounts = append(d.Accounts, a)
	}
	if bad {
		d.Accounts = append(d.Accounts, BadRows(d)...)
	}
	return d
}

// Skip reasons of the importer (store/importer), repeated here so that the
// dataset says what it expects.
const (
	BadNoParent      = "parent does not exist"
	BadParentSkipped = "parent skipped"
	BadCycle         = "parent cycle"
	BadTooDeep       = "deeper than RestComm allows"
	// SharedEmail marks the rows that share an e-mail address: not
	// skipped (RestComm's database holds them all, and RestComm finds each
	// by SID), only ambiguous by e-mail (RestComm answers 500, the gateway
	// 401). They are Importable, not Good.
	SharedEmail = "e-mail address shared with another account"
	BadStatus   = "unknown status"
	BadTooWide  = "field wider than its column"
	BadType     = "unknown type"
	BadSid      = "malformed SID"
	BadNoOrg    = "organization does not exist"
)

// BadRows are one row of every kind an import must skip, in d's tree,
// and two that share an e-mail address (SharedEmail).
func BadRows(d *Dataset) []Account {
	mk := func(email, parent, status, bad string) Account {
		a := Account{Sid: SidOf(email), Email: email, Created: "2016-06-06 06:06:06", Updated: "2016-06-06 06:06:06",
			FriendlyName: "bad " + bad, ParentSid: parent, Type: "Full", Status: status, Token: MD5("x"),
			Role: "Developer", URI: "/2012-04-24/Accounts/" + SidOf(email), Org: DefaultOrg, Bad: bad}
		return a
	}
	// a grandchild of d (the deepest good level), to hang a fourth level on
	var grandchild Account
	for _, a := range d.Accounts {
		if a.ParentSid != "" && a.Bad == "" {
			for _, p := range d.Accounts {
				if p.Sid == a.ParentSid && p.ParentSid != "" {
					grandchild = a
				}
			}
		}
	}
	var out []Account
	orphan := mk("orphan@example.com", SidOf("nobody@example.com"), "active", BadNoParent)
	out = append(out, orphan, mk("orphans.child@example.com", orphan.Sid, "active", BadParentSkipped))
	c1, c2 := mk("cycle1@example.com", "", "active", BadCycle), mk("cycle2@example.com", "", "active", BadCycle)
	c1.ParentSid, c2.ParentSid = c2.Sid, c1.Sid
	self := mk("self@example.com", "", "active", BadCycle)
	self.ParentSid = self.Sid
	out = append(out, c1, c2, self)
	out = append(out, mk("deep@example.com", grandchild.Sid, "active", BadTooDeep))
	d1, d2 := mk("twice@example.com", "", "active", SharedEmail), mk("twice@example.com", "", "active", SharedEmail)
	d2.Sid = "AC" + MD5("twice, second row")
	out = append(out, d1, d2)
	out = append(out, mk("status@example.com", "", "banned", BadStatus))
	wide := mk("wide@example.com", "", "active", BadTooWide)
	wide.FriendlyName = strings.Repeat("w", 65)
	out = append(out, wide)
	typ := mk("type@example.com", "", "active", BadType)
	typ.Type = "Gold"
	out = append(out, typ)
	sid := mk("sid@example.com", "", "active", BadSid)
	sid.Sid = "ACshort"
	out = append(out, sid)
	org := mk("org@example.com", "", "active", BadNoOrg)
	org.Org = "OR" + MD5("no such organization")
	out = append(out, org)
	return out
}

// Importable returns the rows an import must bring in: the good ones and
// those that share an e-mail address.
func (d *Dataset) Importable() []Account {
	var out []Account
	for _, a := range d.Accounts {
		if a.Bad == "" || a.Bad == SharedEmail {
			out = append(out, a)
		}
	}
	return out
}

// Good returns the rows an import must bring in that are found by e-mail
// address too.
func (d *Dataset) Good() []Account {
	var out []Account
	for _, a := range d.Accounts {
		if a.Bad == "" {
			out = append(out, a)
		}
	}
	return out
}

// CreateSchema creates RestComm's two tables in db (restcommdb.Schema) as
// RestComm's MariaDB script leaves them in its latin1 database (see
// mariadbtest's Database): RestComm's columns and types, and no character
// set or collation of their own, so that latin1_swedish_ci compares
// e-mail addresses and SIDs (case and trailing spaces ignored) as it does
// under RestComm.
func CreateSchema(ctx context.Context, db *sql.DB) error {
	for _, stmt := range restcommdb.Schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// Insert writes the dataset into db, whose tables exist (CreateSchema).
// A dataset with a friendly name wider than RestComm's 64 characters (the
// too-wide bad row) first widens the column: RestComm's own refuses it in
// strict mode, so a source holds one only after an operator widened it.
func (d *Dataset) Insert(ctx context.Context, db *sql.DB) error {
	for _, a := range d.Accounts {
		if utf8.RuneCountInString(a.FriendlyName) > 64 {
			if _, err := db.ExecContext(ctx, "ALTER TABLE restcomm_accounts MODIFY friendly_name VARCHAR(100) NOT NULL"); err != nil {
				return err
			}
			break
		}
	}
	for _, o := range d.Organizations {
		if _, err := db.ExecContext(ctx, "INSERT INTO restcomm_organizations VALUES (?,?,?,?,?)",
			o.Sid, o.Domain, o.Created, o.Updated, o.Status); err != nil {
			return err
		}
	}
	const per = 500
	for off := 0; off < len(d.Accounts); off += per {
		rows := d.Accounts[off:min(off+per, len(d.Accounts))]
		var b strings.Builder
		b.WriteString("INSERT INTO restcomm_accounts VALUES ")
		args := make([]any, 0, 12*len(rows))
		for i, a := range rows {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?)")
			var parent any
			if a.ParentSid != "" {
				parent = a.ParentSid
			}
			args = append(args, a.Sid, a.Created, a.Updated, a.Email, a.FriendlyName, parent,
				a.Type, a.Status, a.Token, a.Role, a.URI, a.Org)
		}
		if _, err := db.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// Script is the dataset as the restcomm.script of an HSQLDB 2.3 RestComm:
// the two tables' CREATE statements, then one INSERT per row, strings
// escaped as HSQLDB's script writer escapes them.
func (d *Dataset) Script() string {
	var b strings.Builder
	b.WriteString("SET DATABASE UNIQUE NAME HSQLDB4AD1C0FFEE\nCREATE SCHEMA PUBLIC AUTHORIZATION DBA\n")
	b.WriteString(`CREATE MEMORY TABLE PUBLIC."restcomm_organizations"("sid" VARCHAR(34) NOT NULL PRIMARY KEY,"domain_name" VARCHAR(255) NOT NULL,"date_created" TIMESTAMP NOT NULL,"date_updated" TIMESTAMP NOT NULL,"status" VARCHAR(16),UNIQUE("domain_name"))` + "\n")
	b.WriteString(`CREATE MEMORY TABLE PUBLIC."restcomm_accounts"("sid" VARCHAR(34) NOT NULL PRIMARY KEY,"date_created" TIMESTAMP NOT NULL,"date_updated" TIMESTAMP NOT NULL,"email_address" LONGVARCHAR NOT NULL,"friendly_name" VARCHAR(100) NOT NULL,"parent_sid" VARCHAR(34),"type" VARCHAR(8) NOT NULL,"status" VARCHAR(16) NOT NULL,"auth_token" VARCHAR(32) NOT NULL,"role" VARCHAR(64) NOT NULL,"uri" LONGVARCHAR NOT NULL,"organization_sid" VARCHAR(34) DEFAULT 'ORafbe225ad37541eba518a74248f0ac4c')` + "\n")
	b.WriteString("CREATE USER SA PASSWORD DIGEST 'd41d8cd98f00b204e9800998ecf8427e'\nSET SCHEMA PUBLIC\n")
	for _, o := range d.Organizations {
		fmt.Fprintf(&b, `INSERT INTO "restcomm_organizations" VALUES(%s,%s,%s,%s,%s)`+"\n",
			HSQLString(o.Sid), HSQLString(o.Domain), HSQLString(o.Created+".000000"), HSQLString(o.Updated+".000000"), HSQLString(o.Status))
	}
	for _, a := range d.Accounts {
		parent := "NULL"
		if a.ParentSid != "" {
			parent = HSQLString(a.ParentSid)
		}
		fmt.Fprintf(&b, `INSERT INTO "restcomm_accounts" VALUES(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)`+"\n",
			HSQLString(a.Sid), HSQLString(a.Created+".000000"), HSQLString(a.Updated+".000000"), HSQLString(a.Email),
			HSQLString(a.FriendlyName), parent, HSQLString(a.Type), HSQLString(a.Status), HSQLString(a.Token),
			HSQLString(a.Role), HSQLString(a.URI), HSQLString(a.Org))
	}
	return b.String()
}

// HSQLString is s as HSQLDB's script writer writes a string value: quoted,
// a quote doubled, every UTF-16 code unit outside 0x20–0x7F as \uXXXX,
// and a backslash that precedes 'u' as \u005c.
func HSQLString(s string) string {
	units := utf16.Encode([]rune(s))
	var b strings.Builder
	b.WriteByte('\'')
	for i, c := range units {
		switch {
		case c == '\\' && i+1 < len(units) && units[i+1] == 'u':
			b.WriteString(`\u005c`)
		case c >= 0x20 && c <= 0x7f:
			b.WriteByte(byte(c))
			if c == '\'' {
				b.WriteByte('\'')
			}
		default:
			fmt.Fprintf(&b, `\u%04x`, c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
