package caddymodule

import (
	"flag"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/policy"
	"github.com/restcomm/restcomm-gateway/store"
)

var updateOwnSubtree = flag.Bool("update-own-subtree", false,
	"rewrite policy/examples/own-subtree from policy/default, keeping its own-subtree block")

const ownSubtreeDir = "../policy/examples/own-subtree"

const (
	proxyLine       = `operation := allowed if input.operation == "proxy"` + "\n"
	ownSubtreeLine  = `operation := own_subtree if input.operation == "proxy"` + "\n"
	ownSubtreeBegin = "# BEGIN own-subtree"
	ownSubtreeEnd   = "# END own-subtree\n"
)

// The example is the default policy plus one rule: every other file is the
// default's, byte for byte, and authz.rego differs only by the documented
// line and block. With -update-own-subtree the copy is refreshed.
func TestOwnSubtreeExampleIsDefaultPlusRule(t *testing.T) {
	authz, err := os.ReadFile(filepath.Join(ownSubtreeDir, "restcomm/authz.rego"))
	require.NoError(t, err)
	begin := strings.Index(string(authz), ownSubtreeBegin)
	end := strings.Index(string(authz), ownSubtreeEnd)
	require.True(t, begin > 0 && end > begin, "authz.rego lost its own-subtree block")
	block := string(authz[begin : end+len(ownSubtreeEnd)])

	want := map[string][]byte{}
	def := policy.Default()
	require.NoError(t, fs.WalkDir(def, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(def, p)
		if err != nil {
			return err
		}
		if p == "restcomm/authz.rego" {
			s := string(b)
			require.Equal(t, 1, strings.Count(s, proxyLine), "policy/default's proxy rule changed: update this test and the example")
			s = strings.Replace(s, proxyLine, ownSubtreeLine, 1)
			b = []byte(strings.TrimRight(s, "\n") + "\n\n" + block)
		}
		want[p] = b
		return nil
	}))
	own := map[string]bool{"README.md": true, "restcomm/own_subtree_test.rego": true}
	got := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(ownSubtreeDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(ownSubtreeDir, p)
		rel = filepath.ToSlash(rel)
		if own[rel] {
			return nil
		}
		b, err := os.ReadFile(p)
		got[rel] = b
		return err
	}))

	if *updateOwnSubtree {
		for rel := range got {
			if _, ok := want[rel]; !ok {
				require.NoError(t, os.Remove(filepath.Join(ownSubtreeDir, rel)))
			}
		}
		for rel, b := range want {
			p := filepath.Join(ownSubtreeDir, rel)
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, b, 0o644))
		}
		return
	}
	hint := "policy/examples/own-subtree is out of step with policy/default; run: " +
		"go test ./caddymodule -run TestOwnSubtreeExampleIsDefaultPlusRule -update-own-subtree"
	assert.ElementsMatch(t, fileNames(want), fileNames(got), hint)
	for rel, b := range want {
		if g, ok := got[rel]; ok {
			assert.Equal(t, string(b), string(g), "%s: %s", rel, hint)
		}
	}
}

func fileNames(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The example compiles, and compiling runs its tests: the default's and the
// rule's own.
func TestOwnSubtreeExampleCompilesWithItsTests(t *testing.T) {
	def, err := policy.Compile(t.Context(), policy.Default())
	require.NoError(t, err)
	ex, err := policy.Compile(t.Context(), os.DirFS(ownSubtreeDir))
	require.NoError(t, err)
	const ownTests = 8 // restcomm/own_subtree_test.rego
	assert.Equal(t, def.Tests()+ownTests, ex.Tests())
}

// Through the real handler and Redis: the example keeps accounts to their
// subtree, resolving the path's account as RestComm does; the default
// policy leaves the same requests to RestComm.
func TestOwnSubtreePolicyAtTheEdge(t *testing.T) {
	strict := newHarness(t, true, func(g *Gateway) { g.PolicyDir = ownSubtreeDir })
	plain := newHarness(t, true)
	// GUEST (top-level, unrelated) takes CADM's SID as its friendly name:
	// RestComm then reads /Accounts/{CADM}/... as GUEST's resources.
	squat := sidCadm
	for _, h := range []*harness{strict, plain} {
		_, err := h.store.UpdateAccount(t.Context(), sidGuest, store.AccountUpdate{FriendlyName: &squat})
		require.NoError(t, err)
	}
	calls := func(account string) string { return apiRoot + "/Accounts/" + account + "/Calls.json" }
	rows := []struct {
		name   string
		c      call
		strict int // status from the example policy; 0: proxied
	}{
		{"own", call{path: calls(sidDev), as: "DEV"}, 0},
		{"child", call{path: calls(sidDev), as: "ADMIN"}, 0},
		{"grandchild", call{path: calls(sidGrand), as: "ADMIN"}, 0},
		{"own child as Developer", call{path: calls(sidGrand), as: "DEV"}, 0},
		{"by e-mail", call{path: calls("child%40company.com"), as: "ADMIN"}, 0},
		{"parent", call{path: calls(sidAdmin), as: "CADM"}, 403},
		{"sibling", call{path: calls(sidDev), as: "CADM"}, 403},
		{"stranger", call{path: calls(sidTopDev), as: "ADMIN"}, 403},
		{"unknown account", call{path: calls("AC0000000000000000000000000000dead"), as: "ADMIN"}, 403},
		{"own SID squatted by a friendly name", call{path: calls(sidCadm), as: "CADM"}, 403},
		{"no account in path", call{path: apiRoot + "/Profiles/PRx", as: "CADM"}, 0},
		{"recording file, no credentials", call{path: apiRoot + "/Accounts/" + sidAdmin + "/Recordings/RE1.wav"}, 0},
		{"uninitialized on own subtree", call{path: calls(sidUninit), as: "UNINIT"}, 0},
		{"uninitialized outside Accounts", call{path: apiRoot + "/Profiles/PRx", as: "UNINIT"}, 403},
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
