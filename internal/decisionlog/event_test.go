package decisionlog

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// opaStruct reads a struct type of OPA's plugins/logs package from the
// source of the OPA module the gateway builds with: each field's JSON
// name and Go type, as written.
func opaStruct(t *testing.T, name string) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/open-policy-agent/opa").Output()
	require.NoError(t, err, "go list -m github.com/open-policy-agent/opa")
	dir := filepath.Join(strings.TrimSpace(string(out)), "v1", "plugins", "logs")
	file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "plugin.go"), nil, 0)
	require.NoError(t, err)
	fields := map[string]string{}
	ast.Inspect(file, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != name {
			return true
		}
		for _, f := range ts.Type.(*ast.StructType).Fields.List {
			if len(f.Names) == 0 || !f.Names[0].IsExported() || f.Tag == nil {
				continue
			}
			tag := reflect.StructTag(strings.Trim(f.Tag.Value, "`")).Get("json")
			fields[tag] = f.Names[0].Name + " " + typeString(f.Type)
		}
		return false
	})
	require.NotEmpty(t, fields, "OPA's %s", name)
	return fields
}

func typeString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.StarExpr:
		return "*" + typeString(x.X)
	case *ast.ArrayType:
		return "[]" + typeString(x.Elt)
	case *ast.MapType:
		return "map[" + typeString(x.Key) + "]" + typeString(x.Value)
	case *ast.SelectorExpr:
		return typeString(x.X) + "." + x.Sel.Name
	case *ast.InterfaceType:
		return "any"
	}
	return "?"
}

func ourStruct(t reflect.Type) map[string]string {
	fields := map[string]string{}
	for i := range t.NumField() {
		f := t.Field(i)
		typ := strings.NewReplacer("decisionlog.", "", "interface {}", "any").Replace(f.Type.String())
		fields[f.Tag.Get("json")] = f.Name + " " + typ
	}
	return fields
}

// Event is OPA's EventV1 field for field (JSON name, Go name and type),
// but for error, which OPA declares as a Go error; and so are the types
// it holds.
func TestEventIsOPAsEventV1(t *testing.T) {
	t.Parallel()
	opa := opaStruct(t, "EventV1")
	ours := ourStruct(reflect.TypeFor[Event]())
	assert.Equal(t, "Error error", opa["error,omitempty"])
	assert.Equal(t, "Error *Error", ours["error,omitempty"])
	delete(opa, "error,omitempty")
	delete(ours, "error,omitempty")
	assert.Equal(t, opa, ours)
	assert.Equal(t, opaStruct(t, "BundleInfoV1"), ourStruct(reflect.TypeFor[BundleInfoV1]()))
	assert.Equal(t, opaStruct(t, "RequestContext"), ourStruct(reflect.TypeFor[RequestContext]()))
	assert.Equal(t, opaStruct(t, "HTTPRequestContext"), ourStruct(reflect.TypeFor[HTTPRequestContext]()))
}

// A zap line of an event, as Caddy's JSON log writes it, is the event's
// JSON with zap's own keys beside it: it reads back into the event, and
// encoding/json encodes the event with the same members.
func TestWriteIsTheEventsJSON(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	logger := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.InfoLevel)).Named("decision")
	input := any(map[string]any{"operation": "accounts:read", "request": map[string]any{"password": "hunter2"}})
	result := any(map[string]any{"allow": true})
	e := &Event{
		Labels:     Labels("1.2.3"),
		DecisionID: "d-1",
		Path:       "restcomm/authz/decision",
		Bundles:    map[string]BundleInfoV1{"restcomm": {Revision: "abc"}},
		Input:      &input,
		Result:     &result,
		Timestamp:  time.Date(2026, 12, 8, 3, 4, 5, 123456789, time.UTC),
		Metrics:    map[string]any{"timer_rego_query_eval_ns": 1234},
	}
	Write(logger, e, nil)
	line := buf.Bytes()
	assert.NotContains(t, string(line), "hunter2")

	var back Event
	require.NoError(t, json.Unmarshal(line, &back))
	assert.Equal(t, "d-1", back.DecisionID)
	assert.Equal(t, e.Timestamp, back.Timestamp, "RFC 3339 with nanoseconds")
	assert.Equal(t, []string{"/input/request/password"}, back.Erased)
	want, err := json.Marshal(e)
	require.NoError(t, err)
	got, err := json.Marshal(&back)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got))

	var members map[string]any
	require.NoError(t, json.Unmarshal(line, &members))
	for _, k := range []string{"level", "ts", "logger", "msg"} {
		delete(members, k)
	}
	var wantMembers map[string]any
	require.NoError(t, json.Unmarshal(want, &wantMembers))
	assert.Equal(t, wantMembers, members, "the line's members besides zap's are the event's")
	assert.Contains(t, string(line), `"timestamp":"2026-12-08T03:04:05.123456789Z"`)
}

func TestLabels(t *testing.T) {
	t.Parallel()
	l := Labels("1.2.3")
	assert.Equal(t, "1.2.3", l["version"])
	assert.Len(t, l["id"], 36, "a UUID")
	assert.Equal(t, l["id"], Labels("x")["id"], "one id per process")
}
