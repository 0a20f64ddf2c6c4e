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

// Writes of `restcomm-gateway accounts import` (store/importer). They keep
// the key layout of create_account.lua and create_organization.lua, plus
// one field of their own in each hash: 'imp', a fingerprint of the fields
// as the last import wrote them, so that a later import tells an account
// changed at the gateway (a conflict) from one changed in RestComm (an
// update).

var (
	//go:embed lua/import.lua
	importSrc string
	//go:embed lua/import_accounts.lua
	importAccountsSrc string
	//go:embed lua/import_organizations.lua
	importOrganizationsSrc string
	//go:embed lua/import_mark.lua
	importMarkSrc string
	//go:embed lua/import_drop_seeded.lua
	importDropSeededSrc string

	// All four are idempotent, so a batch may be sent again.
	importAccountsScript      = newScript(keysSrc + importSrc + importAccountsSrc)
	importOrganizationsScript = newScript(keysSrc + importSrc + importOrganizationsSrc)
	importMarkScript          = redis.NewScript(importMarkSrc)
	importDropSeededScript    = newScript(keysSrc + importDropSeededSrc)
)

// ImportOutcome is what an import did with one account or organization.
type ImportOutcome string

const (
	Imported  ImportOutcome = "imported"  // it was not there; written
	Updated   ImportOutcome = "updated"   // the source changed it since the last import; written
	Unchanged ImportOutcome = "unchanged" // already as the source has it
	// Conflict: changed at the gateway since the last import (or created
	// there), and different from the source; left alone unless
	// ImportOptions.Overwrite. Detail lists the fields that differ.
	Conflict ImportOutcome = "conflict"
	// Taken: its domain belongs to another organization here; left
	// alone. Detail is that one's SID. (Accounts sharing an e-mail address
	// are all imported: keys.go.)
	Taken ImportOutcome = "taken"
)

// ImportResult is the outcome for one account or organization.
type ImportResult struct {
	Outcome ImportOutcome
	Detail  string
}

// ImportOptions say how an import treats what is there.
type ImportOptions struct {
	Overwrite bool // write over conflicts
	DryRun    bool // write nothing, only say what would be done
}

// args are the options as import.lua reads them: a name that is there
// when the option is set.
func (o ImportOptions) args(defaultSid string, fields []string, rows *strings.Builder) []any {
	args := []any{aDefault, defaultSid, aFields, strings.Join(fields, ","), aRows, rows.String()}
	if o.Overwrite {
		args = append(args, aOverwrite, "1")
	}
	if o.DryRun {
		args = append(args, aDry, "1")
	}
	return args
}

// appendRow appends values to an import's A.rows, each as <length>:<bytes>.
func appendRow(rows *strings.Builder, values ...string) {
	for _, v := range values {
		rows.WriteString(strconv.Itoa(len(v)))
		rows.WriteByte(':')
		rows.WriteString(v)
	}
}

// ImportAccounts writes the batches of accounts, each batch one atomic
// script call, all batches in one pipelined round trip, and returns each
// account's outcome, batch by batch. Accounts are written as given; their
// parents and organizations are not checked here (the importer has
// validated them). Keep a batch small (a few hundred accounts, a few
// milliseconds of Redis time) so that gateways sharing the Redis keep
// answering meanwhile.
func (s *Store) ImportAccounts(ctx context.Context, batches [][]Account, opts ImportOptions) ([][]ImportResult, error) {
	res, err := s.importPipelined(ctx, importAccountsScript, s.importAccountsCalls(batches, opts))
	if s.keysChanged(ctx, err) {
		res, err = s.importPipelined(ctx, importAccountsScript, s.importAccountsCalls(batches, opts))
	}
	return res, err
}

// importAccountsCalls are the script calls of ImportAccounts, with index
// keys under the namespace's rule.
func (s *Store) importAccountsCalls(batches [][]Account, opts ImportOptions) [][]any {
	k := s.keys.load()
	calls := make([][]any, len(batches))
	for b, batch := range batches {
		if len(batch) == 0 {
			continue
		}
		var rows, ikeys strings.Builder
		var names []string
		for i := range batch {
			kv := accountArgs(&batch[i])
			for j := 0; j < len(kv); j += 2 {
				if i == 0 {
					names = append(names, kv[j].(string))
				}
				appendRow(&rows, kv[j+1].(string))
			}
			appendRow(&ikeys, k.rule.Key(batch[i].EmailAddress), k.rule.Key(batch[i].FriendlyName))
		}
		calls[b] = append(opts.args(DefaultAdminSid, names, &rows), aKeys, k.version, aIndexKeys, ikeys.String())
	}
	return calls
}

// ImportOrganizations writes organizations in one atomic script call and
// returns each one's outcome.
func (s *Store) ImportOrganizations(ctx context.Context, orgs []Organization, opts ImportOptions) ([]ImportResult, error) {
	if len(orgs) == 0 {
		return nil, nil
	}
	var rows strings.Builder
	for _, o := range orgs { // organizationFields order, after the domain key
		appendRow(&rows, domainKey(o.DomainName), o.Sid, o.DomainName, o.Status, unix(o.DateCreated), unix(o.DateUpdated))
	}
	args := append(opts.args(DefaultOrganizationSid, organizationFields, &rows), aKeys, s.keys.load().version)
	res, err := s.importPipelined(ctx, importOrganizationsScript, [][]any{args})
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// importPipelined runs one script call per non-nil args in one pipeline,
// loading the script first when Redis does not have it.
func (s *Store) importPipelined(ctx context.Context, sc *script, calls [][]any) ([][]ImportResult, error) {
	out := make([][]ImportResult, len(calls))
	for attempt := 0; ; attempt++ {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for i, args := range calls {
			if args != nil {
				cmds[i] = pipe.EvalSha(ctx, sc.sha, []string{s.anchor}, append([]any{s.prefix}, args...)...)
			}
		}
		_, err := pipe.Exec(ctx)
		if err != nil && attempt == 0 && ErrorCode(err) == CodeNoScript {
			// the scripts are idempotent: loading and sending all again is safe
			if err := s.rdb.ScriptLoad(ctx, sc.src).Err(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: import: %w", err)
		}
		for i, cmd := range cmds {
			if cmd == nil {
				continue
			}
			items, ok := cmd.Val().([]any)
			if !ok {
				return nil, fmt.Errorf("store: import: unexpected reply %T", cmd.Val())
			}
			res := make([]ImportResult, len(items))
			for j, it := range items {
				str, _ := it.(string)
				outcome, detail, _ := strings.Cut(str, ":")
				res[j] = ImportResult{Outcome: ImportOutcome(outcome), Detail: detail}
			}
			out[i] = res
		}
		return out, nil
	}
}

// MarkImportBegin marks an unmarked namespace as filled (state "seeded",
// by by), before an import writes anything, so that no gateway seeds it
// meanwhile or later: the source's default administrator is the one that
// counts. It returns the marker's state before ("none" when unmarked).
func (s *Store) MarkImportBegin(ctx context.Context, by, version string) (string, error) {
	return s.markImport(ctx, "begin", by, version, "")
}

// MarkImportEnd records in the marker when and from which source (without
// secrets) the last import was made.
func (s *Store) MarkImportEnd(ctx context.Context, source string) error {
	_, err := s.markImport(ctx, "end", "", "", source)
	return err
}

func (s *Store) markImport(ctx context.Context, phase, by, version, source string) (string, error) {
	return importMarkScript.Run(ctx, s.rdb, []string{s.prefix + metaKind}, s.prefix, phase,
		time.Now().UTC().Format(time.RFC3339), by, version, MetaSchema, source).Text()
}

// DropSeededAdmin removes the default administrator when it is exactly as
// seeding left it (password RestComm, uninitialized, never updated, not
// imported, no children): for an import whose source has no default
// administrator. It reports whether it removed it.
func (s *Store) DropSeededAdmin(ctx context.Context) (bool, error) {
	reply, err := s.run(ctx, importDropSeededScript, DefaultAdminSid, DefaultAdminAuthToken)
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return reply == int64(1), err
}
