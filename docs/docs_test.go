// Package docs holds the project's documentation by reader (README.md is
// its index) and, here, the tests that keep it honest: every relative link
// resolves, and no file cites a document the repository does not hold.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// root is the repository, seen from this package's directory.
const root = ".."

// markdownFiles are the documents whose links are checked: the top-level
// README and CHANGELOG, docs/ and the policy's guides.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "CHANGELOG.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		files = append(files, rel)
	}
	err = filepath.WalkDir(filepath.Join(root, "policy"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	fence      = regexp.MustCompile("^\\s*(```|~~~)")
	codeSpan   = regexp.MustCompile("`[^`]*`")
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	scheme     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	heading    = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
)

// prose is a Markdown text without its fenced blocks: the lines that
// render as text.
func prose(text string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		if fence.MatchString(l) {
			in = !in
			continue
		}
		if !in {
			out = append(out, l)
		}
	}
	return out
}

// links are the targets of a Markdown text's inline and reference links,
// outside code.
func links(text string) []string {
	body := codeSpan.ReplaceAllString(strings.Join(prose(text), "\n"), "")
	var out []string
	for _, m := range inlineLink.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	for _, m := range refLink.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// slug is a heading's anchor as GitHub makes it: lower case, punctuation
// dropped (inline code, emphasis and link syntax included), spaces as
// hyphens.
func slug(h string) string {
	h = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(h, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors are the anchors of a Markdown text's headings, duplicates
// numbered as GitHub numbers them.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	count := map[string]int{}
	for _, l := range prose(text) {
		m := heading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		s := slug(m[2])
		if n := count[s]; n > 0 {
			out[s+"-"+strconv.Itoa(n)] = true
		} else {
			out[s] = true
		}
		count[s]++
	}
	return out
}

// Every relative link of the documentation leads to a file of the
// repository, and every #anchor to a heading of the document it names.
func TestRelativeLinksResolve(t *testing.T) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, file := range markdownFiles(t) {
		raw, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		for _, target := range links(string(raw)) {
			if target == "" || scheme.MatchString(target) {
				continue
			}
			checked++
			path, anchor, _ := strings.Cut(target, "#")
			dest := filepath.Join(filepath.Dir(filepath.Join(absRoot, file)), filepath.FromSlash(path))
			if path == "" {
				dest = filepath.Join(absRoot, file)
			}
			if rel, err := filepath.Rel(absRoot, dest); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				t.Errorf("%s: link %q leaves the repository", file, target)
				continue
			}
			info, err := os.Stat(dest)
			if err != nil {
				t.Errorf("%s: link %q: no such file in the repository", file, target)
				continue
			}
			if anchor == "" {
				continue
			}
			if info.IsDir() || !strings.HasSuffix(dest, ".md") {
				t.Errorf("%s: link %q: an anchor in a file that is not Markdown", file, target)
				continue
			}
			text, err := os.ReadFile(dest)
			if err != nil {
				t.Errorf("%s: link %q: %v", file, target, err)
				continue
			}
			if !anchors(string(text))[anchor] {
				t.Errorf("%s: link %q: %s has no heading with the anchor #%s", file, target, path, anchor)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d relative links checked: is the link syntax still read?", checked)
	}
}

// outsideCitations are the ways a text cites a document the repository does
// not hold: design documents and specifications kept elsewhere, section
// signs of such a specification, issue trackers, and the accounts contract
// under its old name (now docs/restcomm-contract.md).
var outsideCitations = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\bgateway\.md\b`),
	regexp.MustCompile(`(?i)\brestcomm-accounts-api\.md\b`),
	regexp.MustCompile(`(?i)\brestcomm-dropin\.md\b`),
	regexp.MustCompile(`(?i)\bACCOUNTS\.md\b`),
	regexp.MustCompile(`(?i)\bspec(ification)?\s*§`),
	regexp.MustCompile(`(?i)\bissues?\s*#?\s*[0-9]+`),
	// a section sign with a number, unless an RFC is named just before it
	// (RFC 9113 §8.2.2): see sectionSign
	regexp.MustCompile(`§\s*[0-9]`),
}

// rfcBefore allows "RFC nnnn §x.y": a public standard, cited by name.
var rfcBefore = regexp.MustCompile(`(?i)\bRFC\s*[0-9]+\s*(?://\s*)?$`)

// citedFile says whether the file is one whose text is checked: Go, Rego,
// Lua, Markdown, shell, YAML, Caddyfiles and scripts without an extension.
func citedFile(path string, d fs.DirEntry) bool {
	switch filepath.Ext(path) {
	case ".go", ".rego", ".lua", ".md", ".sh", ".yml", ".yaml":
		return true
	case "":
		if strings.HasPrefix(d.Name(), "Caddyfile") {
			return true
		}
		f, err := os.Open(path)
		if err != nil {
			return false
		}
		defer f.Close()
		head := make([]byte, 2)
		n, _ := f.Read(head)
		return n == 2 && string(head) == "#!"
	}
	return false
}

// No file of the repository cites a document it does not hold.
func TestNoCitationOfOutsideDocuments(t *testing.T) {
	var found []string
	files := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") && d.Name() != ".ci" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !citedFile(p, d) {
			return nil
		}
		files++
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(raw)
		rel, _ := filepath.Rel(root, p)
		for _, re := range outsideCitations {
			for _, loc := range re.FindAllStringIndex(text, -1) {
				if strings.HasPrefix(text[loc[0]:], "§") && rfcBefore.MatchString(strings.ReplaceAll(text[max(0, loc[0]-40):loc[0]], "\n", " ")) {
					continue
				}
				line := strings.Count(text[:loc[0]], "\n") + 1
				found = append(found, rel+":"+strconv.Itoa(line)+": "+strings.TrimSpace(lineAt(text, loc[0])))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("only %d files read: is the walk still rooted at the repository?", files)
	}
	sort.Strings(found)
	found = compactStrings(found)
	for _, f := range found {
		t.Errorf("cites a document outside the repository: %s", f)
	}
}

func lineAt(text string, i int) string {
	start := strings.LastIndex(text[:i], "\n") + 1
	end := strings.IndexByte(text[i:], '\n')
	if end < 0 {
		return text[start:]
	}
	return text[start : i+end]
}

func compactStrings(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
