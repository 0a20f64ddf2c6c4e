package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/store"
)

func TestFailedLoginsSlidingWindow(t *testing.T) {
	st, _ := newStore(t)
	count := func(f *store.FailedLogins) *store.FailureCounts {
		t.Helper()
		res, c, err := st.ResolveCounting(ctx, f, store.Lookup{Mode: store.ByLogin, ID: f.Login})
		require.NoError(t, err)
		require.Len(t, res, 1)
		require.NotNil(t, c)
		return c
	}
	f := store.NewFailedLogins("Someone@x.com", "192.0.2.1", time.Minute, 3, 5)
	assert.Equal(t, store.FailureCounts{}, *count(f))
	for range 2 {
		require.NoError(t, st.RecordFailedLogin(ctx, f))
	}
	c := count(f)
	assert.Equal(t, 2, c.LoginIP)
	assert.Equal(t, 2, c.IP)
	assert.Zero(t, c.RetryAfter, "below the limits")

	// the same login in another case counts for the same pair
	require.NoError(t, st.RecordFailedLogin(ctx, store.NewFailedLogins("someone@X.com", "192.0.2.1", time.Minute, 3, 5)))
	c = count(f)
	assert.Equal(t, 3, c.LoginIP)
	assert.Greater(t, c.RetryAfter, 50*time.Second, "at the limit until the oldest failure leaves the window")
	assert.LessOrEqual(t, c.RetryAfter, time.Minute)

	// another IP has its own pair, and its own IP count
	other := count(store.NewFailedLogins("someone@x.com", "192.0.2.2", time.Minute, 3, 5))
	assert.Equal(t, store.FailureCounts{}, *other)

	// the log keeps no more than the limit: more never changes a decision
	for range 10 {
		require.NoError(t, st.RecordFailedLogin(ctx, f))
	}
	c = count(f)
	assert.Equal(t, 3, c.LoginIP)
	assert.Equal(t, 5, c.IP)

	// a short window forgets
	short := store.NewFailedLogins("brief@x.com", "192.0.2.3", 200*time.Millisecond, 3, 5)
	require.NoError(t, st.RecordFailedLogin(ctx, short))
	require.Eventually(t, func() bool { return count(short).LoginIP == 0 }, 5*time.Second, 20*time.Millisecond)
}
