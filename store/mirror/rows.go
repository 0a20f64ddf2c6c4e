package mirror

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// rows writes the gateway's accounts and organizations into RestComm's
// tables, as RestComm's own DAO would hold them: the same SIDs, tokens,
// parents, statuses and organizations, DATETIMEs in RestComm's time zone.
// Every write is idempotent: an account is written with its current state
// (every column but date_created), so replaying it changes nothing. It
// never overwrites an account RestComm holds that is not the gateway's: a
// row is inserted only for an account whose create is delivered, and
// only where RestComm's table has none under its SID; every other write
// updates a row RestComm has (writeAccounts).
type rows struct {
	db  *sql.DB
	loc *time.Location

	// what the database's RestComm release has (restcommdb.Columns)
	schema     map[string]map[string]bool
	hasOrgs    bool // the organizations table (8.2 and later)
	accountOrg bool // restcomm_accounts.organization_sid
	orgStatus  bool // restcomm_organizations.status
}

// load reads the schema, once it is known to be RestComm's.
func (r *rows) load(ctx context.Context) error {
	if r.schema != nil {
		return nil
	}
	have, err := restcommdb.Columns(ctx, r.db)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if len(have[restcommdb.AccountsTable]) == 0 {
		return fmt.Errorf("database: no %s table: not RestComm's database", restcommdb.AccountsTable)
	}
	r.schema = have
	r.hasOrgs = len(have[restcommdb.OrganizationsTable]) > 0
	r.accountOrg = have[restcommdb.AccountsTable]["organization_sid"]
	r.orgStatus = have[restcommdb.OrganizationsTable]["status"]
	return nil
}

func (r *rows) datetime(t time.Time) string { return t.In(r.loc).Format(time.DateTime) }

// status keeps, for keepClosed writes, the database's status of an account
// the gateway has closed: RestComm must see the close happen through its
// own API (which then runs its side effects), not find it done already.
const (
	statusUpdate     = "status = VALUES(status)"
	statusKeepClosed = "status = IF(VALUES(status) = 'closed', status, VALUES(status))"
)

// accountRow is an account to write, and how.
type accountRow struct {
	a *store.Account
	// create: the account's create is among the entries written, so its
	// row may be inserted
	create bool
	// caller: written only so that RestComm authenticates the account
	// with its current token (a side effect is asked as it): a row
	// RestComm does not have is no entry's business
	caller bool
}

// writeAccounts writes accounts' current state in tx. RestComm's rows are
// updated, never inserted, but for the accounts whose create is
// delivered here:
//   - a created account's row is inserted; when RestComm's table already
//     has a row under its SID, that row is the gateway's own earlier
//     delivery being replayed only if its date_created and email_address
//     equal the account's, as the database compares them (its collation
//     decides for the address): it is then updated. Any other row is an
//     account RestComm holds that is not the gateway's: nothing at all
//     is written, and the error is permanent, of kind conflict.
//   - any other account's row is updated; one RestComm no longer has is
//     written nowhere and returned among missing (not for callers).
//
// Which rows exist is read first, with SELECT … FOR UPDATE, not from the
// affected rows of each UPDATE: MariaDB counts an identical row as not
// affected (unless the connection asks for found rows), and a statement
// of many rows cannot say which it missed. The lock keeps the rows found
// until the transaction ends, so the one statement that writes them all
// (INSERT … ON DUPLICATE KEY UPDATE, for the speed of a batch) can only
// update them: nobody can delete one of them in between.
//
// With keepClosed, an existing row keeps its status when the account is
// closed at the gateway (a new row is written closed).
func (r *rows) writeAccounts(ctx context.Context, tx *sql.Tx, accts []accountRow, keepClosed bool) (missing []string, err error) {
	held, err := r.lockAccounts(ctx, tx, accts)
	if err != nil {
		return nil, err
	}
	var inserts, updates []*store.Account
	var conflicts []string
	for _, w := range accts {
		switch {
		case held[sidKey(w.a.Sid)] && w.create:
			why, err := r.notOurs(ctx, tx, w.a)
			if err != nil {
				return nil, err
			}
			if why != "" {
				conflicts = append(conflicts, why)
				continue
			}
			updates = append(updates, w.a)
		case held[sidKey(w.a.Sid)]:
			updates = append(updates, w.a)
		case w.create:
			inserts = append(inserts, w.a)
		case !w.caller:
			missing = append(missing, w.a.Sid)
		}
	}
	if len(conflicts) > 0 {
		return nil, permanent(kindConflict, "%s: nothing written", strings.Join(conflicts, "; "))
	}
	if err := r.insertAccounts(ctx, tx, inserts); err != nil {
		return nil, err
	}
	return missing, r.updateAccounts(ctx, tx, updates, keepClosed)
}

// sidKey is a SID as the database matches it: SIDs are ASCII, which a
// case-insensitive collation (RestComm's latin1_swedish_ci) compares
// ignoring case and trailing spaces, and a binary one returns only when
// equal.
func sidKey(sid string) string { return strings.ToLower(strings.TrimRight(sid, " ")) }

// lockAccounts reads which of the accounts RestComm's table has, and
// locks their rows until tx ends.
func (r *rows) lockAccounts(ctx context.Context, tx *sql.Tx, accts []accountRow) (map[string]bool, error) {
	held := make(map[string]bool, len(accts))
	const chunk = 500
	for off := 0; off < len(accts); off += chunk {
		part := accts[off:min(off+chunk, len(accts))]
		args := make([]any, len(part))
		for i, w := range part {
			args[i] = w.a.Sid
		}
		if err := r.lockRows(ctx, tx, args, held); err != nil {
			return nil, sqlError(err, fmt.Sprintf("read %d accounts (%s…)", len(part), part[0].a.Sid))
		}
	}
	return held, nil
}

func (r *rows) lockRows(ctx context.Context, tx *sql.Tx, sids []any, held map[string]bool) error {
	rs, err := tx.QueryContext(ctx, "SELECT sid FROM `"+restcommdb.AccountsTable+"` WHERE sid IN (?"+
		strings.Repeat(", ?", len(sids)-1)+") FOR UPDATE", sids...)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var sid string
		if err := rs.Scan(&sid); err != nil {
			return err
		}
		held[sidKey(sid)] = true
	}
	return rs.Err()
}

// notOurs says how the row RestComm's table has under a created account's
// SID differs from the gateway's delivery of that create ("" when it is
// that delivery, replayed). The database compares: date_created (a
// DATETIME in RestComm's time zone), and the e-mail address under the
// column's collation. The reason shows the dates, not the addresses.
func (r *rows) notOurs(ctx context.Context, tx *sql.Tx, a *store.Account) (string, error) {
	read := func(email string) string {
		return "SELECT date_created = ?, DATE_FORMAT(date_created, '%Y-%m-%d %H:%i:%s'), " + email +
			" FROM `" + restcommdb.AccountsTable + "` WHERE sid = ?"
	}
	ours := r.datetime(a.DateCreated)
	var sameDate, sameEmail sql.NullBool
	var theirs string
	err := tx.QueryRowContext(ctx, read("email_address = ?"), ours, a.EmailAddress, a.Sid).Scan(&sameDate, &theirs, &sameEmail)
	if my, ok := errors.AsType[*mysql.MySQLError](err); ok && my.Number == errIllegalMix {
		// the gateway's address has a character the column cannot hold: no
		// row of RestComm's has that address
		err = tx.QueryRowContext(ctx, read("FALSE"), ours, a.Sid).Scan(&sameDate, &theirs, &sameEmail)
	}
	if err != nil {
		return "", sqlError(err, "read account "+a.Sid)
	}
	var differs []string
	if !sameDate.Bool {
		differs = append(differs, fmt.Sprintf("date_created %s there, %s at the gateway", theirs, ours))
	}
	if !sameEmail.Bool {
		differs = append(differs, "email_address differs")
	}
	if len(differs) == 0 {
		return "", nil
	}
	return fmt.Sprintf("account %s: RestComm's table holds another account under this SID (%s)", a.Sid,
		strings.Join(differs, ", ")), nil
}

// errIllegalMix is MariaDB's "Illegal mix of collations": a value with a
// character the column's character set cannot hold, compared with it.
const errIllegalMix = 1267

// accountColumns are the columns the mirror writes, in order.
func (r *rows) accountColumns() []string {
	cols := []string{"sid", "date_created", "date_updated", "email_address", "friendly_name", "parent_sid",
		"type", "status", "auth_token", "role", "uri"}
	if r.accountOrg {
		cols = append(cols, "organization_sid")
	}
	return cols
}

// valuesStatement is INSERT INTO restcomm_accounts (every column) VALUES
// with a row of values per account, and their arguments.
func (r *rows) valuesStatement(accts []*store.Account) (*strings.Builder, []any) {
	cols := r.accountColumns()
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO `%s` (`%s`) VALUES ", restcommdb.AccountsTable, strings.Join(cols, "`, `"))
	args := make([]any, 0, len(accts)*len(cols))
	for i, a := range accts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
		var parent any
		if a.ParentSid != "" {
			parent = a.ParentSid
		}
		args = append(args, a.Sid, r.datetime(a.DateCreated), r.datetime(a.DateUpdated), a.EmailAddress,
			a.FriendlyName, parent, a.Type, a.Status, a.AuthToken, a.Role, a.URI)
		if r.accountOrg {
			args = append(args, a.OrganizationSid)
		}
	}
	return &b, args
}

// accountChunk is how many accounts one statement writes.
const accountChunk = 200

// insertAccounts inserts the rows of created accounts that RestComm's
// table does not have (locked: lockAccounts found none).
func (r *rows) insertAccounts(ctx context.Context, tx *sql.Tx, accts []*store.Account) error {
	for off := 0; off < len(accts); off += accountChunk {
		part := accts[off:min(off+accountChunk, len(accts))]
		b, args := r.valuesStatement(part)
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			if my, ok := errors.AsType[*mysql.MySQLError](err); ok && my.Number == errDuplicateKey {
				// a row under the SID appeared meanwhile (the lock could not
				// hold the gap): decided again on the next attempt
				return fmt.Errorf("database: insert %s: a row appeared meanwhile: %w", accountNames(part), err)
			}
			return sqlError(err, accountNames(part))
		}
	}
	return nil
}

// errDuplicateKey is MariaDB's "Duplicate entry … for key".
const errDuplicateKey = 1062

// updateAccounts writes the current state of accounts whose rows tx holds
// locked (lockAccounts), in chunks of one statement each: every column
// but date_created, the status kept with keepClosed as writeAccounts
// says.
func (r *rows) updateAccounts(ctx context.Context, tx *sql.Tx, accts []*store.Account, keepClosed bool) error {
	var set []string
	for _, c := range r.accountColumns()[2:] {
		switch {
		case c == "status" && keepClosed:
			set = append(set, statusKeepClosed)
		case c == "status":
			set = append(set, statusUpdate)
		default:
			set = append(set, "`"+c+"` = VALUES(`"+c+"`)")
		}
	}
	for off := 0; off < len(accts); off += accountChunk {
		part := accts[off:min(off+accountChunk, len(accts))]
		b, args := r.valuesStatement(part)
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
		b.WriteString(strings.Join(set, ", "))
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return sqlError(err, accountNames(part))
		}
	}
	return nil
}

// otherColumns are the columns of a full row that securityColumns leave
// out (date_created aside: never updated).
func (r *rows) otherColumns() []string {
	var out []string
	for _, c := range r.accountColumns()[2:] {
		if !slices.Contains(securityColumns, c) {
			out = append(out, c)
		}
	}
	return out
}

// securityColumns are what a change of status or password must get into
// RestComm even when the rest of its rows cannot be written: RestComm
// authenticates with auth_token and lets in by status.
var securityColumns = []string{"status", "auth_token", "date_updated"}

// writeSecurity writes only the security columns of the accounts' rows
// RestComm has (keepClosed as in writeAccounts), one UPDATE each: none of
// the values RestComm's schema refused in the full rows is sent. It
// returns the entries' accounts RestComm does not have.
func (r *rows) writeSecurity(ctx context.Context, tx *sql.Tx, accts []accountRow, keepClosed bool) (missing []string, err error) {
	held, err := r.lockAccounts(ctx, tx, accts)
	if err != nil {
		return nil, err
	}
	for _, w := range accts {
		a := w.a
		if !held[sidKey(a.Sid)] {
			if !w.caller {
				missing = append(missing, a.Sid)
			}
			continue
		}
		q := "UPDATE `" + restcommdb.AccountsTable + "` SET auth_token = ?, date_updated = ?"
		args := []any{a.AuthToken, r.datetime(a.DateUpdated)}
		if !keepClosed || a.Status != store.StatusClosed {
			q += ", status = ?"
			args = append(args, a.Status)
		}
		if _, err := tx.ExecContext(ctx, q+" WHERE sid = ?", append(args, a.Sid)...); err != nil {
			return nil, sqlError(err, "security columns of account "+a.Sid)
		}
	}
	return missing, nil
}

// sidNames names accounts by SID, the first few of many.
func sidNames(sids []string) string {
	switch len(sids) {
	case 0:
		return "no account"
	case 1:
		return "account " + sids[0]
	}
	if len(sids) > 5 {
		return fmt.Sprintf("%d accounts (%s, …)", len(sids), strings.Join(sids[:5], ", "))
	}
	return "accounts " + strings.Join(sids, ", ")
}

func accountNames(accts []*store.Account) string {
	if len(accts) == 1 {
		return "account " + accts[0].Sid
	}
	return fmt.Sprintf("%d accounts (%s…)", len(accts), accts[0].Sid)
}

// upsertOrganization inserts an organization when absent, and sets its
// status. (Not ON DUPLICATE KEY UPDATE: the domain name is a unique key
// too, and a domain held by another organization must fail, not update
// that one.)
func (r *rows) upsertOrganization(ctx context.Context, tx *sql.Tx, o *store.Organization) error {
	if !r.hasOrgs {
		return nil // RestComm before 8.2: every account is in the default organization
	}
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM `"+restcommdb.OrganizationsTable+"` WHERE sid = ? FOR UPDATE", o.Sid).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		cols, args := "sid, domain_name, date_created, date_updated", []any{o.Sid, o.DomainName,
			r.datetime(o.DateCreated), r.datetime(o.DateUpdated)}
		if r.orgStatus {
			cols += ", status"
			args = append(args, o.Status)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO `"+restcommdb.OrganizationsTable+"` ("+cols+") VALUES (?"+
			strings.Repeat(", ?", len(args)-1)+")", args...)
	case err == nil && r.orgStatus:
		_, err = tx.ExecContext(ctx, "UPDATE `"+restcommdb.OrganizationsTable+"` SET status = ? WHERE sid = ?", o.Status, o.Sid)
	}
	return sqlError(err, "organization "+o.Sid)
}

// inTx runs fn in one transaction.
func (r *rows) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := r.load(ctx); err != nil {
		return err
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return sqlError(err, "begin")
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return sqlError(tx.Commit(), "commit")
}
