package caddymodule

import (
	"encoding/json"
	"net/http"

	"github.com/caddyserver/caddy/v2"

	"github.com/restcomm/restcomm-gateway/internal/policybundle"
)

func init() {
	caddy.RegisterModule(PolicyAdmin{})
}

// PolicyAdmin is the admin API module admin.api.restcomm_policy: GET
// /restcomm/policy answers, as JSON, the policy in force of each restcomm
// handler of the running config, once per policy they share: where it
// comes from (bundle, directory, built-in), its revision, why the content
// last found was refused, and for a bundle its status (the revision
// activated, the last activation, the last refusal and its reason, the
// last download's time, HTTP status and ETag). No credential is shown.
type PolicyAdmin struct{}

// CaddyModule returns the Caddy module information.
func (PolicyAdmin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.restcomm_policy",
		New: func() caddy.Module { return new(PolicyAdmin) },
	}
}

// policyStatus is one policy in force, as /restcomm/policy shows it.
type policyStatus struct {
	Source      string               `json:"source"` // bundle, directory or builtin
	Directory   string               `json:"directory,omitempty"`
	Mode        string               `json:"mode"`
	Revision    string               `json:"revision,omitempty"` // none before a bundle is activated
	TestsPassed int                  `json:"tests_passed"`
	Refused     string               `json:"refused,omitempty"`
	Bundle      *policybundle.Status `json:"bundle,omitempty"`
}

// Routes returns the admin API's policy route.
func (PolicyAdmin) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/restcomm/policy", Handler: caddy.AdminHandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if r.Method != http.MethodGet {
				w.Header().Set("Allow", "GET")
				w.WriteHeader(http.StatusMethodNotAllowed)
				return nil
			}
			body, _ := json.MarshalIndent(struct {
				Policies []policyStatus `json:"policies"`
			}{runningPolicies()}, "", "  ")
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(append(body, '\n'))
			return nil
		})},
	}
}

// runningPolicies are the policies of the running config's handlers,
// each once.
func runningPolicies() []policyStatus {
	list := []policyStatus{}
	active := caddy.ActiveContext()
	if active.Context == nil {
		return list
	}
	done := active.Done()
	gateways.Lock()
	var gs []*Gateway
	for _, g := range gateways.list {
		if g.health != nil && g.health.config == done {
			gs = append(gs, g)
		}
	}
	gateways.Unlock()
	seen := map[*pooledEngine]bool{}
	for _, g := range gs {
		e := g.engine
		if e == nil || seen[e] {
			continue
		}
		seen[e] = true
		list = append(list, g.policyStatus())
	}
	return list
}

// policyStatus is the gateway's policy in force.
func (g *Gateway) policyStatus() policyStatus {
	e := g.engine
	st := policyStatus{Source: "builtin", Mode: "builtin"}
	switch {
	case e.bundle != nil:
		b, _ := e.bundle.Snapshot()
		st.Source, st.Mode, st.Bundle = "bundle", b.Mode, &b
	case g.PolicyDir != "":
		st.Source, st.Directory, st.Mode = "directory", g.PolicyDir, g.PolicyMode
		if st.Mode == "" {
			st.Mode = "overlay"
		}
	}
	if p := e.Policy(); p != nil {
		st.Revision, st.TestsPassed = p.Revision(), p.Tests()
	}
	if err := e.Refused(); err != nil {
		st.Refused = policybundle.ClipReason(err.Error())
	}
	return st
}

// Interface guards
var _ caddy.AdminRouter = PolicyAdmin{}
