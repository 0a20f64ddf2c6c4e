package caddymodule

import (
	"html"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/restcomm/restcomm-gateway/caddymodule/render"
)

const (
	typeXML  = "application/xml"
	typeJSON = "application/json"
)

// negotiate is RestComm's content negotiation for the Accounts and
// Organizations endpoints (AcceptFilter, then Jersey against
// @Produces(application/xml, application/json), then
// AbstractEndpoint.retrieveMediaType). It returns the response type, or
// ok=false for 406.
func negotiate(accept string, jsonPath bool) (contentType string, ok bool) {
	if jsonPath {
		return typeJSON, true // AcceptFilter replaces any Accept
	}
	if strings.TrimSpace(accept) == "" {
		return typeXML, true
	}
	if !acceptsXMLOrJSON(accept) {
		return "", false
	}
	// retrieveMediaType is a plain substring test
	if strings.Contains(accept, "json") {
		return typeJSON, true
	}
	return typeXML, true
}

// acceptsXMLOrJSON reports whether some media range of an Accept header
// with q > 0 covers application/xml or application/json.
func acceptsXMLOrJSON(accept string) bool {
	for _, r := range parseAccept(accept) {
		if r.q <= 0 {
			continue
		}
		switch r.typ {
		case "*/*", "application/*", typeXML, typeJSON:
			return true
		}
	}
	return false
}

type mediaRange struct {
	typ string
	q   float64
}

// parseAccept splits an Accept header into lower-cased media ranges in
// preference order (q descending, header order kept among equals).
func parseAccept(accept string) []mediaRange {
	var out []mediaRange
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		out = append(out, mediaRange{typ: mt, q: q})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].q > out[j].q })
	return out
}

// plainType is the Content-Type Jersey gives a plain-text entity thrown
// from a request filter, before any negotiation: the client's preferred
// concrete type, else text/plain.
func plainType(accept string) string {
	ranges := parseAccept(accept)
	if len(ranges) > 0 && ranges[0].q > 0 && !strings.Contains(ranges[0].typ, "*") {
		return ranges[0].typ
	}
	return "text/plain"
}

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
		writeBody(w, p.status, plainType(r.Header.Get("Accept")), []byte(p.message))
	case "text":
		writeBody(w, p.status, orXML(contentType), []byte(p.message))
	case "typed":
		if orXML(contentType) == typeJSON {
			writeBody(w, p.status, typeJSON, render.AppendMessageJSON(nil, p.message))
		} else {
			writeBody(w, p.status, typeXML, render.AppendMessageXML(nil, p.message))
		}
	default:
		writePage(w, p.status, p.message)
	}
}

func orXML(ct string) string {
	if ct == "" {
		return typeXML
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
