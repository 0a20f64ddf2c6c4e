package caddymodule

import (
	"net/http"

	"github.com/restcomm/restcomm-gateway/caddymodule/render"
)

// defaultProfileSid is RestComm's default profile, created at its boot.
// Profiles live upstream; the gateway links every account to the default.
const defaultProfileSid = "PRae6e420f425248d6a26948c17a9e2acf"

// readAccount serves GET /Accounts/{id} (AccountsEndpoint.getAccount).
func (g *Gateway) readAccount(x *exchange) error {
	if p := x.denial(); p != nil {
		p.write(x.w, x.r, x.contentType)
		return nil
	}
	a := x.target.Account
	if a == nil { // the shipped policy answers 404 itself; never trust it to
		writePage(x.w, http.StatusNotFound, "")
		return nil
	}
	x.w.Header().Set("Link", "<"+baseURI(x.r)+"Profiles/"+defaultProfileSid+`>;rel=related;title="Profiles"`)
	if x.json() {
		return x.respondOK(render.AppendAccountJSON(nil, a))
	}
	return x.respondOK(render.AppendAccountXML(nil, a))
}
