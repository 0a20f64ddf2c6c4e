package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// BuiltinRevision identifies the built-in policy's content: the first 12
// hex digits of the hash of its files, as `policy test --mode replace`
// names an unchanged copy of it.
func BuiltinRevision() (string, error) {
	b, err := loadBuiltin()
	if err != nil {
		return "", err
	}
	return b.digest[:12], nil
}

// BuiltinRoots are the roots of the built-in policy as an OPA bundle: the
// packages of its modules, tests included, and the places of its data
// (restcomm/authz, restcomm/roles, …), each as a slash-separated path.
// They are what an overlay may not define rules in; an overlay's own
// packages and data (restcomm/overlay/…, restcomm/team_test) lie outside
// them.
func BuiltinRoots() ([]string, error) {
	b, err := loadBuiltin()
	if err != nil {
		return nil, err
	}
	var roots []string
	for _, r := range slices.Concat(b.packages, b.data) {
		root := strings.Join(dataDir(r), "/")
		if !slices.Contains(roots, root) {
			roots = append(roots, root)
		}
	}
	slices.Sort(roots)
	return roots, nil
}

// BundleOptions tune WriteBundle.
type BundleOptions struct {
	// Revision is the bundle's revision (.manifest's "revision"): by
	// default BuiltinRevision.
	Revision string
	// Force writes into a directory that is not empty, over the files of
	// the bundle; other files are left as they are.
	Force bool
}

// ManifestFile is the name of a bundle's manifest.
const ManifestFile = ".manifest"

// WriteBundle writes the built-in policy into dir as an OPA bundle
// directory: its .rego and data files, as Default has them, and a
// .manifest with the revision and the roots (BuiltinRoots), so that OPA's
// own tools load it (`opa test`, `opa eval -b`, `opa check`, `opa fmt`),
// with an overlay beside it. It creates dir if needed, and refuses one
// that is not empty unless opts.Force. It writes below dir only: a
// symbolic link that leads out of it is refused, and a link in place of
// one of the bundle's files is replaced, never written through. It
// returns the names of the files written, in order.
func WriteBundle(dir string, opts BundleOptions) ([]string, error) {
	roots, err := BuiltinRoots()
	if err != nil {
		return nil, err
	}
	if opts.Revision == "" {
		if opts.Revision, err = BuiltinRevision(); err != nil {
			return nil, err
		}
	}
	manifest := bundle.Manifest{Revision: opts.Revision, Roots: &roots}
	manifest.SetRegoVersion(ast.RegoV1)
	mb, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("policy bundle: %w", err)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("policy bundle: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("policy bundle: %w", err)
	}
	defer root.Close()
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("policy bundle: %w", err)
	}
	if len(entries) > 0 && !opts.Force {
		return nil, fmt.Errorf("policy bundle: %s is not empty (it holds %s); write into an empty or new directory, "+
			"or pass --force to write over the bundle's files", dir, entries[0].Name())
	}

	var written []string
	src := Default()
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if d.IsDir() {
			return root.MkdirAll(p, 0o755)
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		written = append(written, p)
		return writeRooted(root, p, b)
	})
	if err == nil {
		written = append(written, ManifestFile)
		err = writeRooted(root, ManifestFile, append(mb, '\n'))
	}
	if err != nil {
		return written, fmt.Errorf("policy bundle %s: %w", dir, err)
	}
	return written, nil
}

// writeRooted writes a file of root: a symbolic link in its place is
// removed first (the link, not what it points to), a directory is an
// error. os.Root refuses a path that would lead out of root.
func writeRooted(root *os.Root, name string, b []byte) error {
	fi, err := root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		if err := root.Remove(name); err != nil {
			return err
		}
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file", path.Clean(name))
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
