package accountsapi

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

// Fifty concurrent creates of one e-mail: exactly one 200, forty-nine 409s,
// one account, one index entry, one child entry.
func TestConcurrentCreatesOfOneEmail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	const n = 50
	codes := make([]int, n)
	bodies := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// the e-mail's case differs between requests: one address all the same
			email := "Race@Company.com"
			if i%2 == 1 {
				email = "race@company.COM"
			}
			r := formRequest(http.MethodPost, "/Accounts.json", fixture.Users["ADMIN"], fixture.Token,
				"EmailAddress="+email+"&Password=RestComm12&FriendlyName=racer"+itoa(i))
			w := h.serve(r)
			codes[i], bodies[i] = w.Code, w.Body.String()
		}()
	}
	close(start)
	wg.Wait()

	ok, dup := 0, 0
	for i, c := range codes {
		switch c {
		case 200:
			ok++
		case 409:
			dup++
			assert.Equal(t, "The email address used for the new account is already in use.", bodies[i])
		default:
			t.Errorf("request %d: %d %s", i, c, bodies[i])
		}
	}
	assert.Equal(t, 1, ok)
	assert.Equal(t, n-1, dup)

	ctx := context.Background()
	rdb := h.redis.Client(t)
	sid := "AC" + md5hex("race@company.com")
	keys, err := rdb.Keys(ctx, "{restcomm}:emails:race*").Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"{restcomm}:emails:race@company.com"}, keys)
	owners, err := rdb.ZRange(ctx, "{restcomm}:emails:race@company.com", 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{sid}, owners)
	kids, err := h.store.Children(ctx, fixture.SidAdmin)
	require.NoError(t, err)
	count := 0
	for _, k := range kids {
		if k.EmailAddress == "race@company.com" {
			count++
		}
	}
	assert.Equal(t, 1, count, "one account")
	members, err := rdb.ZRange(ctx, "{restcomm}:orgacc:"+fixture.SidOrg0, 0, -1).Result()
	require.NoError(t, err)
	assert.Contains(t, members, sid)
	names, err := rdb.Keys(ctx, "{restcomm}:fname:racer*").Result()
	require.NoError(t, err)
	assert.Len(t, names, 1, "one friendly-name index entry")
	assert.Zero(t, h.forwarded.Load())
}

// Concurrent status changes and renames of one account never lose a field:
// each round renames and changes the status at the same time, and both
// changes are there afterwards, with every other field intact.
func TestConcurrentStatusChangesAndRenames(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	ctx := context.Background()
	before := account(t, h, fixture.SidCadm)
	const rounds = 40
	for round := range rounds {
		status := []string{"suspended", "active"}[round%2]
		name := fmt.Sprintf("name-%d", round)
		var wg sync.WaitGroup
		codes := make([]int, 4)
		reqs := []string{"FriendlyName=" + name, "Status=" + status, "FriendlyName=" + name, "Status=" + status}
		for i, form := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				method := http.MethodPut
				if i%2 == 1 {
					method = http.MethodPost
				}
				codes[i] = h.serve(formRequest(method, "/Accounts.json/"+fixture.SidCadm, fixture.Users["ADMIN"], fixture.Token, form)).Code
			}()
		}
		wg.Wait()
		for i, c := range codes {
			require.Equal(t, 200, c, "round %d request %d", round, i)
		}
		a := account(t, h, fixture.SidCadm)
		require.Equal(t, name, a.FriendlyName, "round %d", round)
		require.Equal(t, status, a.Status, "round %d", round)
		assert.Equal(t, before.EmailAddress, a.EmailAddress)
		assert.Equal(t, before.AuthToken, a.AuthToken)
		assert.Equal(t, before.Role, a.Role)
		assert.Equal(t, before.OrganizationSid, a.OrganizationSid)
		assert.Equal(t, before.ParentSid, a.ParentSid)
		assert.Equal(t, before.URI, a.URI)
		assert.Equal(t, before.DateCreated, a.DateCreated)
	}
	// the friendly-name index follows: the last name finds the account, the
	// earlier ones nothing
	w := h.do(get("/Accounts.json/name-"+itoa(rounds-1), "ADMIN"))
	require.Equal(t, 200, w.Code)
	assert.Equal(t, fixture.SidCadm, jsonObject(t, w.Body.String())["sid"])
	assert.Equal(t, 404, h.do(get("/Accounts.json/name-0", "ADMIN")).Code)
	n, err := h.redis.Client(t).Exists(ctx, "{restcomm}:fname:name-0").Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}

// A tree of three levels with 1,000 accounts under one parent closes in one
// request, and every account in it is refused at once afterwards.
func TestClosingALargeTree(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	ctx := context.Background()
	when := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(email, parent string) string {
		sid := "AC" + md5hex(email)
		_, err := h.store.CreateAccount(ctx, nil, &store.Account{
			Sid: sid, OrganizationSid: fixture.SidOrg0, FriendlyName: email, EmailAddress: email, Type: "Full",
			Status: "active", Role: "Developer", AuthToken: fixture.Token, URI: "/2012-04-24/Accounts/" + sid,
			ParentSid: parent, DateCreated: when, DateUpdated: when,
		})
		require.NoError(t, err)
		return sid
	}
	// CADM (level 2 under ADMIN) gets 100 children with 9 children each:
	// 1,000 accounts in three levels below ADMIN's child.
	var emails []string
	for i := range 100 {
		child := fmt.Sprintf("c%d@tree.com", i)
		childSid := add(child, fixture.SidCadm)
		emails = append(emails, child)
		for j := range 9 {
			grand := fmt.Sprintf("g%d-%d@tree.com", i, j)
			add(grand, childSid)
			emails = append(emails, grand)
		}
	}
	require.Len(t, emails, 1000)

	start := time.Now()
	w := h.do(put("/Accounts.json/"+fixture.SidCadm, "ADMIN", "Status=closed"))
	require.Equal(t, 200, w.Code, w.Body.String())
	t.Logf("closing 1,001 accounts took %v", time.Since(start))

	refused := 0
	for _, email := range emails {
		sid := "AC" + md5hex(email)
		r := newRequest(http.MethodGet, fixture.APIRoot+"/Accounts.json/"+sid, nil)
		r.Header.Set("Authorization", fixture.Basic(email, "RestComm"))
		w := h.serve(r)
		if w.Code == 403 && w.Body.String() == "Provided Account is not active" {
			refused++
		}
	}
	assert.Equal(t, 1000, refused)
	assert.Equal(t, 403, h.do(get("/Accounts.json/"+fixture.SidCadm, "CADM")).Code)
	assert.Equal(t, 200, h.do(get("/Accounts.json/"+fixture.SidDev, "DEV")).Code, "siblings are untouched")
	// still readable and listed by the ancestor
	w = h.do(get("/Accounts.json?OrganizationSid="+fixture.SidOrg0, "ADMIN"))
	require.Equal(t, 200, w.Code)
	assert.Len(t, jsonList(t, w.Body.String()), 1009)
}
