package mirror

import (
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/restcomm/restcomm-gateway/store"
)

// Failures of a delivery are either transient (the database or RestComm
// is down, slow, or refusing connections: retried with backoff, nothing
// skipped, order kept) or permanent (the entry can never apply: it goes to
// the dead-letter stream with its reason, and the entries behind it go on).

// permanentError is a failure that no retry will cure.
type permanentError struct {
	kind   string // for the metric: one of the kinds below
	reason string
}

func (e *permanentError) Error() string { return e.reason }

func permanent(kind, format string, args ...any) error {
	return &permanentError{kind: kind, reason: fmt.Sprintf(format, args...)}
}

// Kinds of dead letters (the metric's label).
const (
	kindRejected   = "rejected"   // RestComm's database refused a value
	kindRefused    = "refused"    // RestComm's API refused a side effect
	kindUnsealable = "unsealable" // a sealed password this secret_key cannot open
	// a create whose SID RestComm's table holds as another account (or
	// under such an account): nothing written
	kindConflict = store.DeadLetterConflict
	kindMissing  = "missing" // an account whose row RestComm no longer has: not inserted again
	// a change of status or password whose full rows RestComm's database
	// refused: only the security columns were written (and a close run)
	kindDegraded = "degraded"
)

// DeadLetterKinds are the kinds of dead letters, as the metric and
// `mirror dead-letters list --kind` name them.
var DeadLetterKinds = []string{kindRejected, kindRefused, kindUnsealable, kindConflict, kindMissing, kindDegraded}

// The kinds an operator sees first (mirror status): changes of accounts
// RestComm holds as others, and security changes written only in part.
const (
	DeadLetterConflict = kindConflict
	DeadLetterDegraded = kindDegraded
)

// rejectedValues are the MariaDB/MySQL errors of a value RestComm's schema
// cannot hold (strict mode): retrying the same row fails the same way.
var rejectedValues = map[uint16]string{
	1048: "a NOT NULL column got NULL",
	1062: "a unique value is taken",
	1264: "a value is out of range",
	1265: "a value was truncated",
	1292: "a value is malformed",
	1366: "a text value the column's character set cannot hold",
	1406: "a value is wider than its column",
}

// sqlError classifies a database failure: permanent for a rejected value,
// transient (nil kind) otherwise — a server down or restarting, access
// denied, a missing table (an operator can fix those, and nothing may be
// skipped meanwhile).
func sqlError(err error, what string) error {
	if err == nil {
		return nil
	}
	if my, ok := errors.AsType[*mysql.MySQLError](err); ok {
		if why, bad := rejectedValues[my.Number]; bad {
			return permanent(kindRejected, "RestComm's database refused %s: %s (error %d: %s)", what, why, my.Number, my.Message)
		}
	}
	return fmt.Errorf("database: %s: %w", what, err)
}

func isPermanent(err error) (*permanentError, bool) {
	return errors.AsType[*permanentError](err)
}
