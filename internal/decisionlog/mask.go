package decisionlog

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// A Rule masks one place of an event, as OPA's mask rules do: Erase
// removes the value at Path, Upsert sets it to Value (creating the
// objects on the way). Path is a slash-separated path beginning with
// /input or /result (OPA's JSON pointer of a mask rule: each part is
// URL-path-escaped, "/input/request/headers/authorization"); /input or
// /result alone is the whole document.
type Rule struct {
	Op    Op
	Path  string
	Value any // Upsert's value

	parts []string // unescaped, after the first
	root  string   // "input" or "result"
}

// Op is a mask rule's operation: OPA's "remove" (erase) or "upsert".
type Op string

const (
	Erase  Op = "remove"
	Upsert Op = "upsert"
)

// NewRule checks and prepares a mask rule: an unknown operation, a path
// that is not slash-prefixed, is empty, starts elsewhere than /input or
// /result or holds a bad escape is an error.
func NewRule(op Op, path string, value any) (Rule, error) {
	switch op {
	case Erase, Upsert:
	case "erase", "":
		op = Erase
	default:
		return Rule{}, fmt.Errorf("mask %q: the operation is %q, want remove (erase) or upsert", path, op)
	}
	if path == "" {
		return Rule{}, errors.New("mask: empty path")
	}
	if !strings.HasPrefix(path, "/") {
		return Rule{}, fmt.Errorf("mask %q: the path must start with /", path)
	}
	raw := strings.Split(path[1:], "/")
	if raw[0] != "input" && raw[0] != "result" {
		return Rule{}, fmt.Errorf("mask %q: the path must start with /input or /result", path)
	}
	parts := make([]string, len(raw)-1)
	for i, p := range raw[1:] {
		u, err := url.PathUnescape(p)
		if err != nil {
			return Rule{}, fmt.Errorf("mask %q: %w", path, err)
		}
		parts[i] = u
	}
	return Rule{Op: op, Path: path, Value: value, root: raw[0], parts: parts}, nil
}

// String is the rule's path as OPA lists it in erased and masked.
func (r Rule) String() string { return pointer(r.root, r.parts) }

func pointer(root string, parts []string) string {
	var b strings.Builder
	b.WriteString("/" + root)
	for _, p := range parts {
		b.WriteString("/" + url.PathEscape(p))
	}
	return b.String()
}

// Rules are applied in order. Before them, Mask always erases every
// object member whose name is a credential's (SecretNames), wherever it
// is in the input or the result: a field added to the policy's input
// later cannot leak one.
type Rules []Rule

// SecretNames are the member names Mask erases wherever they are, compared
// without regard to case, "-" and "_": passwords, auth tokens, the
// Authorization and Cookie headers and their kin.
var SecretNames = []string{
	"password", "authtoken", "token", "secret", "authorization",
	"proxyauthorization", "cookie", "setcookie", "apikey", "credentials",
}

func isSecretName(k string) bool {
	k = strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(k))
	return slices.Contains(SecretNames, k)
}

// Mask erases every member with a secret's name, then applies the rules
// to e, as OPA's decision logger applies its mask policy's. Each place
// erased is listed in e.Erased, each place upserted in e.Masked, as OPA
// lists them; a rule whose path is not there changes nothing and is not
// listed. (A rule may upsert a marker where a secret was erased.)
func (rs Rules) Mask(e *Event) {
	for _, root := range []string{"input", "result"} {
		if doc := e.document(root); doc != nil {
			eraseSecrets(e, root, nil, *doc)
		}
	}
	for _, r := range rs {
		r.apply(e)
	}
}

func (e *Event) document(root string) *any {
	if root == "input" {
		return e.Input
	}
	return e.Result
}

func (r Rule) apply(e *Event) {
	doc := e.document(r.root)
	if doc == nil {
		return
	}
	switch r.Op {
	case Erase:
		if len(r.parts) == 0 {
			if r.root == "input" {
				e.Input = nil
			} else {
				e.Result = nil
			}
		} else if !remove(doc, r.parts) {
			return
		}
		e.Erased = append(e.Erased, r.String())
	case Upsert:
		if len(r.parts) == 0 {
			v := r.Value
			if r.root == "input" {
				e.Input = &v
			} else {
				e.Result = &v
			}
		} else if !upsert(*doc, r.parts, r.Value) {
			return
		}
		e.Masked = append(e.Masked, r.String())
	}
}

// remove deletes the member or element at path below *node; false when
// there is none. An element removed from an array shortens it, as OPA's
// does.
func remove(node *any, path []string) bool {
	parent, last := walk(*node, path[:len(path)-1])
	key := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		if _, ok := p[key]; !ok {
			return false
		}
		delete(p, key)
		return true
	case []any:
		i, ok := index(key, len(p))
		if !ok {
			return false
		}
		shorter := slices.Delete(p, i, i+1)
		return replace(node, path[:len(path)-1], last, shorter)
	}
	return false
}

// walk descends path from node: the node reached (nil when the path is
// not there) and whether the path was empty.
func walk(node any, path []string) (any, bool) {
	for _, k := range path {
		switch n := node.(type) {
		case map[string]any:
			v, ok := n[k]
			if !ok {
				return nil, false
			}
			node = v
		case []any:
			i, ok := index(k, len(n))
			if !ok {
				return nil, false
			}
			node = n[i]
		default:
			return nil, false
		}
	}
	return node, len(path) == 0
}

// replace puts v at path below *root (an array that was shortened).
func replace(root *any, path []string, isRoot bool, v any) bool {
	if isRoot || len(path) == 0 {
		*root = v
		return true
	}
	parent, _ := walk(*root, path[:len(path)-1])
	key := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		p[key] = v
		return true
	case []any:
		if i, ok := index(key, len(p)); ok {
			p[i] = v
			return true
		}
	}
	return false
}

// upsert sets the member or element at path below node to v, creating
// the objects on the way; false where an array or a scalar is in the way.
func upsert(node any, path []string, v any) bool {
	for _, k := range path[:len(path)-1] {
		switch n := node.(type) {
		case map[string]any:
			child, ok := n[k]
			if !ok {
				child = map[string]any{}
				n[k] = child
			}
			node = child
		case []any:
			i, ok := index(k, len(n))
			if !ok {
				return false
			}
			node = n[i]
		default:
			return false
		}
	}
	key := path[len(path)-1]
	switch n := node.(type) {
	case map[string]any:
		n[key] = v
		return true
	case []any:
		if i, ok := index(key, len(n)); ok {
			n[i] = v
			return true
		}
	}
	return false
}

func index(k string, n int) (int, bool) {
	i, err := strconv.Atoi(k)
	return i, err == nil && i >= 0 && i < n
}

// eraseSecrets erases the members with a secret's name below node, at
// path below root, listing each in e.Erased.
func eraseSecrets(e *Event, root string, path []string, node any) {
	switch n := node.(type) {
	case map[string]any:
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := append(slices.Clip(path), k)
			if isSecretName(k) {
				delete(n, k)
				e.Erased = append(e.Erased, pointer(root, p))
				continue
			}
			eraseSecrets(e, root, p, n[k])
		}
	case []any:
		for i, v := range n {
			eraseSecrets(e, root, append(slices.Clip(path), strconv.Itoa(i)), v)
		}
	}
}

// ParseRule reads a mask rule as OPA's mask policy returns one: a string
// path (erased), or an object {"op": "remove"|"upsert", "path": …,
// "value": …}.
func ParseRule(v any) (Rule, error) {
	switch r := v.(type) {
	case string:
		return NewRule(Erase, r, nil)
	case map[string]any:
		op, _ := r["op"].(string)
		path, _ := r["path"].(string)
		return NewRule(Op(op), path, r["value"])
	}
	return Rule{}, fmt.Errorf("mask rule %v: want a path or an {op, path, value} object", v)
}
