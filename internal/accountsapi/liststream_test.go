package accountsapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/render"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/store"
)

// A list over several batches is streamed (no Content-Length, flushed as it
// is read) and is, byte for byte, what the whole-list renderers write for
// the whole list, in XML and JSON.
func TestListOverSeveralBatchesIsTheWholeDocument(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	ctx := context.Background()
	bulkAccounts(t, h.redis.Client(t), fixture.SidOrg0, fixture.SidAdmin, "k", 2*store.ListBatch+7)
	kids, err := h.store.Children(ctx, fixture.SidAdmin)
	require.NoError(t, err)
	members, err := h.store.OrganizationAccounts(ctx, fixture.SidOrg0)
	require.NoError(t, err)
	require.Greater(t, len(kids), 2*store.ListBatch)

	for _, tt := range []struct {
		path, contentType string
		want              []byte
	}{
		{"/Accounts", contentXML, render.AppendAccountListXML(nil, kids)},
		{"/Accounts.json", contentJSON, render.AppendAccountListJSON(nil, kids)},
		{"/Accounts?OrganizationSid=" + fixture.SidOrg0, contentXML, render.AppendAccountListXML(nil, members)},
		{"/Accounts.json?DomainName=default.restcomm.com", contentJSON, render.AppendAccountListJSON(nil, members)},
	} {
		w := h.do(get(tt.path, "ADMIN"))
		require.Equal(t, http.StatusOK, w.Code, tt.path)
		assert.Equal(t, tt.contentType, w.Header().Get("Content-Type"), tt.path)
		assert.Empty(t, w.Header().Get("Content-Length"), tt.path)
		assert.True(t, w.Flushed, tt.path)
		require.Equal(t, string(tt.want), w.Body.String(), tt.path)
	}

	// a list of one batch is answered whole, with its Content-Length
	w := h.do(get("/Accounts.json", "DEV"))
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, fmt.Sprint(w.Body.Len()), w.Header().Get("Content-Length"))
	assert.False(t, w.Flushed)
}

// Organizations over several batches, with the Status filter: nothing is
// sent before the first organization that passes it, and a filter that
// passes none in any batch is still RestComm's 404.
func TestOrganizationListOverSeveralBatches(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	rdb := h.redis.Client(t)
	addOrgs := func(first, n int, status string) {
		pipe := rdb.Pipeline()
		for i := first; i < first+n; i++ {
			sid := fmt.Sprintf("ORz%031d", i) // after the fixture's
			pipe.HSet(context.Background(), "{restcomm}:org:"+sid, "sid", sid,
				"domain", fmt.Sprintf("bulk-%d<&>", i), "status", status, "created", i, "updated", i)
			pipe.ZAdd(context.Background(), "{restcomm}:orgs", redis.Z{Member: sid})
		}
		_, err := pipe.Exec(context.Background())
		require.NoError(t, err)
	}
	addOrgs(0, 2*store.ListBatch, "active")
	runRows(t, h, []row{
		{0, get("/Organizations.json?Status=closed", "ADMIN"), 404, wantPage("Not Found")},
	})
	addOrgs(2*store.ListBatch, 5, "closed")

	all := organizations(t, h)
	var closed []store.Organization
	for _, o := range all {
		if o.Status == "closed" {
			closed = append(closed, o)
		}
	}
	require.Len(t, closed, 5)
	for _, tt := range []struct {
		path string
		want []byte
	}{
		{"/Organizations", render.AppendOrganizationListXML(nil, all)},
		{"/Organizations.json", render.AppendOrganizationListJSON(nil, all)},
		{"/Organizations?Status=Closed", render.AppendOrganizationListXML(nil, closed)},
		{"/Organizations.json?Status=closed", render.AppendOrganizationListJSON(nil, closed)},
	} {
		w := h.do(get(tt.path, "ADMIN"))
		require.Equal(t, http.StatusOK, w.Code, tt.path)
		require.Equal(t, string(tt.want), w.Body.String(), tt.path)
	}
}

// killAtListCall kills the harness's Redis just before the nth round trip
// of a list (a real outage in the middle of a list). The round trips of a
// list are its first ZRANGE (of key), then one pipeline per batch (the
// batch's HGETALLs and the next batch's ZRANGE).
type killAtListCall struct {
	key   string
	n     int32
	calls atomic.Int32
	kill  func()
}

func (k *killAtListCall) at() {
	if k.calls.Add(1) == k.n {
		k.kill()
	}
}

func (k *killAtListCall) DialHook(next redis.DialHook) redis.DialHook { return next }

func (k *killAtListCall) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "zrange" && cmd.Args()[1] == k.key {
			k.at()
		}
		return next(ctx, cmd)
	}
}

func (k *killAtListCall) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "hgetall" {
			k.at()
		}
		return next(ctx, cmds)
	}
}

// Redis failing before a list's first byte is a 503; failing once the list
// is under way aborts the response (a truncated body, never one that looks
// complete) and is logged.
func TestListRedisFailure(t *testing.T) {
	t.Parallel()
	start := func(t *testing.T, killAt int32) (*harness, *observer.ObservedLogs, string) {
		core, logs := observer.New(zapcore.ErrorLevel)
		h := newHarness(t, true, func(c *setup) { c.Logger = zap.New(core) })
		bulkAccounts(t, h.redis.Client(t), fixture.SidOrg0, fixture.SidAdmin, "f", 3*store.ListBatch)
		whole := h.do(get("/Accounts.json", "ADMIN")).Body.String()
		require.True(t, strings.HasSuffix(whole, "\n]"))
		h.store.Client().AddHook(&killAtListCall{key: "{restcomm}:children:" + fixture.SidAdmin, n: killAt, kill: h.redis.Stop})
		return h, logs, whole
	}

	t.Run("before the first byte", func(t *testing.T) {
		h, logs, _ := start(t, 3) // the first batch was read, nothing sent
		w := h.do(get("/Accounts.json", "ADMIN"))
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Contains(t, w.Body.String(), "Account store unavailable")
		assert.NotZero(t, logs.Len())
	})

	t.Run("after the first byte", func(t *testing.T) {
		h, logs, whole := start(t, 4) // the first batch was sent
		r := newRequest(http.MethodGet, fixture.APIRoot+"/Accounts.json", nil)
		r.Header.Set("Authorization", fixture.Basic(fixture.Users["ADMIN"], fixture.Token))
		w := httptest.NewRecorder()
		var panicked any
		func() {
			defer func() { panicked = recover() }()
			_ = h.s.ServeHTTP(w, r, nil)
		}()
		assert.Equal(t, http.ErrAbortHandler, panicked)
		assert.Equal(t, http.StatusOK, w.Code)
		body := w.Body.String()
		assert.NotEmpty(t, body)
		assert.Less(t, len(body), len(whole))
		assert.True(t, strings.HasPrefix(whole, body), "the body sent is the list's beginning")
		require.Equal(t, 1, logs.FilterMessage("account store failed during a list; response aborted").Len(),
			"%v", logs.All())
	})
}
