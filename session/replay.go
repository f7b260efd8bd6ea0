package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/oidcfed/oidcfed/internal/clock"
)

// ReplayGuard claims IDs once: consumed flow IDs, the jti of back-channel
// logout tokens. Several server instances share one (Redis, SQL) so that
// single use holds across them.
//
// Claim records id until until. It returns nil the first time, an error
// wrapping [ErrReplayed] when id is held (claimed and until not yet
// passed, on the guard's clock), and any other error when the guard
// cannot answer (the caller refuses the request and nothing is recorded).
// Release forgets id, so that an ID whose work failed may be claimed
// again. Both honour ctx. IDs are chosen by the caller, namespaced
// ("flow:…", "jti:…"); a guard that stores them outside the process
// should store a hash.
//
// session/sessiontest.ReplayGuard is the conformance kit an
// implementation runs from its tests.
type ReplayGuard interface {
	Claim(ctx context.Context, id string, until time.Time) error
	Release(ctx context.Context, id string) error
}

// ReplayConfig configures a [MemoryReplayGuard].
type ReplayConfig struct {
	// Max bounds the IDs held (about 180 bytes each with a flow ID:
	// 100 000 take about 17 MiB). Default: 100 000.
	Max int
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// MemoryReplayGuard is a [ReplayGuard] in this process, for one server
// instance. When full, it first drops the IDs whose until has passed:
// those at its oldest end and, at most once a minute, every other one. Only
// when none has passed does it forget the oldest live ID, and from then on
// it refuses every ID whose until is at or before the forgotten one's
// (failing closed, with [ErrGuardFull]). For flow IDs, whose until is
// their flow's creation plus [MaxAge], that refusal reaches only flows
// older than the forgotten one, so it ends within MaxAge by itself.
type MemoryReplayGuard struct {
	cfg ReplayConfig

	mu sync.Mutex
	// held maps id → until, oldest-claimed first (it is only read with
	// Peek, which keeps that order).
	held      *lru.Cache[string, time.Time]
	watermark time.Time // IDs until at or before this are refused
	swept     time.Time // the last sweep of the whole set
}

// ErrGuardFull wraps [ErrReplayed] when a full [MemoryReplayGuard] refuses
// an ID it may have forgotten.
var ErrGuardFull = fmt.Errorf("%w: the replay guard is full", ErrReplayed)

// NewMemoryReplayGuard returns a guard for cfg.
func NewMemoryReplayGuard(cfg ReplayConfig) *MemoryReplayGuard {
	cfg.Now = clock.Or(cfg.Now)
	if cfg.Max <= 0 {
		cfg.Max = 100_000
	}
	held, _ := lru.New[string, time.Time](cfg.Max)
	return &MemoryReplayGuard{cfg: cfg, held: held}
}

// Claim records id until until, once.
func (g *MemoryReplayGuard) Claim(ctx context.Context, id string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := g.cfg.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if !until.After(g.watermark) {
		return fmt.Errorf("%w; IDs valid until %s or earlier are refused", ErrGuardFull,
			g.watermark.UTC().Format(time.RFC3339))
	}
	if prev, ok := g.held.Peek(id); ok && now.Before(prev) {
		return ErrReplayed
	}
	g.makeRoom(now)
	g.held.Add(id, until)
	return nil
}

// makeRoom drops expired IDs, then the oldest live one, until one more
// fits; g.mu is held.
func (g *MemoryReplayGuard) makeRoom(now time.Time) {
	expired := func(until time.Time) bool { return !now.Before(until) }
	for g.held.Len() >= g.cfg.Max {
		_, until, _ := g.held.GetOldest()
		if expired(until) {
			g.held.RemoveOldest()
			continue
		}
		if now.Sub(g.swept) >= time.Minute {
			g.swept = now
			for _, k := range g.held.Keys() {
				if u, _ := g.held.Peek(k); expired(u) {
					g.held.Remove(k)
				}
			}
			continue
		}
		if until.After(g.watermark) {
			g.watermark = until
		}
		g.held.RemoveOldest()
	}
}

// Release forgets id.
func (g *MemoryReplayGuard) Release(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held.Remove(id)
	return nil
}

// Len is the number of IDs held.
func (g *MemoryReplayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held.Len()
}

// ErrUnavailable wraps a shared store's failure to answer (a network
// error, a timeout): nothing was recorded, and the request may be tried
// again. The handler answers it 503 temporarily_unavailable, never
// invalid_state.
var ErrUnavailable = errors.New("session: the shared store could not be reached")
