// Package mariadbtest starts real, throw-away MariaDB servers for tests:
// mariadb-install-db into a temporary directory, then mariadbd on a free
// loopback port with its own socket, pid file and log, stopped and removed
// when the test ends. Tests never touch a MariaDB they did not start (the
// machine's own, on 3306, may be running), and fail (not skip) when
// MariaDB is not installed: `apt-get install mariadb-server`, as .ci/test
// does.
package mariadbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/restcomm/restcomm-gateway/internal/testkit/freeport"
)

// Server is one running mariadbd.
type Server struct {
	Addr   string // 127.0.0.1:port
	Socket string
	dir    string
	cmd    *exec.Cmd
	done   chan struct{}

	bin, data string // to start it again (Restart)
	port      int
	userArgs  []string
}

// Where Debian puts them: mariadbd in /usr/sbin (not on a user's PATH),
// mariadb-install-db in /usr/bin; older packages name them mysqld and
// mysql_install_db.
var (
	serverPaths  = []string{"mariadbd", "/usr/sbin/mariadbd", "mysqld", "/usr/sbin/mysqld"}
	installPaths = []string{"mariadb-install-db", "/usr/bin/mariadb-install-db", "mysql_install_db", "/usr/bin/mysql_install_db"}
)

func find(names []string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// small settings: these servers hold test data only
var serverOptions = []string{
	"--innodb-log-file-size=8M", "--innodb-buffer-pool-size=64M",
	"--skip-log-bin", "--skip-performance-schema", "--skip-name-resolve",
	"--character-set-server=latin1", "--collation-server=latin1_swedish_ci",
	"--sql-mode=STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION",
}

// Start runs a mariadbd for the duration of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Launch()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Launch runs a mariadbd in a new temporary directory until Close: what
// Start does for a test, for a program that is not one (the stand-in
// RestComm command).
func Launch() (*Server, error) {
	server, install := find(serverPaths), find(installPaths)
	if server == "" || install == "" {
		return nil, fmt.Errorf("MariaDB is not installed (apt-get install mariadb-server): mariadbd %q, mariadb-install-db %q", server, install)
	}
	// a short directory: a Unix socket path is at most 107 bytes
	dir, err := os.MkdirTemp("", "mariadbtest")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	userArgs := []string{}
	if os.Geteuid() == 0 {
		userArgs = append(userArgs, "--user=root") // mariadbd refuses to run as root otherwise
	} else if u, err := user.Current(); err == nil {
		userArgs = append(userArgs, "--user="+u.Username)
	}
	// --tmpdir: the bootstrap server's temporary tables stay in this
	// server's directory, not in /tmp beside other tests' (a shared /tmp
	// once made one fail: "Error on delete of '/tmp/#sql-temptable-…'")
	args := append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--tmpdir=" + dir}, userArgs...)
	args = append(args, serverOptions...)
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freeport.Port()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		s, err := launch(server, dir, data, port, userArgs)
		if err == nil {
			return s, nil
		}
		lastErr = err // most likely the free port was taken meanwhile
	}
	_ = os.RemoveAll(dir)
	return nil, fmt.Errorf("mariadbd did not start: %v", lastErr)
}

// Close stops the server and removes its directory, data included.
func (s *Server) Close() {
	s.Stop()
	_ = os.RemoveAll(s.dir)
}

func launch(bin, dir, data string, port int, userArgs []string) (*Server, error) {
	s := &Server{
		Addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Socket: filepath.Join(dir, "mariadb.sock"),
		dir:    dir,
		done:   make(chan struct{}),
		bin:    bin, data: data, port: port, userArgs: userArgs,
	}
	logFile := filepath.Join(dir, "error.log")
	args := append([]string{"--no-defaults", "--datadir=" + data, "--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1", "--socket=" + s.Socket, "--pid-file=" + filepath.Join(dir, "mariadb.pid"),
		"--log-error=" + logFile, "--tmpdir=" + dir}, userArgs...)
	args = append(args, serverOptions...)
	s.cmd = exec.Command(bin, args...)
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	db, err := sql.Open("mysql", "root@unix("+s.Socket+")/")
	if err != nil {
		s.Stop()
		return nil, err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			log, _ := os.ReadFile(logFile)
			return nil, fmt.Errorf("mariadbd exited:\n%s", tail(string(log), 2000))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			log, _ := os.ReadFile(logFile)
			return nil, fmt.Errorf("mariadbd not ready after 30s: %v\n%s", err, tail(string(log), 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Restart starts a stopped server again, on the same address with the same
// data (for tests of a database outage); a running one is stopped first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		var n *Server
		if n, err = launch(s.bin, s.dir, s.data, s.port, s.userArgs); err == nil {
			s.cmd, s.done = n.cmd, n.done
			return
		}
		time.Sleep(100 * time.Millisecond) // the port may linger a moment
	}
	t.Fatalf("mariadbd did not start again on %s: %v", s.Addr, err)
}

// Stop stops the server now; Start's cleanup is then a no-op.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Database creates a database and a user that may use it over TCP with a
// password, and returns its mysql:// URL, e.g.
// mysql://restcomm:secret@127.0.0.1:port/restcomm. The database is latin1
// with latin1's default collation, latin1_swedish_ci, as RestComm's is:
// RestComm's script loads only into a latin1 database and gives its tables
// no character set or collation of their own, so this collation compares
// every login (case and trailing spaces ignored).
func (s *Server) Database(t testing.TB, name string) string {
	t.Helper()
	url, err := s.CreateDatabase(name)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// CreateDatabase is Database for a program that is not a test.
func (s *Server) CreateDatabase(name string) (string, error) {
	root, err := sql.Open("mysql", "root@unix("+s.Socket+")/")
	if err != nil {
		return "", err
	}
	defer root.Close()
	user, password := name+"_user", "pw'"+name+"@:/x"
	for _, stmt := range []string{
		"CREATE DATABASE `" + name + "` CHARACTER SET latin1",
		"CREATE USER '" + user + "'@'127.0.0.1' IDENTIFIED BY '" + strings.ReplaceAll(password, "'", "''") + "'",
		"GRANT ALL ON `" + name + "`.* TO '" + user + "'@'127.0.0.1'",
	} {
		if _, err := root.Exec(stmt); err != nil {
			return "", fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return "mysql://" + user + ":" + urlEscape(password) + "@" + s.Addr + "/" + name, nil
}

// DB opens a database as root through the socket, closed when the test
// ends.
func (s *Server) DB(t testing.TB, name string) *sql.DB {
	t.Helper()
	db, err := s.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Open opens a database as root through the socket; the caller closes it.
func (s *Server) Open(name string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "unix", s.Socket, name
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// urlEscape escapes a URL's password.
func urlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
