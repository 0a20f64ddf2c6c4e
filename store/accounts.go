package store

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"time"
)

var (
	//go:embed lua/resolve.lua
	resolveSrc string
	//go:embed lua/create_account.lua
	createAccountSrc string
	//go:embed lua/update_account.lua
	updateAccountSrc string
	//go:embed lua/migrate_account.lua
	migrateAccountSrc string

	resolveScript        = newScript(readOnlyFlag + keysSrc + throttleSrc + strings.TrimPrefix(resolveSrc, readOnlyFlag))
	createAccountScript  = writeScript(keysSrc + createAccountSrc)
	updateAccountScript  = writeScript(keysSrc + updateAccountSrc)
	migrateAccountScript = writeScript(migrateAccountSrc)
)

// LookupMode says how an identifier names an account; RestComm resolves
// identifiers differently for login, for GET and for changes.
type LookupMode string

const (
	// ByLogin: e-mail address, else SID. Friendly names never log in.
	ByLogin LookupMode = "login"
	// ByID is how an identifier in a path names an account (GET, update,
	// migrate, and the {accountSid} of a sub-resource path): a SID-shaped
	// identifier (34 letters and digits) by SID only; one containing '@'
	// by e-mail address, then friendly name, then SID; anything else by
	// friendly name, e-mail address, then SID. RestComm tries the friendly
	// name first whatever the identifier's shape, so that an account could
	// squat another's SID or e-mail address as its friendly name; the
	// gateway does not (docs/restcomm-contract.md, divergences).
	ByID LookupMode = "id"
)

// Lookup is one identifier to resolve.
type Lookup struct {
	Mode LookupMode
	ID   string
}

// Resolved is one resolved account with its ancestors, nearest first.
// Account is nil when nothing matched; Ambiguous is set when several
// accounts share the friendly name.
type Resolved struct {
	Account   *Account
	Ancestors []string
	Ambiguous bool
}

// Resolve resolves several identifiers in one round trip.
func (s *Store) Resolve(ctx context.Context, lookups ...Lookup) ([]Resolved, error) {
	res, _, err := s.ResolveCounting(ctx, nil, lookups...)
	return res, err
}

// ResolveCounting resolves several identifiers and, when fl is not nil,
// reads the failed-login counts of fl, all in one round trip. The counters
// are named by the script, from the account fl's login names
// (lua/throttle.lua): Go never derives their keys.
func (s *Store) ResolveCounting(ctx context.Context, fl *FailedLogins, lookups ...Lookup) ([]Resolved, *FailureCounts, error) {
	reply, err := s.resolve(ctx, fl, lookups)
	if s.keysChanged(ctx, err) {
		reply, err = s.resolve(ctx, fl, lookups)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("store: resolve: %w", err)
	}
	items, ok := reply.([]any)
	want := len(lookups)
	if fl != nil {
		want++
	}
	if !ok || len(items) != want {
		return nil, nil, fmt.Errorf("store: unexpected resolve reply %T", reply)
	}
	var counts *FailureCounts
	if fl != nil {
		v, _ := items[len(lookups)].([]any)
		if counts, err = failureCountsFrom(v); err != nil {
			return nil, nil, err
		}
		items = items[:len(lookups)]
	}
	out, err := resolvedFrom(items)
	return out, counts, err
}

// resolve runs resolve.lua with each identifier's keys under the
// namespace's rule.
func (s *Store) resolve(ctx context.Context, fl *FailedLogins, lookups []Lookup) (any, error) {
	k := s.keys.load()
	args := make([]any, 0, 4*len(lookups)+7)
	args = append(args, k.version, len(lookups))
	for _, l := range lookups {
		args = append(args, string(l.Mode), l.ID, k.rule.Key(l.ID), k.rule.SID(l.ID))
	}
	if fl != nil {
		args = fl.appendArgs(args, k)
	}
	return s.run(ctx, resolveScript, args...)
}

func resolvedFrom(items []any) ([]Resolved, error) {
	out := make([]Resolved, len(items))
	for i, it := range items {
		parts, ok := it.([]any)
		if !ok || len(parts) != 3 {
			return nil, fmt.Errorf("store: unexpected resolve item %T", it)
		}
		state, _ := parts[0].(int64)
		switch state {
		case 2:
			out[i].Ambiguous = true
		case 1:
			a, err := accountFrom(parts[1])
			if err != nil {
				return nil, err
			}
			out[i].Account = a
			anc, _ := parts[2].([]any)
			out[i].Ancestors = make([]string, 0, len(anc))
			for _, x := range anc {
				sid, _ := x.(string)
				out[i].Ancestors = append(out[i].Ancestors, sid)
			}
		}
	}
	return out, nil
}

// Account returns the account with that SID, or ErrNotFound.
func (s *Store) Account(ctx context.Context, sid string) (*Account, error) {
	reply, err := s.rdb.Do(ctx, "HGETALL", s.key("acct", sid)).Result()
	if err != nil {
		return nil, err
	}
	a, err := accountFrom(reply)
	if err == nil && a == nil {
		err = ErrNotFound
	}
	return a, err
}

// CreateAccount stores a new account with its index entries, atomically.
// It fails with ErrDuplicate when the SID or the e-mail address is taken,
// ErrNoOrganization or ErrNoParent when they do not exist, ErrStale when
// the guard no longer holds or the parent is no longer active; then nothing
// is written. It returns the account as stored.
//
// opts add what the mirror needs besides the stored fields (WithPassword).
func (s *Store) CreateAccount(ctx context.Context, g *Guard, a *Account, opts ...ChangeOption) (*Account, error) {
	create := func() (any, error) {
		k := s.keys.load()
		wctx, cancel := writeContext(ctx)
		defer cancel()
		args := g.args(accountArgs(a)...)
		args = append(args, aKeys, k.version, aEmailKey, k.rule.Key(a.EmailAddress), aNameKey, k.rule.Key(a.FriendlyName))
		args = append(args, s.changeArgs(a.Sid, opts)...)
		return s.run(wctx, createAccountScript, args...)
	}
	reply, err := create()
	if s.keysChanged(ctx, err) {
		reply, err = create()
	}
	reply, err = s.settle(ctx, g, "acct", a.Sid, reply, err)
	if err != nil {
		return nil, scriptError("create account", err)
	}
	return accountFrom(reply)
}

// AccountUpdate lists the changes of one update; nil fields stay as they are.
type AccountUpdate struct {
	FriendlyName *string
	AuthToken    *string // set when a new password was given
	Role         *string
	Status       *string // lower-cased, valid
	Now          time.Time
}

// UpdateAccount applies u to the account atomically. A status change
// cascades to every descendant; a new password on an uninitialized account
// makes it active (RestComm's first-login flow). It fails with ErrNotFound,
// ErrClosed for a closed account (closed is terminal), or ErrStale when the
// guard no longer holds. It returns the account as stored afterwards.
// opts (WithPassword, with a new AuthToken) are for the mirror.
func (s *Store) UpdateAccount(ctx context.Context, g *Guard, sid string, u AccountUpdate, opts ...ChangeOption) (*Account, error) {
	update := func() (any, error) {
		k := s.keys.load()
		wctx, cancel := writeContext(ctx)
		defer cancel()
		args := g.args(pairs(aTarget, sid, aNow, unix(u.Now),
			fName, u.FriendlyName, fToken, u.AuthToken, fRole, u.Role, fStatus, u.Status)...)
		args = append(args, aKeys, k.version)
		if u.FriendlyName != nil {
			args = append(args, aNameKey, k.rule.Key(*u.FriendlyName))
		}
		if u.AuthToken != nil {
			args = append(args, s.changeArgs(sid, opts)...)
		}
		return s.run(wctx, updateAccountScript, args...)
	}
	reply, err := update()
	if s.keysChanged(ctx, err) {
		reply, err = update()
	}
	reply, err = s.settle(ctx, g, "acct", sid, reply, err)
	if err != nil {
		return nil, scriptError("update account", err)
	}
	return accountFrom(reply)
}

// MigrateAccount moves the account and its direct children to the
// organization orgSid. It fails with ErrNotFound, ErrNoOrganization,
// ErrSameOrg (already there) or ErrStale, writing nothing.
func (s *Store) MigrateAccount(ctx context.Context, g *Guard, sid, orgSid string, now time.Time) (*Account, error) {
	wctx, cancel := writeContext(ctx)
	reply, err := s.run(wctx, migrateAccountScript, g.args(aTarget, sid, fOrg, orgSid, aNow, unix(now))...)
	cancel()
	reply, err = s.settle(ctx, g, "acct", sid, reply, err)
	if err != nil {
		return nil, scriptError("migrate account", err)
	}
	return accountFrom(reply)
}

// Children returns the direct children of an account in SID order.
func (s *Store) Children(ctx context.Context, sid string) ([]Account, error) {
	return s.listAccounts(ctx, "children:"+sid)
}

// OrganizationAccounts returns every account of an organization, at any
// depth and in any status, in SID order.
func (s *Store) OrganizationAccounts(ctx context.Context, orgSid string) ([]Account, error) {
	return s.listAccounts(ctx, "orgacc:"+orgSid)
}

func (s *Store) listAccounts(ctx context.Context, set string) ([]Account, error) {
	out := []Account{}
	err := s.eachAccount(ctx, set, func(as []Account) error {
		out = append(out, as...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
