package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing/fstest"
	"unicode"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// MaxBundleLabel bounds the length of a bundle's manifest revision as it
// names a policy's revision (BundleFS): longer ones are cut.
const MaxBundleLabel = 64

// BundleFS turns an OPA bundle, as OPA's bundle reader (or downloader)
// read and verified it, into the files an Engine compiles (Swap): each of
// its Rego modules at its path in the bundle, and its data as one
// data.json at the root (an OPA bundle's data is one tree, its roots
// included). label is the manifest's revision, made fit for logs and
// metric labels ("" when the manifest has none). A bundle that holds what
// the gateway does not run (Wasm or plan modules, a delta bundle's patch)
// is an error.
func BundleFS(b *bundle.Bundle) (fsys fs.FS, label string, err error) {
	if b == nil {
		return nil, "", errors.New("policy bundle: none")
	}
	if b.Type() == bundle.DeltaBundleType {
		return nil, "", errors.New("policy bundle: a delta bundle; the gateway takes snapshot bundles only")
	}
	if len(b.WasmModules) > 0 || len(b.Wasm) > 0 || len(b.PlanModules) > 0 {
		return nil, "", errors.New("policy bundle: holds Wasm or plan modules, which the gateway does not run")
	}
	files := fstest.MapFS{}
	for _, m := range b.Modules {
		p := m.RelativePath
		if p == "" {
			p = m.Path
		}
		name, err := bundlePath(p)
		if err != nil {
			return nil, "", err
		}
		if _, dup := files[name]; dup {
			return nil, "", fmt.Errorf("policy bundle: %s: twice", name)
		}
		files[name] = &fstest.MapFile{Data: m.Raw, Mode: 0o444}
	}
	if len(b.Data) > 0 {
		if _, dup := files["data.json"]; dup {
			return nil, "", errors.New("policy bundle: data.json: twice")
		}
		data, err := json.Marshal(b.Data) // keys in order: the same data, the same bytes
		if err != nil {
			return nil, "", fmt.Errorf("policy bundle: data: %w", err)
		}
		files["data.json"] = &fstest.MapFile{Data: data, Mode: 0o444}
	}
	return files, BundleLabel(b.Manifest.Revision), nil
}

// bundlePath is a module's path in the bundle as a path of an fs.FS, or an
// error when it is not one that a policy directory could hold.
func bundlePath(p string) (string, error) {
	name := strings.TrimLeft(p, "/")
	if !fs.ValidPath(name) || name == "." || path.Ext(name) != ".rego" {
		return "", fmt.Errorf("policy bundle: module path %q is not a relative path of a .rego file", p)
	}
	for _, seg := range strings.Split(name, "/") {
		if hidden(seg) {
			return "", fmt.Errorf("policy bundle: module path %q: a hidden file or directory, which a policy never holds", p)
		}
	}
	return name, nil
}

// BundleLabel keeps the printable characters of a manifest's revision, at
// most MaxBundleLabel of them.
func BundleLabel(rev string) string {
	rev = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) && r != '@' && !unicode.IsSpace(r) {
			return r
		}
		if unicode.IsSpace(r) {
			return '_'
		}
		return -1
	}, rev)
	if r := []rune(rev); len(r) > MaxBundleLabel {
		rev = string(r[:MaxBundleLabel])
	}
	return rev
}
