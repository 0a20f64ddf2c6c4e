package javacompat

import (
	"mime"
	"sort"
	"strconv"
	"strings"
)

// The two representations RestComm's Accounts and Organizations endpoints
// produce.
const (
	TypeXML  = "application/xml"
	TypeJSON = "application/json"
)

// Negotiate is RestComm's content negotiation for the Accounts and
// Organizations endpoints (AcceptFilter, then Jersey against
// @Produces(application/xml, application/json), then
// AbstractEndpoint.retrieveMediaType). It returns the response type, or
// ok=false for 406.
func Negotiate(accept string, jsonPath bool) (contentType string, ok bool) {
	if jsonPath {
		return TypeJSON, true // AcceptFilter replaces any Accept
	}
	if strings.TrimSpace(accept) == "" {
		return TypeXML, true
	}
	if !acceptsXMLOrJSON(accept) {
		return "", false
	}
	// retrieveMediaType is a plain substring test
	if strings.Contains(accept, "json") {
		return TypeJSON, true
	}
	return TypeXML, true
}

// acceptsXMLOrJSON reports whether some media range of an Accept header
// with q > 0 covers application/xml or application/json.
func acceptsXMLOrJSON(accept string) bool {
	for _, r := range parseAccept(accept) {
		if r.q <= 0 {
			continue
		}
		switch r.typ {
		case "*/*", "application/*", TypeXML, TypeJSON:
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

// PlainType is the Content-Type Jersey gives a plain-text entity thrown
// from a request filter, before any negotiation: the client's preferred
// concrete type, else text/plain.
func PlainType(accept string) string {
	ranges := parseAccept(accept)
	if len(ranges) > 0 && ranges[0].q > 0 && !strings.Contains(ranges[0].typ, "*") {
		return ranges[0].typ
	}
	return "text/plain"
}
