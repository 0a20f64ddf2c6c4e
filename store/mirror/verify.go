package mirror

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// Difference is one way RestComm's database is not as the gateway has it.
type Difference struct {
	Kind  string // "account" or "organization"
	Sid   string
	Field string // the column that differs; "" when the row is missing on one side
	// Gateway and Database are the values (for a missing row: "present"
	// and "missing", or the other way round).
	Gateway, Database string
	// Pending: a change of the account is not yet delivered, which may
	// explain the difference.
	Pending bool
	// Reserved is, for a row only in the database, why the import skipped
	// it: the namespace reserves its SID and e-mail address, so it is
	// known and not drift.
	Reserved string
	// EqualUnder names the database's collation when the two values differ
	// but the database finds them equal (an e-mail address in another
	// case): RestComm looks the row up alike either way, so it is not
	// drift.
	EqualUnder string
}

// Drift reports whether the difference is one the gateway and RestComm
// should not have: neither a reserved row nor values the database finds
// equal.
func (d Difference) Drift() bool { return d.Reserved == "" && d.EqualUnder == "" }

func (d Difference) String() string {
	s := fmt.Sprintf("%s %s: ", d.Kind, d.Sid)
	if d.Field == "" {
		s += fmt.Sprintf("gateway %s, database %s", d.Gateway, d.Database)
	} else {
		s += fmt.Sprintf("%s: gateway %q, database %q", d.Field, d.Gateway, d.Database)
	}
	switch {
	case d.Reserved != "":
		s += fmt.Sprintf(" (reserved: the import skipped it: %s)", d.Reserved)
	case d.EqualUnder != "":
		s += fmt.Sprintf(" (equal under %s)", d.EqualUnder)
	}
	if d.Pending {
		s += " (a change is pending delivery)"
	}
	return s
}

// Verification is what Check found.
type Verification struct {
	// Differences in SID order, organizations first: drift, reserved rows
	// and values equal under the database's collation alike.
	Differences []Difference
	// Rule is the database's comparison rule (the e-mail column's
	// collation), by which rows were matched; Namespace the rule the
	// gateway's namespace is keyed by (nil: none recorded yet).
	Rule      collation.Rule
	Namespace *collation.Rule
	// Notes are what the comparison could not settle by rows: rules that
	// differ, a collation without a rule here.
	Notes []string
}

// Drift counts the differences that are drift.
func (v *Verification) Drift() int {
	n := 0
	for _, d := range v.Differences {
		if d.Drift() {
			n++
		}
	}
	return n
}

// Verify is Check's differences.
func Verify(ctx context.Context, st *store.Store, db *sql.DB, loc *time.Location) ([]Difference, error) {
	v, err := Check(ctx, st, db, loc)
	if err != nil {
		return nil, err
	}
	return v.Differences, nil
}

// keyColumns are the columns RestComm's database compares when it looks a
// row up (`WHERE sid = ?`, `email_address = ?`, `friendly_name = ?`,
// `domain_name = ?`, and the SIDs that refer to other rows): values that
// differ only as its collation ignores find the same rows. Every other
// column is read by Java, which compares exactly.
var keyColumns = map[string]bool{
	"sid": true, "email_address": true, "friendly_name": true, "parent_sid": true,
	"organization_sid": true, "domain_name": true,
}

// Check compares every account and organization of the gateway with
// RestComm's tables, row by row and column by column (dates in loc,
// RestComm's time zone). Rows are matched by SID as the database compares
// SIDs; values are compared exactly, and a difference the database's
// collation ignores in a column it looks rows up by is marked EqualUnder.
// Rows only in the database that the import skipped (the namespace's
// reservations) are marked Reserved. Neither side is read as one
// snapshot: changes made meanwhile may show as differences marked
// pending.
func Check(ctx context.Context, st *store.Store, db *sql.DB, loc *time.Location) (*Verification, error) {
	if loc == nil {
		loc = time.UTC
	}
	src, err := restcommdb.ReadDB(ctx, db, "RestComm's database")
	if err != nil {
		return nil, err
	}
	v := &Verification{Rule: src.Collation}
	if v.Namespace, err = st.NamespaceCollation(ctx); err != nil {
		return nil, err
	}
	switch {
	case src.CollationErr != nil && v.Namespace != nil:
		v.Rule = *v.Namespace
		v.Notes = append(v.Notes, fmt.Sprintf("%v; rows compared under the namespace's rule, %s", src.CollationErr, v.Rule))
	case src.CollationErr != nil:
		v.Rule = collation.Exact
		v.Notes = append(v.Notes, fmt.Sprintf("%v; rows compared exactly", src.CollationErr))
	case v.Namespace != nil && v.Namespace.Name() != src.Collation.Name():
		v.Notes = append(v.Notes, fmt.Sprintf("the namespace compares logins under %s, RestComm's database under %s (%s): "+
			"import again, or name the rule with accounts import --collation", v.Namespace, src.Collation, src.CollationFrom))
	}
	v.Notes = append(v.Notes, src.Warnings...)
	rule := v.Rule

	rs, err := st.Reservations(ctx)
	if err != nil {
		return nil, err
	}
	reserved := make(map[string]string, len(rs))
	for _, r := range rs {
		reserved[rule.SID(r.Sid)] = r.Reason
	}

	dt := func(t time.Time) string { return t.In(loc).Format(time.DateTime) }
	day := func(s string) string { // "2006-01-02 15:04:05[.fraction]"
		if len(s) > len(time.DateTime) {
			return s[:len(time.DateTime)]
		}
		return s
	}
	diff := func(kind, sid, field, gw, db string, pending bool) {
		if gw == db {
			return
		}
		d := Difference{Kind: kind, Sid: sid, Field: field, Gateway: gw, Database: db, Pending: pending}
		if keyColumns[field] && rule.Equal(gw, db) {
			d.EqualUnder = rule.Name()
		}
		v.Differences = append(v.Differences, d)
	}
	onlyInDatabase := func(kind, sid string) {
		v.Differences = append(v.Differences, Difference{Kind: kind, Sid: sid, Gateway: "missing", Database: "present",
			Reserved: reserved[rule.SID(sid)]})
	}

	orgs, err := st.Organizations(ctx)
	if err != nil {
		return nil, err
	}
	if src.HasOrganizations {
		dbOrgs := bySid(src.Organizations, rule, func(o *restcommdb.Organization) string { return o.Sid })
		for _, o := range orgs {
			r := dbOrgs.take(o.Sid)
			if r == nil {
				diff("organization", o.Sid, "", "present", "missing", false)
				continue
			}
			diff("organization", o.Sid, "sid", o.Sid, r.Sid, false)
			diff("organization", o.Sid, "domain_name", o.DomainName, r.DomainName, false)
			if !r.NoStatus {
				diff("organization", o.Sid, "status", o.Status, r.Status, false)
			}
			diff("organization", o.Sid, "date_created", dt(o.DateCreated), day(r.DateCreated), false)
		}
		for _, r := range dbOrgs.rest() {
			onlyInDatabase("organization", r.Sid)
		}
	}

	dbAccts := bySid(src.Accounts, rule, func(a *restcommdb.Account) string { return a.Sid })
	for _, o := range orgs {
		err := st.EachOrganizationAccount(ctx, o.Sid, func(as []store.Account) error {
			for i := range as {
				a := &as[i]
				r := dbAccts.take(a.Sid)
				p := a.Pending != ""
				if r == nil {
					diff("account", a.Sid, "", "present", "missing", p)
					continue
				}
				org := r.OrganizationSid
				if r.NoOrganization {
					org = store.DefaultOrganizationSid
				}
				for _, c := range [][3]string{
					{"sid", a.Sid, r.Sid},
					{"date_created", dt(a.DateCreated), day(r.DateCreated)},
					{"date_updated", dt(a.DateUpdated), day(r.DateUpdated)},
					{"email_address", a.EmailAddress, r.EmailAddress},
					{"friendly_name", a.FriendlyName, r.FriendlyName},
					{"parent_sid", a.ParentSid, r.ParentSid},
					{"type", a.Type, r.Type},
					{"status", a.Status, r.Status},
					{"auth_token", a.AuthToken, r.AuthToken},
					{"role", a.Role, r.Role},
					{"uri", a.URI, r.URI},
					{"organization_sid", a.OrganizationSid, org},
				} {
					diff("account", a.Sid, c[0], c[1], c[2], p)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, r := range dbAccts.rest() {
		onlyInDatabase("account", r.Sid)
	}
	sort.SliceStable(v.Differences, func(i, j int) bool {
		a, b := v.Differences[i], v.Differences[j]
		if a.Kind != b.Kind {
			return a.Kind > b.Kind // organizations first
		}
		return a.Sid < b.Sid
	})
	return v, nil
}

// sidIndex holds a table's rows by their SID as the database compares
// SIDs: a gateway row takes the database row with exactly its SID, else
// one the database finds equal.
type sidIndex[T any] struct {
	rule collation.Rule
	sid  func(*T) string
	by   map[string][]*T
}

func bySid[T any](xs []T, rule collation.Rule, sid func(*T) string) *sidIndex[T] {
	r := &sidIndex[T]{rule: rule, sid: sid, by: make(map[string][]*T, len(xs))}
	for i := range xs {
		k := rule.SID(sid(&xs[i]))
		r.by[k] = append(r.by[k], &xs[i])
	}
	return r
}

// take removes and returns the row that sid names, or nil.
func (r *sidIndex[T]) take(sid string) *T {
	k := r.rule.SID(sid)
	list := r.by[k]
	if len(list) == 0 {
		return nil
	}
	at := 0
	for i, x := range list {
		if r.sid(x) == sid {
			at = i
			break
		}
	}
	x := list[at]
	r.by[k] = append(list[:at], list[at+1:]...)
	return x
}

// rest are the rows not taken.
func (r *sidIndex[T]) rest() []*T {
	var out []*T
	for _, list := range r.by {
		out = append(out, list...)
	}
	return out
}
