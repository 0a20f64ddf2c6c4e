package accountsapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/restcomm/restcomm-gateway/store"
)

// Each store failure answered 503 is counted under one reason of the
// small fixed set the metric declares; never the error's own text.
func TestUnavailableReasons(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("resolve: %w", context.DeadlineExceeded): UnavailableRedis,
		io.EOF: UnavailableRedis,
		fmt.Errorf("%w: %w", errNotCounted, io.ErrUnexpectedEOF):             UnavailableRedis,
		fmt.Errorf("create: %w", &store.NotReplicatedError{Want: 2, Got: 1}): UnavailableNotReplicated,
		store.ErrStale:                        UnavailableStale,
		errStoreLost:                          UnavailableLostData,
		fmt.Errorf("seed: %w", errStoreEmpty): UnavailableNotInitialized,
		fmt.Errorf("%w: %w", errRestCommDB, errors.New("refused")): UnavailableRestCommDB,
	} {
		got := unavailableReason(err)
		assert.Equal(t, want, got, "%v", err)
		assert.True(t, slices.Contains(UnavailableReasons, got), got)
	}
}
