package restcommdb

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/redact"
)

// Config turns a mysql://user:password@host[:port]/database URL (or
// mariadb://) into the driver's configuration. The query parameter
// socket=/path connects through a Unix socket instead of host:port; other
// query parameters are passed to the driver (e.g. tls=true). Its errors
// never hold the password: a URL that does not parse is named redacted.
func Config(rawURL string) (*mysql.Config, error) {
	u, err := redact.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return nil, fmt.Errorf("database URL: scheme %q, want mysql://", u.Scheme)
	}
	cfg := mysql.NewConfig()
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.Net, cfg.Addr = "tcp", u.Host
	if _, _, err := net.SplitHostPort(u.Host); err != nil && u.Host != "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if cfg.DBName == "" {
		return nil, fmt.Errorf("database URL: no database name (mysql://user:password@host:3306/restcomm)")
	}
	q := u.Query()
	if s := q.Get("socket"); s != "" {
		cfg.Net, cfg.Addr = "unix", s
		q.Del("socket")
	}
	if len(q) > 0 {
		// the driver's own parameters (tls, charset, session variables, …)
		dsn := cfg.FormatDSN()
		sep := "?"
		if strings.Contains(dsn[strings.LastIndex(dsn, "/"):], "?") {
			sep = "&"
		}
		if cfg, err = mysql.ParseDSN(dsn + sep + q.Encode()); err != nil {
			return nil, fmt.Errorf("database URL: %w", err)
		}
	}
	cfg.ParseTime = false // DATETIMEs are read as text and converted with --time-zone
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	return cfg, nil
}

// Open opens the database of a mysql:// URL.
func Open(rawURL string) (*sql.DB, error) {
	cfg, err := Config(rawURL)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// ReadMySQL reads both tables from RestComm's MariaDB/MySQL database in
// one consistent-snapshot, read-only transaction, so that accounts and
// organizations are read as of one moment while RestComm keeps running.
// The columns read are those the database has: a database of RestComm
// before 8.2 has no organization_sid column and no organizations table.
func ReadMySQL(ctx context.Context, rawURL string) (*Source, error) {
	db, err := Open(rawURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return ReadDB(ctx, db, redact.URL(rawURL))
}

// ReadDB is ReadMySQL on an open database.
func ReadDB(ctx context.Context, db *sql.DB, name string) (*Source, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer conn.Close()
	have, err := tableColumns(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(have[AccountsTable]) == 0 {
		return nil, fmt.Errorf("%s: no %s table: not RestComm's database", name, AccountsTable)
	}
	src := &Source{Name: name, Dates: DatesLocal, HasOrganizations: len(have[OrganizationsTable]) > 0}
	if err := readCollation(ctx, conn, src); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, stmt := range []string{
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", name, stmt, err)
		}
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") //nolint:errcheck // read-only
	if src.HasOrganizations {
		cols := present(OrganizationColumns, have[OrganizationsTable])
		err := query(ctx, conn, OrganizationsTable, cols, func(row map[string]value) {
			src.Organizations = append(src.Organizations,
				organizationOf(row, fmt.Sprintf("%s row sid=%q", OrganizationsTable, row["sid"].s)))
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	cols := present(AccountColumns, have[AccountsTable])
	err = query(ctx, conn, AccountsTable, cols, func(row map[string]value) {
		src.Accounts = append(src.Accounts, accountOf(row, fmt.Sprintf("%s row sid=%q", AccountsTable, row["sid"].s)))
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return src, nil
}

// Columns lists the columns of RestComm's two tables in the database,
// lower-cased, by table: what a RestComm release's schema has (before 8.2:
// no organizations table and no organization_sid column).
func Columns(ctx context.Context, db *sql.DB) (map[string]map[string]bool, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return tableColumns(ctx, conn)
}

// tableColumns lists the columns of RestComm's two tables in the current
// database, lower-cased.
func tableColumns(ctx context.Context, conn *sql.Conn) (map[string]map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?)`, AccountsTable, OrganizationsTable)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]map[string]bool{}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, err
		}
		if have[t] == nil {
			have[t] = map[string]bool{}
		}
		have[t][strings.ToLower(c)] = true
	}
	return have, rows.Err()
}

// readCollation sets src's rule from the collations of
// restcomm_accounts.email_address and sid: RestComm's logins are
// `WHERE email_address = ?` and `WHERE sid = ?`, so the columns' own
// collations decide them (RestComm's script declares none, so a latin1
// database gives latin1_swedish_ci). The gateway keeps one rule, the
// e-mail address's; a SID column compared otherwise is a warning.
func readCollation(ctx context.Context, conn *sql.Conn, src *Source) error {
	rows, err := conn.QueryContext(ctx, `SELECT COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME IN ('email_address', 'sid')`, AccountsTable)
	if err != nil {
		return err
	}
	defer rows.Close()
	colls := map[string]string{}
	for rows.Next() {
		var col string
		var coll sql.NullString
		if err := rows.Scan(&col, &coll); err != nil {
			return err
		}
		colls[strings.ToLower(col)] = coll.String
	}
	if err := rows.Err(); err != nil {
		return err
	}
	email := colls["email_address"]
	src.CollationFrom = fmt.Sprintf("%s.email_address collation %s", AccountsTable, email)
	if src.Collation, err = collation.FromMariaDB(email); err != nil {
		src.CollationErr = fmt.Errorf("%s.email_address: %w", AccountsTable, err)
		return nil
	}
	if sid, ok := colls["sid"]; ok {
		r, err := collation.FromMariaDB(sid)
		if err != nil || r.Name() != src.Collation.Name() {
			src.Warnings = append(src.Warnings, fmt.Sprintf(
				"%s.sid compares under collation %s, email_address under %s: the gateway keeps the e-mail address's rule, %s, for both",
				AccountsTable, sid, email, src.Collation))
		}
	}
	return nil
}

func present(want []string, have map[string]bool) []string {
	var out []string
	for _, c := range want {
		if have[c] {
			out = append(out, c)
		}
	}
	return out
}

// query reads every row of table, the given columns, as text.
func query(ctx context.Context, conn *sql.Conn, table string, cols []string, fn func(map[string]value)) error {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = "`" + c + "`"
	}
	rows, err := conn.QueryContext(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM `"+table+"`")
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := make(map[string]value, len(cols))
		for i, c := range cols {
			row[c] = value{s: vals[i].String, null: !vals[i].Valid}
		}
		fn(row)
	}
	return rows.Err()
}
