package caddymodule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Caddyfile → JSON golden tests: each testdata/caddyfile_adapt file holds a
// Caddyfile and, after a line of dashes, the JSON it must adapt to.
func TestCaddyfileAdapt(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			cfg, want, ok := strings.Cut(string(raw), "----------")
			require.True(t, ok, "missing ---------- separator")
			assert.True(t, caddytest.CompareAdapt(t, f, strings.TrimSpace(cfg)+"\n", "caddyfile", strings.TrimSpace(want)))
		})
	}
}

func TestCaddyfileErrors(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]string{
		"unknown subdirective":           "restcomm {\n\tredis_url redis://x\n}",
		"missing redis url":              "restcomm {\n\tredis\n}",
		"two policy dirs":                "restcomm {\n\tpolicy_dir /a /b\n}",
		"bad timeout":                    "restcomm {\n\tredis_timeout soon\n}",
		"read replicas with an argument": "restcomm {\n\tredis_read_replicas yes\n}",
		"inline argument":                "restcomm redis://x",
		"decision_log maybe":             "restcomm {\n\tdecision_log maybe\n}",
		"decision_log twice":             "restcomm {\n\tdecision_log on off\n}",
		"seed maybe":                     "restcomm {\n\tseed maybe\n}",
		"seed without value":             "restcomm {\n\tseed\n}",
		"wait no replicas":               "restcomm {\n\tredis_wait_replicas\n}",
		"wait bad replicas":              "restcomm {\n\tredis_wait_replicas two\n}",
		"wait bad timeout":               "restcomm {\n\tredis_wait_replicas 1 0s\n}",
		"wait too many args":             "restcomm {\n\tredis_wait_replicas 1 1s 2\n}",
		"health_path in RestComm":        "restcomm {\n\thealth_path /restcomm\n}",
		"health_path below RestComm":     "restcomm {\n\thealth_path /ReStComm/health\n}",
		"health_path relative":           "restcomm {\n\thealth_path health\n}",
		"health_path trailing slash":     "restcomm {\n\thealth_path /gw/\n}",
		"health_path dot segment":        "restcomm {\n\thealth_path /gw/..\n}",
		"health_path two":                "restcomm {\n\thealth_path /a /b\n}",
	} {
		t.Run(name, func(t *testing.T) {
			g := new(Gateway)
			err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(cfg))
			assert.Error(t, err)
		})
	}
}

// The top-level Caddyfile is the deployment shape: it must adapt, keep its
// environment names, route through the gateway to reverse_proxy, listen on
// loopback only by default, and keep the Redis password out of the JSON.
func TestTopLevelCaddyfile(t *testing.T) {
	raw, err := os.ReadFile("../Caddyfile")
	require.NoError(t, err)
	for _, env := range []string{"RESTCOMM_SITE", "RESTCOMM_BIND", "RESTCOMM_ADMIN", "RESTCOMM_REDIS", "RESTCOMM_UPSTREAM"} {
		assert.Contains(t, string(raw), "{$"+env+":", env)
	}
	assert.Contains(t, string(raw), "{env.RESTCOMM_REDIS_PASSWORD}")
	t.Setenv("RESTCOMM_REDIS", "redis://127.0.0.1:6399/3")
	t.Setenv("RESTCOMM_REDIS_PASSWORD", "s3cret")
	t.Setenv("RESTCOMM_UPSTREAM", "127.0.0.1:8099")
	for _, env := range []string{"RESTCOMM_SITE", "RESTCOMM_BIND"} {
		t.Setenv(env, "")
		require.NoError(t, os.Unsetenv(env))
	}
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(raw, map[string]any{"filename": "Caddyfile"})
	require.NoError(t, err)
	js := string(out)
	assert.Contains(t, js, `"handler":"restcomm"`)
	assert.Contains(t, js, `redis://127.0.0.1:6399/3`)
	assert.Contains(t, js, `"dial":"127.0.0.1:8099"`)
	assert.Contains(t, js, `"listen":["127.0.0.1:8443","[::1]:8443"]`)
	assert.Contains(t, js, `"password":"{env.RESTCOMM_REDIS_PASSWORD}"`)
	assert.NotContains(t, js, "s3cret")
	assert.Less(t, strings.Index(js, `"handler":"restcomm"`), strings.Index(js, `"handler":"reverse_proxy"`))
}
