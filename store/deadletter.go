package store

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Dead letters are the outbox entries the mirror could never deliver,
// kept in the stream P outbox:dead with their kind and reason until an
// operator retries them (each appended to the outbox again, as it was
// first appended) or drops them (`mirror dead-letters`). A create whose
// SID RestComm's table holds as another account (Settlement.MarkConflict)
// also marks its account in P mirror:conflicts while its dead letter
// stands: the mirror then writes nothing more of that account
// (ConflictingAccounts), and a retry or a drop of that dead letter lifts
// the mark.

// DeadLetterConflict is the kind of a dead letter whose account RestComm
// holds as another account's row.
const DeadLetterConflict = "conflict"

// MaxDeadLettersPerCall bounds the dead letters one RetryDeadLetters or
// DropDeadLetters call takes (one atomic script run each).
const MaxDeadLettersPerCall = 100

// Names the dead-letter scripts and Go share (deadLetterLua).
const (
	dlEntry      = "entry"       // a dead letter's field: the entry's id in the outbox
	dlKind       = "kind"        // ... its kind; also the settle script's argument
	aKeepSecret  = "keep_secret" // settle: the dead letter keeps the sealed password
	aMark        = "mark"        // ... marks the entry's account as conflicting
	aIDs         = "ids"         // outbox_dead.lua: the dead letters, comma-separated
	aRetry       = "retry"       // ... set: append them again; unset: drop them
	conflictsKey = "mirror:conflicts"
)

var (
	//go:embed lua/outbox_dead.lua
	outboxDeadSrc    string
	outboxDeadScript = newScript(deadLetterLua() + outboxDeadSrc)
)

// deadLetterLua is the table DL of the names above, for the scripts that
// write and remove dead letters.
func deadLetterLua() string {
	return fmt.Sprintf("local DL = {entry = '%s', kind = '%s', keep = '%s', mark = '%s', ids = '%s', retry = '%s', conflicts = '%s'}\n",
		dlEntry, dlKind, aKeepSecret, aMark, aIDs, aRetry, conflictsKey)
}

func (o *Outbox) deadKey() string { return o.s.prefix + "outbox:dead" }

// DeadLetter is one entry the mirror could not deliver.
type DeadLetter struct {
	ID    string      // its id in the dead-letter stream: when it was dead-lettered
	Entry OutboxEntry // as it was appended (Entry.ID its id in the outbox then), never with its sealed password
	// Kind says why in a word (store/mirror's kinds: rejected, refused,
	// unsealable, conflict, missing, degraded); "" for dead letters made
	// before kinds were recorded.
	Kind   string
	Reason string
	// Sealed: the dead letter kept the entry's sealed password (its side
	// effect did not run); a retry appends it with the entry again.
	Sealed bool
}

func deadLetterFrom(m redis.XMessage) DeadLetter {
	e := entryFrom(m)
	e.ID, _ = m.Values[dlEntry].(string)
	sealed := e.Secret != ""
	e.Secret = ""
	kind, _ := m.Values[dlKind].(string)
	reason, _ := m.Values[aReason].(string)
	return DeadLetter{ID: m.ID, Entry: e, Kind: kind, Reason: reason, Sealed: sealed}
}

// DeadLetters returns the last count dead letters, newest first.
func (o *Outbox) DeadLetters(ctx context.Context, count int64) ([]DeadLetter, error) {
	msgs, err := o.s.rdb.XRevRangeN(ctx, o.deadKey(), "+", "-", count).Result()
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, deadLetterFrom(m))
	}
	return out, nil
}

// deadPage is how many dead letters one read of the stream takes.
const deadPage = 200

// ListDeadLetters returns at most count dead letters of kind ("" any
// kind), newest first, reading at most scan of the newest (0: all).
func (o *Outbox) ListDeadLetters(ctx context.Context, kind string, count, scan int) ([]DeadLetter, error) {
	var out []DeadLetter
	read := 0
	for end := "+"; len(out) < count && (scan <= 0 || read < scan); {
		n := deadPage
		if scan > 0 {
			n = min(n, scan-read)
		}
		msgs, err := o.s.rdb.XRevRangeN(ctx, o.deadKey(), end, "-", int64(n)).Result()
		if err != nil {
			return nil, fmt.Errorf("store: dead letters: %w", err)
		}
		for _, m := range msgs {
			if d := deadLetterFrom(m); (kind == "" || d.Kind == kind) && len(out) < count {
				out = append(out, d)
			}
		}
		read += len(msgs)
		if len(msgs) < n {
			break
		}
		end = "(" + msgs[len(msgs)-1].ID
	}
	return out, nil
}

// DeadLetterIDs pages through the dead letters of kind ("" any), oldest
// first: at most count ids after the id after ("" from the first) up to
// the id until included ("" the last), and where to go on ("" at the
// end).
func (o *Outbox) DeadLetterIDs(ctx context.Context, kind, after, until string, count int) ([]string, string, error) {
	start, end := "-", cmp.Or(until, "+")
	if after != "" {
		start = "(" + after
	}
	var ids []string
	for len(ids) < count {
		msgs, err := o.s.rdb.XRangeN(ctx, o.deadKey(), start, end, deadPage).Result()
		if err != nil {
			return nil, "", fmt.Errorf("store: dead letters: %w", err)
		}
		for _, m := range msgs {
			if len(ids) == count {
				return ids, ids[len(ids)-1], nil
			}
			if k, _ := m.Values[dlKind].(string); kind == "" || k == kind {
				ids = append(ids, m.ID)
			}
		}
		if len(msgs) < deadPage {
			return ids, "", nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	return ids, ids[len(ids)-1], nil
}

// DeadLetterKind summarizes the dead letters of one kind.
type DeadLetterKind struct {
	Count  int
	Newest []string // the SIDs of the newest, newest first, each once (at most DeadLetterSummary's few)
}

// DeadLetterSummary is what the newest dead letters are, by kind.
type DeadLetterSummary struct {
	Total   int64 // dead letters in the stream
	Scanned int   // of which the newest were read
	Kinds   map[string]*DeadLetterKind
}

// SummarizeDeadLetters counts the newest scan dead letters by kind,
// with the SIDs of the newest few of each kind.
func (o *Outbox) SummarizeDeadLetters(ctx context.Context, scan, few int) (*DeadLetterSummary, error) {
	total, err := o.s.rdb.XLen(ctx, o.deadKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("store: dead letters: %w", err)
	}
	sum := &DeadLetterSummary{Total: total, Kinds: map[string]*DeadLetterKind{}}
	if total == 0 {
		return sum, nil
	}
	ds, err := o.ListDeadLetters(ctx, "", scan, scan)
	if err != nil {
		return nil, err
	}
	sum.Scanned = len(ds)
	for _, d := range ds {
		k := sum.Kinds[d.Kind]
		if k == nil {
			k = &DeadLetterKind{}
			sum.Kinds[d.Kind] = k
		}
		k.Count++
		if len(k.Newest) < few && !slices.Contains(k.Newest, d.Entry.Sid) {
			k.Newest = append(k.Newest, d.Entry.Sid)
		}
	}
	return sum, nil
}

// ErrNotMirrored: the namespace has no outbox, so nothing can be
// appended to it (a retry).
var ErrNotMirrored = errors.New("the namespace is not mirrored (no outbox)")

// UnknownDeadLettersError names the ids of a retry or drop that are not
// dead letters (any more); nothing was changed.
type UnknownDeadLettersError struct{ IDs []string }

func (e *UnknownDeadLettersError) Error() string {
	return "no dead letter " + strings.Join(e.IDs, ", ")
}

var streamID = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// deadLetterArgs checks ids (stream ids, at most MaxDeadLettersPerCall)
// and orders them oldest first, each once.
func deadLetterArgs(ids []string) (string, error) {
	if len(ids) == 0 || len(ids) > MaxDeadLettersPerCall {
		return "", fmt.Errorf("store: between 1 and %d dead letters at a time, not %d", MaxDeadLettersPerCall, len(ids))
	}
	type key struct{ ms, seq uint64 }
	keyed := make(map[key]string, len(ids))
	var keys []key
	for _, id := range ids {
		if !streamID.MatchString(id) {
			return "", fmt.Errorf("store: %q is not a dead letter's id (<ms>-<n>)", id)
		}
		ms, seq, _ := strings.Cut(id, "-")
		var k key
		var err1, err2 error
		k.ms, err1 = strconv.ParseUint(ms, 10, 64)
		k.seq, err2 = strconv.ParseUint(seq, 10, 64)
		if err1 != nil || err2 != nil {
			return "", fmt.Errorf("store: %q is not a dead letter's id (<ms>-<n>)", id)
		}
		if _, dup := keyed[k]; !dup {
			keyed[k] = id
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.ms != b.ms {
			return cmpUint(a.ms, b.ms)
		}
		return cmpUint(a.seq, b.seq)
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = keyed[k]
	}
	return strings.Join(out, ","), nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// RetryDeadLetters appends the dead letters ids to the outbox again, in
// the order they were first appended, each with the fields it was
// appended with (its sealed password too, when kept), and removes them,
// in one atomic step (outbox_dead.lua): all of them, or none when one is
// unknown (*UnknownDeadLettersError). It returns the entries' new ids.
func (o *Outbox) RetryDeadLetters(ctx context.Context, ids []string) ([]string, error) {
	list, err := deadLetterArgs(ids)
	if err != nil {
		return nil, err
	}
	reply, err := o.s.run(ctx, outboxDeadScript, aIDs, list, aRetry, "1")
	if err != nil {
		return nil, deadLetterError("retry", err)
	}
	var out []string
	vals, _ := reply.([]any)
	for _, v := range vals {
		if id, ok := v.(string); ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// DropDeadLetters deletes the dead letters ids, all of them or none when
// one is unknown (*UnknownDeadLettersError).
func (o *Outbox) DropDeadLetters(ctx context.Context, ids []string) error {
	list, err := deadLetterArgs(ids)
	if err != nil {
		return err
	}
	if _, err := o.s.run(ctx, outboxDeadScript, aIDs, list); err != nil {
		return deadLetterError("drop", err)
	}
	return nil
}

func deadLetterError(op string, err error) error {
	switch code, detail := ErrorReply(err); {
	case code == CodeUnknown && detail != "":
		return &UnknownDeadLettersError{IDs: strings.Split(detail, ",")}
	case code == CodeNotMirrored && detail == "":
		return ErrNotMirrored
	}
	return fmt.Errorf("store: %s dead letters: %w", op, err)
}

// ConflictingAccounts reports which of sids are marked as held in
// RestComm by another account (a create dead-lettered as a conflict, its
// dead letter standing), in one round trip.
func (o *Outbox) ConflictingAccounts(ctx context.Context, sids []string) (map[string]bool, error) {
	if len(sids) == 0 {
		return nil, nil
	}
	marks, err := o.s.rdb.HMGet(ctx, o.s.prefix+conflictsKey, sids...).Result()
	if err != nil {
		return nil, fmt.Errorf("store: conflict marks: %w", err)
	}
	return marked(sids, marks), nil
}

// Accounts reads accounts by SID (a missing one nil) and which of
// them are conflict-marked (ConflictingAccounts), in one round trip.
func (o *Outbox) Accounts(ctx context.Context, sids []string) ([]*Account, map[string]bool, error) {
	if len(sids) == 0 {
		return nil, nil, nil
	}
	pipe := o.s.rdb.Pipeline()
	read := o.s.queueAccounts(ctx, pipe, sids)
	marks := pipe.HMGet(ctx, o.s.prefix+conflictsKey, sids...)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, nil, err
	}
	accts, err := read()
	if err != nil {
		return nil, nil, err
	}
	return accts, marked(sids, marks.Val()), nil
}

func marked(sids []string, marks []any) map[string]bool {
	var out map[string]bool
	for i, v := range marks {
		if v != nil {
			if out == nil {
				out = map[string]bool{}
			}
			out[sids[i]] = true
		}
	}
	return out
}
