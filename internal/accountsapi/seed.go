package accountsapi

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/store"
)

// seeder makes sure the namespace is marked (store.Init), once, on the
// first request that needs the store — so that validating a config never
// writes, and a Redis that was down at start is handled when it comes
// back. With seeding on ("seed auto") it seeds a namespace that holds
// nothing: RestComm's default organization and administrator, and the
// marker, which the first step writes.
//
// Once it has seen the marker it remembers so (done): a Redis that later
// answers without the marker has lost its data (verify), and is answered
// 503, never seeded again by this gateway.
type seeder struct {
	domain  string
	auto    bool   // seed an empty namespace ("seed auto")
	version string // the gateway's, recorded in the marker
	// collation: the rule imposed on the namespace, or nil (seeder.ensure)
	collation *collation.Rule
	done      atomic.Bool
	mu        sync.Mutex
}

var (
	// errStoreLost: the namespace's marker, seen before, is gone, and
	// nothing of the namespace is left: Redis lost its data.
	errStoreLost = errors.New("the account store lost its data: its namespace marker, seen before, is gone")
	// errStoreEmpty: the namespace was never seeded and seeding is off.
	errStoreEmpty = errors.New("the account store is empty and seeding is off (seed off)")
)

// ensureSeeded makes sure the namespace is marked, seeding it when it is
// empty and seeding is on, before the first request that reads it. A seed
// that created accounts, or may have, is a write (Config.AfterWrite).
func (s *Service) ensureSeeded(ctx context.Context) error {
	seeded, err := s.seed.ensure(ctx, s.store, s.logger)
	if seeded || err != nil && !errors.Is(err, errStoreEmpty) {
		s.wrote(err)
	}
	return err
}

// ensure marks (or seeds) the namespace unless it has seen it marked;
// seeded reports that it seeded RestComm's defaults.
func (s *seeder) ensure(ctx context.Context, st *store.Store, logger *zap.Logger) (seeded bool, err error) {
	if s.done.Load() {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done.Load() {
		return false, nil
	}
	// the namespace's comparison rule first: seeding files the default
	// administrator under it
	keys, err := st.OpenKeys(ctx, s.collation)
	if err != nil {
		return false, err
	}
	if keys.Reindexed > 0 || keys.From != "" && keys.From != store.KeysLayout+":"+keys.Rule.Name() {
		logger.Warn("re-keyed the namespace's logins and lookups", zap.String("from", keys.From),
			zap.String("rule", keys.Rule.Name()), zap.Int("accounts", keys.Reindexed))
	}
	res, err := st.Init(ctx, store.InitOptions{Seed: s.auto, Domain: s.domain, By: "gateway", Version: s.version})
	if err != nil {
		return false, err
	}
	switch res.State {
	case store.NamespaceEmpty:
		return false, errStoreEmpty
	case store.NamespaceSeeded:
		seeded = true
		logger.Warn("seeded RestComm's defaults into an empty namespace; the default administrator's password is RestComm until changed",
			zap.Bool("organization", res.Created.Organization), zap.Bool("administrator", res.Created.Admin))
	case store.NamespaceAdopted:
		logger.Info("marked the namespace as seeded: it held accounts written before namespaces were marked")
	}
	s.done.Store(true)
	return seeded, nil
}

// verify tells a namespace that lost its data from a login that matches no
// account. It is called, after ensure, when a login matched no account:
// the marker is read (one read); when it is gone, a namespace that still
// holds data is marked again, and one that holds nothing has been lost
// (errStoreLost). A namespace restored from a backup, or seeded again by
// `restcomm-gateway accounts seed`, is served again at once.
func (s *seeder) verify(ctx context.Context, st *store.Store) error {
	if !s.done.Load() {
		return nil
	}
	marked, err := st.Marked(ctx)
	if err != nil || marked {
		return err
	}
	res, err := st.Init(ctx, store.InitOptions{By: "gateway", Version: s.version})
	if err != nil {
		return err
	}
	if res.State == store.NamespaceEmpty {
		return errStoreLost
	}
	return nil
}

// Why a request was answered 503 for the account store
// (Metrics.StoreUnavailable): Redis failed or did not answer in time
// (a failed login not counted among them); fewer replicas than
// wait_replicas acknowledged a change; the caller changed under every
// decision (stale); the namespace lost its data, or was never seeded with
// seeding off; the mirror's RestComm database could not check a create.
const (
	UnavailableRedis          = "redis"
	UnavailableNotReplicated  = "not_replicated"
	UnavailableStale          = "stale"
	UnavailableLostData       = "lost_data"
	UnavailableNotInitialized = "not_initialized"
	UnavailableRestCommDB     = "restcomm_database"
)

// UnavailableReasons are every reason Metrics.StoreUnavailable is given.
var UnavailableReasons = []string{UnavailableRedis, UnavailableNotReplicated, UnavailableStale,
	UnavailableLostData, UnavailableNotInitialized, UnavailableRestCommDB}

// unavailableReason is err's reason among UnavailableReasons.
func unavailableReason(err error) string {
	var nr *store.NotReplicatedError
	switch {
	case errors.Is(err, errStoreLost):
		return UnavailableLostData
	case errors.Is(err, errStoreEmpty):
		return UnavailableNotInitialized
	case errors.Is(err, errRestCommDB):
		return UnavailableRestCommDB
	case errors.As(err, &nr):
		return UnavailableNotReplicated
	case errors.Is(err, store.ErrStale):
		return UnavailableStale
	}
	return UnavailableRedis
}

// storeFailure is what the log and the client are told when the account
// store fails: the log message (sampled per cause) and the 503's body.
func storeFailure(err error) (msg, body string) {
	switch {
	case errors.Is(err, errStoreLost):
		return "account store lost its data: restore Redis from a backup, or start over with `restcomm-gateway accounts seed`",
			"Account store lost its data"
	case errors.Is(err, errStoreEmpty):
		return "account store is not initialized and seeding is off: run `restcomm-gateway accounts seed`",
			"Account store is not initialized"
	case errors.Is(err, errRestCommDB): // the mirror's: a create cannot be checked against it
		return "RestComm's database unavailable; create refused", "Account store unavailable"
	case errors.Is(err, errNotCounted):
		return "failed login not counted; answered 503", "Account store unavailable"
	}
	return "account store unavailable", "Account store unavailable"
}
