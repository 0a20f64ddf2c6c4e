package store

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// AccountTaken reports whether a new account with this SID and e-mail
// address would be a duplicate: an account has the SID, or one is filed
// under the address's key (as RestComm's database compares it), or either
// is reserved for an account RestComm holds and the gateway does not.
// CreateAccount makes the same check atomically; this read lets a caller
// report a duplicate in RestComm's order, before checks that come after it.
func (s *Store) AccountTaken(ctx context.Context, sid, email string) (bool, error) {
	ek := s.EmailKey(email)
	var exists *redis.IntCmd
	var rsid, remail *redis.BoolCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		exists = p.Exists(ctx, s.key("acct", sid), s.key("emails", ek))
		rsid = p.HExists(ctx, s.prefix+"rsv:sid", sid)
		remail = p.HExists(ctx, s.prefix+"rsv:email", ek)
		return nil
	})
	if err != nil {
		return false, err
	}
	return exists.Val() > 0 || rsid.Val() || remail.Val(), nil
}
