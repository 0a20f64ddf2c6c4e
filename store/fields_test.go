package store

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every name a script reads through F or A is in the one table of names
// Go passes (fields.go): a name spelt otherwise in Lua would be nil there.
func TestScriptsUseOnlyTheSharedNames(t *testing.T) {
	known := append(append(append(append([]string{fRequest, fDomain}, accountFields...), organizationFields...), argumentNames...), entryNames...)
	used := regexp.MustCompile(`\b[AF]\.([a-z_]+)`)
	sources := map[string]string{
		"resolve.lua": resolveSrc, "create_account.lua": createAccountSrc, "update_account.lua": updateAccountSrc,
		"migrate_account.lua": migrateAccountSrc, "create_organization.lua": createOrganizationSrc,
		"record_failure.lua": recordFailureSrc, "guard.lua": guardSrc, "outbox.lua": outboxSrc,
		"lease.lua": leaseSrc, "outbox_done.lua": outboxDoneSrc,
	}
	n := 0
	for name, src := range sources {
		for _, m := range used.FindAllStringSubmatch(src, -1) {
			assert.Contains(t, known, m[1], "%s reads %s, which fields.go does not name", name, m[0])
			n++
		}
	}
	assert.Greater(t, n, 40)
	// and no write script takes positional arguments past the prefix
	for name, src := range sources {
		if name == "resolve.lua" {
			continue // a list of lookups, not named values
		}
		for _, m := range regexp.MustCompile(`ARGV\[([^\]]+)\]`).FindAllStringSubmatch(src, -1) {
			assert.Equal(t, "1", m[1], "%s reads ARGV[%s]", name, m[1])
		}
	}
	require.True(t, strings.HasPrefix(newScript(resolveSrc).src, readOnlyFlag), "the shebang stays first")
	// every account or organization change appends its outbox entry in
	// its own script (outbox.lua)
	for name, src := range map[string]string{"create_account.lua": createAccountSrc, "update_account.lua": updateAccountSrc,
		"migrate_account.lua": migrateAccountSrc, "create_organization.lua": createOrganizationSrc} {
		assert.Contains(t, src, "\noutbox(p, ", "%s appends no outbox entry", name)
	}
	for _, sc := range []*script{createAccountScript, updateAccountScript, migrateAccountScript, createOrganizationScript} {
		assert.Contains(t, sc.src, "local function outbox(")
	}
	assert.True(t, slices.Contains(accountFields, fParent))
}
