package policy

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteDefault writes the shipped policy into dir, the starting point of a
// security team's own policy directory. It creates dir if needed and never
// overwrites: an existing file is an error and nothing after it is written.
func WriteDefault(dir string) error {
	src := Default()
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
