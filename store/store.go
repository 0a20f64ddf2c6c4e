// Package store keeps RestComm accounts and organizations in Redis.
//
// Every key of one gateway deployment shares a single Redis Cluster hash tag
// (the key prefix in braces, "{restcomm}:" by default), so that the multi-key
// changes RestComm needs — an account with its e-mail index, its parent's
// children and its organization's members; a status cascade over a subtree —
// are single Lua scripts that run atomically on one node, under a single node,
// Sentinel or Cluster alike. Scripts receive one key of the namespace in
// KEYS[1] so that Cluster routes them to the slot's owner; the other keys they
// touch are derived from the prefix and hash to that same slot.
//
// Key layout (P is the prefix, e.g. "{restcomm}:"):
//
//	P acct:<sid>          hash   one account (fields below)
//	P emails:<key>        zset   SIDs of the accounts with that e-mail address, under
//	                             the namespace's comparison rule (keys.go)
//	P fname:<key>         zset   SIDs of the accounts with that friendly name (same rule)
//	P rsv:sid, rsv:email  hash   SIDs and e-mail addresses reserved: RestComm holds
//	                             them, the gateway does not (keys.go)
//	P children:<sid>      zset   direct children of an account (score 0: SID order)
//	P org:<sid>           hash   one organization
//	P orgdomain:<domain>  string organization SID of a lower-cased domain name
//	P orgs                zset   every organization SID
//	P orgacc:<sid>        zset   SIDs of the accounts in an organization
//	P meta                hash   the namespace marker: seeded when, by what (meta.go)
//	P keys                string the index layout and comparison rule, "2:latin1_swedish_ci" (keys.go)
//	P waitbarrier         string a write WaitReplicated waits for (wait.go; expires)
//	P outbox              stream the changes not yet mirrored to RestComm's database,
//	                      with the consumer group "mirror" (outbox.go); exists only
//	                      in a mirrored namespace
//	P outbox:dead         stream entries the mirror could never deliver, with the reason
//	P mirror              hash   the mirror's counts (delivered, dead) and last delivery
//	P mirror:lease        string the delivery worker holding the lease (expires)
//	P thr:login:<id>:<net> zset  failed logins of one login from one client network, and
//	P thr:ip:<net>        zset   of any login from one: the throttle's sliding windows
//	                             (throttle.go; they expire)
//	P thr:active          zset   the client networks with failed logins in their window
//
// Sorted sets with equal scores return members in byte order, which is the
// order RestComm's lists come in (ascending SID).
//
// Why one hash slot: RestComm's changes span many keys (a create touches
// five, a close the whole subtree), and they must be atomic and checked
// against the facts they were decided on (guard.lua) in the same step.
// Redis runs a script atomically only on the node that owns every key it
// touches, so every key of a deployment hashes to the slot of its tag. For
// Redis Cluster users this means: Cluster gives high availability (a
// replica of the slot's master takes over) but not sharding: one
// deployment's accounts live on one master and its replicas, whatever the
// number of nodes. A second deployment (another key_prefix) lands in
// another slot. Capacity is one Redis node's memory and CPU; reads can be
// spread over replicas, as the read scripts are read-only
// (#!lua flags=no-writes, EVALSHA_RO).
//
// Scripts take name/value pairs, never positional flags; the names are one
// table shared with Lua (fields.go). Write scripts are never re-sent
// (script.go) and store the request id with what they change, so a lost
// reply is settled by reading, not by running the write again (guard.go).
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors a caller can act on. Everything else is a Redis failure.
var (
	ErrNotFound       = errors.New("not found")
	ErrDuplicate      = errors.New("already exists")
	ErrClosed         = errors.New("account is closed")
	ErrNoOrganization = errors.New("organization does not exist")
	ErrNoParent       = errors.New("parent account does not exist")
	ErrSameOrg        = errors.New("account already in the requested organization")
	// ErrStale: the caller a write was decided for changed (status, token
	// or role), or a new account's parent is no longer active. Nothing was
	// written; the write must be decided again on the current state.
	ErrStale = errors.New("the facts the change was decided on no longer hold")
)

// DefaultKeyPrefix is the hash tag used when none is configured.
const DefaultKeyPrefix = "restcomm"

// Store reads and changes accounts and organizations. It is safe for
// concurrent use; it holds no state besides the client and the
// namespace's comparison rule (keys.go), shared by its copies.
type Store struct {
	rdb    redis.UniversalClient
	prefix string // "{tag}:"
	anchor string // a key of the namespace, used to route scripts

	keys   *keysState // the namespace's comparison rule, as last read (keys.go)
	wait   waitFor    // replicas a write waits for (WithWait, wait.go)
	sealer *Sealer    // seals passwords for the outbox (WithSealer, seal.go)
}

// New returns a Store over rdb. keyPrefix becomes the Redis Cluster hash tag
// of every key ("restcomm" gives "{restcomm}:acct:…"); empty means
// DefaultKeyPrefix.
func New(rdb redis.UniversalClient, keyPrefix string) *Store {
	if keyPrefix == "" {
		keyPrefix = DefaultKeyPrefix
	}
	p := "{" + keyPrefix + "}:"
	return &Store{rdb: rdb, prefix: p, anchor: p + "orgs", keys: &keysState{}}
}

// Client returns the underlying Redis client.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

func (s *Store) key(kind, id string) string { return s.prefix + kind + ":" + id }

func accountArgs(a *Account) []any {
	return []any{
		fSid, a.Sid, fOrg, a.OrganizationSid, fName, a.FriendlyName, fEmail, a.EmailAddress,
		fType, a.Type, fStatus, a.Status, fRole, a.Role, fToken, a.AuthToken, fURI, a.URI,
		fParent, a.ParentSid, fCreated, unix(a.DateCreated), fUpdated, unix(a.DateUpdated),
	}
}

// Dates are stored as Unix seconds: RestComm prints second precision only.
func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func parseUnix(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Unix(n, 0).UTC()
}

// hashPairs flattens a hash reply: HGETALL answers a flat array under RESP2
// (and from scripts) and a map under RESP3.
func hashPairs(reply any) ([]any, error) {
	switch r := reply.(type) {
	case []any:
		return r, nil
	case map[any]any:
		kv := make([]any, 0, 2*len(r))
		for k, v := range r {
			kv = append(kv, k, v)
		}
		return kv, nil
	}
	return nil, fmt.Errorf("store: unexpected hash reply %T", reply)
}

// accountFrom builds an Account from an HGETALL reply. It returns nil for
// an empty reply (no such hash).
func accountFrom(reply any) (*Account, error) {
	kv, err := hashPairs(reply)
	if err != nil || len(kv) == 0 {
		return nil, err
	}
	a := new(Account)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		v, _ := kv[i+1].(string)
		switch k {
		case fSid:
			a.Sid = v
		case fOrg:
			a.OrganizationSid = v
		case fName:
			a.FriendlyName = v
		case fEmail:
			a.EmailAddress = v
		case fType:
			a.Type = v
		case fStatus:
			a.Status = v
		case fRole:
			a.Role = v
		case fToken:
			a.AuthToken = v
		case fURI:
			a.URI = v
		case fParent:
			a.ParentSid = v
		case fCreated:
			a.DateCreated = parseUnix(v)
		case fUpdated:
			a.DateUpdated = parseUnix(v)
		case fPending:
			a.Pending = v
		}
	}
	return a, nil
}

func organizationFrom(reply any) (*Organization, error) {
	kv, err := hashPairs(reply)
	if err != nil || len(kv) == 0 {
		return nil, err
	}
	o := new(Organization)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		v, _ := kv[i+1].(string)
		switch k {
		case fSid:
			o.Sid = v
		case fDomain:
			o.DomainName = v
		case fStatus:
			o.Status = v
		case fCreated:
			o.DateCreated = parseUnix(v)
		case fUpdated:
			o.DateUpdated = parseUnix(v)
		}
	}
	return o, nil
}

// scriptError maps the sentinel error replies of our scripts to Go errors.
// Anything else is wrapped with the operation ("store: create account:
// i/o timeout"), keeping what errors.Is and errors.As find.
func scriptError(op string, err error) error {
	if err == nil {
		return nil
	}
	code, detail := ErrorReply(err)
	if detail != "" {
		code = "" // the scripts' replies named here are the code alone
	}
	switch code {
	case CodeNotFound:
		return ErrNotFound
	case CodeDuplicate:
		return ErrDuplicate
	case CodeClosed:
		return ErrClosed
	case CodeNoOrg:
		return ErrNoOrganization
	case CodeNoParent:
		return ErrNoParent
	case CodeSameOrg:
		return ErrSameOrg
	case CodeStale:
		return ErrStale
	}
	return fmt.Errorf("store: %s: %w", op, err)
}
