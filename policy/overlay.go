package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
)

// Mode says how a policy directory relates to the built-in policy.
type Mode string

const (
	// Overlay: the directory is added to the built-in policy, which is
	// always loaded. Its rules plug into the built-in decision's extension
	// points (policy/README.md, "Overlays"); its data is merged over the
	// built-in's. It may not define rules in the built-in's packages, so
	// it refuses more or grants only what an extension point lets it. The
	// default.
	Overlay Mode = "overlay"
	// Replace: the directory is a complete policy, used instead of the
	// built-in one; it must define the decision itself.
	Replace Mode = "replace"
)

// ParseMode reads a policy mode: "overlay" (or "", the default) or
// "replace".
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", Overlay:
		return Overlay, nil
	case Replace:
		return Replace, nil
	}
	return "", fmt.Errorf("policy mode %q: want %s or %s", s, Overlay, Replace)
}

// overlayRoot is where an overlay's extension rules live: in packages
// directly below it, such as restcomm.overlay.team.
var overlayRoot = ast.MustParseRef("data.restcomm.overlay")

// extensionRules are the rules the built-in decision collects from every
// package directly below overlayRoot (restcomm/extensions.rego), with the
// kind each must be.
var extensionRules = map[string]ast.RuleKind{
	"deny":                  ast.MultiValue,
	"deny_operation":        ast.MultiValue,
	"may_read_target":       ast.SingleValue,
	"may_modify_target":     ast.SingleValue,
	"may_modify_above":      ast.SingleValue,
	"may_operate_on_target": ast.SingleValue,
	"deny_super_admin":      ast.SingleValue,
}

// extensionWarnings are the extension points an overlay is warned of when
// it defines them (Policy.Warnings): they are allowed, but grant more than
// an overlay's author may think, or less than it did in earlier releases.
var extensionWarnings = map[string]string{
	"may_modify_above": "may_modify_above grants modify reach over accounts above the caller (its ancestors, " +
		"Super Admins, accounts whose role holds more than the caller's): whomever it holds for may set their " +
		"passwords and log in as them",
	"may_operate_on_target": "may_operate_on_target grants read reach only (accounts:read, without the " +
		"AuthToken), no longer modify reach; name it may_read_target, and to let a caller update an account " +
		"define may_modify_target (policy/README.md, \"Extension points\")",
}

// refusalFields are the fields of the values of the multi-value extension
// rules.
var refusalFields = map[string][]string{
	"deny":           {"status", "message"},
	"deny_operation": {"status", "message", "body", "stage"},
}

// builtinModulePrefix names the built-in policy's files when they are
// compiled with an overlay, so that a message or a test result never
// points into the overlay directory for them.
const builtinModulePrefix = "builtin:"

// builtinPolicy is the shipped policy, loaded once: it is part of the
// binary and never changes.
type builtinPolicy struct {
	files  *loader.Result // its modules, named builtin:<path>, and data
	digest string         // hash of its files
	// packages are the packages of its modules, tests included: an
	// overlay may define no rule and place no data in them.
	packages []ast.Ref
	// data are the places of its data documents (data.restcomm.roles, …):
	// an overlay may override the data there, not define rules.
	data []ast.Ref
	// stages is the table of stages by name (data.restcomm.stages), which
	// the gateway's Go code shares: an overlay may not change it.
	stages map[string]int

	testsOnce sync.Once
	tests     []TestResult
	testsErr  error
}

var loadBuiltin = sync.OnceValues(func() (*builtinPolicy, error) {
	snap, digest, err := snapshot(Default())
	if err != nil {
		return nil, err
	}
	files, err := load(snap)
	if err != nil {
		return nil, err
	}
	b := &builtinPolicy{digest: digest, files: &loader.Result{
		Documents: files.Documents,
		Modules:   make(map[string]*loader.RegoFile, len(files.Modules)),
	}}
	seen := map[string]bool{}
	for _, name := range sortedModules(files) {
		renamed := builtinModulePrefix + name
		parsed, err := ast.ParseModuleWithOpts(renamed, string(files.Modules[name].Raw),
			ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
		if err != nil {
			return nil, fmt.Errorf("policy: built-in: %w", err)
		}
		b.files.Modules[renamed] = &loader.RegoFile{Name: renamed, Parsed: parsed, Raw: files.Modules[name].Raw}
		if p := parsed.Package.Path; !seen[p.String()] {
			seen[p.String()] = true
			b.packages = append(b.packages, p)
		}
	}
	for _, k1 := range sortedKeys(files.Documents) {
		if sub, ok := files.Documents[k1].(map[string]any); ok {
			for _, k2 := range sortedKeys(sub) {
				b.data = append(b.data, ast.Ref{ast.DefaultRootDocument, ast.StringTerm(k1), ast.StringTerm(k2)})
			}
		}
	}
	if b.stages, err = stagesOf(files.Documents); err != nil {
		return nil, err
	}
	return b, nil
})

// stagesRef is where the table of stages is.
var stagesRef = ast.MustParseRef("data.restcomm.stages")

func stagesOf(docs map[string]any) (map[string]int, error) {
	raw, _, _ := lookup(docs, stagesRef)
	table, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("policy: built-in: %s is not an object", stagesRef)
	}
	stages := make(map[string]int, len(table))
	for name, v := range table {
		n, err := wholeNumber(v)
		if err != nil {
			return nil, fmt.Errorf("policy: built-in: %s.%s: %w", stagesRef, name, err)
		}
		stages[name] = n
	}
	return stages, nil
}

// Stages is the table of stages by name that the built-in policy reports
// its refusals at (restcomm/stages/data.json): the order of RestComm's
// checks, the policy's and the gateway's own, which the gateway's code
// and the policy share.
func Stages() map[string]int {
	b, err := loadBuiltin()
	if err != nil {
		panic(err) // the built-in policy is fixed at build time
	}
	return maps.Clone(b.stages)
}

// Stage is the stage of the given name in Stages; a name that is not there
// is a programming error, and panics.
func Stage(name string) int {
	n, ok := Stages()[name]
	if !ok {
		panic("policy: no stage named " + name)
	}
	return n
}

// testResults are the built-in policy's own tests, run on the built-in
// policy alone: they prove the rules an overlay plugs into. An overlay's
// tests prove the two together. They are run once, unless opts select or
// observe them.
func (b *builtinPolicy) testResults(ctx context.Context, opts TestOptions) ([]TestResult, error) {
	if !opts.isZero() {
		return builtinTestResults(ctx, b.files, opts)
	}
	b.testsOnce.Do(func() {
		b.tests, b.testsErr = builtinTestResults(context.Background(), b.files, opts)
	})
	return b.tests, b.testsErr
}

func builtinTestResults(ctx context.Context, files *loader.Result, opts TestOptions) ([]TestResult, error) {
	results, err := runTests(ctx, files, opts)
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		if !r.Passed && !r.Skipped {
			return results, &TestsFailedError{Results: results}
		}
	}
	return results, nil
}

// revision is the revision of a directory of the given digest in mode:
// an overlay's names the built-in policy too, which changes with the
// binary.
func policyRevision(mode Mode, digest string) (string, error) {
	if mode == Replace {
		return digest[:12], nil
	}
	b, err := loadBuiltin()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte("overlay\x00" + b.digest + "\x00" + digest))
	return hex.EncodeToString(h[:])[:12], nil
}

// compose adds an overlay to the built-in policy: the built-in's rules
// (not its tests, whose results testResults has), the overlay's rules and
// tests, and the overlay's data merged over the built-in's as a JSON merge
// patch (RFC 7386: objects are merged key by key, null removes a key, any
// other value replaces). The overlay is checked first (checkOverlay).
func (b *builtinPolicy) compose(overlay *loader.Result) (*loader.Result, error) {
	if err := b.checkOverlay(overlay); err != nil {
		return nil, err
	}
	out := &loader.Result{Modules: make(map[string]*loader.RegoFile, len(b.files.Modules)+len(overlay.Modules))}
	for name, f := range b.files.Modules {
		if !isTest(name) {
			out.Modules[name] = &loader.RegoFile{Name: f.Name, Parsed: f.Parsed.Copy(), Raw: f.Raw}
		}
	}
	for name, f := range overlay.Modules {
		if _, ok := out.Modules[name]; ok || strings.HasPrefix(name, builtinModulePrefix) {
			return nil, &OverlayError{Problems: []string{name + ": the name of a built-in policy file"}}
		}
		out.Modules[name] = f
	}
	docs, _ := mergePatch(deepCopy(b.files.Documents), overlay.Documents).(map[string]any)
	if docs == nil {
		docs = map[string]any{}
	}
	out.Documents = docs
	return out, nil
}

// OverlayError is why an overlay is refused before it is compiled: it
// defines what it may not.
type OverlayError struct {
	Problems []string // one per rule or data document, "file:line: …"
}

func (e *OverlayError) Error() string {
	return "policy: overlay refused (policy/README.md, \"Overlays\"):\n  " + strings.Join(e.Problems, "\n  ")
}

// checkOverlay refuses an overlay that could widen the built-in decision
// other than through its extension points: a rule or a test in a package
// of the built-in policy, or where its data is (data.restcomm.roles is
// data an overlay overrides, not a rule it adds to), data in a package of
// the built-in policy, or an extension rule of the wrong kind or place.
func (b *builtinPolicy) checkOverlay(overlay *loader.Result) error {
	var problems []string
	for _, name := range sortedModules(overlay) {
		m := overlay.Modules[name].Parsed
		seen := map[string]bool{} // one problem per place and file
		for _, r := range m.Rules {
			place, p := b.checkRule(r, isTest(name))
			if p != "" && !seen[place] {
				seen[place] = true
				problems = append(problems, fmt.Sprintf("%s:%d: %s", name, r.Location.Row, p))
			}
		}
	}
	problems = append(problems, b.checkData(overlay.Documents)...)
	if len(problems) > 0 {
		return &OverlayError{Problems: problems}
	}
	return nil
}

// checkRule says what is wrong with an overlay's rule, if anything, and
// the place it concerns (so that a file is told once per place).
func (b *builtinPolicy) checkRule(r *ast.Rule, test bool) (string, string) {
	path := r.Ref()
	ground := path.GroundPrefix()
	if path.Equal(decisionRef) {
		return path.String(), fmt.Sprintf("an overlay may not define %s itself: the built-in policy decides, and an "+
			"overlay refuses through deny rules in a package below restcomm.overlay and grants only through the "+
			"other extension points; to own the whole decision, use policy_mode replace", DecisionQuery)
	}
	for _, p := range b.packages {
		if ground.HasPrefix(p) || p.HasPrefix(ground) {
			return p.String(), fmt.Sprintf("an overlay may not define rules in %s (here %s), a package of the built-in "+
				"policy; extend it through the rules of a package below restcomm.overlay, or use policy_mode replace",
				refPackage(p), path)
		}
	}
	for _, p := range b.data {
		if ground.HasPrefix(p) || p.HasPrefix(ground) {
			return p.String(), fmt.Sprintf("an overlay may not define %s: %s is the built-in policy's data, which an "+
				"overlay overrides with a data file (%s/data.json), not with rules", path, p, strings.Join(dataDir(p), "/"))
		}
	}
	p := b.checkOverlayRule(r, path, ground, test)
	return path.String(), p
}

var decisionRef = ast.MustParseRef(DecisionQuery)

func (b *builtinPolicy) checkOverlayRule(r *ast.Rule, path, ground ast.Ref, test bool) string {
	if !ground.HasPrefix(overlayRoot) && !overlayRoot.HasPrefix(ground) {
		return ""
	}
	if test {
		return fmt.Sprintf("%s: tests and their helpers may not be below restcomm.overlay, where the decision "+
			"looks for extension rules; put them in a package of their own, such as restcomm.team_test", path)
	}
	if len(ground) < len(overlayRoot)+2 {
		return fmt.Sprintf("%s: no rule may be defined in restcomm.overlay itself; define it in a package "+
			"directly below, such as restcomm.overlay.team", path)
	}
	below := ground[len(overlayRoot):]
	for i, t := range below {
		s, ok := t.Value.(ast.String)
		if !ok {
			continue
		}
		kind, ok := extensionRules[string(s)]
		if !ok {
			continue
		}
		if i != 1 || len(path) != len(overlayRoot)+2 {
			return fmt.Sprintf("%s: %s is an extension point, defined only as a rule of a package directly below "+
				"restcomm.overlay (data.restcomm.overlay.<name>.%s); here it would never be consulted", path, string(s), string(s))
		}
		return b.checkExtensionRule(r, string(s), kind)
	}
	return ""
}

func (b *builtinPolicy) checkExtensionRule(r *ast.Rule, name string, kind ast.RuleKind) string {
	if len(r.Head.Args) > 0 {
		return fmt.Sprintf("%s is an extension point, not a function", name)
	}
	if r.Head.RuleKind() != kind {
		if kind == ast.MultiValue {
			return fmt.Sprintf("%s is a multi-value rule: %s contains {\"status\": 403, …} if …", name, name)
		}
		return fmt.Sprintf("%s is a boolean rule: %s if …", name, name)
	}
	if kind != ast.MultiValue {
		return ""
	}
	fields := refusalFields[name]
	switch v := r.Head.Key.Value.(type) {
	case ast.Object:
		hasStatus := false
		for _, k := range v.Keys() {
			ks, ok := k.Value.(ast.String)
			if !ok {
				continue
			}
			if !slices.Contains(fields, string(ks)) {
				return fmt.Sprintf("a value of %s has only the fields %s, not %s", name, strings.Join(fields, ", "), string(ks))
			}
			if p := b.checkRefusalField(string(ks), v.Get(k).Value); p != "" {
				return fmt.Sprintf("a value of %s: %s", name, p)
			}
			hasStatus = hasStatus || ks == "status"
		}
		if !hasStatus {
			return fmt.Sprintf("a value of %s needs a status: {\"status\": 403, …}", name)
		}
	case ast.String, ast.Number, ast.Boolean, ast.Null, *ast.Array, ast.Set:
		return fmt.Sprintf("the values of %s are objects such as {\"status\": 403, \"message\": \"…\"}, not %s", name, ast.ValueName(v))
	}
	return ""
}

// checkRefusalField checks a field of a refusal given as a constant.
func (b *builtinPolicy) checkRefusalField(field string, v ast.Value) string {
	if !ast.IsConstant(v) {
		return ""
	}
	if name, ok := v.(ast.String); ok && field == "stage" {
		if _, ok := b.stages[string(name)]; !ok {
			return fmt.Sprintf("no stage is named %v (restcomm/stages/data.json of the built-in policy)", v)
		}
		return ""
	}
	switch field {
	case "status", "stage":
		var i int
		n, ok := v.(ast.Number)
		if ok {
			i, ok = n.Int()
		}
		if !ok {
			return fmt.Sprintf("%s %v is not a whole number", field, v)
		}
		if field == "status" && (i < 400 || i > 499) {
			return fmt.Sprintf("status %d is not a 4xx status", i)
		}
	case "message":
		if _, ok := v.(ast.String); !ok {
			return fmt.Sprintf("message %v is not a string", v)
		}
	case "body":
		switch v {
		case ast.String("page"), ast.String("plain"), ast.String("text"), ast.String("typed"):
		default:
			return fmt.Sprintf("body %v is not page, plain, text or typed", v)
		}
	}
	return ""
}

// checkData refuses overlay data in the built-in policy's packages, and
// data where the decision looks for extension rules.
func (b *builtinPolicy) checkData(docs map[string]any) []string {
	var problems []string
	for _, p := range b.packages {
		if _, found, replaced := lookup(docs, p); found {
			problems = append(problems, fmt.Sprintf("%s: data may not be placed in %s, a package of the built-in policy", strings.Join(dataDir(p), "/"), refPackage(p)))
		} else if replaced != nil {
			problems = append(problems, fmt.Sprintf("%s: data there must be an object: it holds %s, a package of the built-in policy", strings.Join(dataDir(replaced), "/"), refPackage(p)))
		}
	}
	if _, found, _ := lookup(docs, stagesRef); found {
		problems = append(problems, "restcomm/stages: the stages are the built-in policy's and the gateway's, "+
			"not an overlay's to change")
	}
	teams, found, _ := lookup(docs, overlayRoot)
	if m, ok := teams.(map[string]any); found && ok {
		for _, team := range sortedKeys(m) {
			fields, ok := m[team].(map[string]any)
			if !ok {
				continue
			}
			for _, f := range sortedKeys(fields) {
				if _, ok := extensionRules[f]; ok {
					problems = append(problems, fmt.Sprintf("restcomm/overlay/%s: %s is an extension point: a rule, not data", team, f))
				}
			}
		}
	}
	return problems
}

// lookup finds ref's place in docs: found when there is a value there; or
// else replaced, the place above it where a value that is not an object
// would stand in place of what is below.
func lookup(docs map[string]any, ref ast.Ref) (v any, found bool, replaced ast.Ref) {
	var cur any = docs
	for i, t := range ref[1:] {
		m, ok := cur.(map[string]any)
		if !ok {
			if cur == nil {
				return nil, false, nil
			}
			return cur, false, ref[:i+1]
		}
		s, _ := t.Value.(ast.String)
		next, ok := m[string(s)]
		if !ok {
			return nil, false, nil
		}
		cur = next
	}
	return cur, true, nil
}

// refPackage writes data.restcomm.authz as restcomm.authz.
func refPackage(p ast.Ref) string { return strings.TrimPrefix(p.String(), "data.") }

// dataDir is the directory of a data file that places its data at p.
func dataDir(p ast.Ref) []string {
	var out []string
	for _, t := range p[1:] {
		s, _ := t.Value.(ast.String)
		out = append(out, string(s))
	}
	return out
}

// mergePatch applies patch to base as a JSON merge patch (RFC 7386).
// base's objects may be changed: pass a copy.
func mergePatch(base, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	b, ok := base.(map[string]any)
	if !ok {
		b = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(b, k)
			continue
		}
		b[k] = mergePatch(b[k], v)
	}
	return b
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// overlayWarnings are the overlay's definitions of the extension points
// of extensionWarnings, one "file:line: …" per rule file and point, in
// the order of the files: what `policy test` prints and a reload logs.
func overlayWarnings(overlay *loader.Result) []string {
	var out []string
	for _, name := range sortedModules(overlay) {
		if isTest(name) {
			continue
		}
		seen := map[string]bool{}
		for _, r := range overlay.Modules[name].Parsed.Rules {
			path := r.Ref()
			if len(path) != len(overlayRoot)+2 || !path.HasPrefix(overlayRoot) {
				continue
			}
			point, ok := path[len(path)-1].Value.(ast.String)
			if !ok {
				continue
			}
			w, ok := extensionWarnings[string(point)]
			if !ok || seen[string(point)] {
				continue
			}
			seen[string(point)] = true
			out = append(out, fmt.Sprintf("%s:%d: %s", name, r.Location.Row, w))
		}
	}
	return out
}
