package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
)

// startReplicated starts a master and a replica of it, and waits until
// the replica is in sync.
func startReplicated(t *testing.T) (master, replica *redistest.Server) {
	t.Helper()
	master = redistest.Start(t, "--repl-diskless-sync-delay", "0") // sync at once
	_, port, _ := strings.Cut(master.Addr, ":")
	replica = redistest.Start(t, "--replicaof", "127.0.0.1", port)
	rc := replica.Client(t)
	require.Eventually(t, func() bool {
		info, err := rc.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}, 10*time.Second, 50*time.Millisecond, "replica in sync")
	return master, replica
}

// writeCmd is a write as the write path sends it: a command go-redis does
// not retry.
type writeCmd struct{ *redis.Cmd }

func (writeCmd) NoRetry() bool { return true }

func newWrite(ctx context.Context, args ...any) (writeCmd, *redis.Cmd) {
	c := redis.NewCmd(ctx, args...)
	return writeCmd{c}, c
}

func TestWriteWaitsForReplicas(t *testing.T) {
	ctx := context.Background()
	master, replica := startReplicated(t)
	// generous: a loaded machine can take a while to deliver the first ACK
	st := New(master.Client(t), "").WithWait(1, 3*time.Second)
	n, timeout := st.Wait()
	assert.Equal(t, 1, n)
	assert.Equal(t, 3*time.Second, timeout)

	// Acknowledged by the replica: the change is there when the call returns.
	w, cmd := newWrite(ctx, "set", "{restcomm}:k", "v1")
	require.NoError(t, st.processAndWait(ctx, w))
	assert.Equal(t, "OK", cmd.Val())
	got, err := replica.Client(t).Get(ctx, "{restcomm}:k").Result()
	require.NoError(t, err)
	assert.Equal(t, "v1", got, "the replica has the change once the write returns")

	// The write's own error comes first, and is no replication failure.
	w, _ = newWrite(ctx, "hset", "{restcomm}:k", "f", "v")
	err = st.processAndWait(ctx, w)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "WRONGTYPE"), err)
	assert.False(t, errors.Is(err, ErrNotReplicated))

	// Asking for more replicas than there are: applied on the master,
	// reported as not replicated after the timeout.
	st2 := st.WithWait(2, 100*time.Millisecond)
	w, cmd = newWrite(ctx, "set", "{restcomm}:k", "v2")
	start := time.Now()
	err = st2.processAndWait(ctx, w)
	took := time.Since(start)
	require.ErrorIs(t, err, ErrNotReplicated)
	var nr *NotReplicatedError
	require.ErrorAs(t, err, &nr)
	assert.Equal(t, 2, nr.Want)
	assert.Equal(t, 1, nr.Got)
	assert.Equal(t, "OK", cmd.Val(), "the write's reply is still read")
	assert.GreaterOrEqual(t, took, 100*time.Millisecond, "Redis waited for the replicas")
	var re redis.Error
	assert.True(t, errors.As(err, &re), "an answer from Redis, not a lost reply")
	assert.False(t, uncertainOutcome(err))

	// The replica gone: not replicated.
	replica.Stop()
	w, _ = newWrite(ctx, "set", "{restcomm}:k", "v3")
	err = st.processAndWait(ctx, w)
	require.ErrorAs(t, err, &nr)
	assert.Equal(t, 0, nr.Got)

	// A barrier confirms every earlier write of any connection.
	assert.ErrorIs(t, st.WaitReplicated(ctx), ErrNotReplicated)
	assert.NoError(t, New(master.Client(t), "").WaitReplicated(ctx), "no waiting: nothing to confirm")
}

func TestWaitReplicatedConfirmsEarlierWrites(t *testing.T) {
	ctx := context.Background()
	master, replica := startReplicated(t)
	st := New(master.Client(t), "").WithWait(1, time.Second)
	// a write on another connection, then the barrier
	require.NoError(t, redis.NewClient(&redis.Options{Addr: master.Addr}).Set(ctx, "{restcomm}:other", "x", 0).Err())
	require.NoError(t, st.WaitReplicated(ctx))
	got, err := replica.Client(t).Get(ctx, "{restcomm}:other").Result()
	require.NoError(t, err)
	assert.Equal(t, "x", got)
}

// Without WithWait, processAndWait is a plain Process.
func TestWriteWithoutWait(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	st := New(srv.Client(t), "")
	w, cmd := newWrite(ctx, "incr", "{restcomm}:n")
	require.NoError(t, st.processAndWait(ctx, w))
	assert.EqualValues(t, 1, cmd.Val())
}

// On Cluster, the write and WAIT go to the master of the namespace's slot,
// whichever node the client would pick for a keyless command.
func TestWriteWaitsOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	ctx := context.Background()
	cl := redistest.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { _ = rdb.Close() })
	st := New(rdb, "tenant").WithWait(1, 50*time.Millisecond)
	for i := range 5 {
		w, cmd := newWrite(ctx, "set", "{tenant}:k"+strconv.Itoa(i), "v")
		err := st.processAndWait(ctx, w)
		var nr *NotReplicatedError
		require.ErrorAs(t, err, &nr, "no replicas in this cluster")
		assert.Equal(t, 0, nr.Got)
		assert.Equal(t, "OK", cmd.Val(), "written on the slot's master, no MOVED")
	}
	got, err := rdb.Get(ctx, "{tenant}:k4").Result()
	require.NoError(t, err)
	assert.Equal(t, "v", got)
}

// uncertainOutcome is how the write path tells a lost reply from Redis's
// answer (script.go's Uncertain).
func uncertainOutcome(err error) bool {
	var reply redis.Error
	return err != nil && !errors.As(err, &reply)
}
