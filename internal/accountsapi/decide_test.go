package accountsapi

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/policy"
)

// decisionCounts is a Metrics that counts decisions by result and status.
type decisionCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *decisionCounts) Decision(d policy.Decision, err error, _ time.Duration) {
	result := "deny"
	switch {
	case err != nil:
		result = "error"
	case d.Allow:
		result = "allow"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[result+" "+strconv.Itoa(d.Status)]++
}

func (c *decisionCounts) ReadYourWrites(bool)     {}
func (c *decisionCounts) StoreUnavailable(string) {}
func (c *decisionCounts) Throttled(string)        {}

func (c *decisionCounts) get(result string, status int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[result+" "+strconv.Itoa(status)]
}

// A policy that gives no valid decision denies every request with 403 and
// logs why; nothing is passed upstream. That holds for an overlay too.
func TestPolicyThatCannotDecideDenies(t *testing.T) {
	t.Parallel()
	for name, rules := range map[string]string{
		"conflict":        "package restcomm.authz\n\ndecision := {\"allow\": true} if input.caller\ndecision := {\"allow\": false} if input.operation\n",
		"undefined":       "package restcomm.authz\n\ndecision := {\"allow\": true} if input.never\n",
		"not 4xx":         "package restcomm.authz\n\ndecision := {\"allow\": false, \"status\": 302}\n",
		"error":           "package restcomm.authz\n\ndecision := {\"allow\": count(input.caller.ancestors) / count(input.caller.ancestors) > 0}\n",
		"overlay error":   "package restcomm.overlay.x\n\ndeny contains {\"status\": 451} if to_number(input.path) > 0\n",
		"overlay not 4xx": "package restcomm.overlay.x\n\ndeny_operation contains {\"status\": s} if s := count(input.path) + 500\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(rules), 0o644))
			mode := "replace"
			if strings.HasPrefix(name, "overlay") {
				mode = "overlay"
			}
			core, logs := observer.New(zapcore.ErrorLevel)
			counts := new(decisionCounts)
			h := newHarness(t, true, withPolicyDir(t, dir, mode), func(c *setup) { c.Logger, c.Metrics = zap.New(core), counts })
			for _, c := range []call{
				{path: fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, as: "ADMIN"},
				{path: fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + "/Calls.json", as: "ADMIN"},
			} {
				w := h.do(c)
				assert.Equal(t, 403, w.Code, c.path)
				assert.Contains(t, w.Body.String(), "HTTP Status 403")
			}
			assert.Empty(t, h.proxied)
			entries := logs.FilterMessage("policy failed; denying").All()
			require.Len(t, entries, 2)
			assert.NotEmpty(t, entries[0].ContextMap()["error"])
			assert.Equal(t, 2, counts.get("error", 403), "counted as errors, denied with 403")
		})
	}
}

// The gateway's own checks sit at the stages of the one table the policy
// ships (restcomm/stages/data.json, policy.Stages): each Go constant is
// the stage of its name there.
func TestGatewayStagesAreThePolicyTable(t *testing.T) {
	t.Parallel()
	for name, stage := range map[string]int{
		"body_length":                     stageBodyLength,
		"content_type":                    stageContentType,
		"accept":                          stageAccept,
		"read_form":                       stageReadForm,
		"list_query":                      stageListQuery,
		"list_filter":                     stageListFilter,
		"field_limits":                    stageFieldLimits,
		"create_email_missing":            stageEmailMissing,
		"create_password_missing":         stagePasswordMissing,
		"create_email_invalid":            stageEmailInvalid,
		"create_login_invalid":            stageLoginInvalid,
		"create_status_invalid":           stageStatusInvalid,
		"create_organization_sid_invalid": stageOrgSidInvalid,
		"create_organization_missing":     stageOrgMissing,
		"create_weak_password":            stageWeakPassword,
		"create_duplicate":                stageDuplicate,
		"create_column_width":             stageColumnWidth,
		"update_closed":                   stageClosed,
		"update_status":                   stageUpdateStatus,
		"update_friendly_name":            stageUpdateName,
		"update_password":                 stageUpdatePassword,
		"update_role_width":               stageUpdateRoleWidth,
		"migrate_form":                    stageMigrateForm,
		"migrate_field_limits":            stageMigrateLimits,
		"migrate_organization":            stageMigrateOrg,
		"migrate_same_organization":       stageSameOrg,
		"organization_status_filter":      stageOrgStatusFilter,
		"organization_sid_shape":          stageOrgSidShape,
		"organization_domain_pattern":     stageDomainPattern,
		"organization_domain_taken":       stageDomainTaken,
		"target_not_found":                stageTargetNotFound,
		"migrate_not_found":               stageMigrateNotFound,
		"organization_not_found":          stageOrgNotFound,
	} {
		assert.Equal(t, policy.Stage(name), stage, name)
	}
	// The policy's refusals come after the SecurityFilter and before the
	// gateway's checks of a request that no endpoint serves.
	assert.Less(t, policy.Stage("security_filter"), stageBodyLength)
	assert.Less(t, stageAccept, policy.Stage("permission"))
}
