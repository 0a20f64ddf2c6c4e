package caddymodule

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/mirror"
)

// deadLetterSetup is a mirrored namespace in a real Redis with three
// dead letters, oldest first, of three creates settled as the mirror
// would: a conflict (its sealed password kept), a degraded change, a
// rejected one.
type deadLetterSetup struct {
	redis   *redistest.Server
	rdb     redis.UniversalClient
	st      *store.Store
	opts    store.ClientOptions
	accts   []*store.Account
	entries []store.OutboxEntry // as appended
	dead    []store.DeadLetter  // oldest first
}

func newDeadLetters(t *testing.T) *deadLetterSetup {
	t.Helper()
	ctx := context.Background()
	s := &deadLetterSetup{redis: redistest.Start(t)}
	s.rdb = s.redis.Client(t)
	s.opts = store.ClientOptions{URLs: []string{s.redis.URL()}}
	sealer, err := store.NewSealer("the dead letters' secret key")
	require.NoError(t, err)
	s.st = store.New(s.rdb, "").WithSealer(sealer)
	_, err = s.st.Seed(ctx, "")
	require.NoError(t, err)
	require.NoError(t, s.st.Outbox().Enable(ctx))
	for i, email := range []string{"taken@example.com", "fraud@example.com", "renamed@example.com"} {
		sid := "AC" + md5hex(email)
		now := time.Now().Truncate(time.Second)
		a := &store.Account{Sid: sid, OrganizationSid: store.DefaultOrganizationSid, FriendlyName: email, EmailAddress: email,
			Type: "Full", Status: store.StatusActive, Role: "Developer", AuthToken: md5hex(fmt.Sprint("Pass-", i)),
			URI: "/2012-04-24/Accounts/" + sid, ParentSid: store.DefaultAdminSid, DateCreated: now, DateUpdated: now}
		_, err := s.st.CreateAccount(ctx, nil, a, store.WithPassword(fmt.Sprint("Pass-", i)))
		require.NoError(t, err)
		s.accts = append(s.accts, a)
	}
	ok, err := s.st.Outbox().TakeLease(ctx, "gw", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	s.entries, err = s.st.Outbox().Read(ctx, "gw", 10, 0)
	require.NoError(t, err)
	require.Len(t, s.entries, 3)
	require.NoError(t, s.st.Outbox().Settle(ctx, "gw", []store.Settlement{
		{ID: s.entries[0].ID, Kind: mirror.DeadLetterConflict, KeepSecret: true, MarkConflict: true,
			Reason: "account " + s.accts[0].Sid + ": RestComm's table holds another account under this SID"},
		{ID: s.entries[1].ID, Kind: mirror.DeadLetterDegraded, Reason: "only status, auth_token, date_updated written"},
		{ID: s.entries[2].ID, Kind: "rejected", Reason: "a text value the column's character set cannot hold"},
	}))
	require.NoError(t, s.st.Outbox().DropLease(ctx, "gw"))
	s.dead = s.deadLetters(t)
	require.Len(t, s.dead, 3)
	return s
}

func (s *deadLetterSetup) deadLetters(t *testing.T) []store.DeadLetter {
	t.Helper()
	ds, err := s.st.Outbox().DeadLetters(context.Background(), 100)
	require.NoError(t, err)
	for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
		ds[i], ds[j] = ds[j], ds[i]
	}
	return ds
}

func (s *deadLetterSetup) outbox(t *testing.T) []redis.XMessage {
	t.Helper()
	msgs, err := s.rdb.XRange(context.Background(), "{restcomm}:outbox", "-", "+").Result()
	require.NoError(t, err)
	return msgs
}

// mirror status starts with the conflicts and the degraded security
// changes, before the backlog; its last dead letters show their ids and
// kinds.
func TestMirrorStatusShowsConflictsAndSecurityFirst(t *testing.T) {
	s := newDeadLetters(t)
	var out strings.Builder
	require.NoError(t, mirrorStatus(context.Background(), &out, s.opts, "", "", 5))
	t.Log("\n" + out.String())
	lines := strings.Split(out.String(), "\n")
	require.Greater(t, len(lines), 3)
	assert.True(t, strings.HasPrefix(lines[0], "CONFLICTS:     1 changes not written"), lines[0])
	assert.Contains(t, lines[0], "newest: "+s.accts[0].Sid)
	assert.Contains(t, lines[0], "mirror dead-letters list --kind conflict")
	assert.True(t, strings.HasPrefix(lines[1], "SECURITY:      1 status or password changes reached RestComm only in part"), lines[1])
	assert.Contains(t, lines[1], "newest: "+s.accts[1].Sid)
	assert.Equal(t, "{restcomm}: mirrored", lines[2])
	assert.Contains(t, out.String(), "  "+s.dead[2].ID+"  ")
	assert.Contains(t, out.String(), " rejected create "+s.accts[2].Sid)

	// none of either: no such lines
	_, err := runCommand(t, "mirror", "dead-letters", "drop", "--redis", s.redis.URL(), s.dead[0].ID, s.dead[1].ID)
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, mirrorStatus(context.Background(), &out, s.opts, "", "", 5))
	assert.True(t, strings.HasPrefix(out.String(), "{restcomm}: mirrored\n"), out.String())
}

// list prints every dead letter, newest first, with its id, time, kind,
// change, account and reason, and whether its sealed password was kept,
// never a token or the sealed password; --kind and --count narrow it.
func TestMirrorDeadLettersList(t *testing.T) {
	s := newDeadLetters(t)
	out, err := runCommand(t, "mirror", "dead-letters", "list", "--redis", s.redis.URL())
	require.NoError(t, err, out)
	t.Log("\n" + out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	assert.Equal(t, "{restcomm}: 3 dead letters in all; the newest 3, newest first:", lines[0])
	for i, want := range []struct{ d store.DeadLetter }{{s.dead[2]}, {s.dead[1]}, {s.dead[0]}} {
		line := lines[i+1]
		assert.True(t, strings.HasPrefix(line, want.d.ID+"  "+streamClock(want.d.ID)+"  "+want.d.Kind), line)
		assert.Contains(t, line, want.d.Entry.Op+" "+want.d.Entry.Sid+" (entry "+want.d.Entry.ID+")")
		assert.Contains(t, line, want.d.Reason)
	}
	assert.Contains(t, lines[3], "[sealed password kept]")
	assert.NotContains(t, lines[1], "sealed")
	for i, e := range s.entries {
		assert.NotContains(t, out, e.Secret, "no sealed password")
		assert.NotContains(t, out, s.accts[i].AuthToken, "no token")
	}

	out, err = runCommand(t, "mirror", "dead-letters", "list", "--redis", s.redis.URL(), "--kind", "degraded")
	require.NoError(t, err, out)
	assert.Equal(t, 2, strings.Count(out, "\n"), out)
	assert.Contains(t, out, s.dead[1].ID)
	out, err = runCommand(t, "mirror", "dead-letters", "list", "--redis", s.redis.URL(), "--count", "1")
	require.NoError(t, err, out)
	assert.Contains(t, out, "the newest 1, newest first:\n"+s.dead[2].ID)
	assert.Equal(t, 2, strings.Count(out, "\n"), out)

	for _, bad := range [][]string{{"--count", "0"}, {"--count", "10001"}, {"--kind", "nonsense"}} {
		_, err = runCommand(t, "mirror", append([]string{"dead-letters", "list", "--redis", s.redis.URL()}, bad...)...)
		assert.Error(t, err, "%v", bad)
	}
}

// retry appends dead letters to the outbox again, as they were first
// appended (the kept sealed password too), and removes them; drop
// deletes them; ids or --all (of a kind); unknown ids change nothing.
func TestMirrorDeadLettersRetryAndDrop(t *testing.T) {
	s := newDeadLetters(t)
	ctx := context.Background()
	url := s.redis.URL()

	out, err := runCommand(t, "mirror", "dead-letters", "retry", "--redis", url, s.dead[0].ID, "1-0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no dead letter 1-0 (nothing changed; see mirror dead-letters list)")
	assert.Len(t, s.deadLetters(t), 3, out)
	assert.Empty(t, s.outbox(t))

	out, err = runCommand(t, "mirror", "dead-letters", "retry", "--redis", url, s.dead[0].ID)
	require.NoError(t, err, out)
	assert.Equal(t, "{restcomm}: 1 dead letters appended to the outbox again\n", out)
	msgs := s.outbox(t)
	require.Len(t, msgs, 1)
	assert.Equal(t, s.entries[0].Sid, msgs[0].Values["sid"])
	assert.Equal(t, "create", msgs[0].Values["op"])
	assert.Equal(t, s.entries[0].Secret, msgs[0].Values["secret"], "the kept sealed password goes back")
	assert.NotContains(t, msgs[0].Values, "reason")
	assert.NotContains(t, msgs[0].Values, "kind")
	held, err := s.st.Outbox().ConflictingAccounts(ctx, []string{s.accts[0].Sid})
	require.NoError(t, err)
	assert.Empty(t, held)
	assert.Len(t, s.deadLetters(t), 2)

	out, err = runCommand(t, "mirror", "dead-letters", "drop", "--redis", url, "--all", "--kind", "rejected")
	require.NoError(t, err, out)
	assert.Equal(t, "{restcomm}: 1 dead letters dropped\n", out)
	left := s.deadLetters(t)
	require.Len(t, left, 1)
	assert.Equal(t, s.dead[1].ID, left[0].ID)

	out, err = runCommand(t, "mirror", "dead-letters", "retry", "--redis", url, "--all")
	require.NoError(t, err, out)
	assert.Equal(t, "{restcomm}: 1 dead letters appended to the outbox again\n", out)
	assert.Empty(t, s.deadLetters(t))
	msgs = s.outbox(t)
	require.Len(t, msgs, 2)
	assert.Equal(t, s.entries[1].Sid, msgs[1].Values["sid"])
	assert.NotContains(t, msgs[1].Values, "secret", "none was kept")

	out, err = runCommand(t, "mirror", "dead-letters", "drop", "--redis", url, "--all")
	require.NoError(t, err, out)
	assert.Equal(t, "{restcomm}: 0 dead letters dropped\n", out)
	_, err = runCommand(t, "mirror", "dead-letters", "drop", "--redis", url, s.dead[0].ID)
	assert.ErrorContains(t, err, "no dead letter "+s.dead[0].ID)
}

// Every input is bounded and checked before anything changes.
func TestMirrorDeadLettersInputs(t *testing.T) {
	s := newDeadLetters(t)
	url := s.redis.URL()
	many := []string{"dead-letters", "drop", "--redis", url}
	for i := range store.MaxDeadLettersPerCall + 1 {
		many = append(many, fmt.Sprintf("%d-0", i+1))
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"dead-letters", "retry", "--redis", url}, "give the ids"},
		{[]string{"dead-letters", "drop", "--redis", url, "--all", s.dead[0].ID}, "not both"},
		{[]string{"dead-letters", "drop", "--redis", url, "--kind", "rejected", s.dead[0].ID}, "--kind goes with --all"},
		{[]string{"dead-letters", "drop", "--redis", url, "--all", "--kind", "nonsense"}, "not one of rejected, refused"},
		{[]string{"dead-letters", "retry", "--redis", url, "12345"}, "not a dead letter's id"},
		{many, "at most 100 ids at a time"},
	} {
		_, err := runCommand(t, "mirror", c.args...)
		assert.ErrorContains(t, err, c.says, "%v", c.args[:min(len(c.args), 6)])
	}
	assert.Len(t, s.deadLetters(t), 3, "nothing changed")

	// a retry needs the outbox, a drop does not
	require.NoError(t, s.rdb.Del(context.Background(), "{restcomm}:outbox").Err())
	_, err := runCommand(t, "mirror", "dead-letters", "retry", "--redis", url, "--all")
	assert.ErrorContains(t, err, "not mirrored")
	out, err := runCommand(t, "mirror", "dead-letters", "drop", "--redis", url, "--all")
	require.NoError(t, err, out)
	assert.Equal(t, "{restcomm}: 3 dead letters dropped\n", out)
}
