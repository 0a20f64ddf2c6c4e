package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseWrk(t *testing.T) {
	out := `Running 8s test @ http://127.0.0.1:40000
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.52ms    2.01ms  40.12ms   80.00%
    Req/Sec     4.61k   300.00     5.20k    70.00%
  Latency Distribution
     50%    3.10ms
     75%    4.20ms
     90%    5.50ms
     99%   11.25ms
  73456 requests in 8.00s, 30.12MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   9182.00
Transfer/sec:      3.76MB
`
	var r benchRow
	parseWrk(&r, out)
	assert.Equal(t, 73456, r.requests)
	assert.InDelta(t, 9182.0, r.rps, 0.01)
	assert.Equal(t, 3100*time.Microsecond, r.p50)
	assert.Equal(t, 11250*time.Microsecond, r.p99)
	assert.Equal(t, 3, r.errors)
}
