package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/store"
)

// ByName is RestComm's AccountsDao.getAccount(String): a friendly name wins
// even over an account whose SID is spelt the same.
func TestResolveByNameIsFriendlyNameFirst(t *testing.T) {
	st, _ := newStore(t)
	victim := mustCreate(t, st, account("victim@company.com", store.DefaultAdminSid))
	squatter := account("squatter@company.com", store.DefaultAdminSid)
	squatter.FriendlyName = victim.Sid
	mustCreate(t, st, squatter)
	child := mustCreate(t, st, account("child@company.com", victim.Sid))

	res, err := st.Resolve(ctx,
		store.Lookup{Mode: store.ByName, ID: victim.Sid},
		store.Lookup{Mode: store.ByName, ID: "child@company.com"},
		store.Lookup{Mode: store.ByName, ID: child.Sid},
		store.Lookup{Mode: store.ByName, ID: "AC0000000000000000000000000000dead"},
		store.Lookup{Mode: store.ByOperatingIdentifier, ID: victim.Sid},
	)
	require.NoError(t, err)
	require.Len(t, res, 5)
	assert.Equal(t, squatter.Sid, res[0].Account.Sid, "friendly name before SID")
	assert.Equal(t, child.Sid, res[1].Account.Sid, "then e-mail")
	assert.Equal(t, child.Sid, res[2].Account.Sid, "then SID")
	assert.Equal(t, []string{victim.Sid, store.DefaultAdminSid}, res[2].Ancestors)
	assert.Nil(t, res[3].Account)
	assert.Equal(t, victim.Sid, res[4].Account.Sid, "op mode is SID first")

	twin := account("twin@company.com", store.DefaultAdminSid)
	twin.FriendlyName = victim.Sid
	mustCreate(t, st, twin)
	res, err = st.Resolve(ctx, store.Lookup{Mode: store.ByName, ID: victim.Sid})
	require.NoError(t, err)
	assert.True(t, res[0].Ambiguous, "RestComm fails with 500 on a shared friendly name")
	assert.Nil(t, res[0].Account)
}
