package store_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/store"
)

// feed subscribes to the change feed and returns a func that reads the
// next change (skipping heartbeats).
func feed(t *testing.T, st *store.Store) func() store.Change {
	t.Helper()
	ps := st.Subscribe(ctx)
	t.Cleanup(func() { _ = ps.Close() })
	_, err := ps.ReceiveTimeout(ctx, 5*time.Second)
	require.NoError(t, err)
	return func() store.Change {
		t.Helper()
		for {
			msg, err := ps.ReceiveTimeout(ctx, 5*time.Second)
			require.NoError(t, err, "no change published")
			m, ok := msg.(*redis.Message)
			require.True(t, ok, "%T", msg)
			c, err := store.ParseChange(m.Payload)
			require.NoError(t, err, "%q", m.Payload)
			if c.Kind != store.Heartbeat {
				return c
			}
		}
	}
}

// Every change to what a lookup can return is published with everything a
// lookup may have used to find it, in the same step.
func TestEveryChangeIsPublished(t *testing.T) {
	st, _, _ := mirrored(t)
	next := feed(t, st)
	parent := mustCreate(t, st, account("parent@x.com", store.DefaultAdminSid))
	assert.Equal(t, store.Change{Kind: store.ChangedAccounts, IDs: []string{parent.Sid, "parent@x.com", "parent@x.com"}}, next())
	kid := mustCreate(t, st, account("kid@x.com", parent.Sid))
	next()

	_, err := st.UpdateAccount(ctx, nil, parent.Sid, store.AccountUpdate{FriendlyName: ptr("Renamed"), Status: ptr("suspended"), Now: time.Now()})
	require.NoError(t, err)
	assert.Equal(t, []string{"parent@x.com", "Renamed", parent.Sid, kid.Sid}, next().IDs, "old and new names, and the subtree")

	org := &store.Organization{Sid: "ORafbe225ad37541eba518a74248f0ac4d", DomainName: "org1", Status: "active", DateCreated: time.Now(), DateUpdated: time.Now()}
	_, err = st.CreateOrganization(ctx, nil, org)
	require.NoError(t, err)
	_, err = st.MigrateAccount(ctx, nil, parent.Sid, org.Sid, time.Now())
	require.NoError(t, err)
	assert.Equal(t, []string{parent.Sid, kid.Sid}, next().IDs)

	// the mirror settling a change clears the accounts' pending mark
	ok, err := st.Outbox().TakeLease(ctx, "gw", time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	read, err := st.Outbox().Read(ctx, "gw", 100, 0)
	require.NoError(t, err)
	last := read[len(read)-1]
	require.NoError(t, st.Outbox().Settle(ctx, "gw", []store.Settlement{{ID: last.ID}}))
	assert.Equal(t, []string{parent.Sid, kid.Sid}, next().IDs)

	fl := store.NewFailedLogins("nobody", "192.0.2.7", time.Minute, 10, 100)
	counted, _, err := st.CountFailedLogin(ctx, fl)
	require.NoError(t, err)
	require.True(t, counted)
	assert.Equal(t, store.Change{Kind: store.FailedLogin, IP: "192.0.2.7", Window: time.Minute}, next())

	imported := *account("imported@x.com", "")
	_, err = st.ImportAccounts(ctx, [][]store.Account{{imported}}, store.ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, store.ChangedAll, next().Kind)
	dropped, err := st.DropSeededAdmin(ctx)
	require.NoError(t, err)
	if dropped {
		assert.Equal(t, store.ChangedAll, next().Kind)
	}
}

// The class: a Lua script that writes a key a lookup reads (an account
// hash, the e-mail or friendly-name index) publishes a change, or a lookup
// cached elsewhere could outlive it.
func TestEveryScriptWritingLookupKeysPublishes(t *testing.T) {
	files, err := filepath.Glob("lua/*.lua")
	require.NoError(t, err)
	writes := regexp.MustCompile(`'(HSET|HDEL|DEL|SET|ZADD|ZREM)', (p|key)[^\n]*`)
	lookupKey := regexp.MustCompile(`'(acct|emails?|fname):'|, key,|\(key,`)
	checked := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		var hits []string
		for _, w := range writes.FindAllString(string(src), -1) {
			if lookupKey.MatchString(w) {
				hits = append(hits, w)
			}
		}
		// outbox.lua's mark, import.lua's fingerprint and keys.lua's
		// index_account are published by the scripts they begin;
		// organizations are not what a lookup returns
		if len(hits) == 0 || slices.Contains([]string{"lua/outbox.lua", "lua/import.lua", "lua/keys.lua", "lua/import_organizations.lua"}, f) {
			continue
		}
		checked++
		s := string(src)
		assert.True(t, strings.Contains(s, "changed(p,") || strings.Contains(s, "changed_all(p)") || strings.Contains(s, "'PUBLISH', p .. 'changes'"),
			"%s writes %q but publishes no change", f, hits[0])
	}
	assert.GreaterOrEqual(t, checked, 6)
}

func TestParseChange(t *testing.T) {
	for payload, want := range map[string]store.Change{
		"*":                 {Kind: store.ChangedAll},
		"a":                 {Kind: store.ChangedAccounts},
		"a3:abc0:4:a:b:":    {Kind: store.ChangedAccounts, IDs: []string{"abc", "", "a:b:"}},
		"f300000:192.0.2.1": {Kind: store.FailedLogin, IP: "192.0.2.1", Window: 5 * time.Minute},
		"f1:::1":            {Kind: store.FailedLogin, IP: "::1", Window: time.Millisecond},
		"hgw:12":            {Kind: store.Heartbeat, Heartbeat: "gw:12"},
	} {
		got, err := store.ParseChange(payload)
		require.NoError(t, err, payload)
		assert.Equal(t, want, got, payload)
	}
	for _, bad := range []string{"", "x", "a4:abc", "a-1:", "ax:", "f", "f10", "f-1:ip", "fx:ip", "f10:"} {
		_, err := store.ParseChange(bad)
		assert.ErrorIs(t, err, store.ErrBadChange, "%q", bad)
	}
}
