package caddymodule

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

const ownSubtreeDir = "../policy/examples/own-subtree"

// Through the real handler and Redis: the example keeps accounts to their
// subtree, resolving the path's account as RestComm does; the default
// policy leaves the same requests to RestComm.
func TestOwnSubtreePolicyAtTheEdge(t *testing.T) {
	t.Parallel()
	strict := newHarness(t, true, func(g *Gateway) { g.PolicyDir = ownSubtreeDir })
	plain := newHarness(t, true)
	// GUEST (top-level, unrelated) takes CADM's SID as its friendly name:
	// RestComm then reads /Accounts/{CADM}/... as GUEST's resources.
	squat := fixture.SidCadm
	for _, h := range []*harness{strict, plain} {
		_, err := h.store.UpdateAccount(t.Context(), nil, fixture.SidGuest, store.AccountUpdate{FriendlyName: &squat})
		require.NoError(t, err)
	}
	calls := func(account string) string { return fixture.APIRoot + "/Accounts/" + account + "/Calls.json" }
	rows := []struct {
		name   string
		c      call
		strict int // status from the example policy; 0: proxied
	}{
		{"own", call{path: calls(fixture.SidDev), as: "DEV"}, 0},
		{"child", call{path: calls(fixture.SidDev), as: "ADMIN"}, 0},
		{"grandchild", call{path: calls(fixture.SidGrand), as: "ADMIN"}, 0},
		{"own child as Developer", call{path: calls(fixture.SidGrand), as: "DEV"}, 0},
		{"by e-mail", call{path: calls("child%40company.com"), as: "ADMIN"}, 0},
		{"parent", call{path: calls(fixture.SidAdmin), as: "CADM"}, 403},
		{"sibling", call{path: calls(fixture.SidDev), as: "CADM"}, 403},
		{"stranger", call{path: calls(fixture.SidTopDev), as: "ADMIN"}, 403},
		{"unknown account", call{path: calls("AC0000000000000000000000000000dead"), as: "ADMIN"}, 403},
		// A SID-shaped id names an account by SID only (docs/restcomm-contract.md, divergences): the
		// squatter does not reach CADM's resources by naming itself so, and
		// CADM still reaches its own (RestComm upstream reads the path by
		// friendly name first, and refuses CADM GUEST's resources itself).
		{"another's SID taken as one's name", call{path: calls(fixture.SidCadm), as: "GUEST"}, 403},
		{"own SID squatted by a friendly name", call{path: calls(fixture.SidCadm), as: "CADM"}, 0},
		{"no account in path", call{path: fixture.APIRoot + "/Profiles/PRx", as: "CADM"}, 0},
		{"recording file, no credentials", call{path: fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + "/Recordings/RE1.wav"}, 0},
		{"uninitialized on own subtree", call{path: calls(fixture.SidUninit), as: "UNINIT"}, 0},
		{"uninitialized outside Accounts", call{path: fixture.APIRoot + "/Profiles/PRx", as: "UNINIT"}, 403},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			for _, h := range []*harness{strict, plain} {
				h.proxied = nil
			}
			w := strict.do(row.c)
			if row.strict == 0 {
				assert.Equal(t, http.StatusTeapot, w.Code, w.Body.String())
				assert.Len(t, strict.proxied, 1)
			} else {
				assert.Equal(t, row.strict, w.Code)
				assert.NotEmpty(t, w.Body.String())
				assert.Empty(t, strict.proxied, "refused requests never reach the upstream")
			}
			// the default policy only gates: RestComm decides upstream
			w = plain.do(row.c)
			if row.name == "uninitialized outside Accounts" {
				assert.Equal(t, 403, w.Code)
				return
			}
			assert.Equal(t, http.StatusTeapot, w.Code, w.Body.String())
		})
	}
}
