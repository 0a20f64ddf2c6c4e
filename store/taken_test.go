package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

func TestAccountTaken(t *testing.T) {
	st, _ := newStore(t)
	a := mustCreate(t, st, account("taken@company.com", store.DefaultAdminSid))

	for _, c := range []struct {
		name, sid, email string
		want             bool
	}{
		{"same SID and e-mail", a.Sid, "taken@company.com", true},
		{"SID only", a.Sid, "other@company.com", true},
		{"e-mail only", "AC" + md5hex("x"), "taken@company.com", true},
		{"the seeded administrator by e-mail", "AC" + md5hex("administrator@company.com"), store.DefaultAdminEmail, true},
		{"free", "AC" + md5hex("free@company.com"), "free@company.com", false},
	} {
		got, err := st.AccountTaken(ctx, c.sid, c.email)
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, got, c.name)
	}
}

// The check is one multi-key command: on a Cluster all its keys share the
// prefix's hash slot.
func TestAccountTakenOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	rdb, err := store.ClientOptions{URLs: cl.URLs()}.NewClient()
	require.NoError(t, err)
	defer rdb.Close()
	st := store.New(rdb, "")
	_, err = st.Seed(ctx, "")
	require.NoError(t, err)
	taken, err := st.AccountTaken(ctx, "AC"+md5hex("nobody@company.com"), store.DefaultAdminEmail)
	require.NoError(t, err)
	assert.True(t, taken)
}
