package caddymodule

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/go-sql-driver/mysql"
	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
	"github.com/restcomm/restcomm-gateway/internal/redact"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/mirror"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// MirrorConfig turns on the mirror: every account and organization change
// is written into RestComm's own database through the outbox in Redis
// (store/outbox.go, store/mirror), so that RestComm, which authenticates
// every request passed to it against that database, knows what the
// gateway knows. One gateway at a time delivers (a lease); every gateway
// sharing the Redis appends its changes.
type MirrorConfig struct {
	// Database is RestComm's MariaDB/MySQL database,
	// mysql://user:{env.PASSWORD}@host:3306/restcomm. Its password must
	// be an {env.*} placeholder.
	Database string `json:"database"`
	// Upstream is RestComm itself (http://restcomm:8080), reached
	// directly, not through a gateway: for the side effects only its own
	// code performs (a close's cascade, SIP clients). Empty: only rows.
	Upstream string `json:"upstream,omitempty"`
	// TimeZone is RestComm's JVM time zone, in which its DATETIME columns
	// are written; UTC by default.
	TimeZone string `json:"time_zone,omitempty"`
	// SecretKey, an {env.*} placeholder, seals the plaintext password of
	// a create or a password change in the outbox (AES-256-GCM), for
	// RestComm's SIP client. Without it those side effects are skipped.
	SecretKey string `json:"secret_key,omitempty"`
	// ReadYourWrites is how long a request passed upstream, by or for an
	// account whose change is not yet delivered, waits for it before it
	// goes on; 0 does not wait.
	ReadYourWrites caddy.Duration `json:"read_your_writes,omitempty"`
}

// mirrorPool shares one delivery worker among the configs with the same
// mirror settings, so that a reload neither stops delivery nor runs two
// workers in one process (a usage pool: see enginePool).
var mirrorPool = caddy.NewUsagePool()

// mirrorHandle is a running worker, with its metrics: the process's
// (metrics.go), which every config with a mirror registers in its
// registry.
type mirrorHandle struct {
	worker   *mirror.Worker
	metrics  *mirror.Metrics
	restcomm *restcommDB // what the service asks RestComm's database
	stop     context.CancelFunc
	done     chan struct{} // the worker and the columns' watch have ended
	close    func()
}

// restCommDB is what the service asks RestComm's database; nil without a
// mirror.
func (h *mirrorHandle) restCommDB() accountsapi.RestCommDB {
	if h == nil {
		return nil
	}
	return h.restcomm
}

func (h *mirrorHandle) Destruct() error {
	h.stop()
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
	}
	h.close()
	return nil
}

// sealer seals the plaintext password of a create or a password change
// in the outbox (secret_key); nil without a mirror or a secret_key.
func (m *MirrorConfig) sealer(repl *caddy.Replacer) (*store.Sealer, error) {
	if m == nil || m.SecretKey == "" {
		return nil, nil
	}
	sealer, err := store.NewSealer(repl.ReplaceAll(m.SecretKey, ""))
	if err != nil {
		return nil, fmt.Errorf("mirror: secret_key (is %s set?): %w", m.SecretKey, err)
	}
	return sealer, nil
}

// readYourWrites is how long a request passed upstream waits for its
// account's pending change; 0 without a mirror.
func (m *MirrorConfig) readYourWrites() time.Duration {
	if m == nil {
		return 0
	}
	return time.Duration(m.ReadYourWrites)
}

// joinMirror starts (or joins) the delivery worker, which seals with
// sealer, and registers its metrics. Without a mirror it does nothing and
// returns nil. The worker has a Redis client of its own, made from redis
// (the handler's), that reads on the master only: it writes into
// RestComm the current state of what changed, which a lagging replica may
// not have yet (redis_read_replicas), and its blocking reads outlast a
// request's redis_timeout. It returns the worker and its key in
// mirrorPool.
func (g *Gateway) joinMirror(ctx caddy.Context, repl *caddy.Replacer, prefix string, redis store.ClientOptions, sealer *store.Sealer) (*mirrorHandle, string, error) {
	m := g.Mirror
	if m == nil {
		return nil, "", nil
	}
	database := resolveDatabaseURL(m.Database, repl)
	if _, err := restcommdb.Config(database); err != nil {
		return nil, "", fmt.Errorf("mirror: %w", err)
	}
	loc, err := time.LoadLocation(strings.TrimSpace(repl.ReplaceAll(m.TimeZone, "")))
	if err != nil {
		return nil, "", fmt.Errorf("mirror: time_zone: %w", err)
	}
	upstream := repl.ReplaceAll(m.Upstream, "")
	redis.ReadFromReplicas = false
	redis.ReadTimeout, redis.WriteTimeout = 10*time.Second, 10*time.Second
	key := poolKey("mirror", digest([]any{redis, prefix, database, upstream, loc.String(), repl.ReplaceAll(m.SecretKey, "")}))
	logger := g.logger.Named("mirror")
	v, _, err := mirrorPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		rdb, err := redis.NewClient()
		if err != nil {
			return nil, err
		}
		rdb.AddHook(g.metrics.redisHook(redisClientMirror)) // metrics.go
		db, err := mirror.OpenDatabase(database)
		if err != nil {
			_ = rdb.Close()
			return nil, err
		}
		// the service's questions have a pool of their own: a create's
		// check never waits behind a delivery
		checks, err := mirror.OpenDatabase(database)
		if err != nil {
			_ = db.Close()
			_ = rdb.Close()
			return nil, err
		}
		counts := g.metrics.mirror // the process's: a new worker counts on
		w, err := mirror.New(mirror.Config{Store: store.New(rdb, prefix), DB: db, Upstream: upstream,
			TimeZone: loc, Sealer: sealer, Holder: instanceName(), Logger: logger, Metrics: counts})
		if err != nil {
			_ = checks.Close()
			_ = db.Close()
			_ = rdb.Close()
			return nil, err
		}
		wctx, stop := context.WithCancel(context.Background())
		h := &mirrorHandle{worker: w, metrics: counts, restcomm: newRestCommDB(checks, logger), stop: stop,
			done: make(chan struct{}), close: func() {
				_ = checks.Close()
				_ = db.Close()
				_ = rdb.Close()
			}}
		var running sync.WaitGroup
		running.Go(func() { w.Run(wctx) })
		running.Go(func() { h.restcomm.watch(wctx) })
		go func() {
			defer close(h.done)
			running.Wait()
		}()
		logger.Info("mirror started", zap.String("database", redact.URL(database)),
			zap.String("upstream", upstream), zap.String("time_zone", loc.String()),
			zap.Bool("sip_clients", sealer != nil), zap.Duration("read_your_writes", m.readYourWrites()))
		return h, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("mirror: %w", err)
	}
	h := v.(*mirrorHandle)
	return h, key, registerAll(ctx.GetMetricsRegistry(), h.metrics.Collectors()...)
}

// restcommDB is RestComm's database as the service asks it before a
// change (accountsapi.RestCommDB): what the columns clients' values land
// in can hold, and whether an account is there already.
type restcommDB struct {
	db      *sql.DB
	logger  *zap.Logger
	columns atomic.Pointer[accountsapi.Columns]
	// lost is signalled when a check could not reach the database: the
	// columns are read again once it answers (a reconnect may be a
	// restored or migrated database).
	lost chan struct{}
}

// How often the columns are read: again every columnsRefresh while the
// database answers (an operator may alter a table meanwhile), and, while
// it does not, with a backoff between columnsMinRetry and
// columnsMaxRetry. A read gives up after columnsReadTimeout.
const (
	columnsRefresh     = time.Minute
	columnsMinRetry    = time.Second
	columnsMaxRetry    = 30 * time.Second
	columnsReadTimeout = 10 * time.Second
)

// newRestCommDB starts with the columns RestComm's schema is known to
// have (latin1, its widths), until the database's own are read.
func newRestCommDB(db *sql.DB, logger *zap.Logger) *restcommDB {
	d := &restcommDB{db: db, logger: logger, lost: make(chan struct{}, 1)}
	known := accountsapi.RestCommColumns
	d.columns.Store(&known)
	return d
}

// Columns is what the columns were found to hold when last read.
func (d *restcommDB) Columns() accountsapi.Columns { return *d.columns.Load() }

// AccountExists asks RestComm's table, and lets its collation compare.
func (d *restcommDB) AccountExists(ctx context.Context, sid, email string) (bool, error) {
	var one int
	err := d.db.QueryRowContext(ctx, "SELECT 1 FROM restcomm_accounts WHERE sid = ? OR email_address = ? LIMIT 1",
		sid, email).Scan(&one)
	var refused *mysql.MySQLError
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case errors.As(err, &refused):
		if refused.Number == 1267 { // "Illegal mix of collations": a value the column cannot hold, so in no row
			return false, nil
		}
		return false, err // the database answered: it is not lost
	case !errors.Is(ctx.Err(), context.Canceled): // not the client gone: unreachable, or slow
		select {
		case d.lost <- struct{}{}:
		default:
		}
	}
	return false, err
}

// watch reads the columns as the mirror starts, then again whenever the
// database answers after it could not be reached (a read failed, or a
// check signalled lost), and every columnsRefresh, until ctx ends. A
// database down at start delays nothing: until the first read the service
// checks against RestComm's known columns.
func (d *restcommDB) watch(ctx context.Context) {
	var retry time.Duration // 0 while the database answers
	for {
		err := d.readColumns(ctx)
		if ctx.Err() != nil {
			return
		}
		wait, lost := columnsRefresh, d.lost
		if err != nil {
			retry = min(max(2*retry, columnsMinRetry), columnsMaxRetry)
			wait, lost = retry, nil
			d.logger.Warn("cannot read the columns of RestComm's database; values are checked against those last read (or RestComm's schema)",
				zap.Duration("retry_in", retry), zap.Error(err))
		} else {
			retry = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-lost: // read again once it answers, from a short wait on
			t.Stop()
			retry = columnsMinRetry
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
		}
	}
}

// readColumns reads the character set and widths of every text column
// of RestComm's two tables from information_schema.
func (d *restcommDB) readColumns(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, columnsReadTimeout)
	defer cancel()
	rows, err := d.db.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME,
			CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH
		FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('restcomm_accounts', 'restcomm_organizations')
			AND CHARACTER_SET_NAME IS NOT NULL`)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols := accountsapi.Columns{}
	var unknown []string
	for rows.Next() {
		var table, column, charset string
		var chars, bytes sql.NullInt64
		if err := rows.Scan(&table, &column, &charset, &chars, &bytes); err != nil {
			return err
		}
		key := table + "." + column
		cols[key] = accountsapi.Column{Charset: charset, Chars: int(chars.Int64), Bytes: int(bytes.Int64)}
		if !accountsapi.KnownCharset(charset) {
			unknown = append(unknown, key+" "+charset)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if _, ok := cols["restcomm_accounts.email_address"]; !ok {
		return errors.New("no restcomm_accounts table in the database (or no privilege on it)")
	}
	if old := d.columns.Swap(&cols); !maps.Equal(*old, cols) {
		d.logger.Info("columns of RestComm's database read", zap.Any("columns", cols))
		if len(unknown) > 0 {
			d.logger.Warn("character sets the gateway does not know are checked as latin1", zap.Strings("columns", unknown))
		}
	}
	return nil
}

// cleanupMirror lets go of the worker; the last config to do so stops it.
func (g *Gateway) cleanupMirror() error {
	if g.mirrorKey == "" {
		return nil
	}
	_, err := mirrorPool.Delete(g.mirrorKey)
	g.mirrorKey = ""
	return err
}

// secretsArePlaceholders refuses a database password or secret key
// written into the configuration: they must come from the environment, so
// that the adapted JSON never holds them.
func (m *MirrorConfig) secretsArePlaceholders() error {
	if m.Database == "" {
		return errors.New("mirror: database is required (mysql://user:{env.PASSWORD}@host:3306/restcomm)")
	}
	if pw := urlPassword(m.Database); pw != "" && !isEnvPlaceholder(pw) {
		return errors.New("mirror: give the database password as an {env.NAME} placeholder, not in the configuration")
	}
	if m.SecretKey != "" && !isEnvPlaceholder(m.SecretKey) {
		return errors.New("mirror: give secret_key as an {env.NAME} placeholder, not in the configuration")
	}
	return nil
}

// resolveDatabaseURL resolves the placeholders of a database URL, the
// password's percent-encoded, so that the environment holds the password
// as it is, whatever its characters.
func resolveDatabaseURL(raw string, repl *caddy.Replacer) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	at := strings.LastIndex(rest, "@")
	if !ok || at < 0 {
		return repl.ReplaceAll(raw, "")
	}
	user, pw, hasPw := strings.Cut(rest[:at], ":")
	user = repl.ReplaceAll(user, "")
	if u, err := url.PathUnescape(user); err == nil {
		user = u
	}
	info := url.User(user)
	if hasPw {
		info = url.UserPassword(user, repl.ReplaceAll(pw, ""))
	}
	return scheme + "://" + info.String() + "@" + repl.ReplaceAll(rest[at+1:], "")
}

// urlPassword is the password of scheme://user:password@host/…, as
// written (placeholders unresolved).
func urlPassword(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	_, pw, _ := strings.Cut(rest[:at], ":")
	return pw
}

func isEnvPlaceholder(s string) bool {
	return strings.HasPrefix(s, "{env.") && strings.HasSuffix(s, "}") && strings.Count(s, "{") == 1
}

// instanceName names this gateway process in the lease and the outbox's
// consumer group: host, process id and a random suffix.
var instanceName = sync.OnceValue(func() string {
	host, _ := os.Hostname()
	var r [3]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))
})

// parseMirror reads the mirror block:
//
//	mirror {
//	    database         mysql://user:{env.RESTCOMM_DB_PASSWORD}@db:3306/restcomm
//	    upstream         http://restcomm:8080
//	    time_zone        UTC
//	    secret_key       {env.RESTCOMM_MIRROR_KEY}
//	    read_your_writes 2s
//	}
func parseMirror(d *caddyfile.Dispenser) (*MirrorConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	m := new(MirrorConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "database":
			err = oneArg(d, &m.Database)
		case "upstream":
			err = oneArg(d, &m.Upstream)
		case "time_zone":
			err = oneArg(d, &m.TimeZone)
		case "secret_key":
			err = oneArg(d, &m.SecretKey)
		case "read_your_writes":
			var s string
			if err = oneArg(d, &s); err == nil {
				dur, perr := caddy.ParseDuration(s)
				if perr != nil || dur < 0 {
					return nil, d.Errf("read_your_writes: invalid duration %q", s)
				}
				m.ReadYourWrites = caddy.Duration(dur)
			}
		default:
			return nil, d.Errf("unrecognized mirror subdirective %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	if err := m.secretsArePlaceholders(); err != nil {
		return nil, d.Err(err.Error())
	}
	return m, nil
}
