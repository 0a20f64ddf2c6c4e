package decisionlog

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decode(t *testing.T, s string) *any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v))
	return &v
}

func encode(t *testing.T, v *any) string {
	t.Helper()
	if v == nil {
		return "null"
	}
	b, err := json.Marshal(*v)
	require.NoError(t, err)
	return string(b)
}

// OPA's erase and upsert semantics, rule by rule: what is left of the
// input and the result, and what erased and masked list.
func TestMaskRules(t *testing.T) {
	t.Parallel()
	const input = `{"a":{"b":1,"c":[1,2,3],"d e":2},"x":"y","arr":[{"k":1},{"k":2}]}`
	const result = `{"allow":false,"status":403}`
	for name, c := range map[string]struct {
		rules          []Rule
		input, result  string
		erased, masked []string
	}{
		"erase a member": {
			rules: []Rule{{Op: Erase, Path: "/input/a/b"}},
			input: `{"a":{"c":[1,2,3],"d e":2},"x":"y","arr":[{"k":1},{"k":2}]}`, result: result,
			erased: []string{"/input/a/b"},
		},
		"erase an array element shortens the array": {
			rules: []Rule{{Op: Erase, Path: "/input/a/c/1"}},
			input: `{"a":{"b":1,"c":[1,3],"d e":2},"x":"y","arr":[{"k":1},{"k":2}]}`, result: result,
			erased: []string{"/input/a/c/1"},
		},
		"erase inside an array element": {
			rules: []Rule{{Op: Erase, Path: "/input/arr/1/k"}},
			input: `{"a":{"b":1,"c":[1,2,3],"d e":2},"x":"y","arr":[{"k":1},{}]}`, result: result,
			erased: []string{"/input/arr/1/k"},
		},
		"an escaped part": {
			rules: []Rule{{Op: Erase, Path: "/input/a/d%20e"}},
			input: `{"a":{"b":1,"c":[1,2,3]},"x":"y","arr":[{"k":1},{"k":2}]}`, result: result,
			erased: []string{"/input/a/d%20e"},
		},
		"erase what is not there: nothing, not listed": {
			rules: []Rule{{Op: Erase, Path: "/input/a/nope"}, {Op: Erase, Path: "/input/x/deeper"}, {Op: Erase, Path: "/input/a/c/9"}},
			input: input, result: result,
		},
		"erase the whole input": {
			rules: []Rule{{Op: Erase, Path: "/input"}},
			input: "null", result: result,
			erased: []string{"/input"},
		},
		"erase in the result": {
			rules: []Rule{{Op: Erase, Path: "/result/status"}},
			input: input, result: `{"allow":false}`,
			erased: []string{"/result/status"},
		},
		"upsert replaces": {
			rules: []Rule{{Op: Upsert, Path: "/input/x", Value: "**REDACTED**"}},
			input: `{"a":{"b":1,"c":[1,2,3],"d e":2},"x":"**REDACTED**","arr":[{"k":1},{"k":2}]}`, result: result,
			masked: []string{"/input/x"},
		},
		"upsert creates the objects on the way": {
			rules: []Rule{{Op: Upsert, Path: "/input/n/m", Value: true}},
			input: `{"a":{"b":1,"c":[1,2,3],"d e":2},"x":"y","arr":[{"k":1},{"k":2}],"n":{"m":true}}`, result: result,
			masked: []string{"/input/n/m"},
		},
		"upsert through a scalar: nothing": {
			rules: []Rule{{Op: Upsert, Path: "/input/x/m", Value: 1}},
			input: input, result: result,
		},
		"upsert the whole result": {
			rules: []Rule{{Op: Upsert, Path: "/result", Value: "hidden"}},
			input: input, result: `"hidden"`,
			masked: []string{"/result"},
		},
		"in order": {
			rules: []Rule{{Op: Erase, Path: "/input/a"}, {Op: Upsert, Path: "/input/a/b", Value: 0}},
			input: `{"a":{"b":0},"x":"y","arr":[{"k":1},{"k":2}]}`, result: result,
			erased: []string{"/input/a"}, masked: []string{"/input/a/b"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var rules Rules
			for _, r := range c.rules {
				rule, err := NewRule(r.Op, r.Path, r.Value)
				require.NoError(t, err)
				rules = append(rules, rule)
			}
			e := &Event{Input: decode(t, input), Result: decode(t, result)}
			rules.Mask(e)
			assert.JSONEq(t, c.input, encode(t, e.Input))
			assert.JSONEq(t, c.result, encode(t, e.Result))
			assert.Equal(t, c.erased, e.Erased)
			assert.Equal(t, c.masked, e.Masked)
		})
	}
}

// A credential's member is erased wherever it is and however it is
// spelled, and listed as OPA lists an erased path.
func TestMaskErasesSecretsByName(t *testing.T) {
	t.Parallel()
	e := &Event{
		Input: decode(t, `{"request":{"headers":{"AUTHORIZATION":"Basic czpw","X-Ok":"1"},
			"form":{"Password":"p","AuthToken":"t","auth_token":"t","FriendlyName":"f"},
			"list":[{"authorization":"Bearer x"}],"Proxy-Authorization":"Basic y","cookie":"c"},"operation":"o"}`),
		Result: decode(t, `{"allow":true,"hide_auth_token":true,"token":"t"}`),
	}
	Rules(nil).Mask(e)
	assert.JSONEq(t, `{"request":{"headers":{"X-Ok":"1"},"form":{"FriendlyName":"f"},"list":[{}]},"operation":"o"}`, encode(t, e.Input))
	assert.JSONEq(t, `{"allow":true,"hide_auth_token":true}`, encode(t, e.Result))
	assert.ElementsMatch(t, []string{
		"/input/request/Proxy-Authorization",
		"/input/request/cookie",
		"/input/request/form/AuthToken",
		"/input/request/form/Password",
		"/input/request/form/auth_token",
		"/input/request/headers/AUTHORIZATION",
		"/input/request/list/0/authorization",
		"/result/token",
	}, e.Erased)
}

// Rules are read as OPA's mask policy returns them; bad ones are errors.
func TestParseRule(t *testing.T) {
	t.Parallel()
	r, err := ParseRule("/input/client_ip")
	require.NoError(t, err)
	assert.Equal(t, Erase, r.Op)
	r, err = ParseRule(map[string]any{"op": "upsert", "path": "/input/client_ip", "value": "x"})
	require.NoError(t, err)
	assert.Equal(t, Upsert, r.Op)
	assert.Equal(t, "x", r.Value)
	for _, bad := range []any{
		"", "input/x", "/data/x", "/nd_builtin_cache", "/input/%zz",
		map[string]any{"op": "drop", "path": "/input/x"}, 42,
	} {
		_, err := ParseRule(bad)
		assert.Error(t, err, "%v", bad)
	}
}
