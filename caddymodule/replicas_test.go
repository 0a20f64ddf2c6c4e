package caddymodule

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
)

// With redis_wait_replicas, an account change is answered once a replica
// has it, and 503 when no replica acknowledged it in time.
func TestChangesWaitForReplicas(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t, "--repl-diskless-sync-delay", "0")
	_, port, _ := strings.Cut(master.Addr, ":")
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", port)
	require.Eventually(t, func() bool {
		info, err := replica.Client(t).Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}, 10*time.Second, 50*time.Millisecond)
	h := newHarness(t, false, func(g *Gateway) {
		g.Redis.URLs = []string{master.URL()}
		g.Redis.WaitReplicas = 1
		// generous: a loaded machine may take a while to acknowledge
		g.Redis.WaitTimeout = caddy.Duration(2 * time.Second)
		g.Redis.Timeout = caddy.Duration(5 * time.Second)
	})
	fixture.Load(t, h.store)
	w := h.do(post("/Accounts.json", "ADMIN", "EmailAddress=replicated@x.com&Password=RestComm12"))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	n, err := replica.Client(t).Exists(context.Background(), "{restcomm}:acct:AC"+md5hex("replicated@x.com")).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "the replica has it when the client hears of it")

	replica.Stop()
	w = h.do(put("/Accounts.json/replicated@x.com", "ADMIN", "FriendlyName=alone"))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
}

// With redis_read_replicas behind Sentinel, lookups and lists are read on
// the master and its replica (read-only scripts, EVALSHA_RO) and changes
// made on the master; off by default, every command goes to the master.
func TestReadsFromReplicasBehindSentinel(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t, "--repl-diskless-sync-delay", "0")
	_, port, _ := strings.Cut(master.Addr, ":")
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", port)
	require.Eventually(t, func() bool {
		info, err := replica.Client(t).Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}, 10*time.Second, 50*time.Millisecond)
	sentinel := redistest.StartSentinel(t, master, "gw")
	require.Eventually(t, func() bool { // the Sentinel has found the replica
		n, err := sentinel.Client(t).Do(context.Background(), "SENTINEL", "REPLICAS", "gw").Slice()
		return err == nil && len(n) == 1
	}, 15*time.Second, 100*time.Millisecond)

	readsOn := func(s *redistest.Server) int {
		info, err := s.Client(t).Info(context.Background(), "commandstats").Result()
		require.NoError(t, err)
		for _, line := range strings.Split(info, "\n") {
			if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha_ro:calls="); ok {
				n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
				return n
			}
		}
		return 0
	}
	for _, replicas := range []bool{false, true} {
		h := newHarness(t, false, func(g *Gateway) {
			g.Redis.URLs = []string{"redis://" + sentinel.Addr}
			g.Redis.MasterName = "gw"
			g.Redis.ReadFromReplicas = replicas
			// where Redis reads go is the point: none may be answered from memory
			g.AccountCache = &AccountCacheConfig{Disabled: true}
		})
		if !replicas {
			fixture.Load(t, h.store) // on the master, through Sentinel
		}
		require.Eventually(t, func() bool { // the fixture has reached the replica
			n, err := replica.Client(t).Exists(context.Background(), "{restcomm}:acct:"+fixture.SidDev).Result()
			return err == nil && n == 1
		}, 5*time.Second, 20*time.Millisecond)
		onMaster, onReplica := readsOn(master), readsOn(replica)
		for range 20 {
			require.Equal(t, http.StatusOK, h.do(get("/Accounts.json/"+fixture.SidDev, "ADMIN")).Code)
		}
		if replicas {
			// go-redis spreads read-only commands over the master and the
			// replicas it has learnt of from Sentinel, at random, once it
			// knows which commands are read-only (COMMAND, read lazily and
			// again after a failure: on a loaded machine the first reads
			// may all go to the master): read on until one lands on the
			// replica, within a generous bound
			require.Eventually(t, func() bool {
				require.Equal(t, http.StatusOK, h.do(get("/Accounts.json/"+fixture.SidDev, "ADMIN")).Code)
				return readsOn(replica) > onReplica
			}, 30*time.Second, time.Millisecond, "reads on the replica")
		} else {
			assert.GreaterOrEqual(t, readsOn(master)-onMaster, 20, "reads on the master")
			assert.Equal(t, onReplica, readsOn(replica), "nothing read on the replica")
		}
		w := h.do(put("/Accounts.json/"+fixture.SidDev, "ADMIN", "FriendlyName=renamed"))
		require.Equal(t, http.StatusOK, w.Code, "changes go to the master")
	}
}
