// Package freeport finds loopback TCP ports that nothing listens on, for
// tests that start servers (redis-server, mariadbd, Caddy) or need an
// upstream that is down. A port is free when it is found; a server that
// then fails to bind it retries with another.
package freeport

import (
	"net"
	"strconv"
	"testing"
)

// Port is a loopback TCP port that nothing listened on a moment ago.
func Port() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr is 127.0.0.1:Port(), for a server to listen on or an upstream that
// is down; it fails the test when no port can be had.
func Addr(t testing.TB) string {
	t.Helper()
	port, err := Port()
	if err != nil {
		t.Fatalf("freeport: %v", err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}
