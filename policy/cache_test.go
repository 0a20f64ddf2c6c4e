package policy_test

import (
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/assert"

	"github.com/restcomm/restcomm-gateway/policy"
)

// Every fact the policy is given is part of the key its decision is
// remembered by, and nothing else is: a fact added to Input and to its
// input document must be added to the key too.
func TestCacheKeyCoversEveryFact(t *testing.T) {
	base := func() *policy.Input { // every subject and optional fact present
		in := &policy.Input{}
		present(reflect.ValueOf(in).Elem())
		return in
	}
	baseKey, baseDoc := policy.CacheKey(base()), policy.InputDocument(base())
	keys := map[string]string{baseKey: "base"}
	n := 0
	var visit func(name string, get func(*policy.Input) reflect.Value)
	visit = func(name string, get func(*policy.Input) reflect.Value) {
		v := get(base())
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				visit(name+"."+v.Type().Field(i).Name, func(in *policy.Input) reflect.Value { return get(in).Field(i) })
			}
			return
		case reflect.Pointer:
			visit(name, func(in *policy.Input) reflect.Value { return get(in).Elem() })
			in := base()
			get(in).Set(reflect.Zero(v.Type())) // absent
			check(t, name+"=nil", in, baseKey, baseDoc, keys)
			return
		case reflect.String:
			in := base()
			get(in).SetString("x")
			check(t, name, in, baseKey, baseDoc, keys)
		case reflect.Bool:
			in := base()
			get(in).SetBool(true)
			check(t, name, in, baseKey, baseDoc, keys)
		case reflect.Int:
			in := base()
			get(in).SetInt(7)
			check(t, name, in, baseKey, baseDoc, keys)
		case reflect.Slice:
			in := base()
			get(in).Set(reflect.ValueOf([]string{"x"}))
			check(t, name, in, baseKey, baseDoc, keys)
		default:
			t.Fatalf("%s: a %s fact the key does not know", name, v.Kind())
		}
		n++
	}
	visit("Input", func(in *policy.Input) reflect.Value { return reflect.ValueOf(in).Elem() })
	assert.Greater(t, n, 15)
}

// present sets every pointer of the struct v, and of the structs in it, to
// a zero value.
func present(v reflect.Value) {
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Struct:
			present(f)
		}
	}
}

func check(t *testing.T, name string, in *policy.Input, baseKey string, baseDoc ast.Value, keys map[string]string) {
	t.Helper()
	key := policy.CacheKey(in)
	docChanged := !ast.ValueEqual(policy.InputDocument(in), baseDoc)
	assert.True(t, docChanged, "%s is not in the input document", name)
	assert.NotEqual(t, baseKey, key, "%s is not in the cache key", name)
	if other, seen := keys[key]; seen {
		t.Errorf("%s and %s have the same cache key", name, other)
	}
	keys[key] = name
}
