package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The last runs of `accounts import`, P import:runs (a hash), so that the
// gateways, which scrape no CLI process, can show when the namespace was
// last imported into, and whether that worked:
//
//	<result>_at        when the last run with that result ended (Unix seconds)
//	<result>_accounts  how many accounts it wrote (created or updated)
//
// <result> is one of ImportResults. A dry run is not recorded.
const importRunsKind = "import:runs"

// Results of an import run.
const (
	ImportSucceeded = "success"
	ImportFailed    = "failure"
)

// ImportResults are the results an import run is recorded under.
var ImportResults = []string{ImportSucceeded, ImportFailed}

// ImportRun is one recorded run of `accounts import`.
type ImportRun struct {
	Result   string // ImportSucceeded or ImportFailed
	At       time.Time
	Accounts int // accounts written (created or updated)
}

// Prefix is the namespace's key prefix, "{restcomm}:" by default.
func (s *Store) Prefix() string { return s.prefix }

// RecordImportRun records r as the last run with its result.
func (s *Store) RecordImportRun(ctx context.Context, r ImportRun) error {
	if r.Result != ImportSucceeded && r.Result != ImportFailed {
		return fmt.Errorf("store: import result %q: want %s or %s", r.Result, ImportSucceeded, ImportFailed)
	}
	return s.rdb.HSet(ctx, s.prefix+importRunsKind,
		r.Result+"_at", strconv.FormatInt(r.At.Unix(), 10),
		r.Result+"_accounts", strconv.Itoa(r.Accounts)).Err()
}

// ImportRuns returns the last run of each result that was recorded, in
// the order of ImportResults.
func (s *Store) ImportRuns(ctx context.Context) ([]ImportRun, error) {
	h, err := s.rdb.HGetAll(ctx, s.prefix+importRunsKind).Result()
	if err != nil {
		return nil, err
	}
	var runs []ImportRun
	var errs []error
	for _, result := range ImportResults {
		at, ok := h[result+"_at"]
		if !ok {
			continue
		}
		secs, err := strconv.ParseInt(at, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("store: %s %s_at: %w", importRunsKind, result, err))
			continue
		}
		n, _ := strconv.Atoi(h[result+"_accounts"]) // absent or malformed: 0
		runs = append(runs, ImportRun{Result: result, At: time.Unix(secs, 0), Accounts: n})
	}
	return runs, errors.Join(errs...)
}
