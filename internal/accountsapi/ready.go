package accountsapi

import (
	"context"
	"errors"
)

// ErrNotMarked: the namespace marker, seen before by this gateway, is
// gone (Redis lost its data, or was flushed or switched).
var ErrNotMarked = errors.New("the namespace marker is missing")

// NamespaceReady tells a readiness probe whether the namespace can be
// served. Until this gateway has seen the namespace marked it does what
// the first request that needs the store would do, once (seeder.ensure:
// the namespace's comparison rule, and with "seed auto" the seeding of an
// empty namespace), so that a gateway kept out of a load balancer's pool
// until ready does not wait for a request that never comes. After that it
// is one EXISTS of the marker (store.Marked).
func (s *Service) NamespaceReady(ctx context.Context) error {
	if !s.seed.done.Load() {
		return s.ensureSeeded(ctx)
	}
	marked, err := s.store.Marked(ctx)
	if err != nil {
		return err
	}
	if !marked {
		return ErrNotMarked
	}
	return nil
}

// ReadinessReason is what a readiness probe answers for an error of
// NamespaceReady: what failed and what to do, never an address or a
// credential.
func ReadinessReason(err error) string {
	switch {
	case errors.Is(err, ErrNotMarked), errors.Is(err, errStoreLost):
		return "namespace: marker missing (Redis lost its data: restore it from a backup, or run `restcomm-gateway accounts seed`)"
	case errors.Is(err, errStoreEmpty):
		return "namespace: not initialized and seeding is off (run `restcomm-gateway accounts seed`)"
	}
	return "redis: " + ErrorCause(err)
}
