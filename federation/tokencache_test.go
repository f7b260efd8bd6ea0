package federation

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
)

func TestTokenCacheRules(t *testing.T) {
	c := clock.NewFake(time.Unix(1_000_000, 0))
	entry := func(provider, kid string) *cachedToken {
		return &cachedToken{principal: &Principal{Expiry: c.Now().Add(time.Minute)}, provider: provider, kid: kid}
	}
	t.Run("a verification that started before an eviction is not cached", func(t *testing.T) {
		tc := newTokenCache(8, c.Now)
		gen := tc.generation("oidc:a")
		tc.evict("oidc:a", "k1")
		tc.add(sha256.Sum256([]byte("t")), entry("oidc:a", "k1"), gen)
		if tc.len() != 0 {
			t.Fatal("a result from before the eviction was cached")
		}
		tc.add(sha256.Sum256([]byte("t")), entry("oidc:a", "k1"), tc.generation("oidc:a"))
		if tc.len() != 1 {
			t.Fatal("a result from after the eviction was not cached")
		}
	})
	t.Run("a token verified by a key without kid is not cached", func(t *testing.T) {
		tc := newTokenCache(8, c.Now)
		tc.add(sha256.Sum256([]byte("t")), entry("oidc:a", ""), tc.generation("oidc:a"))
		if tc.len() != 0 {
			t.Fatal("cached a token whose key's removal could not be noticed")
		}
	})
	t.Run("eviction is per provider and per kid; kid \"\" evicts the provider", func(t *testing.T) {
		tc := newTokenCache(8, c.Now)
		for i, e := range []*cachedToken{entry("oidc:a", "k1"), entry("oidc:a", "k2"), entry("oidc:b", "k1")} {
			tc.add(sha256.Sum256([]byte{byte(i)}), e, tc.generation(e.provider))
		}
		tc.evict("oidc:a", "k1")
		if _, ok := tc.get(sha256.Sum256([]byte{0})); ok || tc.len() != 2 {
			t.Fatalf("after evicting oidc:a k1: %d left", tc.len())
		}
		tc.evict("oidc:a", "")
		if _, ok := tc.get(sha256.Sum256([]byte{2})); !ok || tc.len() != 1 {
			t.Fatalf("after evicting oidc:a: %d left, want oidc:b's token", tc.len())
		}
	})
}
