// Package restcommdb reads RestComm Connect's accounts and organizations
// where RestComm keeps them: its MariaDB/MySQL database (tables
// restcomm_accounts and restcomm_organizations), the restcomm.script file
// of its embedded HSQLDB (readable once RestComm is stopped), or the JSON
// lines that `restcomm-gateway accounts export` writes.
//
// It only reads and returns the rows as the source holds them, as text:
// judging them (statuses, widths, parents, duplicates) and converting their
// dates is the importer's business (store/importer), so that every source
// is judged alike. It does not import the gateway.
package restcommdb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/redact"
)

// Column names of RestComm's tables, in the order RestComm creates them.
var (
	AccountColumns = []string{
		"sid", "date_created", "date_updated", "email_address", "friendly_name", "parent_sid",
		"type", "status", "auth_token", "role", "uri", "organization_sid",
	}
	OrganizationColumns = []string{"sid", "domain_name", "date_created", "date_updated", "status"}
)

// Table names.
const (
	AccountsTable      = "restcomm_accounts"
	OrganizationsTable = "restcomm_organizations"
)

// Widths of RestComm's columns, in characters (MEDIUMTEXT columns hold
// 16,777,215 bytes).
var (
	AccountWidths = map[string]int{
		"sid": 34, "email_address": 16777215, "friendly_name": 64, "parent_sid": 34, "type": 8,
		"status": 16, "auth_token": 32, "role": 64, "uri": 16777215, "organization_sid": 34,
	}
	OrganizationWidths = map[string]int{"sid": 34, "domain_name": 255, "status": 16}
)

// Account is one row of restcomm_accounts as the source holds it. Dates
// are the source's text: "2012-04-24 00:00:00[.fraction]" in RestComm's
// time zone for the databases, RFC 3339 for JSON lines.
type Account struct {
	Sid, DateCreated, DateUpdated, EmailAddress, FriendlyName string
	ParentSid                                                 string // "" for NULL: a top-level account
	Type, Status, AuthToken, Role, URI, OrganizationSid       string

	// Null lists the columns other than parent_sid that were NULL (all
	// of them are NOT NULL in RestComm's schema).
	Null []string
	// NoOrganization: the source predates organizations (RestComm before
	// 8.2), so OrganizationSid is empty and the account belongs to the
	// default organization.
	NoOrganization bool
	// Where names the row in the source ("restcomm.script line 35",
	// "restcomm_accounts row 12", "accounts.jsonl line 3").
	Where string
}

// Organization is one row of restcomm_organizations.
type Organization struct {
	Sid, DomainName, DateCreated, DateUpdated, Status string
	Null                                              []string
	// NoStatus: the source predates the status column (RestComm before
	// 8.2.x), so Status is empty: RestComm then treats it as active.
	NoStatus bool
	Where    string
}

// Source is everything read from one source.
type Source struct {
	// Name describes the source without secrets, for reports.
	Name string
	// Organizations is false for a source without the organizations
	// table (RestComm before 8.2): every account belongs to the default
	// organization.
	HasOrganizations bool
	Organizations    []Organization
	Accounts         []Account
	// Collation is how the source's database compares e-mail addresses
	// and SIDs, and so decides RestComm's logins (RestComm runs
	// `WHERE email_address = ?` and lets the database compare): the
	// column's collation in MariaDB/MySQL, the database collation of an
	// HSQLDB script, the rule an export recorded. CollationFrom says where
	// it was read, for reports.
	Collation     collation.Rule
	CollationFrom string
	// CollationErr: the source compares under a collation that has no
	// rule here; Collation is then not to be trusted, and the import needs
	// one named (accounts import --collation).
	CollationErr error
	// Malformed are rows of the two tables that could not be read (an
	// HSQLDB line that does not parse), with what could be read of them.
	Malformed []Malformed
	// Reservations are the rows an export's namespace kept reserved (rows
	// RestComm's database holds that an import skipped); only exports
	// carry them.
	Reservations []Reservation
	// Warnings are what reading noticed without refusing anything the
	// import uses: unreadable lines of tables it does not read, the
	// columns compared under different collations.
	Warnings []string
	// Dates says how the source writes dates: "local" (RestComm's time
	// zone, no offset) or "rfc3339".
	Dates string
}

// Malformed is a row of restcomm_accounts or restcomm_organizations that
// could not be read.
type Malformed struct {
	Kind string // KindAccount or KindOrganization
	// Sid and EmailAddress are what could be read of them ("" when not).
	Sid, EmailAddress string
	Where, Detail     string
}

// Reservation is a reserved row carried by an export.
type Reservation struct {
	Sid, EmailAddress, Reason, Where string
}

// MaxLineLength bounds a line of an HSQLDB script or an export, in bytes:
// a RestComm row is a few hundred bytes, so a longer line is not one, and
// reading it whole could exhaust memory.
const MaxLineLength = 1 << 20

// errLineTooLong is a line longer than MaxLineLength.
var errLineTooLong = fmt.Errorf("line longer than %d bytes (1 MiB): not a RestComm row", MaxLineLength)

// readLine reads one line, its end ("\n" or "\r\n") removed, of at most
// MaxLineLength bytes; a longer one is errLineTooLong, read no further.
// The line is valid until the next read. At the end of r it returns
// io.EOF with no line.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if line == nil && err == nil {
			line = chunk // the common case: the whole line in the buffer
		} else {
			line = append(line, chunk...)
		}
		if len(line) > MaxLineLength+2 {
			return nil, errLineTooLong
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && (!errors.Is(err, io.EOF) || len(line) == 0):
			return nil, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) > MaxLineLength {
			return nil, errLineTooLong
		}
		return line, nil
	}
}

// Date formats of Source.Dates.
const (
	DatesLocal   = "local"
	DatesRFC3339 = "rfc3339"
)

// Read reads from where `from` says: a mysql:// (or mariadb://) URL, a
// file whose name ends in .jsonl or .json, or anything else as an HSQLDB
// script.
func Read(ctx context.Context, from string) (*Source, error) {
	switch {
	case strings.HasPrefix(from, "mysql://"), strings.HasPrefix(from, "mariadb://"):
		return ReadMySQL(ctx, from)
	case strings.HasSuffix(from, ".jsonl"), strings.HasSuffix(from, ".json"), from == "-":
		f := os.Stdin
		if from != "-" {
			var err error
			if f, err = open(from); err != nil {
				return nil, err
			}
			defer f.Close()
		}
		return ReadJSONL(f, from)
	default:
		f, err := open(from)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return ReadHSQLDB(f, from)
	}
}

// open opens a source file. Its error names the file redacted: a database
// URL mistyped (mysql:/…) is taken for a file name, password and all.
func open(name string) (*os.File, error) {
	f, err := os.Open(name)
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return nil, fmt.Errorf("%s %s: %w", pe.Op, redact.URL(name), pe.Err)
	}
	return f, err
}

func errorf(where, format string, args ...any) error {
	return fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
}
