package caddymodule

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
)

// The handler's own cost per request, in process, with and without the
// account cache (go test ./caddymodule -run '^$' -bench Handler
// -benchmem). `restcomm-gateway bench` measures it over HTTP beside plain
// Caddy.
func BenchmarkHandler(b *testing.B) {
	for _, cached := range []bool{true, false} {
		name := "cached"
		if !cached {
			name = "redis"
		}
		h := newHarness(b, true, func(g *Gateway) { g.AccountCache = &AccountCacheConfig{Disabled: !cached} })
		get := call{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidDev, as: "DEV"}
		pass := call{path: fixture.APIRoot + "/Accounts/" + fixture.SidDev + "/Calls.json", as: "DEV"}
		if cached {
			h.do(get)
			require.Eventually(b, h.g.cache.cache.Trusted, 10*time.Second, time.Millisecond)
		}
		for _, c := range []struct {
			name string
			call call
			want int
		}{{"account-get", get, http.StatusOK}, {"pass-through", pass, http.StatusTeapot}} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				for b.Loop() {
					h.proxied = h.proxied[:0]
					if w := h.do(c.call); w.Code != c.want {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		}
	}
}
