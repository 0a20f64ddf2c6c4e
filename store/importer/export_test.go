package importer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// write puts body in an export file for target and commits it.
func write(t *testing.T, target string, force bool, body string) error {
	t.Helper()
	f, err := CreateOutput(target, force)
	if err != nil {
		return err
	}
	defer f.Abort()
	_, err = f.WriteString(body)
	require.NoError(t, err)
	return f.Commit()
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	return fi.Mode()
}

// The export holds every auth token: a new file is its owner's only,
// whatever the umask; an existing one is never overwritten without force,
// and with force replaced by a new file (not its old mode) of 0600.
func TestCreateOutputModes(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.jsonl")
	require.NoError(t, write(t, fresh, false, "tokens\n"))
	assert.Equal(t, os.FileMode(0o600), mode(t, fresh).Perm())

	old := filepath.Join(dir, "backup.jsonl")
	require.NoError(t, os.WriteFile(old, []byte("old\n"), 0o644))
	require.NoError(t, os.Chmod(old, 0o644))
	err := write(t, old, false, "tokens\n")
	require.ErrorContains(t, err, "exists: refusing to overwrite it (--force")
	got, _ := os.ReadFile(old)
	assert.Equal(t, "old\n", string(got), "left as it was")
	assert.Equal(t, os.FileMode(0o644), mode(t, old).Perm())

	require.NoError(t, write(t, old, true, "tokens\n"))
	got, _ = os.ReadFile(old)
	assert.Equal(t, "tokens\n", string(got))
	assert.Equal(t, os.FileMode(0o600), mode(t, old).Perm(), "a new file, not the old one's mode")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary file left behind")
}

// A symbolic link is never written through, with or without force: the
// file it points to keeps its content and mode, and the link stays.
func TestCreateOutputRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("precious\n"), 0o644))
	require.NoError(t, os.Chmod(victim, 0o644))
	link := filepath.Join(dir, "export.jsonl")
	require.NoError(t, os.Symlink(victim, link))
	dangling := filepath.Join(dir, "dangling.jsonl")
	require.NoError(t, os.Symlink(filepath.Join(dir, "nowhere"), dangling))

	for _, target := range []string{link, dangling} {
		for _, force := range []bool{false, true} {
			err := write(t, target, force, "tokens\n")
			require.ErrorContains(t, err, "is a symbolic link: refusing to write an export through it")
			assert.NotZero(t, mode(t, target)&os.ModeSymlink, "the link stays")
		}
	}
	got, _ := os.ReadFile(victim)
	assert.Equal(t, "precious\n", string(got))
	assert.Equal(t, os.FileMode(0o644), mode(t, victim).Perm())
	_, err := os.Lstat(filepath.Join(dir, "nowhere"))
	assert.True(t, os.IsNotExist(err), "nothing created where the dangling link points")

	require.ErrorContains(t, write(t, dir, true, "x"), "is not a regular file")
}

// What appears at the target while the export runs is not overwritten
// without force (a link there is refused with it), and an aborted export
// leaves nothing.
func TestCreateOutputRaces(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "export.jsonl")
	f, err := CreateOutput(target, false)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(target, []byte("someone else's\n"), 0o644))
	_, err = f.WriteString("tokens\n")
	require.NoError(t, err)
	require.Error(t, f.Commit())
	got, _ := os.ReadFile(target)
	assert.Equal(t, "someone else's\n", string(got))

	require.NoError(t, os.Remove(target))
	f, err = CreateOutput(target, true)
	require.NoError(t, err)
	require.NoError(t, os.Symlink(filepath.Join(dir, "victim"), target))
	require.ErrorContains(t, f.Commit(), "symbolic link")
	_, err = os.Stat(filepath.Join(dir, "victim"))
	assert.True(t, os.IsNotExist(err))

	require.NoError(t, os.Remove(target))
	f, err = CreateOutput(target, false)
	require.NoError(t, err)
	f.Abort()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}
