package mirror

import (
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// Failures of a delivery are either transient (the database or RestComm
// is down, slow, or refusing connections: retried with backoff, nothing
// skipped, order kept) or permanent (the entry can never apply: it goes to
// the dead-letter stream with its reason, and the entries behind it go on).

// permanentError is a failure that no retry will cure.
type permanentError struct {
	kind   string // for the metric: rejected, refused, unsealable
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
