package mirror

import (
	"database/sql"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// OpenDatabase opens RestComm's database for the mirror, from the URL
// forms of `accounts import --from` (mysql://user:password@host:3306/db).
// Its sessions are strict (STRICT_ALL_TABLES), whatever the server's
// default: a value RestComm's columns cannot hold (wider than the column,
// a character outside latin1) is refused and dead-lettered rather than
// silently cut or replaced.
func OpenDatabase(rawURL string) (*sql.DB, error) {
	cfg, err := restcommdb.Config(rawURL)
	if err != nil {
		return nil, err
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["sql_mode"] = "CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')"
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.Timeout > 5*time.Second {
		cfg.Timeout = 5 * time.Second
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}
