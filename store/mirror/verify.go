package mirror

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

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
}

func (d Difference) String() string {
	s := fmt.Sprintf("%s %s: ", d.Kind, d.Sid)
	if d.Field == "" {
		s += fmt.Sprintf("gateway %s, database %s", d.Gateway, d.Database)
	} else {
		s += fmt.Sprintf("%s: gateway %q, database %q", d.Field, d.Gateway, d.Database)
	}
	if d.Pending {
		s += " (a change is pending delivery)"
	}
	return s
}

// Verify compares every account and organization of the gateway with
// RestComm's tables, row by row and column by column (dates in loc,
// RestComm's time zone), and returns every difference in SID order.
// Rows only in the database count too (e.g. those an import skipped).
// Neither side is read as one snapshot: changes made meanwhile may show
// as differences marked pending.
func Verify(ctx context.Context, st *store.Store, db *sql.DB, loc *time.Location) ([]Difference, error) {
	if loc == nil {
		loc = time.UTC
	}
	src, err := restcommdb.ReadDB(ctx, db, "RestComm's database")
	if err != nil {
		return nil, err
	}
	dt := func(t time.Time) string { return t.In(loc).Format(time.DateTime) }
	day := func(s string) string { // "2006-01-02 15:04:05[.fraction]"
		if len(s) > len(time.DateTime) {
			return s[:len(time.DateTime)]
		}
		return s
	}
	var out []Difference
	diff := func(kind, sid, field, gw, db string, pending bool) {
		if gw != db {
			out = append(out, Difference{Kind: kind, Sid: sid, Field: field, Gateway: gw, Database: db, Pending: pending})
		}
	}

	orgs, err := st.Organizations(ctx)
	if err != nil {
		return nil, err
	}
	if src.HasOrganizations {
		dbOrgs := map[string]*restcommdb.Organization{}
		for i := range src.Organizations {
			dbOrgs[src.Organizations[i].Sid] = &src.Organizations[i]
		}
		for _, o := range orgs {
			r := dbOrgs[o.Sid]
			delete(dbOrgs, o.Sid)
			if r == nil {
				diff("organization", o.Sid, "", "present", "missing", false)
				continue
			}
			diff("organization", o.Sid, "domain_name", o.DomainName, r.DomainName, false)
			if !r.NoStatus {
				diff("organization", o.Sid, "status", o.Status, r.Status, false)
			}
			diff("organization", o.Sid, "date_created", dt(o.DateCreated), day(r.DateCreated), false)
		}
		for sid := range dbOrgs {
			diff("organization", sid, "", "missing", "present", false)
		}
	}

	dbAccts := map[string]*restcommdb.Account{}
	for i := range src.Accounts {
		dbAccts[src.Accounts[i].Sid] = &src.Accounts[i]
	}
	for _, o := range orgs {
		err := st.EachOrganizationAccount(ctx, o.Sid, func(as []store.Account) error {
			for i := range as {
				a := &as[i]
				r := dbAccts[a.Sid]
				delete(dbAccts, a.Sid)
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
	for sid := range dbAccts {
		diff("account", sid, "", "missing", "present", false)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind > out[j].Kind // organizations first
		}
		return out[i].Sid < out[j].Sid
	})
	return out, nil
}
