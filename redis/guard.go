package oidcfedredis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidcfed/oidcfed/session"
)

// Config configures the Redis stores.
type Config struct {
	// Prefix starts every key. Default: "oidcfed:".
	Prefix string
	// Now is the clock that decides whether a claim has expired; Redis's
	// own expiry only collects keys, a minute after. Default: time.Now.
	Now func() time.Time
}

// ReplayGuard is a [session.ReplayGuard] in Redis: a claim is one atomic
// script (read the stored validity, write it if absent or passed), so 64
// instances racing for one ID see exactly one winner.
type ReplayGuard struct{ conn }

// conn is what every store holds: the client and the configuration.
type conn struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

func newConn(rdb redis.UniversalClient, cfg Config) conn {
	if cfg.Prefix == "" {
		cfg.Prefix = "oidcfed:"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return conn{rdb: rdb, prefix: cfg.Prefix, now: cfg.Now}
}

// NewReplayGuard returns a guard over rdb.
func NewReplayGuard(rdb redis.UniversalClient, cfg Config) *ReplayGuard {
	return &ReplayGuard{newConn(rdb, cfg)}
}

// claimScript stores ARGV[2] (until, ms) under KEYS[1] for ARGV[3] ms
// unless the stored until is after ARGV[1] (now, ms); 1 when it claimed.
var claimScript = redis.NewScript(`
local held = redis.call('GET', KEYS[1])
if held and tonumber(held) > tonumber(ARGV[1]) then
	return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// keep is how long a key outlives its ID's validity in Redis, for clocks
// that disagree.
const keep = time.Minute

// key is the Redis key of id: a hash, never the ID itself.
func (g *ReplayGuard) key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return g.prefix + "replay:" + hex.EncodeToString(sum[:])
}

// Claim records id until until, once across every instance.
func (g *ReplayGuard) Claim(ctx context.Context, id string, until time.Time) error {
	now := g.now()
	ttl := max(until.Sub(now), 0) + keep
	n, err := claimScript.Run(ctx, g.rdb, []string{g.key(id)}, strconv.FormatInt(now.UnixMilli(), 10),
		strconv.FormatInt(until.UnixMilli(), 10), strconv.FormatInt(ttl.Milliseconds(), 10)).Int()
	if err != nil {
		return unavailable(err)
	}
	if n == 0 {
		return session.ErrReplayed
	}
	return nil
}

// Release forgets id.
func (g *ReplayGuard) Release(ctx context.Context, id string) error {
	if err := g.rdb.Del(ctx, g.key(id)).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// NewFlowStore returns a [session.CookieStore] whose consumed flows are
// claimed in guard: instances sharing cfg.Keys and one Redis complete each
// flow once, on whichever instance the browser returns to. cfg.Replay is
// set to guard.
func NewFlowStore(guard *ReplayGuard, cfg session.CookieConfig) (*session.CookieStore, error) {
	cfg.Replay = guard
	if cfg.Now == nil {
		cfg.Now = guard.now
	}
	return session.NewCookieStore(cfg)
}
