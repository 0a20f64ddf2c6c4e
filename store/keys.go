package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/restcomm/restcomm-gateway/internal/collation"
)

// Index keys under the source database's comparison rule.
//
// RestComm finds accounts with `WHERE email_address = ?`, `WHERE sid = ?`
// and `WHERE friendly_name = ?`, and lets its database compare: on MariaDB
// (latin1_swedish_ci) "ADMIN@ACME.COM " finds admin@acme.com, on HSQLDB it
// does not. The gateway files every account in its e-mail and friendly-
// name indexes under the key the namespace's rule gives (collation.Rule
// Key), and looks identifiers up by the same key, so it finds what
// RestComm's database would find. Accounts whose e-mail addresses share a
// key are all filed (RestComm's database holds them too): an e-mail login
// that finds several is ambiguous, and each is found by its SID.
//
// The rule is the namespace's, recorded as P keys = "<layout>:<rule>"
// (a string beside the marker) by the import (from the source database) or
// by a gateway told to use one (login_collation). Every script that uses
// index keys is given the P keys its keys were made under and refuses to
// run under others (keys.lua), so a change of rule, which re-keys the whole
// namespace in one step (reindex.lua), can never mix keys of two rules.
// Layout 1, from before rules were recorded, had one e-mail address per
// account as a string key (P email:<address>); it is re-keyed on open.

// KeysLayout is the version of the index layout this code reads and writes.
const KeysLayout = "2"

var (
	//go:embed lua/keys.lua
	keysSrc string
	//go:embed lua/reindex.lua
	reindexSrc string

	//go:embed lua/reserve.lua
	reserveSrc string

	reindexScript = newScript(keysSrc + reindexSrc)
	reserveScript = newScript(keysSrc + reserveSrc)
)

// ErrKeysChanged: the namespace's comparison rule changed while the
// request was made; nothing was written, and the store now uses the new
// rule.
var ErrKeysChanged = errors.New("the namespace's comparison rule changed")

// keys is the rule the namespace's indexes are keyed by, as last read.
type keys struct {
	rule    collation.Rule
	version string // "<layout>:<rule>"
}

func newKeys(r collation.Rule) *keys {
	return &keys{rule: r, version: KeysLayout + ":" + r.Name()}
}

// keysState holds the store's current keys; New starts with Exact.
type keysState struct{ p atomic.Pointer[keys] }

func (k *keysState) load() *keys {
	if c := k.p.Load(); c != nil {
		return c
	}
	return defaultKeys
}

var defaultKeys = newKeys(collation.Exact)

// Collation is the rule the namespace's logins and lookups compare by.
func (s *Store) Collation() collation.Rule { return s.keys.load().rule }

// EmailKey is the key an e-mail address (or any identifier) is filed and
// looked up under.
func (s *Store) EmailKey(e string) string { return s.keys.load().rule.Key(e) }

// ErrNewerLayout: the namespace's indexes are in a layout this code does
// not know (a newer gateway wrote them). Nothing is read under it, nor
// re-keyed: guessing would file logins under keys the newer gateway does
// not look for, or undo its layout.
var ErrNewerLayout = errors.New("store: the namespace's index layout is newer than this gateway knows")

// parseKeys reads P keys: layout 1 (as OpenKeys names the old layout) or
// KeysLayout; any other layout is refused (ErrNewerLayout).
func parseKeys(v string) (layout string, r collation.Rule, err error) {
	layout, name, ok := strings.Cut(v, ":")
	if !ok {
		return "", r, fmt.Errorf("store: namespace marker: keys %q", v)
	}
	if layout != "1" && layout != KeysLayout {
		return "", r, fmt.Errorf("%w: P keys is %q, this gateway reads layouts 1 and %s; run a gateway of the version "+
			"that wrote it, or a newer one (refusing to guess its keys)", ErrNewerLayout, v, KeysLayout)
	}
	r, err = collation.Parse(name)
	return layout, r, err
}

// KeysState is what OpenKeys found and did.
type KeysState struct {
	Rule      collation.Rule
	From      string // the P keys the namespace held before ("" when empty)
	Reindexed int    // accounts re-keyed (0: nothing to do)
}

// OpenKeys reads the namespace's rule and uses it from then on. A
// namespace in the old layout is re-keyed under want, or Exact (what the
// old layout compared by). When want is given and differs from the
// namespace's rule, the namespace is re-keyed under want: an operator who
// names a rule imposes it. An empty namespace takes want (or Exact) when
// its first account is written.
func (s *Store) OpenKeys(ctx context.Context, want *collation.Rule) (KeysState, error) {
	for attempt := 0; ; attempt++ {
		st, err := s.openKeys(ctx, want)
		if !errors.Is(err, ErrStale) || attempt == 4 {
			return st, err
		}
	}
}

func (s *Store) openKeys(ctx context.Context, want *collation.Rule) (KeysState, error) {
	have, err := s.rdb.Get(ctx, s.prefix+"keys").Result()
	if err != nil && !isNil(err) {
		return KeysState{}, err
	}
	if have == "" {
		n, err := s.rdb.Exists(ctx, s.prefix+"orgs").Result()
		if err != nil {
			return KeysState{}, err
		}
		if n == 0 { // empty: the first writer records the rule (keys.lua)
			r := collation.Exact
			if want != nil {
				r = *want
			}
			s.keys.p.Store(newKeys(r))
			return KeysState{Rule: r}, nil
		}
		have = "1:" + collation.Exact.Name()
	}
	layout, r, err := parseKeys(have)
	if err != nil {
		return KeysState{}, err
	}
	if want != nil {
		r = *want
	}
	if layout == KeysLayout && (want == nil || have == newKeys(r).version) {
		s.keys.p.Store(newKeys(r))
		return KeysState{Rule: r, From: have}, nil
	}
	n, err := s.reindex(ctx, have, newKeys(r))
	if err != nil {
		return KeysState{}, err
	}
	s.keys.p.Store(newKeys(r))
	return KeysState{Rule: r, From: have, Reindexed: n}, nil
}

// NamespaceCollation reads the rule the namespace is keyed by, without
// using it or changing anything: nil for a namespace that holds nothing
// yet, Exact for one in the old layout.
func (s *Store) NamespaceCollation(ctx context.Context) (*collation.Rule, error) {
	have, err := s.rdb.Get(ctx, s.prefix+"keys").Result()
	switch {
	case err != nil && !isNil(err):
		return nil, err
	case err == nil:
		_, r, err := parseKeys(have)
		return &r, err
	}
	n, err := s.rdb.Exists(ctx, s.prefix+"orgs").Result()
	if err != nil || n == 0 {
		return nil, err
	}
	return &collation.Exact, nil
}

// SetCollation makes r the namespace's rule, re-keying it when its rule
// was another. It reports how many accounts were re-keyed.
func (s *Store) SetCollation(ctx context.Context, r collation.Rule) (int, error) {
	st, err := s.OpenKeys(ctx, &r)
	return st.Reindexed, err
}

// reindex files every account of the namespace under to's keys, in one
// atomic script; ErrStale when the namespace changed since it was read.
// Every account and reservation is in the one call: a change of rule is
// rare (an import from another database, an operator's choice) and must
// never show a namespace half re-keyed.
func (s *Store) reindex(ctx context.Context, from string, to *keys) (int, error) {
	var rows strings.Builder
	err := s.EachOrganization(ctx, func(orgs []Organization) error {
		for _, o := range orgs {
			err := s.EachOrganizationAccount(ctx, o.Sid, func(as []Account) error {
				for _, a := range as {
					appendRow(&rows, a.Sid, a.EmailAddress, a.FriendlyName, to.rule.Key(a.EmailAddress), to.rule.Key(a.FriendlyName))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	rs, err := s.Reservations(ctx)
	if err != nil {
		return 0, err
	}
	var rsv strings.Builder
	for _, r := range rs {
		if r.Email != "" {
			appendRow(&rsv, to.rule.Key(r.Email), r.Sid)
		}
	}
	reply, err := s.run(ctx, reindexScript, aFrom, from, aKeys, to.version, aRows, rows.String(), aFields, rsv.String())
	if err != nil {
		return 0, scriptError("re-key the namespace", err)
	}
	n, _ := reply.(int64)
	return int(n), nil
}

// keysChanged handles a script's refusal to run under keys the namespace
// no longer holds ('KEYS <have>'): it takes the namespace's rule, re-keying
// a namespace still in the old layout, and reports whether err was such a
// refusal (the caller makes its keys again and retries once).
func (s *Store) keysChanged(ctx context.Context, err error) bool {
	code, have := ErrorReply(err) // Redis's own answer, however the caller wrapped it
	if code != CodeKeys {
		return false
	}
	if layout, r, perr := parseKeys(have); perr == nil && layout == KeysLayout {
		s.keys.p.Store(newKeys(r))
		return true
	}
	_, oerr := s.OpenKeys(ctx, nil)
	return oerr == nil
}

// Reservation is a SID and e-mail address RestComm's database holds but the
// gateway does not (a row the import skipped): a create of either answers
// 409, as RestComm would, so that no account is ever created at the gateway
// over one RestComm already has.
type Reservation struct {
	Sid, Email, Reason string
}

// ReplaceReservations makes rs the namespace's reservations, replacing
// the previous ones, atomically.
func (s *Store) ReplaceReservations(ctx context.Context, rs []Reservation) error {
	k := s.keys.load()
	var rows strings.Builder
	for _, r := range rs {
		if r.Sid == "" && r.Email == "" {
			continue // nothing a create could take
		}
		sid := r.Sid
		if sid != "" {
			sid = k.rule.SID(sid)
		}
		appendRow(&rows, sid, r.Email, r.Reason, k.rule.Key(r.Email))
	}
	_, err := s.run(ctx, reserveScript, aKeys, k.version, aRows, rows.String())
	if s.keysChanged(ctx, err) {
		return s.ReplaceReservations(ctx, rs)
	}
	return scriptError("reserve", err)
}

// Reservations lists the namespace's reservations in SID order.
func (s *Store) Reservations(ctx context.Context) ([]Reservation, error) {
	h, err := s.rdb.HGetAll(ctx, s.prefix+"rsv:sid").Result()
	if err != nil {
		return nil, err
	}
	out := make([]Reservation, 0, len(h))
	for field, v := range h {
		r := Reservation{Sid: field, Reason: v}
		if strings.HasPrefix(field, "\x00") {
			r.Sid = "" // a row without a readable SID, filed by its e-mail key
		}
		if n, rest, ok := strings.Cut(v, ":"); ok {
			if l, err := strconv.Atoi(n); err == nil && l >= 0 && l <= len(rest) {
				r.Email, r.Reason = rest[:l], rest[l:]
			}
		}
		out = append(out, r)
	}
	sortReservations(out)
	return out, nil
}

func sortReservations(rs []Reservation) {
	slices.SortFunc(rs, func(a, b Reservation) int {
		if c := strings.Compare(a.Sid, b.Sid); c != 0 {
			return c
		}
		return strings.Compare(a.Email, b.Email)
	})
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }
