package importer

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/internal/testkit/restcommtest"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// BenchmarkImport100k imports 100,000 accounts (three levels, two
// organizations) from MariaDB into an empty namespace, reading the
// database included, while a reader resolves an account as a gateway's
// login does, and reports the slowest of those reads. The target is under
// 60 s per import on a 2-core machine:
//
//	go test -run '^$' -bench Import100k -benchtime 1x ./store/importer/
func BenchmarkImport100k(b *testing.B) {
	const n = 100_000
	d := restcommtest.Generate(n, false)
	url, _ := loadMariaDB(b, d)
	rd := redistest.Start(b)
	rdb := rd.Client(b)
	ctx := context.Background()

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		prefix := fmt.Sprintf("bench%d", i) // a new, empty namespace each time
		st := store.New(rdb, prefix)

		// a gateway on the same Redis keeps answering: the slowest login
		// lookup while the import runs
		var mu sync.Mutex
		var lat []time.Duration
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				t0 := time.Now()
				_, _ = st.Resolve(ctx, store.Lookup{Mode: store.ByLogin, ID: restcommtest.AdminSid})
				dt := time.Since(t0)
				mu.Lock()
				lat = append(lat, dt)
				mu.Unlock()
			}
		}()

		start := time.Now()
		src, err := restcommdb.ReadMySQL(ctx, url)
		require.NoError(b, err)
		read := time.Since(start)
		r, err := Run(ctx, st, src, Options{})
		require.NoError(b, err)
		close(stop)
		wg.Wait()
		total := time.Since(start)
		require.Equal(b, n+1, r.Accounts.Imported)
		b.ReportMetric(total.Seconds(), "s/import")
		b.ReportMetric(read.Seconds(), "s/read")
		b.ReportMetric(float64(n+1)/total.Seconds(), "accounts/s")
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "ms-p99-read")
		b.ReportMetric(float64(lat[len(lat)-1])/1e6, "ms-slowest-read")
		if total > 60*time.Second {
			b.Errorf("100,000 accounts took %s, more than 60 s", total)
		}
	}
}
