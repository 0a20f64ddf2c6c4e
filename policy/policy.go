// Package policy embeds OPA: it compiles a directory of Rego policies and
// data once, gates each compilation on the directory's own *_test.rego
// tests, and evaluates the decision document per request.
//
// The gateway gathers facts (who the caller is, what is asked, which account
// is operated on); the policy decides. The input and output documents are a
// stable contract described in policy/README.md.
package policy

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/tester"
)

// DecisionQuery is the one document the gateway evaluates.
const DecisionQuery = "data.restcomm.authz.decision"

//go:embed default
var defaultFS embed.FS

// Default returns the shipped policy: RestComm's own rules.
func Default() fs.FS {
	sub, err := fs.Sub(defaultFS, "default")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// unsafeBuiltins may not appear in a policy: a decision must depend on its
// input and data only, never on the network or the clock of the moment.
var unsafeBuiltins = map[string]struct{}{
	"http.send":          {},
	"net.lookup_ip_addr": {},
	"opa.runtime":        {},
	"trace":              {},
}

// Policy is one compiled, tested revision of a policy directory. It is
// immutable and safe for concurrent use.
type Policy struct {
	query    rego.PreparedEvalQuery
	revision string
	tests    int
}

// Revision identifies the policy's content: a hash of its files.
func (p *Policy) Revision() string { return p.revision }

// Tests is how many *_test.rego tests passed when it was compiled.
func (p *Policy) Tests() int { return p.tests }

// Compile loads every .rego and data file of fsys, runs the *_test.rego
// tests, and prepares the decision query. A policy that does not compile,
// that lacks the decision, or whose tests fail is an error.
func Compile(ctx context.Context, fsys fs.FS) (*Policy, error) {
	files, revision, err := load(fsys)
	if err != nil {
		return nil, err
	}
	results, err := runTests(ctx, files)
	if err != nil {
		return nil, err
	}
	if failed := failures(results); failed != "" {
		return nil, fmt.Errorf("policy tests failed:\n%s", failed)
	}
	store, err := files.Store()
	if err != nil {
		return nil, err
	}
	opts := []func(*rego.Rego){
		rego.Query(DecisionQuery),
		rego.Store(store),
		rego.UnsafeBuiltins(unsafeBuiltins),
	}
	for name, f := range files.Modules {
		if !isTest(name) {
			opts = append(opts, rego.ParsedModule(f.Parsed))
		}
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if !definesDecision(files) {
		return nil, fmt.Errorf("policy: no rule defines %s", DecisionQuery)
	}
	return &Policy{query: pq, revision: revision, tests: len(results)}, nil
}

// TestResult is the outcome of one *_test.rego test.
type TestResult struct {
	Name   string // package.rule
	Passed bool
	Err    string // set when the test could not be evaluated
}

// Test runs the *_test.rego tests of fsys, as `opa test` would, without
// preparing the decision query.
func Test(ctx context.Context, fsys fs.FS) ([]TestResult, error) {
	files, _, err := load(fsys)
	if err != nil {
		return nil, err
	}
	results, err := runTests(ctx, files)
	if err != nil {
		return nil, err
	}
	out := make([]TestResult, 0, len(results))
	for _, r := range results {
		tr := TestResult{Name: r.Package + "." + r.Name, Passed: r.Pass()}
		if r.Error != nil {
			tr.Err = r.Error.Error()
		}
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func isTest(name string) bool { return strings.HasSuffix(name, "_test.rego") }

// load reads the policy files and hashes them into a revision id.
func load(fsys fs.FS) (*loader.Result, string, error) {
	h := sha256.New()
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir // editors' and version control's own files
			}
			return nil
		}
		switch path.Ext(p) {
		case ".rego", ".json", ".yaml", ".yml":
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("policy: %w", err)
	}
	if len(names) == 0 {
		return nil, "", errors.New("policy: no .rego or data files")
	}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, "", fmt.Errorf("policy: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	// Loading from the root (not file by file) places data by directory:
	// restcomm/roles/data.json becomes data.restcomm.roles.
	files, err := loader.NewFileLoader().
		WithFS(fsys).
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotation(true).
		Filtered([]string{"."}, func(_ string, info fs.FileInfo, depth int) bool {
			return depth > 0 && strings.HasPrefix(info.Name(), ".") // skip hidden files and dirs
		})
	if err != nil {
		return nil, "", fmt.Errorf("policy: %w", err)
	}
	return files, hex.EncodeToString(h.Sum(nil))[:12], nil
}

func runTests(ctx context.Context, files *loader.Result) ([]*tester.Result, error) {
	store, err := files.Store()
	if err != nil {
		return nil, err
	}
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	ch, err := tester.NewRunner().
		SetStore(store).
		SetModules(files.ParsedModules()).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(true).
		RunTests(ctx, txn)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var out []*tester.Result
	for r := range ch {
		out = append(out, r)
	}
	return out, nil
}

func failures(results []*tester.Result) string {
	var b strings.Builder
	for _, r := range results {
		if r.Skip || r.Pass() {
			continue
		}
		fmt.Fprintf(&b, "  %s.%s: ", r.Package, r.Name)
		switch {
		case r.Error != nil:
			fmt.Fprintf(&b, "error: %v\n", r.Error)
		default:
			b.WriteString("FAIL\n")
		}
	}
	return b.String()
}

// definesDecision checks that some module defines the decision rule, so a
// directory that lost its authz package fails to load rather than deny
// everything silently.
func definesDecision(files *loader.Result) bool {
	want := ast.MustParseRef(DecisionQuery)
	for name, f := range files.Modules {
		if isTest(name) {
			continue
		}
		for _, r := range f.Parsed.Rules {
			if r.Ref().Equal(want) {
				return true
			}
		}
	}
	return false
}
