package store

import "time"

// Account statuses as RestComm stores and prints them (lower-case).
const (
	StatusActive        = "active"
	StatusSuspended     = "suspended"
	StatusClosed        = "closed"
	StatusInactive      = "inactive"
	StatusUninitialized = "uninitialized"
)

// ValidStatus reports whether s (already lower-cased) is one of RestComm's
// five account statuses.
func ValidStatus(s string) bool {
	switch s {
	case StatusActive, StatusSuspended, StatusClosed, StatusInactive, StatusUninitialized:
		return true
	}
	return false
}

// Account is one RestComm account as the gateway stores it. Field meanings
// follow RestComm's accounts table; ParentSid is never exposed to clients.
type Account struct {
	Sid             string
	OrganizationSid string
	FriendlyName    string
	EmailAddress    string
	Type            string // "Full" or "Trial"
	Status          string
	Role            string
	AuthToken       string // lower-case hex md5 of the password
	URI             string // stored uri column, printed verbatim in XML
	ParentSid       string // empty for a top-level account
	DateCreated     time.Time
	DateUpdated     time.Time

	// Pending is the id of the outbox entry of the account's latest
	// change, until the mirror has delivered it to RestComm's database
	// ("" when it has, or when the namespace is not mirrored; outbox.go).
	Pending string
}

// Organization is one RestComm organization.
type Organization struct {
	Sid         string
	DomainName  string
	Status      string // "active" or "closed"
	DateCreated time.Time
	DateUpdated time.Time
}
