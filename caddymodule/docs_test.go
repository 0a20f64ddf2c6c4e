package caddymodule

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// caddyfileDoc is the Caddyfile reference, which documents every option
// the restcomm directive accepts.
const caddyfileDoc = "../docs/caddyfile.md"

// acceptedOptions reads the option names the directive accepts: the keys
// of gatewayOptions for its own subdirectives, and those of the blocks it
// opens out of their parsers' switches, each named "<block> <option>".
func acceptedOptions(t *testing.T) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	for name := range gatewayOptions {
		found[name] = true
	}
	parsers := map[string]string{ // function: prefix of its options
		"parseAccountCache": "account_cache ",
		"parseMirror":       "mirror ",
	}
	fset := token.NewFileSet()
	seen := map[string]bool{}
	for _, file := range []string{"caddyfile.go", "mirror.go"} {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			prefix, ok := parsers[fn.Name.Name]
			if !ok {
				continue
			}
			seen[fn.Name.Name] = true
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				cc, ok := n.(*ast.CaseClause)
				if !ok {
					return true
				}
				for _, e := range cc.List {
					lit, ok := e.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					name, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					found[prefix+name] = true
				}
				return true
			})
		}
	}
	for fn := range parsers {
		if !seen[fn] {
			t.Fatalf("parser %s not found in caddyfile.go or mirror.go: update this test", fn)
		}
	}
	return found
}

// docOption is one option's section of the reference.
type docOption struct {
	name     string   // "redis", "mirror database"
	body     []string // its lines, fenced blocks included
	examples []string // its caddyfile blocks that start with "restcomm"
}

var optionHeading = regexp.MustCompile("^(###|####) `([a-z_]+)`$")

// documentedOptions reads the "## Options" part of the reference: a ###
// heading per subdirective, a #### heading per option of its block.
func documentedOptions(t *testing.T) []docOption {
	t.Helper()
	raw, err := os.ReadFile(caddyfileDoc)
	if err != nil {
		t.Fatal(err)
	}
	var (
		opts      []docOption
		in        bool // inside "## Options"
		parent    string
		fence     string // the open fence's info string, or ""
		fenceOpen bool
		block     []string
	)
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "```") {
			if !fenceOpen {
				fenceOpen, fence, block = true, strings.TrimPrefix(line, "```"), nil
			} else {
				fenceOpen = false
				if in && len(opts) > 0 && fence == "caddyfile" && len(block) > 0 && strings.HasPrefix(block[0], "restcomm") {
					o := &opts[len(opts)-1]
					o.examples = append(o.examples, strings.Join(block, "\n"))
				}
			}
			if in && len(opts) > 0 {
				opts[len(opts)-1].body = append(opts[len(opts)-1].body, line)
			}
			continue
		}
		if fenceOpen {
			block = append(block, line)
			if in && len(opts) > 0 {
				opts[len(opts)-1].body = append(opts[len(opts)-1].body, line)
			}
			continue
		}
		if strings.HasPrefix(line, "## ") {
			in = line == "## Options"
			continue
		}
		if !in {
			continue
		}
		if m := optionHeading.FindStringSubmatch(line); m != nil {
			name := m[2]
			if m[1] == "###" {
				parent = name
			} else {
				name = parent + " " + name
			}
			opts = append(opts, docOption{name: name})
			continue
		}
		if strings.HasPrefix(line, "#") {
			t.Errorf("%s: heading %q under Options is not an option (### `name` or #### `name`)", caddyfileDoc, line)
		}
		if len(opts) > 0 {
			opts[len(opts)-1].body = append(opts[len(opts)-1].body, line)
		}
	}
	return opts
}

// Every option the restcomm directive accepts is documented in
// docs/caddyfile.md with its default and an example that the directive
// parses; every documented option is accepted.
func TestCaddyfileReferenceDocumentsEveryOption(t *testing.T) {
	accepted := acceptedOptions(t)
	if len(accepted) < 20 {
		t.Fatalf("read only %d options out of the parsers: %v", len(accepted), accepted)
	}
	documented := map[string]bool{}
	for _, o := range documentedOptions(t) {
		if documented[o.name] {
			t.Errorf("%s: option %q documented twice", caddyfileDoc, o.name)
		}
		documented[o.name] = true
		if !accepted[o.name] {
			t.Errorf("%s documents %q, which the restcomm directive does not accept", caddyfileDoc, o.name)
			continue
		}
		if !slices.ContainsFunc(o.body, func(l string) bool { return strings.HasPrefix(l, "Default: ") }) {
			t.Errorf("%s: option %q has no \"Default: \" line", caddyfileDoc, o.name)
		}
		if len(o.examples) == 0 {
			t.Errorf("%s: option %q has no ```caddyfile example starting with restcomm", caddyfileDoc, o.name)
		}
		last := o.name[strings.LastIndex(o.name, " ")+1:]
		uses := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(last) + `(\s|$)`)
		for _, ex := range o.examples {
			if !uses.MatchString(ex) {
				t.Errorf("%s: an example of %q does not use it:\n%s", caddyfileDoc, o.name, ex)
			}
			g := new(Gateway)
			if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(ex)); err != nil {
				t.Errorf("%s: the example of %q does not parse: %v\n%s", caddyfileDoc, o.name, err, ex)
			}
		}
	}
	var missing []string
	for name := range accepted {
		if !documented[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("options the restcomm directive accepts that %s does not document (### `name`, or #### `name` under its block): %s",
			caddyfileDoc, strings.Join(missing, ", "))
	}
}

// An option the switches do not name is refused, at every level: so the
// options read out of the switches are all the directive accepts, and
// documenting those documents every one.
func TestCaddyfileRefusesUndocumentedOption(t *testing.T) {
	for _, in := range []string{
		"restcomm {\n\tno_such_option 1\n}",
		"restcomm {\n\taccount_cache {\n\t\tno_such_option 1\n\t}\n}",
		"restcomm {\n\tmirror {\n\t\tdatabase mysql://u:{env.P}@h:3306/r\n\t\tno_such_option 1\n\t}\n}",
	} {
		g := new(Gateway)
		err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in))
		if err == nil || !strings.Contains(err.Error(), "no_such_option") {
			t.Errorf("%q: want an error naming the unknown option, got %v", in, err)
		}
	}
}

// Every environment variable the top-level Caddyfile reads is in the
// reference's table.
func TestCaddyfileReferenceDocumentsEveryVariable(t *testing.T) {
	top, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(caddyfileDoc)
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`\{(?:\$|env\.)([A-Z][A-Z0-9_]*)`).FindAllStringSubmatch(string(top), -1)
	if len(vars) == 0 {
		t.Fatal("no environment variables found in ../Caddyfile")
	}
	for _, m := range vars {
		if !strings.Contains(string(doc), "| `"+m[1]+"` |") {
			t.Errorf("the top-level Caddyfile reads %s, which %s's table does not list", m[1], caddyfileDoc)
		}
	}
}
