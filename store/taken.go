package store

import "context"

// AccountTaken reports whether a new account with this SID and (already
// lower-cased) e-mail address would be a duplicate: an account has the SID,
// or the e-mail index names an account for the address. CreateAccount makes
// the same check atomically; this read lets a caller report a duplicate in
// RestComm's order, before checks that come after it.
func (s *Store) AccountTaken(ctx context.Context, sid, email string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.key("acct", sid), s.key("email", email)).Result()
	return n > 0, err
}
