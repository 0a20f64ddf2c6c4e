package mirror

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// rows writes the gateway's accounts and organizations into RestComm's
// tables, as RestComm's own DAO would hold them: the same SIDs, tokens,
// parents, statuses and organizations, DATETIMEs in RestComm's time zone.
// Every write is idempotent: an account is written with its current state
// as INSERT … ON DUPLICATE KEY UPDATE keyed by SID (every column but
// date_created), so replaying it changes nothing.
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

// upsertAccounts writes accounts' current state in tx, in chunks of one
// statement each. With keepClosed, an existing row keeps its status when
// the account is closed at the gateway (a new row is written closed).
func (r *rows) upsertAccounts(ctx context.Context, tx *sql.Tx, accts []*store.Account, keepClosed bool) error {
	cols := []string{"sid", "date_created", "date_updated", "email_address", "friendly_name", "parent_sid",
		"type", "status", "auth_token", "role", "uri"}
	if r.accountOrg {
		cols = append(cols, "organization_sid")
	}
	var set []string
	for _, c := range cols[2:] {
		if c == "status" {
			if keepClosed {
				set = append(set, statusKeepClosed)
			} else {
				set = append(set, statusUpdate)
			}
			continue
		}
		set = append(set, "`"+c+"` = VALUES(`"+c+"`)")
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	const chunk = 200
	for off := 0; off < len(accts); off += chunk {
		part := accts[off:min(off+chunk, len(accts))]
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO `%s` (`%s`) VALUES ", restcommdb.AccountsTable, strings.Join(cols, "`, `"))
		args := make([]any, 0, len(part)*len(cols))
		for i, a := range part {
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
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
		b.WriteString(strings.Join(set, ", "))
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return sqlError(err, accountNames(part))
		}
	}
	return nil
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

// accountStatus reads an account's status in RestComm's table ("" when
// the row does not exist).
func (r *rows) accountStatus(ctx context.Context, sid string) (string, error) {
	var s string
	err := r.db.QueryRowContext(ctx, "SELECT status FROM `"+restcommdb.AccountsTable+"` WHERE sid = ?", sid).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return s, sqlError(err, "read account "+sid)
}
