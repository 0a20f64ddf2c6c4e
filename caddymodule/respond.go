package caddymodule

import (
	"html"
	"net/http"
	"strconv"

	"github.com/restcomm/restcomm-gateway/caddymodule/javacompat"
	"github.com/restcomm/restcomm-gateway/caddymodule/render"
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

// writePage answers with a small HTML error page, the gateway's stand-in
// for the servlet container's pages that RestComm sends for entity-less
// errors (spec §10): it contains "HTTP Status {code} - {reason}".
func writePage(w http.ResponseWriter, status int, reason string) {
	if reason == "" {
		reason = http.StatusText(status)
	}
	title := "HTTP Status " + strconv.Itoa(status) + " - " + html.EscapeString(reason)
	body := "<!DOCTYPE html><html><head><title>" + title + "</title></head><body><h1>" +
		title + "</h1></body></html>"
	writeBody(w, status, "text/html;charset=utf-8", []byte(body))
}

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
		writePage(w, p.status, p.message)
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
