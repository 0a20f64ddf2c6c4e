package accountsapi

import (
	"fmt"
	"net/http"

	"github.com/restcomm/restcomm-gateway/internal/javacompat"
)

// MaxBodyLength is RestComm's BodyLengthFilter limit: a longer request body
// is refused with 413 and msgBodyTooLarge, before it reaches RestComm.
const (
	MaxBodyLength   = 10_000_000
	msgBodyTooLarge = "Length larger than 10000000"
)

// fieldLimits bounds every form and query field the Accounts and
// Organizations endpoints read, in UTF-16 code units as Java counts them:
// RestComm's column widths where it has one (friendly_name and role
// VARCHAR(64), status VARCHAR(16), organization_sid VARCHAR(34),
// domain_name VARCHAR(255)), 254 for an e-mail address (the longest SMTP
// allows; RestComm's column is MEDIUMTEXT) and 255 for a password (only its
// md5 is stored). A longer value is refused with 400 before anything is
// looked up or stored (docs/restcomm-contract.md, divergences).
var fieldLimits = map[string]int{
	"EmailAddress":    254,
	"Password":        255,
	"FriendlyName":    64,
	"Role":            64,
	"Status":          16,
	"OrganizationSid": 34,
	"Organization":    255,
	"DomainName":      255,
}

const msgTooLong = "%s can not be longer than %d characters."

// tooLong is the 400 for the first of fields (in the order given) whose
// value in p is longer than its limit, or nil.
func tooLong(p javacompat.Params, stage int, fields ...string) *problem {
	for _, f := range fields {
		if v, ok := p[f]; ok && javacompat.Length(v) > fieldLimits[f] {
			return textProblem(http.StatusBadRequest, fmt.Sprintf(msgTooLong, f, fieldLimits[f]), stage)
		}
	}
	return nil
}
