package caddymodule

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

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
	domain string
	auto   bool // seed an empty namespace ("seed auto")
	done   atomic.Bool
	mu     sync.Mutex
}

var (
	// errStoreLost: the namespace's marker, seen before, is gone, and
	// nothing of the namespace is left: Redis lost its data.
	errStoreLost = errors.New("the account store lost its data: its namespace marker, seen before, is gone")
	// errStoreEmpty: the namespace was never seeded and seeding is off.
	errStoreEmpty = errors.New("the account store is empty and seeding is off (seed off)")
)

func (s *seeder) ensure(ctx context.Context, st *store.Store, logger *zap.Logger) error {
	if s.done.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done.Load() {
		return nil
	}
	res, err := st.Init(ctx, store.InitOptions{Seed: s.auto, Domain: s.domain, By: "gateway", Version: gatewayVersion()})
	if err != nil {
		return err
	}
	switch res.State {
	case store.NamespaceEmpty:
		return errStoreEmpty
	case store.NamespaceSeeded:
		logger.Warn("seeded RestComm's defaults into an empty namespace; the default administrator's password is RestComm until changed",
			zap.Bool("organization", res.Created.Organization), zap.Bool("administrator", res.Created.Admin))
	case store.NamespaceAdopted:
		logger.Info("marked the namespace as seeded: it held accounts written before namespaces were marked")
	}
	s.done.Store(true)
	return nil
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
	res, err := st.Init(ctx, store.InitOptions{By: "gateway", Version: gatewayVersion()})
	if err != nil {
		return err
	}
	if res.State == store.NamespaceEmpty {
		return errStoreLost
	}
	return nil
}

// gatewayVersion is this module's version as built ("(devel)" from a
// work tree), recorded in the namespace marker.
var gatewayVersion = sync.OnceValue(func() string {
	const path = "github.com/restcomm/restcomm-gateway"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if bi.Main.Path == path {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return "unknown"
})
