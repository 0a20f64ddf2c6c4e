package policy

import (
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed starter
var starterFS embed.FS

// Starter returns the starting point of an overlay: a commented example
// rule of an extension point, its data and its tests.
func Starter() fs.FS {
	sub, err := fs.Sub(starterFS, "starter")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// WriteStarter writes the starter overlay (Starter) into dir, the
// starting point of a security team's overlay. It creates dir if needed
// and never overwrites: an existing file is an error and nothing after it
// is written.
func WriteStarter(dir string) error { return writeTree(Starter(), dir) }

// WriteDefault writes the built-in policy into dir, the starting point of
// a policy that replaces it (Replace). It creates dir if needed and never
// overwrites: an existing file is an error and nothing after it is
// written.
func WriteDefault(dir string) error { return writeTree(Default(), dir) }

func writeTree(src fs.FS, dir string) error {
	return fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return fmt.Errorf("policy: %w", err)
		}
		return f.Close()
	})
}

// ShowBuiltin writes every file of the built-in policy to w, each after a
// line naming it, for reading.
func ShowBuiltin(w io.Writer) error {
	src := Default()
	return fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "# ==> %s <==\n%s\n", p, b); err != nil {
			return err
		}
		return nil
	})
}
