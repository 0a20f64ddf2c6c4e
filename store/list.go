package store

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// ListBatch is how many members of a list one round trip reads. A list is
// read in batches (eachHash), so that a long list never holds Redis for
// long and a reader's memory is bounded by the batch, not by the list.
const ListBatch = 256

// EachChild calls fn with the direct children of an account, in SID order,
// one batch of at most ListBatch accounts at a time. It stops at the first
// error, from Redis or from fn, and returns it. fn may not keep the slice,
// which is reused for the next batch, and is never called with an empty one.
//
// A list read in batches is not one snapshot: an account added or removed
// while it is read may or may not be listed, and every other is listed
// exactly once, in order.
func (s *Store) EachChild(ctx context.Context, sid string, fn func([]Account) error) error {
	return s.eachAccount(ctx, "children:"+sid, fn)
}

// EachOrganizationAccount is EachChild for every account of an
// organization, at any depth and in any status.
func (s *Store) EachOrganizationAccount(ctx context.Context, orgSid string, fn func([]Account) error) error {
	return s.eachAccount(ctx, "orgacc:"+orgSid, fn)
}

// EachOrganization is EachChild for every organization.
func (s *Store) EachOrganization(ctx context.Context, fn func([]Organization) error) error {
	batch := make([]Organization, 0, ListBatch)
	return s.eachHash(ctx, "orgs", "org", func(items []any) error {
		batch = batch[:0]
		for _, it := range items {
			o, err := organizationFrom(it)
			if err != nil {
				return err
			}
			if o != nil {
				batch = append(batch, *o)
			}
		}
		if len(batch) == 0 {
			return nil
		}
		return fn(batch)
	})
}

func (s *Store) eachAccount(ctx context.Context, set string, fn func([]Account) error) error {
	batch := make([]Account, 0, ListBatch)
	return s.eachHash(ctx, set, "acct", func(items []any) error {
		batch = batch[:0]
		for _, it := range items {
			a, err := accountFrom(it)
			if err != nil {
				return err
			}
			if a != nil {
				batch = append(batch, *a)
			}
		}
		if len(batch) == 0 {
			return nil
		}
		return fn(batch)
	})
}

// eachHash reads the hashes P<kind>:<id> of the members of the sorted set
// P<set>, in member order, and calls fn with each batch's HGETALL replies.
//
// Each batch is one pipeline: an HGETALL per member of the batch and the
// ZRANGE that finds the next batch's members, after the last one of this
// batch (every member has score 0, so BYLEX order is SID order, and the
// cursor being a member rather than a position, members added or removed
// meanwhile neither repeat nor hide the others). Each command is a few
// microseconds: Redis serves other clients between them, and no call grows
// with the list. (A Lua script per batch costs Redis about four times as
// much per account, converting every hash to a Lua table and back.)
func (s *Store) eachHash(ctx context.Context, set, kind string, fn func([]any) error) error {
	key := s.prefix + set
	page := func(c redis.Cmdable, from string) *redis.StringSliceCmd {
		return c.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: from, Stop: "+", ByLex: true, Count: ListBatch})
	}
	ids, err := page(s.rdb, "-").Result()
	if err != nil {
		return err
	}
	hashes := make([]*redis.Cmd, 0, ListBatch)
	items := make([]any, 0, ListBatch)
	for len(ids) > 0 {
		pipe := s.rdb.Pipeline()
		hashes = hashes[:0]
		for _, id := range ids {
			hashes = append(hashes, pipe.Do(ctx, "HGETALL", s.key(kind, id)))
		}
		var next *redis.StringSliceCmd
		if len(ids) == ListBatch {
			next = page(pipe, "("+ids[len(ids)-1])
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		items = items[:0]
		for _, h := range hashes {
			items = append(items, h.Val())
		}
		if err := fn(items); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		ids = next.Val()
	}
	return nil
}
