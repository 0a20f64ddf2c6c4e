package importer

import (
	"context"
	"io"
	"time"

	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// ExportCounts says how much an export wrote.
type ExportCounts struct {
	Organizations, Accounts, Reservations int
}

// Export writes every organization and every account of st as JSON lines
// (restcommdb's format): a header, the organizations in SID order, then
// each organization's accounts in SID order, then the reservations. The
// header records the namespace's comparison rule. It reads in batches, so a
// gateway sharing the Redis keeps answering; accounts changed while it
// runs may be written before or after their change. The lines hold auth
// tokens: keep the file as secret as the Redis.
func Export(ctx context.Context, st *store.Store, w io.Writer, namespace string) (ExportCounts, error) {
	var n ExportCounts
	// the rule travels with the accounts: an import of the file keys a
	// namespace as this one is keyed
	rule, err := st.NamespaceCollation(ctx)
	if err != nil {
		return n, err
	}
	h := restcommdb.Header{Kind: restcommdb.KindExport, Format: restcommdb.JSONLFormat,
		Namespace: namespace, Exported: time.Now().UTC().Format(time.RFC3339)}
	if rule != nil {
		h.Collation = rule.Name()
	}
	jw := restcommdb.NewJSONLWriter(w)
	if err := jw.Write(h); err != nil {
		return n, err
	}
	orgs, err := st.Organizations(ctx)
	if err != nil {
		return n, err
	}
	for _, o := range orgs {
		if err := jw.Write(restcommdb.JSONOrganization{Kind: restcommdb.KindOrganization, Sid: o.Sid,
			DomainName: o.DomainName, Status: o.Status,
			DateCreated: rfc3339(o.DateCreated), DateUpdated: rfc3339(o.DateUpdated)}); err != nil {
			return n, err
		}
		n.Organizations++
	}
	for _, o := range orgs {
		err := st.EachOrganizationAccount(ctx, o.Sid, func(as []store.Account) error {
			for i := range as {
				a := &as[i]
				var parent *string
				if a.ParentSid != "" {
					p := a.ParentSid
					parent = &p
				}
				if err := jw.Write(restcommdb.JSONAccount{Kind: restcommdb.KindAccount, Sid: a.Sid,
					DateCreated: rfc3339(a.DateCreated), DateUpdated: rfc3339(a.DateUpdated),
					EmailAddress: a.EmailAddress, FriendlyName: a.FriendlyName, ParentSid: parent,
					Type: a.Type, Status: a.Status, AuthToken: a.AuthToken, Role: a.Role, URI: a.URI,
					OrganizationSid: a.OrganizationSid}); err != nil {
					return err
				}
				n.Accounts++
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	// the reservations, so that a restore keeps RestComm's skipped rows
	// reserved
	rs, err := st.Reservations(ctx)
	if err != nil {
		return n, err
	}
	for _, x := range rs {
		if err := jw.Write(restcommdb.JSONReservation{Kind: restcommdb.KindReservation, Sid: x.Sid,
			EmailAddress: x.Email, Reason: x.Reason}); err != nil {
			return n, err
		}
		n.Reservations++
	}
	return n, jw.Flush()
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
