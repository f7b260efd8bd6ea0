package federation

import (
	"crypto/sha256"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultBearerCacheSize is how many verified bearer tokens a [Registry]
// keeps unless [WithBearerCacheSize] says otherwise.
const DefaultBearerCacheSize = 4096

// tokenCache remembers verified bearer tokens, keyed by the SHA-256 of the
// token, until the token's exp (never later; the leeway is applied only
// when a token is verified afresh). Tokens are evicted when the key that
// verified them leaves the provider's JWKS.
type tokenCache struct {
	lru *lru.Cache[[sha256.Size]byte, *cachedToken] // nil: caching off
	now func() time.Time

	// mu orders additions against evictions: a verification that started
	// before a key was removed must not add its result after the eviction.
	mu  sync.Mutex
	gen map[string]uint64 // per provider, bumped by every eviction
}

type cachedToken struct {
	principal *Principal
	provider  string
	kid       string
}

func newTokenCache(size int, now func() time.Time) *tokenCache {
	c := &tokenCache{now: now, gen: map[string]uint64{}}
	if size > 0 {
		c.lru, _ = lru.New[[sha256.Size]byte, *cachedToken](size) // only fails for size <= 0
	}
	return c
}

// get returns the principal of a cached, unexpired token.
func (c *tokenCache) get(sum [sha256.Size]byte) (*Principal, bool) {
	if c.lru == nil {
		return nil, false
	}
	e, ok := c.lru.Get(sum)
	if !ok {
		return nil, false
	}
	if !c.now().Before(e.principal.Expiry) {
		c.lru.Remove(sum)
		return nil, false
	}
	return e.principal, true
}

// generation is read before a verification starts and handed to add.
func (c *tokenCache) generation(provider string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen[provider]
}

// add caches a token verified by the key kid, unless an eviction for the
// provider happened since gen was read. Tokens verified by a key without
// a kid are not cached: its removal could not be told apart.
func (c *tokenCache) add(sum [sha256.Size]byte, e *cachedToken, gen uint64) {
	if c.lru == nil || e.kid == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen[e.provider] == gen {
		c.lru.Add(sum, e)
	}
}

// evict drops the provider's tokens verified by kid, or all of its tokens
// when kid is "". It scans the cache: key removal is rare.
func (c *tokenCache) evict(provider, kid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen[provider]++
	if c.lru == nil {
		return
	}
	for _, k := range c.lru.Keys() {
		if e, ok := c.lru.Peek(k); ok && e.provider == provider && (kid == "" || e.kid == kid) {
			c.lru.Remove(k)
		}
	}
}

// len reports the number of cached tokens, for tests.
func (c *tokenCache) len() int {
	if c.lru == nil {
		return 0
	}
	return c.lru.Len()
}

// remove drops one token (revoked through this registry).
func (c *tokenCache) remove(sum [sha256.Size]byte) {
	if c.lru != nil {
		c.lru.Remove(sum)
	}
}
