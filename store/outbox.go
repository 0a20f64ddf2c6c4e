package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The outbox of a mirrored namespace: every account and organization
// change appends an entry to the stream P outbox in the same script that
// makes the change (outbox.lua), so that the mirror (store/mirror) can
// write it into RestComm's own database, in order, with nothing lost
// while that database or RestComm is down. A namespace is mirrored once
// its outbox exists: Outbox.Enable creates it, with the consumer group the
// delivery worker reads it through; until then (and without a mirror
// configured anywhere) scripts append nothing.
//
// One gateway at a time delivers: the one holding the lease P mirror:lease
// (Outbox.TakeLease), renewed while it works and expiring when it dies, so that
// another takes over within seconds and claims what the dead one had read
// but not settled (Outbox.Claim). A delivered entry is acknowledged and
// deleted (Outbox.Settle), so the stream holds exactly the changes not yet
// delivered: its length is the backlog. An entry that can never be
// delivered is moved to P outbox:dead with its reason (deadletter.go).

var (
	//go:embed lua/lease.lua
	leaseSrc string
	//go:embed lua/outbox_done.lua
	outboxDoneSrc string

	leaseScript      = newScript(leaseSrc)
	outboxDoneScript = newScript(latencyBucketsLua() + deadLetterLua() + outboxDoneSrc)
)

// LatencyBuckets are the upper bounds of the delivery latency histogram
// kept in P mirror (outbox_done.lua), in ms; a last bucket holds the rest.
var LatencyBuckets = []int64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000}

func latencyBucketsLua() string {
	s := make([]string, len(LatencyBuckets))
	for i, b := range LatencyBuckets {
		s[i] = strconv.FormatInt(b, 10)
	}
	return "local LATENCY_BUCKETS = {" + strings.Join(s, ", ") + "}\n"
}

// OutboxGroup is the consumer group of the outbox.
const OutboxGroup = "mirror"

// ErrLeaseLost: the caller no longer holds the mirror's lease; another
// gateway delivers now.
var ErrLeaseLost = errors.New("mirror lease lost")

// Kinds of outbox entries (OutboxEntry.Op).
const (
	OpCreate       = "create"       // an account was created
	OpUpdate       = "update"       // an account was updated (and its subtree, for a status change)
	OpMigrate      = "migrate"      // an account and its direct children moved to another organization
	OpOrganization = "organization" // an organization was created
)

// OutboxEntry is one change to mirror.
type OutboxEntry struct {
	ID  string // the stream entry's id: its time in ms, "-", a sequence
	Op  string
	Sid string // the account (or organization) the change was asked for
	// Sids are the accounts the change wrote: Sid, and for a status
	// change its whole subtree, for a migration its moved children.
	Sids []string
	Org  string // create: the organization; migrate: the one moved to
	// From and Status: an update's status before and after (equal when
	// the status did not change); a create's or an organization's status.
	From, Status string
	NewPassword  bool   // an update changed the password
	Secret       string // the new plaintext password, sealed (seal.go); "" when none
	// NewFriendlyName: an update was given a friendly name, FriendlyName
	// (RestComm then renames the account's SIP client too).
	NewFriendlyName bool
	FriendlyName    string
	// Login: a create's SIP client login as RestComm derives it (the
	// e-mail address's local part as given); "" for entries made before
	// it was recorded.
	Login   string
	Request string // the request that made the change
}

// Time is when the entry was appended.
func (e *OutboxEntry) Time() time.Time { return streamTime(e.ID) }

// Closes reports whether the entry closes an account that was not closed.
func (e *OutboxEntry) Closes() bool {
	return e.Op == OpUpdate && e.Status == StatusClosed && e.From != StatusClosed
}

func streamTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

func entryFrom(m redis.XMessage) OutboxEntry {
	get := func(k string) string { v, _ := m.Values[k].(string); return v }
	e := OutboxEntry{ID: m.ID, Op: get(eOp), Sid: get(fSid), Org: get(fOrg), From: get(eFrom),
		Status: get(fStatus), NewPassword: get(eNewPassword) == "1", Secret: get(eSecret), Login: get(eLogin), Request: get(fRequest)}
	if s := get(eSids); s != "" {
		e.Sids = strings.Split(s, ",")
	}
	e.FriendlyName, e.NewFriendlyName = m.Values[fName].(string)
	return e
}

// Outbox is what the mirror alone uses of a namespace: reading and
// settling the outbox, the delivery lease, the mirror's status, the dead
// letters and the conflict marks. The account operations (Store) only
// append to the outbox, in their scripts, and read the pending marks.
type Outbox struct{ s *Store }

// Outbox is the namespace's outbox, for the mirror and its commands.
func (s *Store) Outbox() *Outbox { return &Outbox{s: s} }

func (o *Outbox) key() string { return o.s.prefix + "outbox" }

// Enable makes the namespace mirrored: it creates the outbox
// stream with its consumer group, unless they exist. From then on every
// change appends its entry, on every gateway sharing the namespace.
func (o *Outbox) Enable(ctx context.Context) error {
	err := o.s.rdb.XGroupCreateMkStream(ctx, o.key(), OutboxGroup, "0").Err()
	if err != nil && ErrorCode(err) != CodeBusyGroup {
		return fmt.Errorf("store: enable outbox: %w", err)
	}
	return nil
}

// Disable stops mirroring the namespace: changes append no entry
// any more, and the entries not yet delivered are dropped (dead letters
// are kept). It returns how many were dropped.
func (o *Outbox) Disable(ctx context.Context) (int64, error) {
	n, err := o.s.rdb.XLen(ctx, o.key()).Result()
	if err != nil {
		return 0, err
	}
	return n, o.s.rdb.Del(ctx, o.key(), o.s.prefix+"mirror:lease").Err()
}

// TakeLease takes or renews the delivery lease for holder, for ttl. It
// reports whether holder holds it.
func (o *Outbox) TakeLease(ctx context.Context, holder string, ttl time.Duration) (bool, error) {
	n, err := o.s.run(ctx, leaseScript, aHolder, holder, aTTL, ttl.Milliseconds())
	if err != nil {
		return false, fmt.Errorf("store: mirror lease: %w", err)
	}
	return n == int64(1), nil
}

// DropLease gives the lease up, if holder holds it.
func (o *Outbox) DropLease(ctx context.Context, holder string) error {
	_, err := o.s.run(ctx, leaseScript, aHolder, holder, aReason, "drop")
	return err
}

// Claim takes over, for consumer, the entries read but not settled
// by any consumer (a previous lease holder), from start ("0-0" first),
// at most count. It returns them in order and where to go on ("0-0" when
// there are no more). Only the lease holder may claim.
func (o *Outbox) Claim(ctx context.Context, consumer, start string, count int) ([]OutboxEntry, string, error) {
	msgs, next, err := o.s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: o.key(), Group: OutboxGroup,
		Consumer: consumer, MinIdle: 0, Start: start, Count: int64(count)}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("store: claim outbox: %w", err)
	}
	out := make([]OutboxEntry, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, entryFrom(m))
	}
	return out, next, nil
}

// Read reads, for consumer, at most count entries never read
// before, in order, waiting up to block for one to come (none: nil).
func (o *Outbox) Read(ctx context.Context, consumer string, count int, block time.Duration) ([]OutboxEntry, error) {
	res, err := o.s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: OutboxGroup, Consumer: consumer,
		Streams: []string{o.key(), ">"}, Count: int64(count), Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: read outbox: %w", err)
	}
	var out []OutboxEntry
	for _, st := range res {
		for _, m := range st.Messages {
			out = append(out, entryFrom(m))
		}
	}
	return out, nil
}

// Settlement is what became of one outbox entry: delivered (Reason "")
// or dead-lettered with Reason and Kind (deadletter.go).
type Settlement struct {
	ID     string
	Reason string
	Kind   string
	// KeepSecret: the dead letter keeps the entry's sealed password, for
	// a retry (its side effect did not run).
	KeepSecret bool
	// MarkConflict: the entry's account (a create's) is held in RestComm
	// by another account; it is marked while the dead letter stands
	// (ConflictingAccounts).
	MarkConflict bool
}

// Settle acknowledges and deletes settled entries, all in one
// round trip (outbox_done.lua): dead letters go to P outbox:dead, the
// accounts lose their pending mark, the counts go up. It fails with
// ErrLeaseLost, settling nothing further, when holder no longer holds the
// lease. Settling again is harmless.
func (o *Outbox) Settle(ctx context.Context, holder string, done []Settlement) error {
	calls := make([][]any, len(done))
	for i, d := range done {
		calls[i] = pairs(aHolder, holder, aGroup, OutboxGroup, aID, d.ID)
		if d.Reason != "" {
			calls[i] = append(calls[i], aReason, d.Reason)
			if d.Kind != "" {
				calls[i] = append(calls[i], dlKind, d.Kind)
			}
			if d.KeepSecret {
				calls[i] = append(calls[i], aKeepSecret, "1")
			}
			if d.MarkConflict {
				calls[i] = append(calls[i], aMark, "1")
			}
		}
	}
	cmds, err := o.runIdempotent(ctx, outboxDoneScript, calls)
	for _, c := range cmds {
		if c != nil && ErrorCode(c.Err()) == CodeLease {
			return ErrLeaseLost
		}
	}
	if err != nil {
		return fmt.Errorf("store: settle outbox: %w", err)
	}
	return nil
}

// runIdempotent runs one call of sc per args in one pipeline, loading
// the script when Redis lacks it and sending everything again: only for
// scripts that may run twice.
func (o *Outbox) runIdempotent(ctx context.Context, sc *script, calls [][]any) ([]*redis.Cmd, error) {
	for attempt := 0; ; attempt++ {
		pipe := o.s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for i, args := range calls {
			argv := append([]any{"evalsha", sc.sha, 1, o.s.anchor, o.s.prefix}, args...)
			cmds[i] = redis.NewCmd(ctx, argv...)
			_ = pipe.Process(ctx, cmds[i])
		}
		_, err := pipe.Exec(ctx)
		if err != nil && attempt == 0 && ErrorCode(err) == CodeNoScript {
			if err := o.s.rdb.ScriptLoad(ctx, sc.src).Err(); err != nil {
				return nil, err
			}
			continue
		}
		return cmds, err
	}
}

// AccountsBySid reads accounts by SID in one round trip; a missing one
// is nil.
func (s *Store) AccountsBySid(ctx context.Context, sids []string) ([]*Account, error) {
	pipe := s.rdb.Pipeline()
	read := s.queueAccounts(ctx, pipe, sids)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	return read()
}

// queueAccounts queues the reads of accounts by SID on pipe; read, once
// it ran, returns them (a missing one nil).
func (s *Store) queueAccounts(ctx context.Context, pipe redis.Pipeliner, sids []string) (read func() ([]*Account, error)) {
	cmds := make([]*redis.Cmd, len(sids))
	for i, sid := range sids {
		cmds[i] = pipe.Do(ctx, "HGETALL", s.key("acct", sid))
	}
	return func() ([]*Account, error) {
		out := make([]*Account, len(sids))
		for i, c := range cmds {
			a, err := accountFrom(c.Val())
			if err != nil {
				return nil, err
			}
			out[i] = a
		}
		return out, nil
	}
}

// Pending reads the pending marks (Account.Pending) of accounts: "" for
// an account whose latest change is delivered, or that does not exist.
func (s *Store) Pending(ctx context.Context, sids ...string) ([]string, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(sids))
	for i, sid := range sids {
		cmds[i] = pipe.HGet(ctx, s.key("acct", sid), fPending)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]string, len(sids))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// AwaitMirrored waits, polling every poll, until none of the accounts has
// a change pending (read your writes), or ctx ends. It reports whether
// they were delivered.
func (s *Store) AwaitMirrored(ctx context.Context, poll time.Duration, sids ...string) (bool, error) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		pend, err := s.Pending(ctx, sids...)
		if err != nil {
			return false, err
		}
		waiting := false
		for _, p := range pend {
			waiting = waiting || p != ""
		}
		if !waiting {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, nil
		case <-t.C:
		}
	}
}

// OutboxStatus is the state of a namespace's mirror.
type OutboxStatus struct {
	Enabled bool // the namespace is mirrored
	// Backlog is the number of entries not yet delivered; Unsettled how
	// many of them a worker has read but not settled.
	Backlog, Unsettled int64
	Oldest             time.Time // when the oldest undelivered entry was appended (zero: none)
	Holder             string    // the gateway holding the delivery lease ("" none)
	LeaseLeft          time.Duration
	Delivered, Dead    int64     // entries settled since the namespace was mirrored
	DeadLetters        int64     // entries in the dead-letter stream
	LastSettled        time.Time // when an entry was last settled
	// Delivery latency (from a change to its delivery) since the
	// namespace was mirrored: the last one, the mean, and a histogram,
	// Latency[i] deliveries within LatencyBuckets[i] ms (the last count:
	// beyond them).
	LastLatency, MeanLatency time.Duration
	Latency                  []int64
}

// LatencyQuantile is the upper bound of the histogram bucket that holds
// quantile q (0.5, 0.99) of the delivery latencies; -1 when beyond the
// last bound, 0 when nothing was delivered.
func (s *OutboxStatus) LatencyQuantile(q float64) time.Duration {
	var total int64
	for _, n := range s.Latency {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := int64(q*float64(total) + 0.999999)
	var seen int64
	for i, n := range s.Latency {
		if seen += n; seen >= rank {
			if i < len(LatencyBuckets) {
				return time.Duration(LatencyBuckets[i]) * time.Millisecond
			}
			break
		}
	}
	return -1
}

// Status reads the mirror's state in one round trip.
func (o *Outbox) Status(ctx context.Context) (*OutboxStatus, error) {
	pipe := o.s.rdb.Pipeline()
	exists := pipe.Exists(ctx, o.key())
	length := pipe.XLen(ctx, o.key())
	first := pipe.XRangeN(ctx, o.key(), "-", "+", 1)
	pending := pipe.XPending(ctx, o.key(), OutboxGroup)
	holder := pipe.Get(ctx, o.s.prefix+"mirror:lease")
	left := pipe.PTTL(ctx, o.s.prefix+"mirror:lease")
	counts := pipe.HGetAll(ctx, o.s.prefix+"mirror")
	dead := pipe.XLen(ctx, o.s.prefix+"outbox:dead")
	_, _ = pipe.Exec(ctx)
	if err := exists.Err(); err != nil {
		return nil, err
	}
	st := &OutboxStatus{Enabled: exists.Val() == 1, Backlog: length.Val(), Holder: holder.Val(),
		DeadLetters: dead.Val()}
	if st.Holder != "" {
		st.LeaseLeft = left.Val()
	}
	if p, err := pending.Result(); err == nil {
		st.Unsettled = p.Count
	}
	if msgs := first.Val(); len(msgs) > 0 {
		st.Oldest = streamTime(msgs[0].ID)
	}
	c := counts.Val()
	st.Delivered, _ = strconv.ParseInt(c["delivered"], 10, 64)
	st.Dead, _ = strconv.ParseInt(c["dead"], 10, 64)
	if ms, err := strconv.ParseInt(c["last_settled"], 10, 64); err == nil {
		st.LastSettled = time.UnixMilli(ms)
	}
	ms := func(k string) time.Duration {
		n, _ := strconv.ParseInt(c[k], 10, 64)
		return time.Duration(n) * time.Millisecond
	}
	st.LastLatency = ms("last_latency_ms")
	if st.Delivered > 0 {
		st.MeanLatency = ms("latency_ms_sum") / time.Duration(st.Delivered)
	}
	st.Latency = make([]int64, len(LatencyBuckets)+1)
	for i, b := range LatencyBuckets {
		st.Latency[i], _ = strconv.ParseInt(c["latency_le_"+strconv.FormatInt(b, 10)], 10, 64)
	}
	st.Latency[len(LatencyBuckets)], _ = strconv.ParseInt(c["latency_le_inf"], 10, 64)
	return st, nil
}
