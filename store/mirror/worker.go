// Package mirror keeps RestComm's own database in step with the gateway:
// it delivers the outbox of a mirrored namespace (store/outbox.go) into
// RestComm's MariaDB/MySQL tables, in order, exactly once in effect, and
// asks RestComm's API for the side effects only RestComm's code performs
// (closing an account; SIP clients).
//
// Every gateway sharing a Redis runs a Worker; the one holding the lease
// delivers, the others wait to take over (within a few seconds of its
// death, claiming what it had read and not settled). Entries apply one
// after another in the order they were made; an entry is delivered by
// writing the *current* state of the accounts it names (idempotent rows,
// rows.go), then running its side effect, then settling it (acknowledged
// and deleted). A transient failure (MariaDB or RestComm down) is retried
// with exponential backoff and jitter, nothing skipped; an entry that can
// never apply is dead-lettered with its reason and the next goes on.
package mirror

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/store"
)

// Config is what a Worker needs.
type Config struct {
	Store *store.Store // the namespace whose outbox it delivers
	DB    *sql.DB      // RestComm's database
	// Upstream is RestComm's base URL (http://restcomm:8080), reached
	// directly, for the side effects; empty skips them (logged).
	Upstream string
	HTTP     *http.Client   // default: 30 s timeout, no redirects
	TimeZone *time.Location // RestComm's JVM time zone, for DATETIMEs; default UTC
	// Sealer opens the sealed passwords of SIP client side effects; nil
	// skips them (logged once per account).
	Sealer *store.Sealer
	// Holder names this worker in the lease and the consumer group;
	// unique per gateway process.
	Holder string
	// LeaseTTL: another worker takes over within about this long after
	// this one died; default 5 s. The lease is renewed every third of it.
	LeaseTTL time.Duration
	Batch    int // entries read at once (and written in one transaction when they can); default 100
	// MinBackoff and MaxBackoff bound the wait between retries; default
	// 100 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *zap.Logger
	Metrics                *Metrics
}

// Worker delivers one namespace's outbox.
type Worker struct {
	cfg     Config
	st      *store.Store
	rows    *rows
	up      *upstream
	log     *zap.Logger
	leading atomic.Bool
	skipped map[string]bool // accounts whose skipped side effect was logged
	// dies: on shutdown, keep the lease and leave what was read unsettled,
	// as a killed process would (tests)
	dies bool
}

// New checks cfg and makes a Worker.
func New(cfg Config) (*Worker, error) {
	if cfg.Store == nil || cfg.DB == nil || cfg.Holder == "" {
		return nil, errors.New("mirror: a store, a database and a holder name are required")
	}
	if cfg.TimeZone == nil {
		cfg.TimeZone = time.UTC
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 5 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(5*time.Second, cfg.MinBackoff)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	w := &Worker{cfg: cfg, st: cfg.Store, rows: &rows{db: cfg.DB, loc: cfg.TimeZone}, log: cfg.Logger,
		skipped: map[string]bool{}}
	if cfg.Upstream != "" {
		c := cfg.HTTP
		if c == nil {
			c = httpClient()
		}
		w.up = &upstream{base: cfg.Upstream, client: c}
	}
	return w, nil
}

// Leading reports whether this worker holds the lease now.
func (w *Worker) Leading() bool { return w.leading.Load() }

// Run makes the namespace mirrored and delivers whenever this worker holds
// the lease, until ctx ends; it then gives the lease up.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { w.watchBacklog(ctx) })
	defer wg.Wait()
	if w.up == nil {
		w.log.Warn("mirror: no upstream RestComm configured; closes and SIP clients are not mirrored, only rows")
	}
	bo := w.backoff()
	for ctx.Err() == nil {
		if err := w.st.Outbox().Enable(ctx); err != nil {
			w.log.Warn("mirror: cannot create the outbox", zap.Error(err))
			sleep(ctx, bo.next())
			continue
		}
		ok, err := w.st.Outbox().TakeLease(ctx, w.cfg.Holder, w.cfg.LeaseTTL)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("mirror: cannot take the delivery lease", zap.Error(err))
			}
			sleep(ctx, bo.next())
			continue
		}
		bo.reset()
		if !ok {
			sleep(ctx, w.cfg.LeaseTTL/5)
			continue
		}
		w.lead(ctx)
	}
}

// lead delivers while the lease is held.
func (w *Worker) lead(ctx context.Context) {
	lctx, lost := context.WithCancel(ctx)
	w.leading.Store(true)
	w.cfg.Metrics.leader(true)
	w.log.Info("mirror: this gateway delivers the outbox", zap.String("holder", w.cfg.Holder))
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		w.renew(lctx, lost)
	}()
	err := w.deliverAll(lctx)
	lost()
	<-renewed
	w.leading.Store(false)
	w.cfg.Metrics.leader(false)
	if ctx.Err() != nil && !w.dies { // shutting down: let another take over at once
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = w.st.Outbox().DropLease(dctx, w.cfg.Holder)
		cancel()
		return
	}
	w.log.Warn("mirror: stopped delivering", zap.Error(err))
}

// renew keeps the lease; it calls lost when the lease is gone or could
// not be renewed for most of its life (it may have expired).
func (w *Worker) renew(ctx context.Context, lost context.CancelFunc) {
	every := w.cfg.LeaseTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		ok, err := w.st.Outbox().TakeLease(rctx, w.cfg.Holder, w.cfg.LeaseTTL)
		cancel()
		switch {
		case err == nil && ok:
			last = time.Now()
		case err == nil:
			w.log.Warn("mirror: the delivery lease was taken over")
			lost()
			return
		case time.Since(last) > w.cfg.LeaseTTL*2/3:
			w.log.Warn("mirror: the delivery lease could not be renewed", zap.Error(err))
			lost()
			return
		}
	}
}

// deliverAll claims the entries a previous holder read and did not
// settle, then delivers new ones as they come, until ctx ends.
func (w *Worker) deliverAll(ctx context.Context) error {
	bo := w.backoff()
	for start := "0-0"; ; {
		entries, next, err := w.st.Outbox().Claim(ctx, w.cfg.Holder, start, w.cfg.Batch)
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			w.log.Info("mirror: claimed undelivered entries", zap.Int("entries", len(entries)))
			if err := w.deliver(ctx, entries); err != nil {
				return err
			}
		}
		if next == "0-0" || next == "" {
			break
		}
		start = next
	}
	for ctx.Err() == nil {
		entries, err := w.st.Outbox().Read(ctx, w.cfg.Holder, w.cfg.Batch, time.Second)
		if err != nil {
			if store.ErrorCode(err) == store.CodeNoGroup {
				return err // the outbox was removed: made again by Run
			}
			if ctx.Err() == nil {
				w.log.Warn("mirror: cannot read the outbox", zap.Error(err))
			}
			sleep(ctx, bo.next())
			continue
		}
		bo.reset()
		if err := w.deliver(ctx, entries); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// deliver delivers entries in order, in batches. It returns only when
// all are settled, or with ctx's error or store.ErrLeaseLost.
func (w *Worker) deliver(ctx context.Context, entries []store.OutboxEntry) error {
	bo := w.backoff()
	attempt := 0
	single := 0 // entries to deliver one at a time, to find the one a batch failed on
	for len(entries) > 0 {
		n := min(len(entries), w.cfg.Batch)
		if single > 0 {
			n = 1
		}
		settled, err := w.deliverBatch(ctx, entries[:n], attempt)
		if _, perm := isPermanent(err); perm && n > 1 {
			single, err = n, nil // one of them cannot apply: one at a time, to dead-letter it alone
			continue
		}
		if len(settled) > 0 {
			if err := w.settle(ctx, settled); err != nil {
				return err
			}
			for i, d := range settled {
				if d.Reason == "" {
					w.cfg.Metrics.delivered(entries[i].Time())
				} else {
					w.cfg.Metrics.dead(d.Kind)
				}
			}
			entries = entries[len(settled):]
			single = max(0, single-len(settled))
			attempt = 0
			bo.reset()
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			attempt++
			w.cfg.Metrics.retry()
			d := bo.next()
			w.log.Warn("mirror: delivery failed; retrying", zap.String("entry", entries[0].ID),
				zap.Int("attempt", attempt), zap.Duration("in", d), zap.Error(err))
			sleep(ctx, d)
		}
	}
	return nil
}

// settle settles delivered entries, retrying while Redis fails.
func (w *Worker) settle(ctx context.Context, settled []store.Settlement) error {
	bo := w.backoff()
	for {
		err := w.st.Outbox().Settle(ctx, w.cfg.Holder, settled)
		if err == nil || errors.Is(err, store.ErrLeaseLost) || ctx.Err() != nil {
			if ctx.Err() != nil && err != nil {
				return ctx.Err()
			}
			return err
		}
		w.log.Warn("mirror: cannot settle delivered entries", zap.Error(err))
		sleep(ctx, bo.next())
	}
}

// sideEffect reports whether delivering e asks RestComm's API for more
// than rows: a close; a create's SIP client, and a password change of it,
// which need the sealed plaintext; a friendly-name change of it, which
// does not.
func (w *Worker) sideEffect(e *store.OutboxEntry) bool {
	return e.Closes() || e.Secret != "" && (e.Op == store.OpCreate || e.Op == store.OpUpdate && e.NewPassword) ||
		e.Op == store.OpUpdate && e.NewFriendlyName
}

// step is one entry of a batch, with what its side effect needs.
type step struct {
	e      *store.OutboxEntry
	accts  []*store.Account // the current state of the accounts it wrote, but heldOut
	target *store.Account   // the account it was asked for (nil: gone, or held out)
	caller *store.Account   // whom RestComm's API is asked as (nil: nobody it would let in)
	// heldOut are its accounts RestComm holds as other accounts (their
	// creates' conflict dead letters stand): never written
	heldOut []string
	// conflict: why a create cannot be written although RestComm has no
	// row under its SID (its parent is held out)
	conflict string
	missing  []string // its accounts whose rows RestComm no longer has (one entry at a time only)
	// degraded: why RestComm's database refused its full rows, of which
	// only the security columns were then written
	degraded string
	ran      bool // its side effect ran, or had nothing to do
}

// deliverBatch delivers a batch: first the current state of everything
// its entries wrote, and of the accounts its side effects are asked as,
// in one transaction (accounts the gateway closed keep the status
// RestComm has: RestComm must see each close happen, through its own
// API); then each entry's side effect, in order. It returns the entries
// settled, in order from the first (a dead letter with its reason and
// kind), and the transient error that stopped it, if any.
//
// A permanent failure of the rows (a value RestComm's schema refuses, a
// created account's SID held in RestComm by another account, a row
// RestComm no longer has) is returned as such for a batch of more than
// one entry: the caller then goes one at a time. A single entry is
// dead-lettered, but a change of status or password is not left behind
// for a column RestComm cannot hold: its security columns are written
// alone, its side effect (a close) runs, and it is dead-lettered as
// degraded. A single entry whose rows RestComm partly lacks is written
// where RestComm has them, and dead-lettered as missing.
func (w *Worker) deliverBatch(ctx context.Context, batch []store.OutboxEntry, attempt int) ([]store.Settlement, error) {
	steps, err := w.prepare(ctx, batch)
	if err != nil {
		return nil, err
	}
	single := len(batch) == 1
	var missing []string
	if err = stepConflict(steps); err == nil {
		orgs, accts, rerr := w.batchRows(ctx, steps)
		if rerr != nil {
			return nil, rerr
		}
		missing, err = w.writeRows(ctx, orgs, accts, true, !single)
	}
	if err != nil {
		p, perm := isPermanent(err)
		if !perm || !single {
			return nil, err
		}
		st := &steps[0]
		if p.kind != kindRejected || !changesAccess(st.e) {
			return []store.Settlement{w.settlement(st, p)}, nil
		}
		st.degraded = p.reason
		if missing, err = w.writeSecurity(ctx, st.rows(true), true); err != nil {
			q, perm := isPermanent(err)
			if !perm {
				return nil, err
			}
			st.degraded += "; and RestComm's database refused even those: " + q.reason
		}
	}
	if single {
		steps[0].missing = missing
	}
	settled := make([]store.Settlement, 0, len(batch))
	for i := range steps {
		st := &steps[i]
		err := w.effect(ctx, st, attempt)
		p, perm := isPermanent(err)
		if err != nil && !perm {
			return settled, err
		}
		settled = append(settled, w.settlement(st, p))
	}
	return settled, nil
}

// changesAccess reports whether e changes who gets into RestComm as its
// accounts: a status change (a close or a suspension above all, with its
// cascade) or a new password (a new auth token).
func changesAccess(e *store.OutboxEntry) bool {
	return e.Op == store.OpUpdate && (e.Status != e.From || e.NewPassword)
}

// stepConflict is the conflict of the first step that has one.
func stepConflict(steps []step) error {
	for _, st := range steps {
		if st.conflict != "" {
			return permanent(kindConflict, "%s", st.conflict)
		}
	}
	return nil
}

// batchRows is what a batch writes: the organizations its entries
// created, and each account once, with how it is written (accountRow).
func (w *Worker) batchRows(ctx context.Context, steps []step) ([]*store.Organization, []accountRow, error) {
	var orgs []*store.Organization
	created := map[string]bool{}
	for _, st := range steps {
		if st.e.Op == store.OpCreate {
			created[st.e.Sid] = true
		}
	}
	var accts []accountRow
	at := map[string]int{}
	add := func(a *store.Account, caller bool) {
		if i, ok := at[a.Sid]; ok {
			accts[i].caller = accts[i].caller && caller
			return
		}
		at[a.Sid] = len(accts)
		accts = append(accts, accountRow{a: a, create: created[a.Sid], caller: caller})
	}
	for _, st := range steps {
		if st.e.Op == store.OpOrganization {
			o, err := w.st.Organization(ctx, st.e.Sid)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, nil, fmt.Errorf("redis: %w", err)
			}
			if o != nil {
				orgs = append(orgs, o)
			}
		}
		for _, a := range st.accts {
			add(a, false)
		}
		if st.caller != nil {
			add(st.caller, true)
		}
	}
	return orgs, accts, nil
}

// rows are the step's accounts to write, update-only (a step that writes
// alone is never a create's first delivery: a create whose rows RestComm
// refused is not written in part), with its caller's when withCaller.
func (st *step) rows(withCaller bool) []accountRow {
	out := make([]accountRow, 0, len(st.accts)+1)
	for _, a := range st.accts {
		out = append(out, accountRow{a: a})
	}
	if withCaller && st.caller != nil && find(st.accts, st.caller.Sid) == nil {
		out = append(out, accountRow{a: st.caller, caller: true})
	}
	return out
}

func (st *step) rowMissing(sid string) bool { return slices.Contains(st.missing, sid) }

// settlement is what became of a step, failed with p (nil: its side
// effect did not fail): delivered, or dead-lettered with every reason and
// the kind that matters most (degraded, the failure's, conflict for
// accounts held out, missing). A dead letter keeps the entry's sealed
// password when its side effect did not run, for a retry; a create's own
// conflict marks its account (store.Settlement.MarkConflict).
func (w *Worker) settlement(st *step, p *permanentError) store.Settlement {
	var kind string
	var why []string
	if st.degraded != "" {
		kind = kindDegraded
		var sids []string
		for _, r := range st.rows(true) {
			sids = append(sids, r.a.Sid)
		}
		why = append(why, fmt.Sprintf("only %s written to %s, not %s: %s", strings.Join(securityColumns, ", "),
			sidNames(sids), strings.Join(w.rows.otherColumns(), ", "), st.degraded))
	}
	if p != nil {
		kind = cmp.Or(kind, p.kind)
		why = append(why, p.reason)
	}
	if len(st.heldOut) > 0 {
		kind = cmp.Or(kind, kindConflict)
		why = append(why, fmt.Sprintf("RestComm holds another account under the SID of %s (a conflict dead letter of its create stands): not written",
			sidNames(st.heldOut)))
	}
	if len(st.missing) > 0 {
		kind = cmp.Or(kind, kindMissing)
		why = append(why, fmt.Sprintf("RestComm's table no longer has %s: not inserted again", sidNames(st.missing)))
	}
	if kind == "" {
		return store.Settlement{ID: st.e.ID}
	}
	d := store.Settlement{ID: st.e.ID, Reason: strings.Join(why, "; "), Kind: kind, KeepSecret: st.e.Secret != "" && !st.ran,
		MarkConflict: p != nil && p.kind == kindConflict && st.e.Op == store.OpCreate}
	w.log.Error("mirror: change dead-lettered", zap.String("entry", st.e.ID), zap.String("op", st.e.Op),
		zap.String("sid", st.e.Sid), zap.String("kind", kind), zap.String("reason", d.Reason))
	return d
}

// prepare reads the current state the batch's entries need, in one round
// trip for their accounts and their conflict marks (and one for the marks
// of created accounts' parents), and finds whom each side effect is asked
// as.
func (w *Worker) prepare(ctx context.Context, batch []store.OutboxEntry) ([]step, error) {
	var sids []string
	created := map[string]bool{}
	for i := range batch {
		sids = append(sids, batch[i].Sids...)
		if batch[i].Op == store.OpCreate {
			created[batch[i].Sid] = true
		}
	}
	accts, held, err := w.current(ctx, unique(sids), created)
	if err != nil {
		return nil, err
	}
	bySid := make(map[string]*store.Account, len(accts))
	var parents []string
	for _, a := range accts {
		bySid[a.Sid] = a
		if created[a.Sid] && a.ParentSid != "" {
			parents = append(parents, a.ParentSid)
		}
	}
	// a create under an account RestComm holds as another's would put
	// the new account in that account's hands there
	heldParents, err := w.st.Outbox().ConflictingAccounts(ctx, unique(parents))
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	steps := make([]step, len(batch))
	for i := range batch {
		e := &batch[i]
		st := step{e: e, target: bySid[e.Sid]}
		for _, sid := range e.Sids {
			if a := bySid[sid]; a != nil {
				st.accts = append(st.accts, a)
			} else if held[sid] {
				st.heldOut = append(st.heldOut, sid)
			}
		}
		if e.Op == store.OpCreate && st.target != nil && heldParents[st.target.ParentSid] {
			st.conflict = fmt.Sprintf("account %s: its parent %s is held in RestComm by another account (a conflict dead letter stands)",
				e.Sid, st.target.ParentSid)
		}
		if w.up != nil && w.sideEffect(e) && st.target != nil {
			if st.caller, err = w.callerFor(ctx, e, st.target); err != nil {
				return nil, err
			}
		}
		steps[i] = st
	}
	return steps, nil
}

// callerFor is whom RestComm's API is asked as for e's side effect: for a
// close, the nearest active Administrator ancestor, else the account
// itself (RestComm lets an account close itself); for a SIP client, the
// account itself when RestComm lets it in (active or uninitialized), else
// the nearest active Administrator ancestor.
func (w *Worker) callerFor(ctx context.Context, e *store.OutboxEntry, a *store.Account) (*store.Account, error) {
	if !e.Closes() && (a.Status == store.StatusActive || a.Status == store.StatusUninitialized) {
		return a, nil
	}
	anc, err := w.nearestAdministrator(ctx, a)
	if err != nil || anc != nil || !e.Closes() {
		return anc, err
	}
	return a, nil
}

// effect runs one entry's side effect, its rows being written.
func (w *Worker) effect(ctx context.Context, st *step, attempt int) error {
	e := st.e
	var err error
	switch {
	case e.Closes():
		err = w.closeEffect(ctx, st, attempt)
	case st.rowMissing(e.Sid), slices.Contains(st.heldOut, e.Sid):
		return nil // RestComm no longer has the account, or has another: nothing to ask of it
	case !w.sideEffect(e):
		w.noSecretNote(e)
	case w.up == nil:
		w.note(e.Sid, "mirror: no upstream RestComm: SIP client not mirrored", zap.String("op", e.Op))
	default:
		err = w.clientEffect(ctx, *st, attempt)
	}
	st.ran = err == nil
	return err
}

// closeEffect mirrors a close so that RestComm runs its own: RestComm is
// asked to close the account (its rows still as RestComm had them), as
// its nearest active Administrator ancestor (or itself), and cascades;
// then the rows are written as the gateway has them (their security
// columns only, for a degraded step). A close RestComm refuses still ends
// with the rows closed (RestComm then refuses the accounts, as the
// gateway does), and is dead-lettered: its side effects did not run.
func (w *Worker) closeEffect(ctx context.Context, st *step, attempt int) error {
	var refused error
	switch {
	case w.up == nil:
		w.note(st.e.Sid, "mirror: no upstream RestComm: close written to the rows only, RestComm's side effects not run")
	case st.target == nil, st.rowMissing(st.e.Sid):
		// gone from the gateway, held out, or gone from RestComm: nothing
		// of its own to ask RestComm; the rest of its subtree is still
		// written closed
	default:
		err := w.up.closeAccount(ctx, st.e.Sid, st.caller, attempt)
		if _, perm := isPermanent(err); perm {
			refused = err
		} else if err != nil {
			return err
		}
	}
	if err := w.writeStep(ctx, st, false); err != nil {
		return err
	}
	return refused
}

// clientEffect does to the account's SIP client what RestComm's own code
// does beside the account's row, through RestComm's Clients API: a create
// adds the linked client (unless the organization has that login); a
// password or friendly-name change updates the organization's client of
// that login (RestComm's updateLinkedClient). The password travels sealed
// and is skipped (logged) without one or without secret_key; a new
// friendly name needs neither.
func (w *Worker) clientEffect(ctx context.Context, st step, attempt int) error {
	e, a := st.e, st.target
	if a == nil || a.Status == store.StatusClosed {
		return nil // gone, or closed since: RestComm deletes a closed account's clients anyway
	}
	var password string
	hasPassword := false
	if e.Op == store.OpCreate || e.NewPassword {
		switch {
		case e.Secret == "":
			w.noSecretNote(e)
		case w.cfg.Sealer == nil:
			w.note(e.Sid, "mirror: this gateway has no secret_key: SIP client not mirrored", zap.String("op", e.Op))
		default:
			p, err := w.cfg.Sealer.Open(e.Sid, e.Secret)
			if err != nil {
				return permanent(kindUnsealable, "SIP client of %s: %v", e.Sid, err)
			}
			password, hasPassword = p, true
		}
	}
	if e.Op == store.OpCreate {
		if !hasPassword {
			return nil // RestComm's Clients API creates no client without its password
		}
		if st.caller == nil {
			return permanent(kindRefused, "SIP client of %s: no account RestComm would let in to do it (%s, no active Administrator above it)",
				a.Sid, a.Status)
		}
		return w.up.createClient(ctx, a, st.caller, e.Login, password, attempt)
	}
	form := url.Values{}
	if hasPassword {
		form.Set("Password", password)
	}
	if e.NewFriendlyName {
		form.Set("FriendlyName", e.FriendlyName)
	}
	if len(form) == 0 {
		return nil
	}
	return w.updateLinkedClient(ctx, st, form, attempt)
}

// writeRows writes organizations, then accounts (rows.writeAccounts), in
// one transaction, and returns the entries' accounts whose rows RestComm
// no longer has. With whole, such an account fails it all, permanently
// (missing): a batch then goes one entry at a time, so that only the
// entries concerned are dead-lettered and the rest of theirs is written.
func (w *Worker) writeRows(ctx context.Context, orgs []*store.Organization, accts []accountRow, keepClosed, whole bool) ([]string, error) {
	if len(orgs) == 0 && len(accts) == 0 {
		return nil, nil
	}
	var missing []string
	err := w.rows.inTx(ctx, func(tx *sql.Tx) error {
		for _, o := range orgs {
			if err := w.rows.upsertOrganization(ctx, tx, o); err != nil {
				return err
			}
		}
		if len(accts) == 0 {
			return nil
		}
		var err error
		if missing, err = w.rows.writeAccounts(ctx, tx, accts, keepClosed); err != nil {
			return err
		}
		if whole && len(missing) > 0 {
			return permanent(kindMissing, "RestComm's table no longer has %s", sidNames(missing))
		}
		return nil
	})
	return missing, err
}

// write writes organizations, then the rows RestComm has of accounts
// (never inserting one), in one transaction.
func (w *Worker) write(ctx context.Context, orgs []*store.Organization, accts []*store.Account, keepClosed bool) error {
	rows := make([]accountRow, len(accts))
	for i, a := range accts {
		rows[i] = accountRow{a: a, caller: true}
	}
	_, err := w.writeRows(ctx, orgs, rows, keepClosed, false)
	return err
}

// writeSecurity writes only the security columns of the rows RestComm has
// (rows.writeSecurity), in one transaction.
func (w *Worker) writeSecurity(ctx context.Context, accts []accountRow, keepClosed bool) ([]string, error) {
	var missing []string
	err := w.rows.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		missing, err = w.rows.writeSecurity(ctx, tx, accts, keepClosed)
		return err
	})
	return missing, err
}

// writeStep writes one step's rows alone (after its side effect): in
// full, or once RestComm's database refused them for a change of status
// or password (degraded), their security columns.
func (w *Worker) writeStep(ctx context.Context, st *step, keepClosed bool) error {
	if st.degraded == "" {
		_, err := w.writeRows(ctx, nil, st.rows(false), keepClosed, false)
		p, perm := isPermanent(err)
		if !perm || p.kind != kindRejected || !changesAccess(st.e) {
			return err
		}
		st.degraded = p.reason
	}
	_, err := w.writeSecurity(ctx, st.rows(false), keepClosed)
	return err
}

// accounts reads the current state of accounts; those gone, and those
// RestComm holds as other accounts (conflict-marked: the mirror writes
// nothing of them, and asks nothing as them), are left out.
func (w *Worker) accounts(ctx context.Context, sids []string) ([]*store.Account, error) {
	accts, _, err := w.current(ctx, sids, nil)
	return accts, err
}

// current is accounts, and which of sids were held out as
// conflict-marked; the accounts created keep their state all the same:
// a create decides for itself (rows.writeAccounts).
func (w *Worker) current(ctx context.Context, sids []string, created map[string]bool) ([]*store.Account, map[string]bool, error) {
	if len(sids) == 0 {
		return nil, nil, nil
	}
	as, held, err := w.st.Outbox().Accounts(ctx, sids)
	if err != nil {
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	out := as[:0]
	for _, a := range as {
		switch {
		case a == nil:
		case held[a.Sid] && !created[a.Sid]:
		default:
			delete(held, a.Sid)
			out = append(out, a)
		}
	}
	return out, held, nil
}

// deliverOne delivers one entry, its side effect included, without
// settling it; a dead letter's reason is its permanent error.
func (w *Worker) deliverOne(ctx context.Context, e *store.OutboxEntry, attempt int) error {
	settled, err := w.deliverBatch(ctx, []store.OutboxEntry{*e}, attempt)
	if err == nil && len(settled) == 1 && settled[0].Reason != "" {
		return permanent(settled[0].Kind, "%s", settled[0].Reason)
	}
	return err
}

// nearestAdministrator is the nearest ancestor of a that is an active
// Administrator at the gateway (and so in RestComm's table), or nil.
func (w *Worker) nearestAdministrator(ctx context.Context, a *store.Account) (*store.Account, error) {
	for p, depth := a.ParentSid, 0; p != "" && depth < 16; depth++ {
		anc, err := w.accounts(ctx, []string{p})
		if err != nil || len(anc) == 0 {
			return nil, err
		}
		if anc[0].Status == store.StatusActive && anc[0].Role == "Administrator" {
			return anc[0], nil
		}
		p = anc[0].ParentSid
	}
	return nil, nil
}

// noSecretNote logs, once per account, a SIP client side effect skipped
// for want of a sealed password (no secret_key where the change was made).
func (w *Worker) noSecretNote(e *store.OutboxEntry) {
	if e.Secret == "" && (e.Op == store.OpCreate || e.Op == store.OpUpdate && e.NewPassword) {
		w.note(e.Sid, "mirror: change made without secret_key: SIP client not mirrored", zap.String("op", e.Op))
	}
}

// note logs msg once per account.
func (w *Worker) note(sid, msg string, fields ...zap.Field) {
	if w.skipped[sid] {
		return
	}
	if len(w.skipped) >= 100_000 {
		clear(w.skipped)
	}
	w.skipped[sid] = true
	w.log.Info(msg, append(fields, zap.String("sid", sid))...)
}

// watchBacklog keeps the backlog metrics current, on every gateway.
func (w *Worker) watchBacklog(ctx context.Context) {
	if w.cfg.Metrics == nil {
		return
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		if st, err := w.st.Outbox().Status(sctx); err == nil {
			w.cfg.Metrics.backlog(st.Backlog, st.Oldest)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func find(accts []*store.Account, sid string) *store.Account {
	for _, a := range accts {
		if a.Sid == sid {
			return a
		}
	}
	return nil
}

func unique(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// backoff is exponential with jitter: each wait is drawn from the upper
// half of a doubling bound, from MinBackoff up to MaxBackoff.
type backoff struct {
	min, max, cur time.Duration
}

func (w *Worker) backoff() *backoff { return &backoff{min: w.cfg.MinBackoff, max: w.cfg.MaxBackoff} }

func (b *backoff) next() time.Duration {
	b.cur = min(max(b.min, 2*b.cur), b.max)
	return b.cur/2 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
