// Package localredis is where the redis-server that `restcomm-gateway up`
// starts keeps its data and its password, so that the commands that work
// with the gateway's Redis (accounts, mirror) find it as up does.
package localredis

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Dir is the directory of up's redis-server, made (readable by the user
// only) when missing: $XDG_STATE_HOME/restcomm-gateway/redis, else
// ~/.local/state/restcomm-gateway/redis.
func Dir() (string, error) {
	dir, err := dir()
	if err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o700)
}

func dir() (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "restcomm-gateway", "redis"), nil
}

// PasswordFile is the file in Dir that holds the password of up's
// redis-server (without making the directory).
func PasswordFile() (string, error) {
	dir, err := dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "password"), nil
}

// ReadPassword reads a password file: a regular file, readable by its
// owner only, holding one password. A missing file is an error that
// errors.Is(err, fs.ErrNotExist) recognises.
func ReadPassword(file string) (string, error) {
	fi, err := os.Lstat(file)
	if err != nil {
		return "", err
	}
	switch {
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("redis password file %s is not a regular file", file)
	case fi.Mode().Perm()&0o077 != 0:
		return "", fmt.Errorf("redis password file %s is readable by other users (mode %04o): chmod 600 %s, "+
			"and change the password if they could have read it (delete the file and restart the redis-server up started)",
			file, fi.Mode().Perm(), file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" || strings.ContainsAny(pw, " \t\r\n\"'") {
		return "", fmt.Errorf("redis password file %s does not hold one password", file)
	}
	return pw, nil
}
