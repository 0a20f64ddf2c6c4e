package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	_ "embed"
)

var (
	//go:embed lua/record_failure.lua
	recordFailureSrc    string
	recordFailureScript = newScript(recordFailureSrc)
)

// FailedLogins names the failed-login counters of one request: its login
// (compared without regard to case) from its client IP, and its client IP.
// Each counter is a sliding-window log in Redis, shared by every gateway
// instance, keeping at most Limit entries: enough for any decision about
// whether Limit was reached.
//
// Keys: P thr:login:<sha256(lower(login))>:<ip> and P thr:ip:<ip>; the
// login is hashed so that a key's length does not depend on what a client
// sends as its user name.
type FailedLogins struct {
	Login, IP       string
	Window          time.Duration
	LoginIPLimit    int
	IPLimit         int
	loginKey, ipKey string
}

// NewFailedLogins returns the counters of login from ip.
func NewFailedLogins(login, ip string, window time.Duration, loginIPLimit, ipLimit int) *FailedLogins {
	return &FailedLogins{Login: login, IP: ip, Window: window, LoginIPLimit: loginIPLimit, IPLimit: ipLimit}
}

// keys names the counters, on first use: a request answered from the
// account cache never needs them.
func (f *FailedLogins) keys() {
	if f.ipKey != "" {
		return
	}
	sum := sha256.Sum256([]byte(strings.ToLower(f.Login)))
	f.loginKey = "thr:login:" + hex.EncodeToString(sum[:16]) + ":" + f.IP
	f.ipKey = "thr:ip:" + f.IP
}

func (f *FailedLogins) appendArgs(args []any) []any {
	f.keys()
	return append(args, f.loginKey, f.ipKey, f.Window.Milliseconds(), f.LoginIPLimit, f.IPLimit)
}

// FailureCounts are the failed logins within the window.
type FailureCounts struct {
	LoginIP, IP int
	// RetryAfter is how long until every count at its limit is below it.
	RetryAfter time.Duration
}

func failureCountsFrom(reply any) (*FailureCounts, error) {
	v, ok := reply.([]any)
	if !ok || len(v) != 3 {
		return nil, fmt.Errorf("store: unexpected failure counts %T", reply)
	}
	li, _ := v[0].(int64)
	ip, _ := v[1].(int64)
	wait, _ := v[2].(int64)
	return &FailureCounts{LoginIP: int(li), IP: int(ip), RetryAfter: time.Duration(wait) * time.Millisecond}, nil
}

// RecordFailedLogin counts one failed login in both counters, atomically.
func (s *Store) RecordFailedLogin(ctx context.Context, f *FailedLogins) error {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	f.keys()
	_, err := s.run(ctx, recordFailureScript, aLoginKey, f.loginKey, aIPKey, f.ipKey,
		aWindow, f.Window.Milliseconds(), aLoginLimit, f.LoginIPLimit, aIPLimit, f.IPLimit,
		aMember, hex.EncodeToString(id[:]), aIP, f.IP)
	if err != nil {
		return fmt.Errorf("store: record failed login: %w", err)
	}
	return nil
}
