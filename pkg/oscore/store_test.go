package oscore_test

import (
	"testing"
	"time"

	"github.com/landfall-io/landfall/pkg/oscore"
	"github.com/landfall-io/landfall/pkg/oscore/oscoretest"
)

func TestMemoryStoreConformance(t *testing.T) {
	oscoretest.RunContextStore(t, func(t *testing.T, now func() time.Time) oscore.ContextStore {
		return &oscore.MemoryStore{Now: now}
	})
}
