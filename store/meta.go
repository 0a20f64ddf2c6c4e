package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The namespace marker, P meta (a hash): it says that the namespace was
// seeded, so that a Redis that comes back without it is known to have lost
// its data rather than never to have had any.
//
//	state    "seeding" while the defaults are being created, then "seeded"
//	seeded   when the namespace was first marked (RFC 3339, UTC)
//	by       what marked it: "gateway" or "accounts seed"
//	version  the gateway's version then
//	schema   MetaSchema, the key layout's version
//	adopted  "1" when it was marked over data it already held
const (
	metaKind   = "meta"
	MetaSchema = "1"
)

var (
	//go:embed lua/meta.lua
	metaSrc string
	//go:embed lua/meta_done.lua
	metaDoneSrc string

	// Both scripts are idempotent: run twice, they answer the same and
	// write nothing more, so go-redis may retry them.
	metaScript     = redis.NewScript(metaSrc)
	metaDoneScript = redis.NewScript(metaDoneSrc)
)

// NamespaceState is what Init found and did.
type NamespaceState string

const (
	// NamespaceMarked: the namespace was already seeded (by anyone).
	NamespaceMarked NamespaceState = "marked"
	// NamespaceAdopted: it held data but no marker (data written before
	// namespaces were marked); it is marked now, nothing else is written.
	NamespaceAdopted NamespaceState = "adopted"
	// NamespaceSeeded: this call created the defaults (or finished a
	// seeding that another one began) and marked the namespace.
	NamespaceSeeded NamespaceState = "seeded"
	// NamespaceEmpty: no marker and no data, and seeding was not asked
	// for; nothing was written.
	NamespaceEmpty NamespaceState = "empty"
)

// InitOptions say how Init may treat an unmarked namespace.
type InitOptions struct {
	// Seed allows creating the defaults in an empty namespace; without it
	// an empty namespace is only reported (NamespaceEmpty).
	Seed bool
	// Domain of the default organization (Seed's domain).
	Domain string
	// By and Version are recorded in the marker.
	By, Version string
}

// InitResult is what Init found and did.
type InitResult struct {
	State   NamespaceState
	Created SeedResult // what the seeding created, when State is NamespaceSeeded
}

// Marker is the namespace marker as stored.
type Marker struct {
	State, Seeded, By, Version, Schema string
	Adopted                            bool
}

// Init makes sure the namespace is marked, and seeds it when it is empty
// and opts.Seed allows it:
//
//   - marked: nothing to do (one read, no script, no write);
//   - holding data but unmarked: marked as it is ("adopted");
//   - empty: with opts.Seed, marked "seeding" in the same atomic step that
//     found it empty, then RestComm's defaults are created (Seed), then the
//     marker becomes "seeded"; without opts.Seed nothing is written.
//
// The marker is written before the defaults, so a Redis that keeps any of
// the seeded data (its append-only file is a prefix of what was written)
// keeps the marker too; a seeding cut short (marker "seeding") is finished
// by the next Init, whatever opts.Seed says, since creating the defaults
// never overwrites. Any number of gateways may call Init at once.
func (s *Store) Init(ctx context.Context, opts InitOptions) (InitResult, error) {
	meta := s.prefix + metaKind
	state, err := s.rdb.HGet(ctx, meta, "state").Result()
	switch {
	case err == nil && state == "seeded":
		return InitResult{State: NamespaceMarked}, nil
	case err != nil && !errors.Is(err, redis.Nil):
		return InitResult{}, err
	}
	mode := "check"
	if opts.Seed {
		mode = "seed"
	}
	reply, err := metaScript.Run(ctx, s.rdb, []string{meta}, s.prefix, mode,
		time.Now().UTC().Format(time.RFC3339), opts.By, opts.Version, MetaSchema, DefaultAdminSid).Text()
	if err != nil {
		return InitResult{}, err
	}
	switch reply {
	case "seeded":
		return InitResult{State: NamespaceMarked}, nil
	case "adopted":
		return InitResult{State: NamespaceAdopted}, nil
	case "empty":
		return InitResult{State: NamespaceEmpty}, nil
	case "claimed", "seeding":
	default:
		return InitResult{}, fmt.Errorf("store: unexpected namespace state %q", reply)
	}
	created, err := s.Seed(ctx, opts.Domain)
	if err != nil {
		return InitResult{}, err
	}
	done, err := metaDoneScript.Run(ctx, s.rdb, []string{meta}).Text()
	if errors.Is(err, redis.Nil) {
		return InitResult{}, errors.New("store: the namespace marker vanished while seeding (Redis lost its data?)")
	}
	if err != nil {
		return InitResult{}, err
	}
	if done != "seeded" {
		return InitResult{}, fmt.Errorf("store: unexpected namespace state %q after seeding", done)
	}
	return InitResult{State: NamespaceSeeded, Created: created}, nil
}

// Marked reports whether the namespace marker exists: one read, which
// runs on a replica and during a write pause.
func (s *Store) Marked(ctx context.Context) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.prefix+metaKind).Result()
	return n == 1, err
}

// Marker returns the namespace marker, or nil when there is none.
func (s *Store) Marker(ctx context.Context) (*Marker, error) {
	h, err := s.rdb.HGetAll(ctx, s.prefix+metaKind).Result()
	if err != nil || len(h) == 0 {
		return nil, err
	}
	return &Marker{State: h["state"], Seeded: h["seeded"], By: h["by"], Version: h["version"],
		Schema: h["schema"], Adopted: h["adopted"] == "1"}, nil
}
