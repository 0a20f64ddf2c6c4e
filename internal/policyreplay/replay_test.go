package policyreplay_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/policyreplay"
	"github.com/restcomm/restcomm-gateway/policy"
)

func builtin(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Compile(context.Background(), policy.Default())
	require.NoError(t, err)
	return p
}

// A request without credentials to a path RestComm serves without them
// (Logout) is allowed by the built-in policy.
const logout = `{"operation":"proxy","method":"GET","path":"Logout","request":{}}`

func TestReplayLoggedErrorsAndBounds(t *testing.T) {
	t.Parallel()
	log := strings.Join([]string{
		// the policy failed: the request was denied (fail closed), the
		// built-in policy allows it
		`{"decision_id":"failed","path":"restcomm/authz/decision","input":` + logout + `,"error":{"code":"internal_error","message":"boom"}}`,
		// a document the gateway refused, logged beside the error
		`{"decision_id":"refused","path":"restcomm/authz/decision","input":` + logout + `,"result":{"allow":"yes"},"error":{"code":"internal_error","message":"bad"}}`,
		// a result the gateway could not have acted on: denied
		`{"decision_id":"invalid","path":"restcomm/authz/decision","input":` + logout + `,"result":{"allow":false,"status":500}}`,
		`{"decision_id":"same","path":"restcomm/authz/decision","input":` + logout + `,"result":{"allow":true,"anonymous":true}}`,
		`{"decision_id":"long","path":"restcomm/authz/decision","input":` + logout + `,"result":{"allow":true},"pad":"` + strings.Repeat("x", 300) + `"}`,
		`[1,2]`,
		`{"decision_id":"input-not-object","path":"restcomm/authz/decision","input":[1],"result":{"allow":true}}`,
	}, "\n") // no final newline
	rep, err := policyreplay.Replay(context.Background(), strings.NewReader(log), builtin(t),
		policyreplay.Options{Examples: 10, MaxLineBytes: 300})
	require.NoError(t, err)
	assert.Equal(t, 7, rep.Lines)
	assert.Equal(t, 4, rep.Compared)
	assert.Equal(t, policyreplay.Skipped{TooLong: 1, Malformed: 1, NoResult: 1}, rep.Skipped)
	assert.Equal(t, 2, rep.LoggedErrors)
	assert.Equal(t, map[string]int{policy.WouldAllow: 3}, rep.ByChange)
	require.Len(t, rep.Examples, 3)
	assert.Equal(t, "error: boom", rep.Examples[0].Logged.String())
	assert.Equal(t, `{"allow":"yes"} (error: bad)`, rep.Examples[1].Logged.String())
	assert.Contains(t, rep.Examples[2].Logged.Error, "not a 4xx status")
	assert.Equal(t, `{"allow":true,"anonymous":true}`, rep.Examples[0].Candidate.String())

	_, err = policyreplay.Replay(context.Background(), strings.NewReader(log), builtin(t), policyreplay.Options{MaxLines: 6})
	assert.ErrorContains(t, err, "more than 6 lines")
}

func TestChange(t *testing.T) {
	t.Parallel()
	allow := policy.Decision{Allow: true}
	deny := policy.Deny
	for _, c := range []struct {
		was, now policy.Decision
		want     string
	}{
		{allow, allow, ""},
		{deny, deny, ""},
		{allow, deny, policy.WouldDeny},
		{deny, allow, policy.WouldAllow},
		{deny, policy.Decision{Status: 401, Body: "page"}, policy.StatusChanged},
		{deny, policy.Decision{Status: 403, Body: "plain"}, policy.ResponseChanged},
		{deny, policy.Decision{Status: 403, Body: "page", Headers: map[string]string{"a": "b"}}, policy.ResponseChanged},
		{allow, policy.Decision{Allow: true, HideAuthToken: true}, policy.ResponseChanged},
	} {
		assert.Equal(t, c.want, policy.Change(c.was, c.now), "%+v → %+v", c.was, c.now)
	}
}
