package mirror

import (
	"context"
	"fmt"
	"net/url"

	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// clientsTable is RestComm's table of SIP clients.
const clientsTable = "restcomm_clients"

// linkedClient finds an account's SIP client as RestComm's updateLinkedClient
// does (ClientsDao.getClient(login, organization)): the client of that
// login among the clients of the organization's accounts, whichever
// account owns it, the database comparing the logins (on RestComm's latin1
// tables, case and trailing spaces ignored). RestComm's API lists an
// account's own clients only, so this reads RestComm's table. It returns
// the client's SID and its owner, "" when there is none; RestComm before
// 8.2 (no organizations) looks the login up among all clients.
func (w *Worker) linkedClient(ctx context.Context, login, org string) (sid, owner string, err error) {
	if err := w.rows.load(ctx); err != nil {
		return "", "", err
	}
	q, args := "SELECT c.sid, c.account_sid FROM `"+clientsTable+"` c WHERE c.login = ? LIMIT 2", []any{login}
	if w.rows.accountOrg {
		q = "SELECT c.sid, c.account_sid FROM `" + clientsTable + "` c JOIN `" + restcommdb.AccountsTable +
			"` a ON a.sid = c.account_sid WHERE c.login = ? AND a.organization_sid = ? LIMIT 2"
		args = append(args, org)
	}
	rows, err := w.rows.db.QueryContext(ctx, q, args...)
	if err != nil {
		return "", "", sqlError(err, "SIP client lookup")
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if err := rows.Scan(&sid, &owner); err != nil {
			return "", "", sqlError(err, "SIP client lookup")
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return "", "", sqlError(err, "SIP client lookup")
	}
	if n > 1 {
		// RestComm's own lookup (MyBatis selectOne) fails the same way, and
		// with it the account's update (500): nothing to decide the client by
		return "", "", permanent(kindRefused, "SIP client of login %q: the organization has more than one, RestComm fails on it too", login)
	}
	return sid, owner, nil
}

// updateLinkedClient gives the account's linked SIP client (linkedClient)
// what form sets, through RestComm's Clients API, as the client's owner or
// the nearest active Administrator above it.
func (w *Worker) updateLinkedClient(ctx context.Context, st step, form url.Values, attempt int) error {
	a := st.target
	if a.EmailAddress == "" {
		return nil // RestComm looks no client up for an account without an address
	}
	clientSid, owner, err := w.linkedClient(ctx, clientLogin(a.EmailAddress), a.OrganizationSid)
	if err != nil || clientSid == "" {
		return err // none: nothing to update, as in RestComm
	}
	caller := st.caller
	if owner != a.Sid {
		// another account's client of that login: RestComm updates it all
		// the same, so it is asked as whoever RestComm lets at that account
		if caller, err = w.callerOf(ctx, st.e, owner); err != nil {
			return err
		}
	}
	if caller == nil {
		return permanent(kindRefused, "SIP client %s of %s: no account RestComm would let in to update it (no active Administrator above it)",
			clientSid, owner)
	}
	return w.up.updateClient(ctx, owner, clientSid, form, caller, attempt)
}

// callerOf is whom RestComm's Clients API is asked as for an account that
// is not the entry's (callerFor), its row first written as the gateway has
// it, so that RestComm authenticates it with its current token; nil when
// nobody would be let in, or the account is not at the gateway.
func (w *Worker) callerOf(ctx context.Context, e *store.OutboxEntry, sid string) (*store.Account, error) {
	accts, err := w.accounts(ctx, []string{sid})
	if err != nil || len(accts) == 0 {
		return nil, err
	}
	caller, err := w.callerFor(ctx, e, accts[0])
	if err != nil || caller == nil {
		return nil, err
	}
	if err := w.write(ctx, nil, []*store.Account{caller}, true); err != nil {
		return nil, fmt.Errorf("caller %s: %w", caller.Sid, err)
	}
	return caller, nil
}
