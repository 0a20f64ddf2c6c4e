package main

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/importer"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// The scale bench's generated tree is one the import takes whole: every
// account imported, none skipped, and the two callers are what the rows
// say they are.
func TestBenchScaleTreeImportsWhole(t *testing.T) {
	for _, n := range []int{1, 7, 1000} {
		tree := scaleShape(n)
		dir := t.TempDir()
		files := newScaleFiles(dir)
		require.NoError(t, writeScaleFiles(files, &tree))

		ctx := context.Background()
		src, err := restcommdb.Read(ctx, files.jsonl)
		require.NoError(t, err)
		st := store.New(redistest.Start(t).Client(t), "bench")
		rep, err := importer.Run(ctx, st, src, importer.Options{})
		require.NoError(t, err)
		require.Empty(t, rep.Skipped, "n=%d", n)
		require.Equal(t, n, rep.Accounts.Imported, "n=%d", n)

		list, err := os.ReadFile(files.sids)
		require.NoError(t, err)
		lines := strings.Fields(string(list))
		require.Len(t, lines, n)
		seen := map[string]bool{}
		for _, l := range lines {
			seen[l] = true
		}
		// the wrk script reads the lists as fixed-width lines
		assert.Len(t, list, 35*n)
		assert.Regexp(t, `^(AC[0-9a-f]{32}\n)+$`, string(list))
		assert.Len(t, seen, n, "the SID list has no duplicates")
		fewList, err := os.ReadFile(files.few)
		require.NoError(t, err)
		fewLines := strings.Fields(string(fewList))
		assert.Len(t, fewLines, min(n, scaleFewTargets))
		for _, l := range fewLines {
			assert.True(t, seen[l], "the few targets are accounts of the tree")
		}

		// every active account is a caller, with its credentials, in
		// fixed-width lines
		callers, err := os.ReadFile(files.callers)
		require.NoError(t, err)
		require.Zero(t, len(callers)%scaleCallerWidth)
		active := 0
		for _, l := range lines {
			a, err := st.Account(ctx, l)
			require.NoError(t, err)
			if a.Status == store.StatusActive {
				active++
			}
		}
		require.Equal(t, active, len(callers)/scaleCallerWidth)
		for k := 0; k < len(callers); k += scaleCallerWidth {
			line := string(callers[k : k+scaleCallerWidth])
			require.True(t, strings.HasSuffix(line, "\n"))
			f := strings.Fields(line)
			require.Len(t, f, 2)
			a, err := st.Account(ctx, f[0])
			require.NoError(t, err)
			assert.Equal(t, store.StatusActive, a.Status)
			cred, err := base64.StdEncoding.DecodeString(f[1])
			require.NoError(t, err)
			assert.Equal(t, a.EmailAddress+":"+benchPassword, string(cred))
		}

		admin, err := st.Account(ctx, tree.superAdmin.sid)
		require.NoError(t, err)
		assert.Equal(t, store.DefaultAdminEmail, admin.EmailAddress)
		assert.Empty(t, admin.ParentSid)
		assert.Equal(t, "Administrator", admin.Role)

		own, err := st.Account(ctx, tree.ownSelf.sid)
		require.NoError(t, err)
		assert.Equal(t, tree.ownSelf.email, own.EmailAddress)
		assert.Equal(t, store.StatusActive, own.Status)
		if n >= 1000 {
			assert.Equal(t, 10, tree.tops)
			parent, err := st.Account(ctx, own.ParentSid)
			require.NoError(t, err)
			assert.NotEmpty(t, parent.ParentSid, "the own-GET caller is on the third level")
		}
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// the command name may hold spaces and parentheses
	stat := "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 37 0 0 20 0 9 0 100 0 0"
	assert.Equal(t, 2870*time.Millisecond, parseProcStatCPU(stat))
	assert.Zero(t, parseProcStatCPU("garbage"))
	b, err := os.ReadFile("/proc/self/stat")
	if err == nil {
		assert.GreaterOrEqual(t, parseProcStatCPU(string(b)), time.Duration(0))
	}
}

func TestParsePolicyMetrics(t *testing.T) {
	text := `# HELP restcomm_gateway_policy_decision_duration_seconds Time to decide a request, remembered decisions included.
# TYPE restcomm_gateway_policy_decision_duration_seconds histogram
restcomm_gateway_policy_decision_duration_seconds_bucket{le="1e-06"} 10
restcomm_gateway_policy_decision_duration_seconds_sum 0.5
restcomm_gateway_policy_decision_duration_seconds_count 2000
`
	p := parsePolicyMetrics(text)
	assert.Equal(t, 2000.0, p.count)
	assert.Equal(t, 500*time.Millisecond, p.sum)
	assert.Equal(t, "250µs", p.minus(policySample{count: 1000, sum: 250 * time.Millisecond}).mean())
	assert.Equal(t, "-", policySample{}.mean())
}

func TestMedianRows(t *testing.T) {
	row := func(rps float64, p99 time.Duration, gwCPU time.Duration, requests, errors int) []*benchRow {
		return []*benchRow{{name: "r", rps: rps, p99: p99, gatewayCPU: gwCPU, requests: requests, errors: errors}}
	}
	m := medianRows([][]*benchRow{
		row(100, 9*time.Millisecond, time.Second, 10_000, 0),    // 100 µs a request
		row(300, 3*time.Millisecond, time.Second, 5_000, 1),     // 200 µs
		row(200, 5*time.Millisecond, 3*time.Second, 100_000, 2), // 30 µs
	})[0]
	assert.Equal(t, 200.0, m.rps)
	assert.Equal(t, 5*time.Millisecond, m.p99)
	assert.Equal(t, "100µs", perRequest(m.gatewayCPU, m.requests))
	assert.Equal(t, 3, m.errors, "errors of all rounds")
	assert.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
}
