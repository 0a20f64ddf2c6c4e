package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func summarize(lines ...string) (*summary, string) {
	var out strings.Builder
	s := newSummary(&out)
	for _, l := range lines {
		s.add([]byte(l))
	}
	return s, out.String()
}

// A passing test's output is dropped, a failing one's is shown whole,
// subtests count, and each package's result line is passed on.
func TestCountsAndShowsFailures(t *testing.T) {
	s, out := summarize(
		`{"Action":"run","Package":"p","Test":"TestOK"}`,
		`{"Action":"output","Package":"p","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"output","Package":"p","Test":"TestOK","Output":"quiet\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestOK"}`,
		`{"Action":"output","Package":"p","Test":"TestBad/sub","Output":"    bad_test.go:9: want 1, got 2\n"}`,
		`{"Action":"output","Package":"p","Test":"TestBad/sub","Output":"    --- FAIL: TestBad/sub (0.00s)\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestBad/sub"}`,
		`{"Action":"output","Package":"p","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestBad"}`,
		`{"Action":"skip","Package":"p","Test":"TestLater"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\n"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.01s\n"}`,
		`{"Action":"fail","Package":"p"}`,
	)
	assert.Equal(t, "1 passed, 2 failed, 1 skipped", s.String())
	assert.Equal(t, "    bad_test.go:9: want 1, got 2\n    --- FAIL: TestBad/sub (0.00s)\n--- FAIL: TestBad (0.00s)\nFAIL\tp\t0.01s\n", out)
}

// A package that fails with no failing test (it does not build, or a
// test was cut short by a panic or the timeout) is a failure too, shown.
func TestPackageFailuresCount(t *testing.T) {
	s, out := summarize(
		`{"ImportPath":"q [q.test]","Action":"build-output","Output":"q/x.go:1:1: undefined: y\n"}`,
		`{"ImportPath":"q [q.test]","Action":"build-fail"}`,
		`{"Action":"output","Package":"q","Output":"FAIL\tq [build failed]\n"}`,
		`{"Action":"fail","Package":"q"}`,
		`{"Action":"output","Package":"r","Test":"TestHangs","Output":"panic: test timed out after 1s\n"}`,
		`{"Action":"fail","Package":"r"}`,
		`not json`,
	)
	assert.Equal(t, "0 passed, 2 failed, 0 skipped", s.String())
	assert.Equal(t, "q/x.go:1:1: undefined: y\nFAIL\tq [build failed]\npanic: test timed out after 1s\nnot json\n", out)
}
