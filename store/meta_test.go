package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

// An empty namespace is seeded and marked once; after that Init finds the
// marker and writes nothing.
func TestInitSeedsAndMarksAnEmptyNamespace(t *testing.T) {
	srv := redistest.Start(t)
	st := store.New(srv.Client(t), "")
	res, err := st.Init(ctx, store.InitOptions{Seed: true, By: "gateway", Version: "v1.2.3"})
	require.NoError(t, err)
	assert.Equal(t, store.NamespaceSeeded, res.State)
	assert.Equal(t, store.SeedResult{Organization: true, Admin: true}, res.Created)

	m, err := st.Marker(ctx)
	require.NoError(t, err)
	require.NotNil(t, m)
	assert.Equal(t, "seeded", m.State)
	assert.Equal(t, "gateway", m.By)
	assert.Equal(t, "v1.2.3", m.Version)
	assert.Equal(t, store.MetaSchema, m.Schema)
	assert.False(t, m.Adopted)
	when, err := time.Parse(time.RFC3339, m.Seeded)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), when, time.Minute)
	admin, err := st.Account(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	assert.Equal(t, store.StatusUninitialized, admin.Status)

	res, err = st.Init(ctx, store.InitOptions{Seed: true, By: "gateway"})
	require.NoError(t, err)
	assert.Equal(t, store.NamespaceMarked, res.State)
	marked, err := st.Marked(ctx)
	require.NoError(t, err)
	assert.True(t, marked)
}

// Without Seed, an empty namespace is reported and left untouched.
func TestInitWithoutSeedWritesNothing(t *testing.T) {
	srv := redistest.Start(t)
	st := store.New(srv.Client(t), "")
	res, err := st.Init(ctx, store.InitOptions{})
	require.NoError(t, err)
	assert.Equal(t, store.NamespaceEmpty, res.State)
	n, err := srv.Client(t).DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}

// Data written before namespaces were marked is adopted: marked as it is,
// nothing seeded, also without Seed.
func TestInitAdoptsUnmarkedData(t *testing.T) {
	st, _ := newStore(t) // Seed alone: data, no marker
	marked, err := st.Marked(ctx)
	require.NoError(t, err)
	require.False(t, marked)
	res, err := st.Init(ctx, store.InitOptions{})
	require.NoError(t, err)
	assert.Equal(t, store.NamespaceAdopted, res.State)
	m, err := st.Marker(ctx)
	require.NoError(t, err)
	assert.True(t, m.Adopted)
	assert.Equal(t, "seeded", m.State)
}

// A seeding cut short (marker written, defaults not all created) is
// finished by the next Init, also by one not allowed to seed.
func TestInitFinishesAnInterruptedSeeding(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	require.NoError(t, rdb.HSet(ctx, "{restcomm}:meta", "state", "seeding", "seeded", "2024-01-01T00:00:00Z").Err())
	st := store.New(rdb, "")
	res, err := st.Init(ctx, store.InitOptions{})
	require.NoError(t, err)
	assert.Equal(t, store.NamespaceSeeded, res.State)
	_, err = st.Account(ctx, store.DefaultAdminSid)
	require.NoError(t, err)
	m, err := st.Marker(ctx)
	require.NoError(t, err)
	assert.Equal(t, "seeded", m.State)
	assert.Equal(t, "2024-01-01T00:00:00Z", m.Seeded, "the first marking's time stays")
}

// Ten gateways initializing one empty Redis at once: one admin, one
// organization, one marker, and every one of them sees a seeded namespace.
func TestConcurrentInit(t *testing.T) {
	srv := redistest.Start(t)
	var wg sync.WaitGroup
	results := make([]store.InitResult, 10)
	errs := make([]error, 10)
	for i := range 10 {
		wg.Go(func() {
			st := store.New(srv.Client(t), "")
			results[i], errs[i] = st.Init(ctx, store.InitOptions{Seed: true, By: "gateway"})
		})
	}
	wg.Wait()
	orgs, admins := 0, 0
	for i := range 10 {
		require.NoError(t, errs[i])
		assert.Contains(t, []store.NamespaceState{store.NamespaceSeeded, store.NamespaceMarked}, results[i].State)
		if results[i].Created.Organization {
			orgs++
		}
		if results[i].Created.Admin {
			admins++
		}
	}
	assert.Equal(t, 1, orgs)
	assert.Equal(t, 1, admins)
	n, err := srv.Client(t).ZCard(ctx, "{restcomm}:orgs").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}

// Namespaces are separate: one prefix's marker says nothing of another's.
func TestMarkerIsPerNamespace(t *testing.T) {
	srv := redistest.Start(t)
	a := store.New(srv.Client(t), "a")
	b := store.New(srv.Client(t), "b")
	_, err := a.Init(ctx, store.InitOptions{Seed: true})
	require.NoError(t, err)
	res, err := b.Init(ctx, store.InitOptions{})
	require.NoError(t, err)
	assert.Equal(t, store.NamespaceEmpty, res.State)
}
