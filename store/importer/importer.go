// Package importer brings an existing RestComm's accounts and
// organizations into the gateway's Redis (restcomm-gateway accounts
// import), and writes the namespace back out as JSON lines (accounts
// export) that the import reads again.
//
// Every row is judged first (restcommdb reads it, validate.go judges it):
// a row RestComm itself would fail on, or one the gateway would never have
// created, is skipped with its reason, and so is everything below it in
// the tree; the rest is written. Skipped rows stay reserved (their SIDs and
// e-mail addresses are RestComm's: no create at the gateway may take
// them). The namespace records the source's comparison rule (its
// collation), under which its indexes are keyed, so that logins find what
// RestComm's database would find. Writes go through the store's import
// scripts (store/import.go), a batch of accounts per atomic script call
// and several calls per pipelined round trip, with every index entry the
// store's create script makes. The
// namespace is marked before anything is written, so that no gateway
// seeds it: the source's default administrator is the one that counts.
package importer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// Options of an import.
type Options struct {
	// TimeZone is RestComm's JVM time zone, in which its databases hold
	// dates (default UTC). JSON lines carry their own offsets.
	TimeZone *time.Location
	// Overwrite writes over accounts changed at the gateway since the
	// last import; DryRun writes nothing.
	Overwrite, DryRun bool
	// DefaultDomain is the domain of the default organization created for
	// a source without organizations (RestComm before 8.2) when the
	// gateway has none; default default.restcomm.com.
	DefaultDomain string
	// BatchSize is the number of accounts per script call (default 250,
	// about 10 ms of Redis time, so that a gateway on the same Redis waits
	// at most that long for its turn);
	// Pipeline the number of calls per round trip (default 2).
	BatchSize, Pipeline int
	// Progress, when set, is called as accounts are written.
	Progress func(done, total int)
	// By and Version go into the namespace marker.
	By, Version string
	// Collation, when set, is the rule to record instead of the source's
	// (accounts import --collation): for a source whose collation has no
	// rule here, or one the operator knows better.
	Collation *collation.Rule
}

// Skip is one row that was not imported.
type Skip struct {
	Kind   string // "account" or "organization"
	Sid    string
	Email  string // an account's e-mail address ("" when NULL or unread)
	Where  string // the row in the source
	Reason string // one of the Reason constants
	Detail string
}

// Conflict is one account or organization left alone.
type Conflict struct {
	Kind, Sid, Where string
	Outcome          store.ImportOutcome // store.Conflict or store.Taken
	Detail           string
}

// Counts are the outcomes of one kind of row.
type Counts struct {
	Read, Imported, Updated, Unchanged, Conflicts, Skipped int
}

// SharedEmail is one e-mail address, as the rule compares it, that several
// imported accounts have.
type SharedEmail struct {
	Sids, Emails []string // each account's SID and e-mail address as it has it
}

// Report is what an import read and did.
type Report struct {
	Source        string
	DryRun        bool
	Organizations Counts
	Accounts      Counts
	Skipped       []Skip
	Conflicts     []Conflict
	// Collation is the rule recorded in the namespace (the source's, or
	// Options.Collation), CollationFrom where it comes from; Reindexed the
	// number of accounts re-keyed because the namespace had another rule
	// (a dry run: RuleChanges says whether it would).
	Collation     collation.Rule
	CollationFrom string
	Reindexed     int
	RuleChanges   bool
	// Shared are the imported accounts whose e-mail addresses are equal
	// under the rule: a login by that address is refused as ambiguous,
	// each is reachable by SID.
	Shared []SharedEmail
	// Reservations are the skipped rows' SIDs and e-mail addresses, which
	// the namespace now reserves (a dry run: would reserve).
	Reservations []store.Reservation
	// Warnings are what reading and importing noticed without skipping a
	// row: unreadable lines of other tables, an approximated collation.
	Warnings []string
	// PreOrganizations: the source has no organizations (RestComm before
	// 8.2); its accounts went to the default organization.
	PreOrganizations bool
	// DefaultOrganizationCreated: that default organization was created.
	DefaultOrganizationCreated bool
	// SeededAdminRemoved: the source has no default administrator and
	// the gateway's seeded one (password RestComm) was removed.
	SeededAdminRemoved bool
	// MarkerBefore is the namespace marker's state before the import
	// ("none": the import marked it).
	MarkerBefore string
	Elapsed      time.Duration
}

// SkippedByReason counts the skipped rows per reason.
func (r *Report) SkippedByReason() map[string]int {
	out := map[string]int{}
	for _, s := range r.Skipped {
		out[s.Reason]++
	}
	return out
}

// Clean reports whether every row was imported or already there: nothing
// skipped, no conflict (accounts import --strict).
func (r *Report) Clean() bool { return len(r.Skipped) == 0 && len(r.Conflicts) == 0 }

// Changed reports whether the import wrote (or, dry, would write)
// anything.
func (r *Report) Changed() bool {
	return r.Organizations.Imported+r.Organizations.Updated+r.Accounts.Imported+r.Accounts.Updated > 0 ||
		r.DefaultOrganizationCreated || r.SeededAdminRemoved
}

// Run imports src into st: it judges the rows, records the comparison
// rule, writes organizations then accounts (parents first), and reserves
// what it skipped.
func Run(ctx context.Context, st *store.Store, src *restcommdb.Source, opts Options) (*Report, error) {
	start := time.Now()
	opts = withDefaults(opts)
	r := newReport(src, opts)
	if err := chooseRule(src, opts, r); err != nil {
		return nil, err
	}
	orgs := validateOrganizations(src, opts, r)
	wopts := store.ImportOptions{Overwrite: opts.Overwrite, DryRun: opts.DryRun}
	if err := prepareNamespace(ctx, st, opts, r); err != nil {
		return nil, err
	}
	if err := writeOrganizations(ctx, st, orgs, wopts, r); err != nil {
		return nil, err
	}
	orgOK, notOK, err := accountOrganizations(ctx, st, orgs, r)
	if err != nil {
		return nil, err
	}
	accts := validateAccounts(src, r.Collation, opts, r, orgOK, notOK)
	if !src.HasOrganizations && len(accts) > 0 {
		if r.DefaultOrganizationCreated, err = ensureDefaultOrganization(ctx, st, opts); err != nil {
			return nil, err
		}
	}
	sortParentsFirst(accts)
	if err := writeAccounts(ctx, st, accts, opts, wopts, r); err != nil {
		return nil, err
	}
	if err := dropSeededAdminIfAbsent(ctx, st, src, accts, opts, r); err != nil {
		return nil, err
	}
	countSkipped(r)
	if err := reserveAndFinish(ctx, st, src, opts, r); err != nil {
		return nil, err
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

// withDefaults fills in the options left unset.
func withDefaults(opts Options) Options {
	opts.BatchSize = cmp.Or(opts.BatchSize, 250)
	opts.Pipeline = cmp.Or(opts.Pipeline, 2)
	opts.DefaultDomain = cmp.Or(opts.DefaultDomain, store.DefaultOrganizationDomain)
	opts.By = cmp.Or(opts.By, "accounts import")
	return opts
}

// newReport starts the report with what reading the source found: the rows
// read (malformed ones included) and its warnings.
func newReport(src *restcommdb.Source, opts Options) *Report {
	r := &Report{Source: src.Name, DryRun: opts.DryRun, PreOrganizations: !src.HasOrganizations}
	r.Organizations.Read = len(src.Organizations)
	r.Accounts.Read = len(src.Accounts)
	for _, m := range src.Malformed {
		if m.Kind == kindAccount {
			r.Accounts.Read++
		} else {
			r.Organizations.Read++
		}
	}
	r.Warnings = append(r.Warnings, src.Warnings...)
	return r
}

// prepareNamespace marks the namespace and records the rule before
// anything is written, so that every index key is made under it; a dry run
// only finds out whether recording the rule would re-key the namespace.
func prepareNamespace(ctx context.Context, st *store.Store, opts Options, r *Report) error {
	if opts.DryRun {
		changes, err := ruleChanges(ctx, st, r.Collation)
		if err != nil {
			return err
		}
		r.RuleChanges = changes
		return nil
	}
	before, err := st.MarkImportBegin(ctx, opts.By, opts.Version)
	if err != nil {
		return fmt.Errorf("marking the namespace: %w", err)
	}
	r.MarkerBefore = before
	if r.Reindexed, err = st.SetCollation(ctx, r.Collation); err != nil {
		return fmt.Errorf("recording the comparison rule %s: %w", r.Collation, err)
	}
	return nil
}

// writeOrganizations writes the organizations that passed and counts what
// became of each.
func writeOrganizations(ctx context.Context, st *store.Store, orgs []goodOrg, wopts store.ImportOptions, r *Report) error {
	if len(orgs) == 0 {
		return nil
	}
	list := make([]store.Organization, len(orgs))
	for i, g := range orgs {
		list[i] = g.org
	}
	res, err := st.ImportOrganizations(ctx, list, wopts)
	if err != nil {
		return err
	}
	for i, x := range res {
		r.Organizations.count(r, kindOrgztn, orgs[i].org.Sid, orgs[i].row.Where, x)
	}
	return nil
}

// accountOrganizations says which organizations the accounts may go into:
// those now at the gateway (written, or there already in a conflict), not
// those skipped or whose domain belongs to another organization here
// (notOK holds why not).
func accountOrganizations(ctx context.Context, st *store.Store, orgs []goodOrg, r *Report) (orgOK map[string]bool, notOK map[string]string, err error) {
	orgOK, notOK = map[string]bool{}, map[string]string{}
	for _, s := range r.Skipped {
		if s.Kind == kindOrgztn {
			notOK[s.Sid] = s.Reason
		}
	}
	for _, g := range orgs {
		orgOK[g.org.Sid] = true
	}
	for _, c := range r.Conflicts {
		if c.Kind != kindOrgztn || c.Outcome != store.Taken {
			continue
		}
		// not written; its accounts can go in only if the gateway has
		// an organization with its SID already
		_, err := st.Organization(ctx, c.Sid)
		switch {
		case errors.Is(err, store.ErrNotFound):
			orgOK[c.Sid] = false
			notOK[c.Sid] = "its domain belongs to " + c.Detail + " at the gateway"
		case err != nil:
			return nil, nil, err
		}
	}
	return orgOK, notOK, nil
}

// sortParentsFirst orders the accounts so that each comes after its
// parent: by depth in the tree, then by SID.
func sortParentsFirst(accts []goodAccount) {
	sort.SliceStable(accts, func(i, j int) bool {
		if accts[i].depth != accts[j].depth {
			return accts[i].depth < accts[j].depth
		}
		return accts[i].acct.Sid < accts[j].acct.Sid
	})
}

// writeAccounts writes the accounts in rounds of Pipeline script calls of
// BatchSize accounts each, counting what became of each and reporting
// progress after every round.
func writeAccounts(ctx context.Context, st *store.Store, accts []goodAccount, opts Options, wopts store.ImportOptions, r *Report) error {
	done := 0
	per := opts.BatchSize * opts.Pipeline
	for off := 0; off < len(accts); off += per {
		if err := ctx.Err(); err != nil {
			return err
		}
		round := accts[off:min(off+per, len(accts))]
		res, err := st.ImportAccounts(ctx, accountBatches(round, opts.BatchSize), wopts)
		if err != nil {
			return err
		}
		k := off
		for _, br := range res {
			for _, x := range br {
				r.Accounts.count(r, kindAccount, accts[k].acct.Sid, accts[k].row.Where, x)
				k++
			}
		}
		done += len(round)
		if opts.Progress != nil {
			opts.Progress(done, len(accts))
		}
	}
	if opts.Progress != nil && len(accts) == 0 {
		opts.Progress(0, 0)
	}
	return nil
}

// accountBatches cuts one round of accounts into script calls of size
// accounts each.
func accountBatches(round []goodAccount, size int) [][]store.Account {
	var batches [][]store.Account
	for b := 0; b < len(round); b += size {
		part := round[b:min(b+size, len(round))]
		batch := make([]store.Account, len(part))
		for i, g := range part {
			batch[i] = g.acct
		}
		batches = append(batches, batch)
	}
	return batches
}

// dropSeededAdminIfAbsent removes the gateway's seeded default
// administrator when the source has none (neither imported nor skipped):
// the source's accounts are the ones that count.
func dropSeededAdminIfAbsent(ctx context.Context, st *store.Store, src *restcommdb.Source, accts []goodAccount, opts Options, r *Report) error {
	if opts.DryRun ||
		slices.ContainsFunc(accts, func(g goodAccount) bool { return g.acct.Sid == store.DefaultAdminSid }) ||
		slices.ContainsFunc(src.Accounts, func(a restcommdb.Account) bool { return a.Sid == store.DefaultAdminSid }) {
		return nil
	}
	removed, err := st.DropSeededAdmin(ctx)
	if err != nil {
		return err
	}
	r.SeededAdminRemoved = removed
	return nil
}

// countSkipped counts the skipped rows of each kind.
func countSkipped(r *Report) {
	for _, s := range r.Skipped {
		if s.Kind == kindAccount {
			r.Accounts.Skipped++
		} else {
			r.Organizations.Skipped++
		}
	}
}

// reserveAndFinish reserves the skipped rows' SIDs and e-mail addresses
// (with those the source carries) and marks the import done; a dry run
// only lists them.
func reserveAndFinish(ctx context.Context, st *store.Store, src *restcommdb.Source, opts Options, r *Report) error {
	r.Reservations = reservations(r.Skipped, src.Reservations)
	if opts.DryRun {
		return nil
	}
	if err := st.ReplaceReservations(ctx, r.Reservations); err != nil {
		return fmt.Errorf("reserving the skipped rows: %w", err)
	}
	return st.MarkImportEnd(ctx, src.Name)
}

// chooseRule sets the rule the import records: Options.Collation, else the
// source's; a source whose collation has no rule here needs one named.
func chooseRule(src *restcommdb.Source, opts Options, r *Report) error {
	switch {
	case opts.Collation != nil:
		r.Collation = *opts.Collation
		r.CollationFrom = "given (--collation); the source: " + src.CollationFrom
		if src.CollationErr == nil && src.Collation.Name() != r.Collation.Name() {
			r.Warnings = append(r.Warnings, fmt.Sprintf("the source compares under %s, the namespace will under %s (given): logins may find what RestComm's database would not, or miss what it would find",
				src.Collation, r.Collation))
		}
	case src.CollationErr != nil:
		return src.CollationErr
	default:
		r.Collation, r.CollationFrom = src.Collation, src.CollationFrom
	}
	if r.Collation.Approximate() {
		r.Warnings = append(r.Warnings, fmt.Sprintf("rule %s only approximates the source's collation (%s): it ignores case and trailing spaces as the database does, but not accents or expansions the database may also ignore",
			r.Collation, r.CollationFrom))
	}
	return nil
}

// reservations are the SIDs and e-mail addresses of the skipped rows:
// RestComm's database holds them, so a create at the gateway must not take
// them (it would make a second row RestComm finds). An export carries its
// namespace's reservations (carried), which a restore keeps.
func reservations(skipped []Skip, carried []restcommdb.Reservation) []store.Reservation {
	var rs []store.Reservation
	for _, s := range skipped {
		if s.Sid == "" && s.Email == "" {
			continue // nothing of it could be read: nothing to reserve
		}
		rs = append(rs, store.Reservation{Sid: s.Sid, Email: s.Email, Reason: s.Reason})
	}
	for _, c := range carried {
		rs = append(rs, store.Reservation{Sid: c.Sid, Email: c.EmailAddress, Reason: c.Reason})
	}
	return rs
}

func (c *Counts) count(r *Report, kind, sid, where string, x store.ImportResult) {
	switch x.Outcome {
	case store.Imported:
		c.Imported++
	case store.Updated:
		c.Updated++
	case store.Unchanged:
		c.Unchanged++
	case store.Conflict, store.Taken:
		c.Conflicts++
		r.Conflicts = append(r.Conflicts, Conflict{Kind: kind, Sid: sid, Where: where, Outcome: x.Outcome, Detail: x.Detail})
	}
}

// ensureDefaultOrganization creates RestComm's default organization when
// the gateway has none, for the accounts of a source that predates
// organizations.
func ensureDefaultOrganization(ctx context.Context, st *store.Store, opts Options) (bool, error) {
	if opts.DryRun {
		_, err := st.Organization(ctx, store.DefaultOrganizationSid)
		if errors.Is(err, store.ErrNotFound) {
			return true, nil
		}
		return false, err
	}
	when := time.Date(2017, 4, 19, 0, 0, 0, 0, time.UTC)
	_, err := st.CreateOrganization(ctx, nil, &store.Organization{
		Sid: store.DefaultOrganizationSid, DomainName: opts.DefaultDomain, Status: "active",
		DateCreated: when, DateUpdated: when,
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrDuplicate):
		return false, nil
	}
	return false, err
}

// Write prints the report for an operator.
func (r *Report) Write(w io.Writer) {
	dry := ""
	if r.DryRun {
		dry = " (dry run: nothing written; the counts say what an import would do)"
	}
	fmt.Fprintf(w, "import from %s%s\n", r.Source, dry)
	line := func(name string, c Counts) {
		fmt.Fprintf(w, "%-14s read %d, imported %d, updated %d, unchanged %d, conflicts %d, skipped %d\n",
			name+":", c.Read, c.Imported, c.Updated, c.Unchanged, c.Conflicts, c.Skipped)
	}
	line("organizations", r.Organizations)
	line("accounts", r.Accounts)
	switch rule := fmt.Sprintf("comparison rule: %s (%s)", r.Collation, r.CollationFrom); {
	case r.DryRun && r.RuleChanges:
		fmt.Fprintf(w, "%s; would be recorded in the namespace, re-keying its indexes\n", rule)
	case r.DryRun:
		fmt.Fprintf(w, "%s; would be recorded in the namespace, no index re-keyed\n", rule)
	case r.Reindexed > 0:
		fmt.Fprintf(w, "%s; recorded in the namespace, its indexes re-keyed (%d accounts)\n", rule, r.Reindexed)
	default:
		fmt.Fprintf(w, "%s; recorded in the namespace, no index re-keyed\n", rule)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, "warnings:")
		for i, x := range r.Warnings {
			if i == maxListed {
				fmt.Fprintf(w, "  … and %d more\n", len(r.Warnings)-maxListed)
				break
			}
			fmt.Fprintf(w, "  %s\n", x)
		}
	}
	if r.PreOrganizations {
		msg := "the source predates organizations (RestComm before 8.2): its accounts are in the default organization " + store.DefaultOrganizationSid
		if r.DefaultOrganizationCreated {
			msg += ", created now"
		}
		fmt.Fprintln(w, msg)
	}
	if r.MarkerBefore == "none" {
		fmt.Fprintln(w, "the namespace is marked as filled by this import: no gateway will seed it")
	}
	if r.SeededAdminRemoved {
		fmt.Fprintf(w, "the source has no default administrator: removed the gateway's seeded one (%s, password RestComm)\n", store.DefaultAdminSid)
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintln(w, "skipped by reason:")
		by := r.SkippedByReason()
		reasons := make([]string, 0, len(by))
		for k := range by {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		for _, k := range reasons {
			fmt.Fprintf(w, "  %-44s %d\n", k+":", by[k])
		}
		fmt.Fprintln(w, "skipped rows:")
		for _, s := range r.Skipped {
			detail := ""
			if s.Detail != "" {
				detail = ": " + s.Detail
			}
			fmt.Fprintf(w, "  %s %s (%s): %s%s\n", s.Kind, quoteSid(s.Sid), s.Where, s.Reason, detail)
		}
	}
	if len(r.Conflicts) > 0 {
		fmt.Fprintln(w, "conflicts, left as they are at the gateway (--overwrite writes the source's over them):")
		for _, c := range r.Conflicts {
			var why string
			switch c.Outcome {
			case store.Taken:
				what := "e-mail address"
				if c.Kind == kindOrgztn {
					what = "domain name"
				}
				why = fmt.Sprintf("its %s belongs to %s at the gateway", what, c.Detail)
			default:
				why = "changed at the gateway since the last import; differs from the source in " + strings.ReplaceAll(c.Detail, ",", ", ")
			}
			fmt.Fprintf(w, "  %s %s (%s): %s\n", c.Kind, c.Sid, c.Where, why)
		}
	}
	if len(r.Shared) > 0 {
		n := 0
		for _, sh := range r.Shared {
			n += len(sh.Sids)
		}
		fmt.Fprintf(w, "e-mail shared (login by e-mail refused as ambiguous; reachable by SID): %d addresses, %d accounts\n", len(r.Shared), n)
		for _, sh := range r.Shared {
			parts := make([]string, len(sh.Sids))
			for i := range sh.Sids {
				parts[i] = fmt.Sprintf("%s %q", sh.Sids[i], sh.Emails[i])
			}
			fmt.Fprintf(w, "  %s\n", strings.Join(parts, ", "))
		}
	}
	if !r.Changed() && len(r.Conflicts) == 0 {
		fmt.Fprintln(w, "nothing to change: the gateway already holds the source as it is")
	}
	if len(r.Reservations) > 0 {
		verb := "reserved"
		if r.DryRun {
			verb = "would be reserved"
		}
		fmt.Fprintf(w, "%s (RestComm's database holds them: a create at the gateway answers 409): %d\n", verb, len(r.Reservations))
		for i, x := range r.Reservations {
			if i == maxReservationsListed {
				fmt.Fprintf(w, "  … and %d more\n", len(r.Reservations)-maxReservationsListed)
				break
			}
			email := ""
			if x.Email != "" {
				email = fmt.Sprintf(" %q", x.Email)
			}
			fmt.Fprintf(w, "  %s%s: %s\n", quoteSid(x.Sid), email, x.Reason)
		}
	}
	fmt.Fprintf(w, "time: %s\n", r.Elapsed.Round(time.Millisecond))
}

// Bounds of the report's lists that can grow with the source.
const (
	maxListed             = 20
	maxReservationsListed = 50
)

// ruleChanges reports whether recording rule would re-key the namespace:
// for a dry run, which must not write.
func ruleChanges(ctx context.Context, st *store.Store, rule collation.Rule) (bool, error) {
	have, err := st.NamespaceCollation(ctx)
	if err != nil {
		return false, err
	}
	return have != nil && have.Name() != rule.Name(), nil
}

func quoteSid(s string) string {
	if sidPattern.MatchString(s) {
		return s
	}
	return fmt.Sprintf("%q", s)
}
