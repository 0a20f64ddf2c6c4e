package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/redistest"
	"github.com/restcomm/restcomm-gateway/store"
)

// The last run of each result is kept, per namespace; a dry run writes
// nothing here (the command does not record it).
func TestImportRuns(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	st := store.New(srv.Client(t), "imports")
	runs, err := st.ImportRuns(ctx)
	require.NoError(t, err)
	assert.Empty(t, runs)

	ok := time.Unix(1_800_000_000, 0)
	require.NoError(t, st.RecordImportRun(ctx, store.ImportRun{Result: store.ImportSucceeded, At: ok, Accounts: 12}))
	require.NoError(t, st.RecordImportRun(ctx, store.ImportRun{Result: store.ImportFailed, At: ok.Add(time.Hour)}))
	require.NoError(t, st.RecordImportRun(ctx, store.ImportRun{Result: store.ImportSucceeded, At: ok.Add(2 * time.Hour), Accounts: 3}))
	assert.Error(t, st.RecordImportRun(ctx, store.ImportRun{Result: "", At: ok}))

	runs, err = st.ImportRuns(ctx)
	require.NoError(t, err)
	assert.Equal(t, []store.ImportRun{
		{Result: store.ImportSucceeded, At: ok.Add(2 * time.Hour), Accounts: 3},
		{Result: store.ImportFailed, At: ok.Add(time.Hour)},
	}, runs)

	other, err := store.New(srv.Client(t), "other").ImportRuns(ctx)
	require.NoError(t, err)
	assert.Empty(t, other, "another namespace's runs are its own")
}
