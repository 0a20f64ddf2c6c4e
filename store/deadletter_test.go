package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/store"
)

// deadLettered makes, in a mirrored namespace, one dead letter per
// settlement given (its ID filled in with the next entry's): accounts are
// created with sealed passwords, read and settled as gw.
func deadLettered(t *testing.T, st *store.Store, how ...store.Settlement) []store.OutboxEntry {
	t.Helper()
	ok, err := st.Outbox().TakeLease(ctx, "gw", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	for i := range how {
		mustCreateWith(t, st, account(fmt.Sprintf("dead%d@x.com", i), store.DefaultAdminSid), fmt.Sprintf("Pass-%d", i))
	}
	read, err := st.Outbox().Read(ctx, "gw", len(how), 0)
	require.NoError(t, err)
	require.Len(t, read, len(how))
	for i := range how {
		how[i].ID = read[i].ID
	}
	require.NoError(t, st.Outbox().Settle(ctx, "gw", how))
	require.NoError(t, st.Outbox().DropLease(ctx, "gw"))
	return read
}

func mustCreateWith(t *testing.T, st *store.Store, a *store.Account, password string) {
	t.Helper()
	_, err := st.CreateAccount(ctx, nil, a, store.WithPassword(password))
	require.NoError(t, err)
}

func sealedStore(t *testing.T) (*store.Store, redis.UniversalClient) {
	t.Helper()
	st, srv, rdb := mirrored(t)
	sealer, err := store.NewSealer("a mirror secret of some length")
	require.NoError(t, err)
	_ = srv
	return st.WithSealer(sealer), rdb
}

// A dead letter keeps its kind and reason, and its sealed password only
// when asked to (its side effect did not run), never shown; a conflict
// marks its account while it stands.
func TestDeadLettersKeepKindAndSecret(t *testing.T) {
	st, rdb := sealedStore(t)
	read := deadLettered(t, st,
		store.Settlement{Reason: "refused by RestComm", Kind: "refused"},
		store.Settlement{Reason: "RestComm holds another account", Kind: store.DeadLetterConflict, KeepSecret: true, MarkConflict: true},
	)
	require.NotEmpty(t, read[0].Secret)
	dead, err := st.Outbox().DeadLetters(ctx, 10)
	require.NoError(t, err)
	require.Len(t, dead, 2)
	conflict, refused := dead[0], dead[1]
	assert.Equal(t, "refused", refused.Kind)
	assert.Equal(t, "refused by RestComm", refused.Reason)
	assert.False(t, refused.Sealed)
	assert.Equal(t, store.DeadLetterConflict, conflict.Kind)
	assert.True(t, conflict.Sealed)
	assert.Empty(t, conflict.Entry.Secret, "never handed out")
	assert.Equal(t, read[1].ID, conflict.Entry.ID)
	assert.Equal(t, read[1].Sid, conflict.Entry.Sid)
	msgs, err := rdb.XRange(ctx, "{restcomm}:outbox:dead", conflict.ID, conflict.ID).Result()
	require.NoError(t, err)
	assert.Equal(t, read[1].Secret, msgs[0].Values["secret"], "kept as it was sealed")
	msgs, err = rdb.XRange(ctx, "{restcomm}:outbox:dead", refused.ID, refused.ID).Result()
	require.NoError(t, err)
	assert.NotContains(t, msgs[0].Values, "secret")

	held, err := st.Outbox().ConflictingAccounts(ctx, []string{read[0].Sid, read[1].Sid})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{read[1].Sid: true}, held)

	list, err := st.Outbox().ListDeadLetters(ctx, store.DeadLetterConflict, 10, 0)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, conflict.ID, list[0].ID)
	sum, err := st.Outbox().SummarizeDeadLetters(ctx, 100, 3)
	require.NoError(t, err)
	assert.EqualValues(t, 2, sum.Total)
	assert.Equal(t, 1, sum.Kinds[store.DeadLetterConflict].Count)
	assert.Equal(t, []string{read[1].Sid}, sum.Kinds[store.DeadLetterConflict].Newest)
}

// A retry appends each entry to the outbox again with the fields it was
// first appended with, sealed password included, oldest first, marks its
// accounts pending and lifts a conflict mark; a drop deletes. Both take
// all the ids or none.
func TestRetryAndDropDeadLetters(t *testing.T) {
	st, rdb := sealedStore(t)
	read := deadLettered(t, st,
		store.Settlement{Reason: "one", Kind: "rejected", KeepSecret: true},
		store.Settlement{Reason: "two", Kind: store.DeadLetterConflict, KeepSecret: true, MarkConflict: true},
		store.Settlement{Reason: "three", Kind: "missing"},
	)
	original := map[string]map[string]any{}
	for _, e := range read {
		msgs, err := rdb.XRange(ctx, "{restcomm}:outbox:dead", "-", "+").Result()
		require.NoError(t, err)
		for _, m := range msgs {
			if m.Values["entry"] == e.ID {
				original[e.Sid] = m.Values
			}
		}
	}
	dead, err := st.Outbox().DeadLetters(ctx, 10)
	require.NoError(t, err)
	require.Len(t, dead, 3)
	ids := []string{dead[0].ID, dead[1].ID} // newest first: three, two

	// an unknown id: nothing changes
	_, err = st.Outbox().RetryDeadLetters(ctx, append(ids, "1-0"))
	var unknown *store.UnknownDeadLettersError
	require.ErrorAs(t, err, &unknown)
	assert.Equal(t, []string{"1-0"}, unknown.IDs)
	require.ErrorAs(t, st.Outbox().DropDeadLetters(ctx, []string{"1-0", dead[2].ID}), &unknown)
	after, err := st.Outbox().DeadLetters(ctx, 10)
	require.NoError(t, err)
	assert.Len(t, after, 3)
	assert.Empty(t, outboxEntries(t, rdb))
	_, err = st.Outbox().RetryDeadLetters(ctx, []string{"not-an-id"})
	assert.ErrorContains(t, err, "not a dead letter's id")
	many := make([]string, store.MaxDeadLettersPerCall+1)
	for i := range many {
		many[i] = fmt.Sprintf("%d-0", i+1)
	}
	assert.Error(t, st.Outbox().DropDeadLetters(ctx, many))

	appended, err := st.Outbox().RetryDeadLetters(ctx, append(ids, ids[0]))
	require.NoError(t, err)
	require.Len(t, appended, 2, "each once")
	entries := outboxEntries(t, rdb)
	require.Len(t, entries, 2)
	assert.Equal(t, read[1].Sid, entries[0].Values["sid"], "oldest first")
	assert.Equal(t, read[2].Sid, entries[1].Values["sid"])
	for _, m := range entries {
		sid := m.Values["sid"].(string)
		want := map[string]any{}
		for k, v := range original[sid] {
			if k != "entry" && k != "kind" && k != "reason" {
				want[k] = v
			}
		}
		assert.Equal(t, want, m.Values, "as first appended")
		a, err := st.Account(ctx, sid)
		require.NoError(t, err)
		assert.Equal(t, m.ID, a.Pending, "pending again")
	}
	assert.Equal(t, read[1].Secret, entries[0].Values["secret"], "the sealed password goes back")
	assert.NotContains(t, entries[1].Values, "secret", "none kept, none sent")
	held, err := st.Outbox().ConflictingAccounts(ctx, []string{read[1].Sid})
	require.NoError(t, err)
	assert.Empty(t, held, "the mark went with its dead letter")
	_, err = st.Outbox().RetryDeadLetters(ctx, ids[:1])
	require.ErrorAs(t, err, &unknown, "retried already")

	// the retried entries are delivered like any other
	ok, err := st.Outbox().TakeLease(ctx, "gw", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	got, err := st.Outbox().Read(ctx, "gw", 10, 0)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, read[1].Secret, got[0].Secret)
	assert.Equal(t, []string{read[1].Sid}, got[0].Sids)

	require.NoError(t, st.Outbox().DropDeadLetters(ctx, []string{dead[2].ID}))
	after, err = st.Outbox().DeadLetters(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, after)
	status, err := st.Outbox().Status(ctx)
	require.NoError(t, err)
	assert.Zero(t, status.DeadLetters)
}

// A retry needs the outbox (its consumer group delivers it).
func TestRetryNeedsAMirroredNamespace(t *testing.T) {
	st, rdb := sealedStore(t)
	deadLettered(t, st, store.Settlement{Reason: "one", Kind: "rejected"})
	dead, err := st.Outbox().DeadLetters(ctx, 1)
	require.NoError(t, err)
	require.NoError(t, rdb.Del(ctx, "{restcomm}:outbox").Err())
	_, err = st.Outbox().RetryDeadLetters(ctx, []string{dead[0].ID})
	assert.ErrorIs(t, err, store.ErrNotMirrored)
	n, err := rdb.Exists(ctx, "{restcomm}:outbox").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "no outbox made without its group")
}

// Pages of ids, oldest first, of a kind, up to a bound.
func TestDeadLetterIDs(t *testing.T) {
	st, _ := sealedStore(t)
	var how []store.Settlement
	for i := range 7 {
		kind := "rejected"
		if i%2 == 1 {
			kind = "missing"
		}
		how = append(how, store.Settlement{Reason: fmt.Sprint(i), Kind: kind})
	}
	deadLettered(t, st, how...)
	all, err := st.Outbox().ListDeadLetters(ctx, "", 100, 0)
	require.NoError(t, err)
	require.Len(t, all, 7)
	var missing []string
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Kind == "missing" {
			missing = append(missing, all[i].ID)
		}
	}
	var got []string
	for after := ""; ; {
		page, next, err := st.Outbox().DeadLetterIDs(ctx, "missing", after, all[1].ID, 2)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(page), 2)
		got = append(got, page...)
		if next == "" {
			break
		}
		after = next
	}
	assert.Equal(t, missing, got, "up to the second newest: all three")
	got, _, err = st.Outbox().DeadLetterIDs(ctx, "", "", all[5].ID, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{all[6].ID, all[5].ID}, got)
}
