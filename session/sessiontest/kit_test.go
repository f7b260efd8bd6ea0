package sessiontest_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/session"
	"github.com/oidcfed/oidcfed/session/sessiontest"
)

func TestMemoryReplayGuard(t *testing.T) {
	sessiontest.ReplayGuard(t, func(t *testing.T, now func() time.Time) session.ReplayGuard {
		return session.NewMemoryReplayGuard(session.ReplayConfig{Now: now})
	})
}

func TestMemoryStore(t *testing.T) {
	sessiontest.FlowStore(t, func(t *testing.T, now func() time.Time) func() session.FlowStore {
		s := session.NewMemoryStore(session.MemoryConfig{Now: now})
		return func() session.FlowStore { return s } // one process: one instance
	})
}

// TestCookieStoresSharingAGuard: instances with the same keys and one
// replay guard behave as one store.
func TestCookieStoresSharingAGuard(t *testing.T) {
	sessiontest.FlowStore(t, func(t *testing.T, now func() time.Time) func() session.FlowStore {
		guard := session.NewMemoryReplayGuard(session.ReplayConfig{Now: now})
		return func() session.FlowStore {
			s, err := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)}, Now: now,
				Replay: guard})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

func TestMemoryHostStore(t *testing.T) {
	sessiontest.HostStore(t, func(t *testing.T, now func() time.Time) session.HostStore {
		return session.NewMemoryHostStore(now)
	})
}

func TestMemoryValues(t *testing.T) {
	sessiontest.ValueStore(t, func(_ *testing.T, now func() time.Time) session.ValueStore {
		return session.NewMemoryValues(session.ValuesConfig{Now: now})
	})
}
