// Package decisionlog is the gateway's policy decision log in OPA's
// decision log format: one Event per decision, with OPA's field names and
// types (OPA's plugins/logs EventV1), masked with OPA's mask semantics
// (erase and upsert on /input/... and /result/... paths) before it leaves
// the process. docs/decision-logs.md describes the entries.
//
// Event mirrors OPA's type rather than importing it: OPA's plugins/logs
// package brings its plugin manager, its REST client, the OPA server and
// an OCI registry client into the binary (about forty packages and six
// modules the gateway does not otherwise use). TestEventIsOPAsEventV1
// reads OPA's source of EventV1 from the module the gateway builds with
// and fails when a field's name or type differs.
package decisionlog

import (
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/restcomm/restcomm-gateway/internal/version"
)

// Event is one decision, field for field OPA's EventV1 (its JSON
// encoding is the same), but for Error, which is OPA's error document
// ({"code", "message"}) rather than a Go error.
type Event struct {
	Labels              map[string]string       `json:"labels"`
	DecisionID          string                  `json:"decision_id"`
	BatchDecisionID     string                  `json:"batch_decision_id,omitempty"`
	TraceID             string                  `json:"trace_id,omitempty"`
	SpanID              string                  `json:"span_id,omitempty"`
	Revision            string                  `json:"revision,omitempty"` // Deprecated in OPA: Bundles
	Bundles             map[string]BundleInfoV1 `json:"bundles,omitempty"`
	Path                string                  `json:"path,omitempty"`
	Query               string                  `json:"query,omitempty"`
	Input               *any                    `json:"input,omitempty"`
	Result              *any                    `json:"result,omitempty"`
	IntermediateResults map[string]any          `json:"intermediate_results,omitempty"`
	MappedResult        *any                    `json:"mapped_result,omitempty"`
	NDBuiltinCache      *any                    `json:"nd_builtin_cache,omitempty"`
	Erased              []string                `json:"erased,omitempty"`
	Masked              []string                `json:"masked,omitempty"`
	Error               *Error                  `json:"error,omitempty"`
	RequestedBy         string                  `json:"requested_by,omitempty"`
	Timestamp           time.Time               `json:"timestamp"`
	Metrics             map[string]any          `json:"metrics,omitempty"`
	RequestID           uint64                  `json:"req_id,omitempty"`
	RuleLabels          []map[string]any        `json:"rule_labels,omitempty"`
	RequestContext      *RequestContext         `json:"request_context,omitempty"`
	Custom              map[string]any          `json:"custom,omitempty"`
}

// BundleInfoV1 is OPA's: the revision of a bundle in force.
type BundleInfoV1 struct {
	Revision string `json:"revision,omitempty"`
}

// RequestContext is OPA's; the gateway leaves it out (the request's
// headers hold its credentials).
type RequestContext struct {
	HTTPRequest *HTTPRequestContext `json:"http,omitempty"`
}

// HTTPRequestContext is OPA's.
type HTTPRequestContext struct {
	Headers map[string][]string `json:"headers,omitempty"`
}

// Error is why the policy gave no decision, as OPA's API reports an
// error: the gateway denied the request (fail closed).
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// InstanceID is this process's id, the labels' "id": OPA labels its
// decisions with a random id made at start, and so does the gateway.
var InstanceID = sync.OnceValue(uuid.NewString)

// Labels are OPA's labels of this gateway: its instance id and version
// (this build's when "").
func Labels(v string) map[string]string {
	if v == "" {
		v = version.Get().Version
	}
	return map[string]string{"id": InstanceID(), "version": v}
}

// MarshalLogObject writes the event's fields as its JSON has them, so
// that a zap line that inlines it (zap.Inline) is the event plus zap's
// own level, ts, logger and msg.
func (e *Event) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if err := enc.AddReflected("labels", e.Labels); err != nil {
		return err
	}
	enc.AddString("decision_id", e.DecisionID)
	for _, f := range []struct{ key, value string }{
		{"batch_decision_id", e.BatchDecisionID},
		{"trace_id", e.TraceID},
		{"span_id", e.SpanID},
		{"revision", e.Revision},
		{"path", e.Path},
		{"query", e.Query},
		{"requested_by", e.RequestedBy},
	} {
		if f.value != "" {
			enc.AddString(f.key, f.value)
		}
	}
	for _, f := range []struct {
		key   string
		value any
		set   bool
	}{
		{"bundles", e.Bundles, len(e.Bundles) > 0},
		{"input", deref(e.Input), e.Input != nil},
		{"result", deref(e.Result), e.Result != nil},
		{"intermediate_results", e.IntermediateResults, len(e.IntermediateResults) > 0},
		{"mapped_result", deref(e.MappedResult), e.MappedResult != nil},
		{"nd_builtin_cache", deref(e.NDBuiltinCache), e.NDBuiltinCache != nil},
		{"erased", e.Erased, len(e.Erased) > 0},
		{"masked", e.Masked, len(e.Masked) > 0},
		{"error", e.Error, e.Error != nil},
		{"metrics", e.Metrics, len(e.Metrics) > 0},
		{"rule_labels", e.RuleLabels, len(e.RuleLabels) > 0},
		{"request_context", e.RequestContext, e.RequestContext != nil},
		{"custom", e.Custom, len(e.Custom) > 0},
	} {
		if f.set {
			if err := enc.AddReflected(f.key, f.value); err != nil {
				return err
			}
		}
	}
	enc.AddString("timestamp", e.Timestamp.Format(time.RFC3339Nano))
	if e.RequestID != 0 {
		enc.AddUint64("req_id", e.RequestID)
	}
	return nil
}

func deref(v *any) any {
	if v == nil {
		return nil
	}
	return *v
}

// Write logs e, masked by rules, on logger as one "decision" entry at
// info level: the entry's fields are the event's.
func Write(logger *zap.Logger, e *Event, rules Rules) {
	ce := logger.Check(zapcore.InfoLevel, "decision")
	if ce == nil {
		return
	}
	rules.Mask(e)
	ce.Write(zap.Inline(e))
}
