package policy

import "maps"

// The kinds of difference between the decision in force and another
// policy's decision of the same input (a candidate replayed on logged
// decisions, or a policy in monitor mode). They are a fixed set, fit for
// a metric's label.
const (
	// WouldDeny: allowed by the policy in force, denied by the other.
	WouldDeny = "would_deny"
	// WouldAllow: denied by the policy in force, allowed by the other.
	WouldAllow = "would_allow"
	// StatusChanged: denied by both, with different statuses.
	StatusChanged = "status_changed"
	// ResponseChanged: the same allow and status, but the gateway would
	// answer otherwise: a denial's message, body, stage or headers, or an
	// allowance's anonymous or hide_auth_token.
	ResponseChanged = "response_changed"
)

// ChangeKinds are every kind Change returns but "", in the order reports
// list them.
var ChangeKinds = []string{WouldDeny, WouldAllow, StatusChanged, ResponseChanged}

// Change says how other, a decision of the same input, differs from was,
// as the gateway acts on decisions: "" when it would answer the same.
func Change(was, other Decision) string {
	switch {
	case was.Allow && !other.Allow:
		return WouldDeny
	case !was.Allow && other.Allow:
		return WouldAllow
	case !was.Allow && was.Status != other.Status:
		return StatusChanged
	case was.Anonymous != other.Anonymous, was.HideAuthToken != other.HideAuthToken:
		return ResponseChanged
	case !was.Allow && (was.Message != other.Message || was.Body != other.Body ||
		was.Stage != other.Stage || !maps.Equal(was.Headers, other.Headers)):
		return ResponseChanged
	}
	return ""
}
