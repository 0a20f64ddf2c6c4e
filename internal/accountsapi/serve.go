package accountsapi

import (
	"errors"
	"net/http"

	"github.com/restcomm/restcomm-gateway/internal/javacompat"
	"github.com/restcomm/restcomm-gateway/internal/restpath"
	"github.com/restcomm/restcomm-gateway/store"
)

// serveAPI serves the Accounts and Organizations routes after the gate:
// Jersey's method selection (404, OPTIONS, 405), its content negotiation,
// then the endpoint of the operation (accounts.go, organizations.go).
func (s *Service) serveAPI(x *exchange) error {
	if x.caller == nil {
		// RestComm serves no Accounts or Organizations route anonymously;
		// should a policy allow it, fail closed rather than serve without a
		// caller.
		x.w.Header().Set("WWW-Authenticate", `Basic realm="Restcomm realm"`)
		WritePage(x.w, http.StatusUnauthorized, "")
		return nil
	}
	allow := allowFor(x.path)
	switch {
	case allow == "":
		WritePage(x.w, http.StatusNotFound, "")
		return nil
	case x.r.Method == http.MethodOptions:
		x.w.Header().Set("Allow", allow)
		writeBody(x.w, http.StatusOK, "", nil)
		return nil
	case x.op.serve == nil:
		x.w.Header().Set("Allow", allow)
		WritePage(x.w, http.StatusMethodNotAllowed, "")
		return nil
	}
	// AcceptFilter and Jersey's negotiation: a 406 still comes after a 415
	// for a body that is not a form, so the endpoint reports it in order.
	if ct, ok := javacompat.Negotiate(x.r.Header.Get("Accept"), x.path.JSON); ok {
		x.contentType = ct
	} else {
		x.unacceptable = pageProblem(http.StatusNotAcceptable, "", stageAccept)
	}
	s.publishCaller(x)
	return x.op.serve(s, x)
}

// respondOK writes a 200 with a representation.
func (x *exchange) respondOK(body []byte) error {
	writeBody(x.w, http.StatusOK, x.contentType, body)
	return nil
}

func (x *exchange) json() bool { return x.contentType == javacompat.TypeJSON }

// baseURI is Jersey's base URI of the request, for the Link header.
func baseURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + restpath.Prefix
}

// guard is what a write is conditional on: the caller as the policy saw it.
func (x *exchange) guard() *store.Guard { return store.GuardOf(x.caller.Account, x.requestID()) }

// wrote tells Config.AfterWrite of a write that ended with err: a success,
// or a failure that may have written (the store failed during it). The
// store's refusals (a duplicate, a closed account, a stale guard, ...)
// wrote nothing.
func (s *Service) wrote(err error) {
	if s.cfg.AfterWrite == nil {
		return
	}
	for _, refused := range []error{store.ErrDuplicate, store.ErrNoOrganization, store.ErrNoParent,
		store.ErrNotFound, store.ErrClosed, store.ErrSameOrg, store.ErrStale} {
		if errors.Is(err, refused) {
			return
		}
	}
	s.cfg.AfterWrite()
}

// refusal is how RestComm answers one of the store's refusals of a write
// (a duplicate, a closed account, ...): the facts changed between the
// checks and the write, and nothing was written. The answer's stage plays
// no part: every check is behind.
type refusal struct {
	err    error
	answer *problem
}

// writeOutcome ends a write that returned err: it tells Config.AfterWrite
// (wrote), and answers a failure. The first of refusals that err is takes
// its answer; a stale write goes back to ServeHTTP to be decided again
// (nothing was written); anything else is the store failing, 503. ended
// reports that the request needs nothing more (err == nil: answer the
// written object); its error is the request's.
func (s *Service) writeOutcome(x *exchange, err error, refusals ...refusal) (ended bool, _ error) {
	s.wrote(err)
	if err == nil {
		return false, nil
	}
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			r.answer.write(x.w, x.r, x.contentType)
			return true, nil
		}
	}
	if errors.Is(err, store.ErrStale) {
		return true, err
	}
	return true, s.unavailable(x, err)
}
