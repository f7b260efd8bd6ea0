package discovery

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/internal/flight"
	"github.com/oidcfed/oidcfed/internal/httpx"
)

// CacheConfig configures a [Cache]. Zero values take the defaults.
type CacheConfig struct {
	// Client makes the requests. Default: a client with a 10 s timeout.
	// Responses are always capped at 1 MiB.
	Client *http.Client
	// Now is the clock that expiry is checked on. Default: time.Now.
	Now func() time.Time
	// TTL is how long a fetched document is used. Default: 1 hour.
	TTL time.Duration
	// NegativeTTL is how long a failed fetch is remembered before the next
	// attempt. Default: 10 seconds.
	NegativeTTL time.Duration
	// StaleFor is how long past its TTL an entry is still served when a
	// refetch fails (stale-if-error). Default: 24 hours.
	StaleFor time.Duration
	// FetchTimeout bounds one fetch, which runs detached from the request
	// that triggered it. Default: 10 seconds.
	FetchTimeout time.Duration
	// Size is the most sources kept, least recently used first out.
	// Default: 1024. Negative: no count bound; the owner frees entries with
	// [Cache.Release], as a federation.Registry does for the providers it
	// holds, so that thousands of providers never thrash the cache.
	Size int
	// Logger receives fetch failures and stale serving. Default: discard.
	Logger *slog.Logger
	// OnFetch, when set, is called after every fetch with the source that
	// caused it (the first caller's, when several share one fetch). It
	// runs on the fetch's goroutine: keep it fast.
	OnFetch func(src *Source, info FetchInfo)
}

// Cache holds discovery documents. Concurrent callers for one source share a
// single fetch, which a cancelled caller does not cancel.
type Cache struct {
	cfg     CacheConfig
	client  *http.Client
	entries *lru.Cache[key, *entry]
	flight  flight.Group[key, *Metadata]

	mu   sync.Mutex
	refs map[key]int // Retain counts, for the owner of an unbounded cache
}

// entry is immutable once stored.
type entry struct {
	md        *Metadata // nil after a failure with nothing to serve
	fetchedAt time.Time
	expiresAt time.Time
	err       error     // the last fetch's error, if it failed
	retryAt   time.Time // no fetch before this after a failure
}

// NewCache returns a cache configured by cfg.
func NewCache(cfg CacheConfig) *Cache {
	cfg.Now = clock.Or(cfg.Now)
	orDefault(&cfg.TTL, time.Hour)
	orDefault(&cfg.NegativeTTL, 10*time.Second)
	orDefault(&cfg.StaleFor, 24*time.Hour)
	orDefault(&cfg.FetchTimeout, httpx.DefaultTimeout)
	size := cfg.Size
	switch {
	case size == 0:
		size = 1024
	case size < 0:
		size = math.MaxInt32 // no count bound: the map grows as sources are retained
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	entries, _ := lru.New[key, *entry](size) // errors only for size <= 0
	return &Cache{cfg: cfg, client: fetchClient(cfg.Client), entries: entries, refs: map[key]int{}}
}

// Retain records one more user of each src (sources are equal when they would
// fetch the same document). Together with Release it lets the owner of an
// unbounded cache keep exactly the documents its sources need.
func (c *Cache) Retain(srcs ...*Source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.refs) == 0 && len(srcs) > 8 {
		c.refs = make(map[key]int, len(srcs)) // sized once for a registry's start
	}
	for _, src := range srcs {
		c.refs[src.key()]++
	}
}

// Release drops one user of src; after the last, its document is
// forgotten.
func (c *Cache) Release(src *Source) {
	k := src.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refs[k] > 1 {
		c.refs[k]--
		return
	}
	delete(c.refs, k)
	c.entries.Remove(k)
}

// Len is how many documents (and remembered failures) the cache holds.
func (c *Cache) Len() int { return c.entries.Len() }

// Get returns the metadata for src: from the cache while fresh, otherwise
// fetched once for all concurrent callers. When a refetch fails, the expired
// entry is served (and the failure logged) for up to StaleFor; a failure
// with nothing to serve is remembered for NegativeTTL.
func (c *Cache) Get(ctx context.Context, src *Source) (*Metadata, error) {
	if src.static != nil {
		return src.static, nil
	}
	k := src.key()
	now := c.cfg.Now()
	if e, ok := c.entries.Get(k); ok {
		if e.md != nil && now.Before(e.expiresAt) {
			return e.md, nil
		}
		if now.Before(e.retryAt) {
			if c.serveable(e, now) {
				return e.md, nil
			}
			return nil, e.err
		}
	}
	return c.flight.Do(ctx, k, func() (*Metadata, error) { return c.refresh(k, src) })
}

func (c *Cache) serveable(e *entry, now time.Time) bool {
	return e.md != nil && now.Before(e.expiresAt.Add(c.cfg.StaleFor))
}

// refresh fetches src detached from any caller, stores the outcome and
// returns what Get should return.
func (c *Cache) refresh(k key, src *Source) (*Metadata, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FetchTimeout)
	defer cancel()
	var info FetchInfo
	md, err := fetch(ctx, c.client, src, &info)
	now := c.cfg.Now()
	prev, _ := c.entries.Peek(k)
	info.Stale = err != nil && prev != nil && c.serveable(prev, now)
	if c.cfg.OnFetch != nil {
		c.cfg.OnFetch(src, info)
	}
	if err == nil {
		c.entries.Add(k, &entry{md: md, fetchedAt: now, expiresAt: now.Add(c.cfg.TTL)})
		return md, nil
	}
	if info.Stale {
		c.cfg.Logger.Warn("discovery: refetch failed, serving the expired document",
			"url", src.discoveryURL, "fetchedAt", prev.fetchedAt, "error", err)
		c.entries.Add(k,
			&entry{md: prev.md, fetchedAt: prev.fetchedAt, expiresAt: prev.expiresAt, err: err,
				retryAt: now.Add(c.cfg.NegativeTTL)})
		return prev.md, nil
	}
	c.cfg.Logger.Warn("discovery: fetch failed", "url", src.discoveryURL, "error", err)
	c.entries.Add(k, &entry{err: err, retryAt: now.Add(c.cfg.NegativeTTL)})
	return nil, err
}

// Status describes the cached state of one source.
type Status struct {
	FetchedAt time.Time // zero when never fetched successfully
	ExpiresAt time.Time // when the cached document must be refetched
	Stale     bool      // being served past ExpiresAt because refetches fail
	LastError string    // the last fetch's error, empty when it succeeded
	Failing   bool      // the last fetch failed and no document can be served
}

// Status returns the cached state of src.
func (c *Cache) Status(src *Source) Status {
	e, ok := c.entries.Peek(src.key())
	if !ok {
		return Status{}
	}
	s := Status{FetchedAt: e.fetchedAt, ExpiresAt: e.expiresAt}
	if e.err != nil {
		s.LastError = e.err.Error()
		s.Stale = e.md != nil
		s.Failing = !c.serveable(e, c.cfg.Now())
	}
	return s
}

// orDefault sets *v to def when it is zero or negative.
func orDefault[T time.Duration | int](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// waiting reports the callers waiting on src's in-flight fetch (tests).
func (c *Cache) waiting(src *Source) int { return c.flight.Waiting(src.key()) }
