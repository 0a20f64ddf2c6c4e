package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/store"
)

// ByID never lets a friendly name squat a SID or an e-mail address: a
// SID-shaped identifier names an account by SID only, one with '@' by
// e-mail first; other identifiers are friendly name, e-mail, then SID, as
// RestComm's AccountsDao.getAccount(String) reads them.
func TestResolveByIDIsUnambiguous(t *testing.T) {
	st, _ := newStore(t)
	victim := mustCreate(t, st, account("victim@company.com", store.DefaultAdminSid))
	squatter := account("squatter@company.com", store.DefaultAdminSid)
	squatter.FriendlyName = victim.Sid
	mustCreate(t, st, squatter)
	emailSquatter := account("esquat@company.com", store.DefaultAdminSid)
	emailSquatter.FriendlyName = "victim@company.com"
	mustCreate(t, st, emailSquatter)
	named := account("named@company.com", store.DefaultAdminSid)
	named.FriendlyName = "Named"
	mustCreate(t, st, named)
	child := mustCreate(t, st, account("child@company.com", victim.Sid))
	ghost := account("ghost@company.com", store.DefaultAdminSid)
	ghost.FriendlyName = "AC0000000000000000000000000000dead" // a SID nobody has
	mustCreate(t, st, ghost)
	atName := account("atname@company.com", store.DefaultAdminSid)
	atName.FriendlyName = "not-an@address"
	mustCreate(t, st, atName)

	cases := []struct {
		id   string
		want string // "" for nothing
	}{
		{victim.Sid, victim.Sid},                   // not the squatter named so
		{"victim@company.com", victim.Sid},         // e-mail before a friendly name
		{"child@company.com", child.Sid},           // e-mail
		{child.Sid, child.Sid},                     // SID
		{"Named", named.Sid},                       // friendly name
		{"AC0000000000000000000000000000dead", ""}, // SID-shaped: by SID only
		{"not-an@address", atName.Sid},             // '@' but no such e-mail: friendly name
		{"nobody", ""},                             // nothing
		{"squatter@company.com", squatter.Sid},     // e-mail
		{"ac" + victim.Sid[2:], ""},                // SIDs are case-sensitive
		{victim.Sid + "x", ""},                     // 35 characters: not SID-shaped, no such name
		{"AC000000000000000000000000000000-d", ""}, // 34 but not alphanumeric
		{"AC0000000000000000000000000000DEAD", ""}, // no such SID
		{"ACae6e420f425248d6a26948c17a9e2acf", store.DefaultAdminSid},
	}
	for _, c := range cases {
		res, err := st.Resolve(ctx, store.Lookup{Mode: store.ByID, ID: c.id})
		require.NoError(t, err)
		if c.want == "" {
			assert.Nil(t, res[0].Account, "%q names nothing", c.id)
			continue
		}
		if assert.NotNil(t, res[0].Account, "%q", c.id) {
			assert.Equal(t, c.want, res[0].Account.Sid, "%q", c.id)
		}
	}

	res, err := st.Resolve(ctx, store.Lookup{Mode: store.ByID, ID: child.Sid})
	require.NoError(t, err)
	assert.Equal(t, []string{victim.Sid, store.DefaultAdminSid}, res[0].Ancestors)

	twin := account("twin@company.com", store.DefaultAdminSid)
	twin.FriendlyName = "Named"
	mustCreate(t, st, twin)
	res, err = st.Resolve(ctx, store.Lookup{Mode: store.ByID, ID: "Named"})
	require.NoError(t, err)
	assert.True(t, res[0].Ambiguous, "RestComm fails with 500 on a shared friendly name")
	assert.Nil(t, res[0].Account)
}
