package accountsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/restcomm/restcomm-gateway/internal/collation"
)

// RestCommDB is RestComm's own database, into which the mirror writes
// every change (Config.RestCommDB). The service consults it before it
// stores anything, so that the gateway never holds what RestComm's
// database cannot (docs/restcomm-contract.md, divergences: a value its columns cannot hold is a
// 400) or already has (a create of an account RestComm holds is a 409).
type RestCommDB interface {
	// Columns is what the columns that clients' values are written to
	// can hold, as last read from the database; RestCommColumns until it
	// could be read. It must not block: it is asked on every change.
	Columns() Columns
	// AccountExists reports whether restcomm_accounts holds a row whose
	// sid is sid or whose email_address is email, compared by the
	// database (its collation: on RestComm's latin1 tables case and
	// trailing spaces are ignored), never in Go.
	AccountExists(ctx context.Context, sid, email string) (bool, error)
}

// DefaultDatabaseTimeout is Config.DatabaseTimeout when none is given.
const DefaultDatabaseTimeout = 2 * time.Second

// Column is what one column can hold, as information_schema.COLUMNS
// describes it.
type Column struct {
	// Charset is MariaDB's name of its character set (latin1, utf8mb4,
	// …). One the gateway does not know is taken as latin1, RestComm's.
	Charset string
	// Chars is CHARACTER_MAXIMUM_LENGTH: at most this many characters;
	// 0 bounds nothing.
	Chars int
	// Bytes is CHARACTER_OCTET_LENGTH: at most this many bytes in
	// Charset, what bounds a TEXT column (whose Chars is the same number);
	// 0 bounds nothing.
	Bytes int
}

// Columns are columns by "table.column", e.g.
// "restcomm_accounts.friendly_name".
type Columns map[string]Column

// RestCommColumns is RestComm's schema as its own MariaDB script makes it
// (a latin1 database, as RestComm's init script makes it): what the service
// checks against until the mirror could read the database's own.
var RestCommColumns = Columns{
	"restcomm_accounts.email_address":    {Charset: "latin1", Chars: 1<<24 - 1, Bytes: 1<<24 - 1}, // MEDIUMTEXT
	"restcomm_accounts.friendly_name":    {Charset: "latin1", Chars: 64, Bytes: 64},
	"restcomm_accounts.status":           {Charset: "latin1", Chars: 16, Bytes: 16},
	"restcomm_accounts.role":             {Charset: "latin1", Chars: 64, Bytes: 64},
	"restcomm_accounts.organization_sid": {Charset: "latin1", Chars: 34, Bytes: 34},
	"restcomm_organizations.domain_name": {Charset: "latin1", Chars: 255, Bytes: 255},
}

// fieldColumns is the column each field a client sets is written to.
// Password is not: only its MD5 is stored (32 hexadecimal digits).
var fieldColumns = map[string]string{
	"EmailAddress":    "restcomm_accounts.email_address",
	"FriendlyName":    "restcomm_accounts.friendly_name",
	"Status":          "restcomm_accounts.status",
	"Role":            "restcomm_accounts.role",
	"OrganizationSid": "restcomm_accounts.organization_sid",
	"DomainName":      "restcomm_organizations.domain_name",
}

// KnownCharset reports whether the service knows what the character set
// named can hold (others are taken as latin1).
func KnownCharset(name string) bool {
	switch strings.ToLower(name) {
	case "latin1", "ascii", "utf8", "utf8mb3", "utf8mb4", "ucs2", "utf16", "utf16le", "utf32", "binary":
		return true
	}
	return false
}

// encode measures s as the column's character set would hold it: its
// length in bytes there, and the first character it cannot hold, if any.
// Characters are counted as MariaDB counts them, code points (not Java's
// UTF-16 units).
func (c Column) encode(s string) (bytes int, bad rune, ok bool) {
	switch strings.ToLower(c.Charset) {
	case "utf8mb4", "binary":
		return len(s), 0, true
	case "utf8", "utf8mb3": // three bytes at most: no character beyond the BMP
		bad, ok := beyond(s, 0xFFFF)
		return len(s), bad, ok
	case "ucs2":
		bad, ok := beyond(s, 0xFFFF)
		return 2 * utf8.RuneCountInString(s), bad, ok
	case "utf16", "utf16le":
		n := 0
		for _, r := range s {
			n += 2
			if r > 0xFFFF {
				n += 2
			}
		}
		return n, 0, true
	case "utf32":
		return 4 * utf8.RuneCountInString(s), 0, true
	case "ascii":
		bad, ok := beyond(s, 0x7F)
		return len(s), bad, ok
	}
	// latin1, RestComm's, and any single-byte set the gateway does not know
	bad, ok = collation.Latin1(s)
	return utf8.RuneCountInString(s), bad, ok
}

// beyond returns the first character of s above max.
func beyond(s string, max rune) (rune, bool) {
	for _, r := range s {
		if r > max {
			return r, false
		}
	}
	return 0, true
}

// Messages of a value the mirrored database cannot store, beside
// msgTooLong (docs/restcomm-contract.md, divergences: RestComm's database refuses it, 500).
const (
	msgUnstorable   = "%s can not contain the character %U."
	msgTooManyBytes = "%s can not be longer than %d bytes."
)

// columnProblem is the 400 for the first of fields (in the order given)
// whose value in p the mirrored database's column cannot hold: a
// character outside its character set, more characters than its width,
// or more bytes than a TEXT column holds. Nil without a mirror: Redis
// holds any text. It answers as tooLong does, at the stage given.
func (s *Service) columnProblem(p map[string]string, stage int, fields ...string) *problem {
	if s.cfg.RestCommDB == nil {
		return nil
	}
	cols := s.cfg.RestCommDB.Columns()
	for _, f := range fields {
		v, given := p[f]
		c, known := cols[fieldColumns[f]]
		if !given || !known { // RestComm before 8.2 has no organizations
			continue
		}
		n, bad, ok := c.encode(v)
		switch {
		case !ok:
			return textProblem(http.StatusBadRequest, fmt.Sprintf(msgUnstorable, f, bad), stage)
		case c.Chars > 0 && utf8.RuneCountInString(v) > c.Chars:
			return textProblem(http.StatusBadRequest, fmt.Sprintf(msgTooLong, f, c.Chars), stage)
		case c.Bytes > 0 && n > c.Bytes:
			return textProblem(http.StatusBadRequest, fmt.Sprintf(msgTooManyBytes, f, c.Bytes), stage)
		}
	}
	return nil
}

// errRestCommDB marks a failure of the mirrored database (unavailable).
var errRestCommDB = errors.New("RestComm's database")

// takenInRestComm asks the mirrored database whether it already holds the
// new account's SID or e-mail address: an account RestComm has and the
// gateway does not (made in RestComm directly, or skipped by the import),
// compared as the database compares them. An address its column cannot
// hold is in no row (and the create is refused for it at
// stageColumnWidth): the database is not asked, as it would refuse to
// compare it. Unanswered within DatabaseTimeout, it is an error: the
// create is refused, never made without the check.
func (s *Service) takenInRestComm(x *exchange, sid, email string) (bool, error) {
	db := s.cfg.RestCommDB
	if c, ok := db.Columns()[fieldColumns["EmailAddress"]]; ok {
		if _, _, fits := c.encode(email); !fits {
			return false, nil
		}
	}
	ctx, cancel := context.WithTimeout(x.r.Context(), s.cfg.DatabaseTimeout)
	defer cancel()
	taken, err := db.AccountExists(ctx, sid, email)
	if err != nil {
		return false, fmt.Errorf("%w: %w", errRestCommDB, err)
	}
	return taken, nil
}
