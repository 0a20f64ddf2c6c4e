package accountsapi

import (
	"html"
	"net/http"
	"strconv"

	"github.com/restcomm/restcomm-gateway/internal/javacompat"
	"github.com/restcomm/restcomm-gateway/internal/render"
)

// writeBody writes a complete response with an exact Content-Length.
func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// WritePage answers with a small HTML error page, the gateway's stand-in
// for the servlet container's pages that RestComm sends for entity-less
// errors (JBoss's error page, as RestComm answers them): it contains "HTTP Status {code} - {reason}" (the
// status text when reason is empty).
func WritePage(w http.ResponseWriter, status int, reason string) {
	if reason == "" {
		reason = http.StatusText(status)
	}
	title := "HTTP Status " + strconv.Itoa(status) + " - " + html.EscapeString(reason)
	body := "<!DOCTYPE html><html><head><title>" + title + "</title></head><body><h1>" +
		title + "</h1></body></html>"
	writeBody(w, status, "text/html;charset=utf-8", []byte(body))
}

// Stages of the checks the gateway makes outside the policy (see
// policy/README.md): after the SecurityFilter (0) come the body length
// filter, then Jersey's method selection — path and method (404, 405),
// Content-Type (415), Accept (406) — then the endpoints (10 and up).
const (
	stageBodyLength  = 1
	stageContentType = 3 // routing (404, 405) is stage 2
	stageAccept      = 4 // the endpoints' own steps are 10 and up
)

// problem is one way to refuse a request, with the stage at which RestComm
// reports it (see policy/README.md, "stage"): the earliest stage wins.
type problem struct {
	status  int
	message string
	body    string // page, plain, text or typed
	stage   int
	headers map[string]string
}

// write sends the problem. contentType is the negotiated response type,
// used by "text" and "typed" bodies.
func (p *problem) write(w http.ResponseWriter, r *http.Request, contentType string) {
	for k, v := range p.headers {
		w.Header().Set(k, v)
	}
	switch p.body {
	case "plain":
		writeBody(w, p.status, javacompat.PlainType(r.Header.Get("Accept")), []byte(p.message))
	case "text":
		writeBody(w, p.status, orXML(contentType), []byte(p.message))
	case "typed":
		if orXML(contentType) == javacompat.TypeJSON {
			writeBody(w, p.status, javacompat.TypeJSON, render.AppendMessageJSON(nil, p.message))
		} else {
			writeBody(w, p.status, javacompat.TypeXML, render.AppendMessageXML(nil, p.message))
		}
	default:
		WritePage(w, p.status, p.message)
	}
}

func orXML(ct string) string {
	if ct == "" {
		return javacompat.TypeXML
	}
	return ct
}

// earliest returns whichever problem RestComm reports first; nil when both
// are nil.
func earliest(a, b *problem) *problem {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.stage < a.stage:
		return b
	}
	return a
}

// verdict finds the first problem RestComm would report: it starts with
// the policy's denial and each of Go's checks, made in RestComm's order,
// replaces it when it comes earlier. open says whether a check at a stage
// can still matter, so that checks (and store reads) after a known
// problem are skipped.
type verdict struct{ p *problem }

func (x *exchange) verdict() *verdict {
	return &verdict{p: earliest(x.denial(), x.unacceptable)}
}

func (v *verdict) open(stage int) bool { return v.p == nil || stage < v.p.stage }

func (v *verdict) fail(p *problem) { v.p = earliest(v.p, p) }

// refused writes the problem found, if any, and reports whether it did.
func (v *verdict) refused(x *exchange) bool {
	if v.p == nil {
		return false
	}
	v.p.write(x.w, x.r, x.contentType)
	return true
}

// textProblem is a plain-text entity in the negotiated type (Jersey fills
// in the type the method produces).
func textProblem(status int, msg string, stage int) *problem {
	return &problem{status: status, message: msg, body: "text", stage: stage}
}

// typedProblem is RestComm's {"message":…} / <Message> document.
func typedProblem(status int, msg string, stage int) *problem {
	return &problem{status: status, message: msg, body: "typed", stage: stage}
}

// pageProblem has no entity: the error page, with a reason.
func pageProblem(status int, reason string, stage int) *problem {
	return &problem{status: status, message: reason, body: "page", stage: stage}
}
