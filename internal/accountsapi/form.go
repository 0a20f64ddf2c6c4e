package accountsapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/restcomm/restcomm-gateway/internal/javacompat"
)

// Request bodies and query strings, read the way Jersey 1 reads them for
// RestComm: a form body by BaseFormProvider (tokens split on '&', each
// decoded by java.net.URLDecoder in the body's charset), a query string by
// UriComponent.decodeQuery (the same, always UTF-8). Only the first value
// of a repeated key counts: RestComm reads every parameter with getFirst.

// typeForm is the one body type RestComm's Accounts methods consume
// (@Consumes(APPLICATION_FORM_URLENCODED)).
const typeForm = "application/x-www-form-urlencoded"

// bodyState is what became of reading a request's form body.
type bodyState int

const (
	bodyUnread     bodyState = iota
	bodyOK                   // form holds the parameters
	bodyNoType               // no Content-Type: 415 when the form is read
	bodyNotForm              // Content-Type is not a form: 415
	bodyBadCharset           // a javacompat.Charset Java would not know: 415
	bodyTooLarge             // more than MaxBodyLength bytes: 413
	bodyMalformed            // a bad % escape: 400
	bodyUnreadable           // the client's body failed mid-read: 400
)

// formBody reads and parses x's form body once; later calls return the
// same result. It reads at most MaxBodyLength bytes whatever the
// Content-Length says, so a lying or chunked body cannot exhaust memory.
func (x *exchange) formBody() (javacompat.Params, bodyState) {
	f := &x.req
	if f.body != bodyUnread {
		return f.form, f.body
	}
	f.body = readForm(x.w, x.r, &f.form)
	return f.form, f.body
}

func readForm(w http.ResponseWriter, r *http.Request, out *javacompat.Params) bodyState {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return bodyNoType
	}
	mt, ps, err := mime.ParseMediaType(ct)
	if errors.Is(err, mime.ErrInvalidMediaParameter) {
		err = nil // the type is readable; Jersey ignores parameters it cannot parse
	}
	if err != nil || !strings.EqualFold(mt, typeForm) {
		return bodyNotForm
	}
	cs, ok := javacompat.LookupCharset(ps["charset"])
	if !ok {
		return bodyBadCharset
	}
	if r.ContentLength > MaxBodyLength {
		return bodyTooLarge
	}
	var raw []byte
	if r.Body != nil {
		raw, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyLength))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return bodyTooLarge
		case err != nil:
			return bodyUnreadable
		}
	}
	p, err := javacompat.ParseParams(cs(raw), cs)
	if err != nil {
		return bodyMalformed
	}
	*out = p
	return bodyOK
}

// bodyProblem turns a failed body read into the response RestComm gives,
// at the stage it gives it: 413 with the body length filter; 415 with
// Jersey's routing for a Content-Type that is not a form; and when the
// entity is read, just before the method runs (readStage: after the
// @RolesAllowed filter, before the method's own checks), 415 for a request
// without Content-Type (Jersey matches it to every method, then finds no
// reader for application/octet-stream) and 400 when the form reader fails.
func bodyProblem(s bodyState, readStage int) *problem {
	switch s {
	case bodyTooLarge:
		return pageProblem(http.StatusRequestEntityTooLarge, msgBodyTooLarge, stageBodyLength)
	case bodyNotForm, bodyBadCharset:
		return pageProblem(http.StatusUnsupportedMediaType, "", stageContentType)
	case bodyNoType:
		return pageProblem(http.StatusUnsupportedMediaType, "", readStage)
	case bodyMalformed:
		return pageProblem(http.StatusBadRequest, "Malformed form body", readStage)
	case bodyUnreadable:
		return pageProblem(http.StatusBadRequest, "Unreadable request body", readStage)
	}
	return nil
}

// query reads the request's query string as Jersey's UriInfo does. ok is
// false when RestComm would fail on it: a malformed escape, or (on .json
// URLs, whose query AcceptFilter re-builds through a UriBuilder template)
// a name or value with '{' or '}'.
func (x *exchange) query() (q javacompat.Params, ok bool) {
	raw := x.r.URL.RawQuery
	if !utf8.ValidString(raw) {
		// net/http passes on bytes a client sent unescaped; read them as
		// UTF-8 like escaped ones, so no value holds invalid UTF-8.
		raw = javacompat.DecodeUTF8([]byte(raw))
	}
	q, err := javacompat.ParseParams(raw, javacompat.DecodeUTF8)
	if err != nil {
		return nil, false
	}
	if x.path.JSON {
		for k, v := range q {
			if strings.ContainsAny(k, "{}") || strings.ContainsAny(v, "{}") {
				return nil, false
			}
		}
	}
	return q, true
}
