// Package debian holds the Debian package's build (build.sh, nfpm.yaml)
// and, here, its test: the package is built as an operator builds it, then
// installed with dpkg into a scratch root, and what dpkg put there is
// checked.
package debian

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The version and revision the test stamps: a pre-release, to see it
// become a Debian version that sorts before the release.
const (
	testVersion    = "1.2.3-test.1"
	testDebVersion = "1.2.3~test.1-7"
	unitName       = "restcomm-gateway.service"
)

// packaged are the package's files, the mode each has, and where the
// repository holds it ("" for the binary).
var packaged = []struct {
	path   string
	mode   os.FileMode
	source string
}{
	{"/usr/bin/restcomm-gateway", 0o755, ""},
	{"/usr/lib/systemd/system/" + unitName, 0o644, "deploy/systemd/" + unitName},
	{"/etc/restcomm-gateway/Caddyfile", 0o644, "Caddyfile"},
	{"/etc/default/restcomm-gateway", 0o600, "deploy/default/restcomm-gateway"},
	{"/usr/share/doc/restcomm-gateway/install.md", 0o644, "docs/install.md"},
	{"/usr/share/doc/restcomm-gateway/copyright", 0o644, "LICENSE"},
}

var conffiles = []string{"/etc/default/restcomm-gateway", "/etc/restcomm-gateway/Caddyfile"}

// repo is the repository, seen from this package's directory.
const repo = "../.."

func TestPackage(t *testing.T) {
	for _, tool := range []string{"bash", "go", "dpkg", "dpkg-deb", "dpkg-query"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the package is built and installed on Debian", tool)
		}
	}
	// What the package should hold, read before it is built from them.
	sources := map[string][]byte{}
	for _, f := range packaged {
		if f.source != "" {
			b, err := os.ReadFile(filepath.Join(repo, f.source))
			require.NoError(t, err)
			sources[f.path] = b
		}
	}

	deb := buildPackage(t)

	t.Run("control", func(t *testing.T) {
		hostArch := strings.TrimSpace(run(t, "dpkg", "--print-architecture"))
		fields := debFields(t, deb, "Package", "Version", "Architecture", "Depends", "Recommends", "Maintainer")
		assert.Equal(t, map[string]string{
			"Package": "restcomm-gateway", "Version": testDebVersion, "Architecture": hostArch,
			// Redis may be elsewhere: recommended, never required.
			"Depends": "", "Recommends": "redis-server",
			"Maintainer": "Package Test <package-test@example.com>",
		}, fields)
	})

	t.Run("files, modes and owners", func(t *testing.T) {
		entries := debData(t, deb)
		var files []string
		for name, h := range entries {
			assert.Zero(t, h.Uid, "%s is root's", name)
			assert.Zero(t, h.Gid, "%s is root's", name)
			if h.Typeflag != tar.TypeDir {
				files = append(files, name)
			}
		}
		var want []string
		for _, f := range packaged {
			want = append(want, f.path)
			if h, ok := entries[f.path]; assert.True(t, ok, "%s is packaged", f.path) {
				assert.Equal(t, byte(tar.TypeReg), h.Typeflag, "%s is a file", f.path)
				assert.Equal(t, f.mode, os.FileMode(h.Mode).Perm(), "%s's mode", f.path)
			}
		}
		sort.Strings(files)
		sort.Strings(want)
		assert.Equal(t, want, files, "the package holds these files and no others")
	})

	t.Run("conffiles, no maintainer scripts", func(t *testing.T) {
		control := debControl(t, deb)
		assert.Equal(t, strings.Join(conffiles, "\n")+"\n", control["conffiles"],
			"an upgrade keeps the operator's configuration")
		for _, script := range []string{"preinst", "postinst", "prerm", "postrm", "config"} {
			_, ok := control[script]
			assert.False(t, ok, "%s: the service's user is systemd's DynamicUser, nothing to set up", script)
		}
	})

	root := installRoot(t)
	dpkg(t, root, "--install", deb)
	bin := filepath.Join(root, "usr/bin/restcomm-gateway")

	t.Run("installed", func(t *testing.T) {
		status := run(t, "dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"),
			"--show", "--showformat=${Status} ${Version}\n${Conffiles}", "restcomm-gateway")
		lines := strings.Split(strings.TrimSpace(status), "\n")
		assert.Equal(t, "install ok installed "+testDebVersion, lines[0])
		var listed []string
		for _, l := range lines[1:] {
			listed = append(listed, strings.Fields(l)[0])
		}
		assert.ElementsMatch(t, conffiles, listed, "dpkg records the conffiles")

		for _, f := range packaged {
			fi, err := os.Lstat(filepath.Join(root, f.path))
			if !assert.NoError(t, err) {
				continue
			}
			assert.True(t, fi.Mode().IsRegular(), "%s is a file", f.path)
			assert.Equal(t, f.mode, fi.Mode().Perm(), "%s's mode on disk", f.path)
			if want, ok := sources[f.path]; ok {
				got, err := os.ReadFile(filepath.Join(root, f.path))
				require.NoError(t, err)
				assert.Equal(t, string(want), string(got), "%s is the repository's %s", f.path, f.path)
			}
		}
	})

	t.Run("the binary runs and has its version", func(t *testing.T) {
		out := run(t, bin, "version")
		first, _, _ := strings.Cut(out, "\n")
		m := regexp.MustCompile(`^restcomm-gateway (\S+) \(commit ([0-9a-f]{40})(\+modified)?\)$`).FindStringSubmatch(first)
		if assert.NotNil(t, m, "version's first line: %q", first) {
			assert.Equal(t, testVersion, m[1])
			if _, err := exec.LookPath("git"); err == nil {
				// HEAD may move while the test runs; the commit must exist.
				assert.NoError(t, exec.Command("git", "-C", repo, "cat-file", "-e", m[2]+"^{commit}").Run(),
					"the stamped commit %s is one of this repository's", m[2])
			}
		}
		assert.Equal(t, testVersion+"\n", run(t, bin, "gateway-version"))
		assert.Contains(t, run(t, bin, "list-modules"), "http.handlers.restcomm\n")
	})

	caddyfile := filepath.Join(root, "etc/restcomm-gateway/Caddyfile")
	envFile := filepath.Join(root, "etc/default/restcomm-gateway")

	t.Run("every variable of the Caddyfile is in the environment file", func(t *testing.T) {
		used := caddyfileVariables(t, caddyfile)
		require.NotEmpty(t, used)
		documented := map[string]bool{}
		for name := range envExamples(t, envFile) {
			documented[name] = true
		}
		for name := range used {
			assert.True(t, documented[name], "%s is used by the Caddyfile: /etc/default/restcomm-gateway shows it, commented out", name)
		}
		for name := range documented {
			assert.True(t, used[name], "%s is in /etc/default/restcomm-gateway but not in the Caddyfile", name)
		}
	})

	t.Run("the packaged Caddyfile adapts", func(t *testing.T) {
		// As the service starts it with the environment file as installed:
		// every line commented out, the Caddyfile's defaults.
		out := adapt(t, bin, caddyfile, nil)
		assert.Contains(t, out, `"127.0.0.1:8443"`)
		assert.Contains(t, out, `"[::1]:8443"`)
		assert.Contains(t, out, `"redis://127.0.0.1:6379/0"`)
		assert.Contains(t, out, `"localhost:2019"`)

		// With every example of the environment file uncommented.
		examples := envExamples(t, envFile)
		out = adapt(t, bin, caddyfile, examples)
		for name, value := range examples {
			if value != "" && name != "RESTCOMM_BIND" {
				assert.Contains(t, out, strings.TrimPrefix(value, "https://"), "%s=%s is in the configuration", name, value)
			}
		}

		// The admin API on the socket in the unit's RuntimeDirectory, as
		// the environment file suggests.
		out = adapt(t, bin, caddyfile, map[string]string{"RESTCOMM_ADMIN": "unix//run/restcomm-gateway/admin.sock"})
		assert.Contains(t, out, `"admin":{"listen":"unix//run/restcomm-gateway/admin.sock"}`)
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		if _, err := exec.LookPath("systemd-analyze"); err != nil {
			t.Skip("systemd-analyze is not installed (Debian's systemd package has it)")
		}
		// verify checks that ExecStart's program exists and is executable,
		// in /, even with --root (which also wants the whole of systemd's
		// units in the root): a copy of the unit names the installed binary.
		unit, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system", unitName))
		require.NoError(t, err)
		require.Contains(t, string(unit), "ExecStart=/usr/bin/restcomm-gateway ")
		unitCopy := filepath.Join(t.TempDir(), unitName)
		require.NoError(t, os.WriteFile(unitCopy, bytes.ReplaceAll(unit, []byte("/usr/bin/restcomm-gateway"), []byte(bin)), 0o644))

		// verify reports unknown settings as warnings and still exits 0:
		// it must say nothing at all.
		out, err := exec.Command("systemd-analyze", "verify", "--man=no", unitCopy).CombinedOutput()
		assert.NoError(t, err, "%s", out)
		assert.Empty(t, string(out), "systemd-analyze verify has no complaint")

		// The sandbox, scored by systemd itself (0 is the most confined,
		// 10 not at all); 2.0 is well inside "OK".
		out, err = exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=20", unitCopy).CombinedOutput()
		assert.NoError(t, err, "the unit's exposure is above 2.0:\n%s", out)
		if m := regexp.MustCompile(`Overall exposure level for \S+: (.*)`).FindSubmatch(out); m != nil {
			t.Logf("exposure: %s", m[1])
		}
	})

	t.Run("remove keeps the configuration, purge removes it", func(t *testing.T) {
		dpkg(t, root, "--remove", "restcomm-gateway")
		assert.NoFileExists(t, bin)
		assert.NoFileExists(t, filepath.Join(root, "usr/lib/systemd/system", unitName))
		assert.FileExists(t, caddyfile)
		assert.FileExists(t, envFile)
		dpkg(t, root, "--purge", "restcomm-gateway")
		assert.NoFileExists(t, caddyfile)
		assert.NoFileExists(t, envFile)
	})
}

// buildPackage runs build.sh, as an operator does, into a scratch
// directory and returns the package's path.
func buildPackage(t *testing.T) string {
	out := t.TempDir()
	cmd := exec.Command("bash", "build.sh", out)
	cmd.Env = append(os.Environ(),
		"VERSION="+testVersion, "DEB_RELEASE=7", "GOARCH="+runtime.GOARCH,
		"MAINTAINER=Package Test <package-test@example.com>")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	require.NoError(t, err, "build.sh: %s", stderr.String())
	t.Logf("built the package in %s", time.Since(start).Round(time.Second))
	deb := strings.TrimSpace(stdout.String())
	assert.Equal(t, filepath.Join(out, "restcomm-gateway_"+testDebVersion+"_"+debArch(t)+".deb"), deb,
		"build.sh prints the package's path, named as Debian names packages")
	require.FileExists(t, deb)
	return deb
}

func debArch(t *testing.T) string {
	return strings.TrimSpace(run(t, "dpkg", "--print-architecture"))
}

// debFields are the package's control fields, "" for one it lacks.
func debFields(t *testing.T, deb string, names ...string) map[string]string {
	fields := map[string]string{}
	for _, name := range names {
		fields[name] = strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, name))
	}
	return fields
}

// debData are the headers of the package's files, by absolute path.
func debData(t *testing.T, deb string) map[string]*tar.Header {
	headers := map[string]*tar.Header{}
	readTar(t, "--fsys-tarfile", deb, func(h *tar.Header, _ io.Reader) {
		name := "/" + strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		if name != "/" {
			headers[strings.TrimSuffix(name, "/")] = h
		}
	})
	return headers
}

// debControl is the package's control archive: its files' contents by
// name (control, md5sums, conffiles, maintainer scripts).
func debControl(t *testing.T, deb string) map[string]string {
	files := map[string]string{}
	readTar(t, "--ctrl-tarfile", deb, func(h *tar.Header, r io.Reader) {
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(r)
			require.NoError(t, err)
			files[strings.TrimPrefix(h.Name, "./")] = string(b)
		}
	})
	return files
}

func readTar(t *testing.T, which, deb string, each func(*tar.Header, io.Reader)) {
	out, err := exec.Command("dpkg-deb", which, deb).Output()
	require.NoError(t, err, "dpkg-deb %s", which)
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		require.NoError(t, err)
		each(h, tr)
	}
}

// installRoot is an empty root with the database dpkg --root needs.
func installRoot(t *testing.T) string {
	root := t.TempDir()
	admin := filepath.Join(root, "var/lib/dpkg")
	for _, d := range []string{"info", "updates"} {
		require.NoError(t, os.MkdirAll(filepath.Join(admin, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(admin, "status"), nil, 0o644))
	return root
}

// dpkg runs dpkg on the scratch root. The package has no maintainer
// scripts, so nothing runs chrooted into it.
func dpkg(t *testing.T, root string, args ...string) {
	args = append([]string{"--root=" + root, "--log=/dev/null"}, args...)
	if os.Geteuid() != 0 {
		args = append([]string{"--force-not-root"}, args...)
	}
	cmd := exec.Command("dpkg", args...)
	// dpkg looks for ldconfig and start-stop-daemon on PATH, which a user's
	// PATH may lack.
	cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+":/usr/sbin:/sbin")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "dpkg %s: %s", strings.Join(args, " "), out)
}

// caddyfileVariables are the RESTCOMM_ variables a Caddyfile uses, as
// {$NAME}, {$NAME:default} or {env.NAME}.
func caddyfileVariables(t *testing.T, caddyfile string) map[string]bool {
	b, err := os.ReadFile(caddyfile)
	require.NoError(t, err)
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\{(?:\$|env\.)(RESTCOMM_[A-Z0-9_]+)[:}]`).FindAllSubmatch(b, -1) {
		used[string(m[1])] = true
	}
	return used
}

// envExamples are the environment file's commented-out examples,
// #NAME=value, by name.
func envExamples(t *testing.T, envFile string) map[string]string {
	f, err := os.Open(envFile)
	require.NoError(t, err)
	defer f.Close()
	examples := map[string]string{}
	line := regexp.MustCompile(`^#(RESTCOMM_[A-Z0-9_]+)=(.*)$`)
	s := bufio.NewScanner(f)
	for s.Scan() {
		if m := line.FindStringSubmatch(s.Text()); m != nil {
			examples[m[1]] = m[2]
		}
		assert.NotRegexp(t, `^RESTCOMM_`, s.Text(), "the file as packaged sets nothing: the Caddyfile's defaults apply")
	}
	require.NoError(t, s.Err())
	return examples
}

// adapt adapts the Caddyfile with the binary, in an environment of PATH,
// a scratch HOME and env alone, and returns the JSON.
func adapt(t *testing.T, bin, caddyfile string, env map[string]string) string {
	cmd := exec.Command(bin, "adapt", "--config", caddyfile, "--adapter", "caddyfile")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "adapt: %s", stderr.String())
	return stdout.String()
}

func run(t *testing.T, name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), exit.Stderr)
	}
	require.NoError(t, err, "%s %s", name, strings.Join(args, " "))
	return string(out)
}
