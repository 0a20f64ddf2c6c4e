package localredis

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Dir and PasswordFile follow XDG_STATE_HOME, else ~/.local/state; Dir
// makes the directory for the user alone, PasswordFile makes nothing.
func TestWhereUpKeepsItsRedis(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	file, err := PasswordFile()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(state, "restcomm-gateway", "redis", "password"), file)
	_, err = os.Stat(filepath.Dir(file))
	assert.ErrorIs(t, err, fs.ErrNotExist, "PasswordFile makes nothing")
	dir, err := Dir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Dir(file), dir)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	home := t.TempDir()
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", home)
	file, err = PasswordFile()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".local", "state", "restcomm-gateway", "redis", "password"), file)
}

// A password file is read only when it is a regular file for its owner
// alone, holding one password.
func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	good := write("good", "0123abcd\n", 0o600)
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(good, link))
	for _, c := range []struct {
		file, want, err string
	}{
		{good, "0123abcd", ""},
		{write("group", "pw", 0o640), "", "is readable by other users (mode 0640): chmod 600"},
		{write("world", "pw", 0o604), "", "is readable by other users (mode 0604)"},
		{link, "", "is not a regular file"},
		{dir, "", "is not a regular file"},
		{write("empty", " \n", 0o600), "", "does not hold one password"},
		{write("two", "one two", 0o600), "", "does not hold one password"},
		{write("quoted", `"pw"`, 0o600), "", "does not hold one password"},
	} {
		pw, err := ReadPassword(c.file)
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, c.file)
			assert.Empty(t, pw)
			continue
		}
		require.NoError(t, err, c.file)
		assert.Equal(t, c.want, pw)
	}
	_, err := ReadPassword(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
