package upstreamtest

import (
	"net/http"
	"strings"
)

// ForgedIdentity are identity headers a client may try to smuggle, in the
// spellings a server could take for the gateway's.
func ForgedIdentity() http.Header {
	return http.Header{
		"X-RestComm-Account-Sid":      {"ACevil"},
		"x-restcomm-account-role":     {"SuperAdmin"},
		"X_RestComm_Organization_Sid": {"ORevil"},
		"X-Restcomm-Anything":         {"evil"},
	}
}

// MergeHeaders is one header with the values of all of hs, in order.
func MergeHeaders(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

// IdentityHeaders returns the headers of h (as the upstream received them)
// that any server could take for the gateway's identity headers: those
// whose name, without regard to case and with '_' taken for '-', starts
// with "X-RestComm-".
func IdentityHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		if n := strings.ReplaceAll(strings.ToLower(k), "_", "-"); strings.HasPrefix(n, "x-restcomm-") {
			out[k] = v
		}
	}
	return out
}

// VerifiedIdentity is what IdentityHeaders returns when the gateway has
// verified the account sid, with role, of organization org.
func VerifiedIdentity(sid, role, org string) map[string][]string {
	return map[string][]string{
		"X-Restcomm-Account-Sid":      {sid},
		"X-Restcomm-Account-Role":     {role},
		"X-Restcomm-Organization-Sid": {org},
	}
}
