package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated: a change was applied on the master, but fewer replicas
// than asked for (WithWait) acknowledged it within the wait's timeout, or
// whether they did could not be learnt. The change is not to be
// acknowledged to the client as done; it is no uncertain outcome either
// (Redis did apply it), so it is not for settling.
var ErrNotReplicated = errors.New("change not acknowledged by enough replicas")

// NotReplicatedError is ErrNotReplicated with the figures. It is Redis's
// own answer to the write (a redis.Error): the write was applied, so
// nothing may send it again.
type NotReplicatedError struct {
	Want, Got int   // replicas asked for and replicas that acknowledged (-1: unknown)
	Err       error // why WAIT itself failed, if it did
}

func (e *NotReplicatedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v: WAIT %d failed: %v", ErrNotReplicated, e.Want, e.Err)
	}
	return fmt.Sprintf("%v: %d of %d", ErrNotReplicated, e.Got, e.Want)
}

func (e *NotReplicatedError) Is(target error) bool { return target == ErrNotReplicated }
func (e *NotReplicatedError) Unwrap() error        { return e.Err }

// RedisError makes it a redis.Error: an answer from Redis, not a lost
// reply (see Uncertain), and never retried by go-redis.
func (e *NotReplicatedError) RedisError() {}

// waitFor is what a write waits for before it is acknowledged.
type waitFor struct {
	replicas int
	timeout  time.Duration
}

// WithWait returns a Store whose writes sent through processAndWait are
// each followed, on the same connection and in the same round trip, by
// WAIT replicas timeout: a change counts as done only once that many
// replicas acknowledged it. replicas 0 turns waiting off. timeout must be
// positive (WAIT 0 would block forever) and shorter than the time left for
// the request's Redis work.
func (s *Store) WithWait(replicas int, timeout time.Duration) *Store {
	c := *s
	c.wait = waitFor{replicas: max(0, replicas), timeout: timeout}
	return &c
}

// Wait says what writes wait for: replicas 0 means they do not wait.
func (s *Store) Wait() (replicas int, timeout time.Duration) {
	return s.wait.replicas, s.wait.timeout
}

// processAndWait sends write (one write command, built by the caller; a
// command go-redis does not retry) and, when the store waits for replicas,
// WAIT right behind it on the same connection — a pipeline of the two on
// the node that owns the namespace's slot. Without waiting it is
// s.rdb.Process(ctx, write).
//
// It returns write's own error when the write failed or its reply was
// lost (write.Err()); otherwise nil when enough replicas acknowledged it,
// or a *NotReplicatedError (errors.Is ErrNotReplicated) when fewer did
// within the timeout or WAIT's reply did not come.
func (s *Store) processAndWait(ctx context.Context, write redis.Cmder) error {
	if s.wait.replicas <= 0 {
		return s.rdb.Process(ctx, write)
	}
	var node *redis.Client
	switch c := s.rdb.(type) {
	case *redis.Client: // a single node, or Sentinel's failover client
		node = c
	case *redis.ClusterClient:
		// WAIT names no key: only the connection that made the write
		// knows which writes to wait for, so both go to the slot's master.
		n, err := c.MasterForKey(ctx, s.anchor)
		if err != nil {
			write.SetErr(err)
			return err
		}
		node = n
	default:
		err := fmt.Errorf("store: cannot wait for replicas with a %T", s.rdb)
		write.SetErr(err)
		return err
	}
	pipe := node.Pipeline()
	_ = pipe.Process(ctx, write)
	wait := pipe.Do(ctx, "wait", s.wait.replicas, s.wait.timeout.Milliseconds())
	_, _ = pipe.Exec(ctx)
	if err := write.Err(); err != nil {
		return err
	}
	got, err := wait.Int()
	if err != nil {
		return &NotReplicatedError{Want: s.wait.replicas, Got: -1, Err: err}
	}
	if got < s.wait.replicas {
		return &NotReplicatedError{Want: s.wait.replicas, Got: got}
	}
	return nil
}

// WaitReplicated confirms that every change that reached the namespace's
// master before this call has reached the replicas WithWait asks for: it
// writes a short-lived barrier key (P waitbarrier, expiring after a
// second) and waits for it on the same connection, replicas applying the
// stream in order. It is for a write whose reply was lost and whose
// outcome was then learnt by reading (settle): WAIT on another connection
// than the write's would not wait for that write. Without waiting it
// returns nil at once.
func (s *Store) WaitReplicated(ctx context.Context) error {
	if s.wait.replicas <= 0 {
		return nil
	}
	// SET with an expiry is idempotent: go-redis may send it again.
	return s.processAndWait(ctx, redis.NewStatusCmd(ctx, "set", s.prefix+"waitbarrier", "1", "px", 1000))
}
