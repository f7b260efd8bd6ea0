package federation

import (
	"fmt"
	"slices"
	"testing"
)

// tenantRegistry has n providers with distinct issuers.
func tenantRegistry(b *testing.B, n int) *Registry {
	cfg := Config{Providers: map[string]ProviderConfig{}}
	for i := range n {
		cfg.Providers[fmt.Sprintf("t%04d", i)] = ProviderConfig{Issuer: fmt.Sprintf("https://tenant%04d.example.com", i), ClientID: "c", ClientSecret: "s"}
	}
	reg, err := NewRegistry(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return reg
}

// BenchmarkProviderForIssuer finds a bearer token's provider among 1000:
// through the issuer index, and by the scan over every provider that the
// index replaced (kept here as the baseline).
func BenchmarkProviderForIssuer(b *testing.B) {
	reg := tenantRegistry(b, 1000)
	iss, aud := "https://tenant0999.example.com", []string{"c"}
	b.Run("index", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if reg.providerForIssuer(iss, aud) == nil {
				b.Fatal("not found")
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var found *Provider
			for _, k := range reg.Keys() {
				p, _ := reg.Lookup(k)
				if p.src.Issuer().Matches(iss) || slices.Contains(p.cfg.AdditionalIssuers, iss) {
					found = p
					break
				}
			}
			if found == nil {
				b.Fatal("not found")
			}
		}
	})
}

// BenchmarkSet replaces one provider of 1000 (the issuer index is rebuilt)
// and sets another to its current config (a no-op).
func BenchmarkSet(b *testing.B) {
	reg := tenantRegistry(b, 1000)
	pcs := []ProviderConfig{
		{Issuer: "https://tenant0500.example.com", ClientID: "c", ClientSecret: "s"},
		{Issuer: "https://tenant0500.example.com", ClientID: "c2", ClientSecret: "s"},
	}
	b.Run("replace", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if err := reg.Set("t0500", pcs[i%2]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := reg.Set("t0001", ProviderConfig{Issuer: "https://tenant0001.example.com", ClientID: "c", ClientSecret: "s"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
