// Package policy embeds OPA: it compiles a directory of Rego policies and
// data, gates each compilation on the directory's own *_test.rego tests,
// and evaluates the decision document per request. An Engine keeps the
// last good compilation of a directory in force and reloads it when the
// directory changes.
//
// The built-in policy (Default) is RestComm's own rules. A directory is
// either an overlay of it (Overlay: rules and data plugged into the
// built-in decision's extension points, overlay.go) or a complete policy
// of its own (Replace).
//
// The gateway gathers facts (who the caller is, what is asked, which account
// is operated on); the policy decides. The input and output documents are a
// stable contract described in policy/README.md.
package policy

import (
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
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

// unsafeBuiltins may not appear in a policy or its tests: a decision must
// depend on its input and data only, never on the network or the process.
var unsafeBuiltins = map[string]bool{
	"http.send":          true,
	"net.lookup_ip_addr": true,
	"opa.runtime":        true,
	"trace":              true,
}

// capabilities are OPA's own, less the unsafe built-ins: a policy or a test
// that calls one does not compile. Each call returns a new copy.
func capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(c.Builtins, func(b *ast.Builtin) bool { return unsafeBuiltins[b.Name] })
	return c
}

// testTimeout bounds each *_test.rego test, so that a runaway test cannot
// stall a reload.
const testTimeout = 5 * time.Second

// Policy is one compiled, tested revision of a policy directory. It is
// immutable and safe for concurrent use.
type Policy struct {
	query    rego.PreparedEvalQuery
	revision string
	results  []TestResult
	cache    *decisionCache // nil when the policy is not deterministic
	throttle ThrottleSettings
	warnings []string
	modules  map[string]*ast.Module // its rule modules, tests excluded
}

// Revision identifies the policy's content: a hash of its files.
func (p *Policy) Revision() string { return p.revision }

// Tests is how many *_test.rego tests passed when it was compiled.
func (p *Policy) Tests() int { return len(p.results) }

// TestResults are the outcomes of the policy's own tests, all passed.
func (p *Policy) TestResults() []TestResult { return p.results }

// Warnings are what an overlay grants that its authors should know of,
// "file:line: …" each: modify reach above the caller (may_modify_above),
// or an extension point whose meaning narrowed (may_operate_on_target).
// They do not refuse the policy; `policy test` prints them and the Engine
// logs them whenever it puts the policy in force.
func (p *Policy) Warnings() []string { return p.warnings }

// Modules are the policy's rule modules as compiled, tests excluded: an
// overlay's with the built-in policy's (named builtin:<path>). They are
// what a coverage report (TestOptions.Coverage) covers. The caller may
// not change them.
func (p *Policy) Modules() map[string]*ast.Module { return p.modules }

// TestResult is the outcome of one *_test.rego test.
type TestResult struct {
	Name     string // package.rule, e.g. data.restcomm.authz_test.test_create
	Location string // file:line of the test
	Passed   bool
	Skipped  bool   // a todo_ test, which does not count as passed or failed
	Err      string // set when the test could not be evaluated
	// Output is what the test printed with print().
	Output   string
	Duration time.Duration
	// OPA is OPA's own result, for its reporters (tester.PrettyReporter,
	// tester.JSONReporter). The caller may not change it.
	OPA *tester.Result
}

// TestOptions choose and observe the tests that a compilation runs
// (CompileWith); the zero value runs them all, as the gateway does.
type TestOptions struct {
	// Run selects the tests to run, as `opa test --run` does: a regular
	// expression that a test's name (data.package.rule) matches. The
	// others are not run, and do not decide whether the policy passes.
	Run string
	// Coverage, when set, records what the tests evaluate of the rule
	// files, for a report of OPA's cover package on Policy.Modules. The
	// tests themselves are not counted, as they would be by `opa test
	// --coverage`, which also evaluates each test twice more to annotate
	// what is not covered.
	Coverage *cover.Cover
	// Trace records each test's evaluation, which tester.PrettyReporter
	// prints for a failing test when it is Verbose.
	Trace bool
	// Timeout bounds each test: by default 5 s, the gateway's bound, or
	// a minute with Coverage or Trace, which slow the tests down several
	// times (a slow test would fail on a busy machine).
	Timeout time.Duration
}

func (o TestOptions) isZero() bool { return o == TestOptions{} }

// tracedTestTimeout bounds each test by default when its evaluation is
// traced, for its coverage or its trace.
const tracedTestTimeout = time.Minute

func (o TestOptions) timeout() time.Duration {
	if o.Coverage != nil || o.Trace {
		return cmp.Or(o.Timeout, tracedTestTimeout)
	}
	return cmp.Or(o.Timeout, testTimeout)
}

// TestsFailedError is Compile's error when the directory's own tests fail:
// the policy compiled, but its authors' expectations do not hold.
type TestsFailedError struct {
	Results []TestResult // every test, passed or not
}

func (e *TestsFailedError) Error() string {
	var b strings.Builder
	failed := 0
	for _, r := range e.Results {
		if r.Passed || r.Skipped {
			continue
		}
		failed++
		fmt.Fprintf(&b, "\n  %s", r.Name)
		if r.Location != "" {
			fmt.Fprintf(&b, " (%s)", r.Location)
		}
		if r.Err != "" {
			fmt.Fprintf(&b, ": error: %s", r.Err)
		} else {
			b.WriteString(": FAIL")
		}
	}
	return fmt.Sprintf("policy tests failed (%d of %d):%s", failed, len(e.Results), b.String())
}

// Compile loads every .rego and data file of fsys as a complete policy
// (Replace), runs the *_test.rego tests, and prepares the decision query.
// A policy that does not compile, that lacks the decision, or whose tests
// fail is an error; failing tests are a *TestsFailedError.
func Compile(ctx context.Context, fsys fs.FS) (*Policy, error) {
	return CompileMode(ctx, fsys, Replace)
}

// CompileOverlay compiles fsys as an overlay of the built-in policy, as
// Compile does a complete policy. Its tests are the built-in policy's own
// and the overlay's, which run on the two together. An overlay that
// defines what it may not is an *OverlayError.
func CompileOverlay(ctx context.Context, fsys fs.FS) (*Policy, error) {
	return CompileMode(ctx, fsys, Overlay)
}

// CompileMode is Compile or CompileOverlay, as mode says.
func CompileMode(ctx context.Context, fsys fs.FS, mode Mode) (*Policy, error) {
	return CompileWith(ctx, fsys, mode, TestOptions{})
}

// CompileWith is CompileMode, running the tests as opts says: those it
// selects decide whether the policy passes, and it may record their
// coverage. An invalid opts.Run is an error.
func CompileWith(ctx context.Context, fsys fs.FS, mode Mode, opts TestOptions) (*Policy, error) {
	if _, err := regexp.Compile(opts.Run); err != nil {
		return nil, fmt.Errorf("policy: tests to run: %w", err)
	}
	snap, digest, err := snapshot(fsys)
	if err != nil {
		return nil, err
	}
	rev, err := policyRevision(mode, digest)
	if err != nil {
		return nil, err
	}
	return compileSnapshot(ctx, mode, snap, rev, opts)
}

func compileSnapshot(ctx context.Context, mode Mode, snap fs.FS, revision string, opts TestOptions) (*Policy, error) {
	files, err := load(snap)
	if err != nil {
		return nil, err
	}
	var builtinResults []TestResult
	var warnings []string
	switch mode {
	case Overlay:
		b, err := loadBuiltin()
		if err != nil {
			return nil, err
		}
		warnings = overlayWarnings(files)
		if files, err = b.compose(files); err != nil {
			return nil, err
		}
		if builtinResults, err = b.testResults(ctx, opts); err != nil {
			return nil, fmt.Errorf("policy: the built-in policy: %w", err)
		}
	default:
		if !definesDecision(files) {
			return nil, fmt.Errorf("policy: no rule defines %s", DecisionQuery)
		}
	}
	query, err := prepare(ctx, files)
	if err != nil {
		return nil, err
	}
	results, err := runTests(ctx, files, opts)
	if err != nil {
		return nil, err
	}
	if builtinResults != nil {
		results = append(slices.Clip(builtinResults), results...)
		sort.SliceStable(results, func(i, j int) bool { return results[i].Name < results[j].Name })
	}
	for _, r := range results {
		if !r.Passed && !r.Skipped {
			return nil, &TestsFailedError{Results: results}
		}
	}
	throttle, err := throttleOf(files.Documents)
	if err != nil {
		return nil, err
	}
	modules := map[string]*ast.Module{}
	for name, f := range files.Modules {
		if !isTest(name) {
			modules[name] = f.Parsed
		}
	}
	p := &Policy{query: query, revision: revision, results: results, throttle: throttle, warnings: warnings, modules: modules}
	if cacheable(files) {
		p.cache = newDecisionCache()
	}
	return p, nil
}

// prepare compiles the decision query once. The data is stored as AST
// values, so that evaluation reads it without converting it each time, and
// results are returned as AST values, parsed by parseDecision.
//
// Built-in errors are strict: a built-in that fails (to_number("1.2.3.4"),
// a division by zero, a malformed JWT) makes the evaluation an error, and
// so a denial (Deny), where OPA would by default leave the rule undefined
// and evaluate on, possibly to an allowing decision. The tests run the
// same way (runTests).
func prepare(ctx context.Context, files *loader.Result) (rego.PreparedEvalQuery, error) {
	store := inmem.NewFromObjectWithOpts(files.Documents,
		inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	opts := []func(*rego.Rego){
		rego.Query(DecisionQuery),
		rego.Store(store),
		rego.StoreReadAST(true),
		rego.Capabilities(capabilities()),
		rego.StrictBuiltinErrors(true),
		rego.GenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t.Value, nil }),
	}
	for _, name := range sortedModules(files) {
		if !isTest(name) {
			opts = append(opts, rego.ParsedModule(files.Modules[name].Parsed))
		}
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return pq, fmt.Errorf("policy: %w", err)
	}
	return pq, nil
}

// Test runs the *_test.rego tests of fsys, as `opa test` would, without
// preparing the decision query. An error means the directory could not be
// loaded or compiled; failing tests are results, not an error.
func Test(ctx context.Context, fsys fs.FS) ([]TestResult, error) {
	snap, _, err := snapshot(fsys)
	if err != nil {
		return nil, err
	}
	files, err := load(snap)
	if err != nil {
		return nil, err
	}
	return runTests(ctx, files, TestOptions{})
}

func isTest(name string) bool { return strings.HasSuffix(name, "_test.rego") }

// policyFile says whether a file belongs to a policy directory.
func policyFile(name string) bool {
	switch path.Ext(name) {
	case ".rego", ".json", ".yaml", ".yml":
		return true
	}
	return false
}

// hidden names are editors', version control's and Kubernetes' own files
// and directories (.git, .swp, ..data): never part of a policy.
func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// snapshot reads the policy files of fsys into memory and hashes them into
// a digest (hex SHA-256), so that what is compiled is exactly what was
// hashed even while the directory is being edited. Symbolic links are followed, to
// files and to directories: a Kubernetes ConfigMap volume is a tree of
// links into a hidden ..data directory.
func snapshot(fsys fs.FS) (fs.FS, string, error) {
	var names []string
	if err := walkPolicy(fsys, ".", 0, &names); err != nil {
		return nil, "", fmt.Errorf("policy: %w", err)
	}
	if len(names) == 0 {
		return nil, "", errors.New("policy: no .rego or data files")
	}
	snap := fstest.MapFS{}
	h := sha256.New()
	for _, n := range names { // in lexical order, directory by directory
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, "", fmt.Errorf("policy: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
		snap[n] = &fstest.MapFile{Data: b, Mode: 0o444}
	}
	return snap, hex.EncodeToString(h.Sum(nil)), nil
}

// maxDepth bounds the directory tree, and so a loop of links.
const maxDepth = 16

func walkPolicy(fsys fs.FS, dir string, depth int, names *[]string) error {
	if depth > maxDepth {
		return fmt.Errorf("%s: more than %d directories deep", dir, maxDepth)
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		p := path.Join(dir, e.Name())
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err := fs.Stat(fsys, p)
			if err != nil {
				return err
			}
			isDir = fi.IsDir()
		}
		switch {
		case isDir:
			if err := walkPolicy(fsys, p, depth+1, names); err != nil {
				return err
			}
		case policyFile(p):
			*names = append(*names, p)
		}
	}
	return nil
}

// load parses the snapshot. Loading from the root (not file by file) places
// data by directory: restcomm/roles/data.json becomes data.restcomm.roles.
func load(snap fs.FS) (*loader.Result, error) {
	files, err := loader.NewFileLoader().
		WithFS(snap).
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotation(true).
		Filtered([]string{"."}, func(_ string, info fs.FileInfo, depth int) bool {
			return depth > 0 && hidden(info.Name())
		})
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return files, nil
}

func sortedModules(files *loader.Result) []string {
	names := make([]string, 0, len(files.Modules))
	for name := range files.Modules {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func runTests(ctx context.Context, files *loader.Result, opts TestOptions) ([]TestResult, error) {
	store := inmem.NewFromObjectWithOpts(files.Documents, inmem.OptRoundTripOnWrite(false))
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	compiler := ast.NewCompiler().
		WithCapabilities(capabilities()).
		WithEnablePrintStatements(true).
		WithDefaultRegoVersion(ast.RegoV1)
	// RaiseBuiltinErrors is the tester's strict built-in errors: a test
	// whose evaluation meets a built-in error fails with that error, as the
	// decision would (prepare), even when the test's expectation holds.
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetModules(files.ParsedModules()).
		SetTimeout(opts.timeout()).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(true).
		Filter(opts.Run).
		EnableTracing(opts.Trace)
	if opts.Coverage != nil {
		runner = runner.SetCoverageQueryTracer(ruleFilesCoverage{opts.Coverage})
	}
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var out []TestResult
	for r := range ch {
		out = append(out, testResult(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ruleFilesCoverage records the coverage of the rule files only: what the
// tests evaluate of themselves says nothing of the policy.
type ruleFilesCoverage struct{ c *cover.Cover }

func (t ruleFilesCoverage) Enabled() bool               { return true }
func (t ruleFilesCoverage) Config() topdown.TraceConfig { return t.c.Config() }

func (t ruleFilesCoverage) TraceEvent(e topdown.Event) {
	if e.Location != nil && isTest(e.Location.File) {
		return
	}
	t.c.TraceEvent(e)
}

func testResult(r *tester.Result) TestResult {
	tr := TestResult{
		Name:     r.Package + "." + r.Name,
		Passed:   r.Pass(),
		Skipped:  r.Skip,
		Output:   string(r.Output),
		Duration: r.Duration,
		OPA:      r,
	}
	if r.Location != nil {
		tr.Location = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
	}
	if r.Error != nil {
		tr.Err = r.Error.Error()
	}
	return tr
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
