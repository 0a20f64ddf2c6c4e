// Command testsummary reads `go test -json` on its standard input and
// writes what `go test` without -json would: each package's result line,
// and the whole output of every test that failed (or was still running
// when its package failed). It ends with one line,
// "N passed, M failed, K skipped", counting tests and subtests, and exits
// non-zero when anything failed. A package that failed without a failing
// test (a build error, a panic outside a test, a timeout) counts as one
// failure.
//
//	go test -json ./... | go run ./internal/testkit/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail events
}

type key struct{ pkg, test string }

type summary struct {
	out                     io.Writer
	passed, failed, skipped int
	running                 map[key][]string // output of tests without a result yet
	failedIn                map[string]bool  // packages with a failed test
}

func newSummary(out io.Writer) *summary {
	return &summary{out: out, running: map[key][]string{}, failedIn: map[string]bool{}}
}

func (s *summary) add(line []byte) {
	var e event
	if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
		fmt.Fprintf(s.out, "%s\n", line) // not go test's JSON: pass it on
		return
	}
	k := key{e.Package, e.Test}
	switch {
	case e.Action == "build-output":
		fmt.Fprint(s.out, e.Output)
	case e.Test == "":
		s.packageEvent(e)
	case e.Action == "output":
		if !strings.HasPrefix(e.Output, "=== ") {
			s.running[k] = append(s.running[k], e.Output)
		}
	case e.Action == "pass":
		s.passed++
		delete(s.running, k)
	case e.Action == "skip":
		s.skipped++
		delete(s.running, k)
	case e.Action == "fail":
		s.fail(k)
	}
}

func (s *summary) packageEvent(e event) {
	switch e.Action {
	case "output":
		if e.Output != "PASS\n" && e.Output != "FAIL\n" {
			fmt.Fprint(s.out, e.Output)
		}
	case "fail":
		// tests cut short (a panic, a timeout) never report a result
		for k := range s.running {
			if k.pkg == e.Package {
				s.fail(k)
			}
		}
		if !s.failedIn[e.Package] {
			s.failed++
		}
	}
}

func (s *summary) fail(k key) {
	s.failed++
	s.failedIn[k.pkg] = true
	fmt.Fprint(s.out, strings.Join(s.running[k], ""))
	delete(s.running, k)
}

func (s *summary) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", s.passed, s.failed, s.skipped)
}

func main() {
	s := newSummary(os.Stdout)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for in.Scan() {
		s.add(in.Bytes())
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary: reading go test -json:", err)
		os.Exit(2)
	}
	fmt.Println(s)
	if s.failed > 0 {
		os.Exit(1)
	}
}
