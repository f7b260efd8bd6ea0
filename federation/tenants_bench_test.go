package federation

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// tenantConfig has n providers with distinct issuers, as a multi-tenant
// product has one per customer.
func tenantConfig(n int) Config {
	cfg := Config{Providers: make(map[string]ProviderConfig, n)}
	for i := range n {
		cfg.Providers[fmt.Sprintf("t%06d", i)] = ProviderConfig{Issuer: fmt.Sprintf("https://tenant%06d.example.com", i),
			ClientID: "c", ClientSecret: "s"}
	}
	return cfg
}

var tenantSizes = []int{1_000, 10_000, 100_000}

// BenchmarkTenantsNewRegistry builds a registry of n providers.
func BenchmarkTenantsNewRegistry(b *testing.B) {
	for _, n := range tenantSizes {
		cfg := tenantConfig(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewRegistry(cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTenantsSetRemove replaces one provider of n, and removes and
// re-adds another: each should cost the same at any n.
func BenchmarkTenantsSetRemove(b *testing.B) {
	for _, n := range tenantSizes {
		reg, err := NewRegistry(tenantConfig(n))
		if err != nil {
			b.Fatal(err)
		}
		pcs := []ProviderConfig{
			{Issuer: "https://tenant000500.example.com", ClientID: "c", ClientSecret: "s"},
			{Issuer: "https://tenant000500.example.com", ClientID: "c2", ClientSecret: "s"},
		}
		b.Run(fmt.Sprintf("set/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := reg.Set("t000500", pcs[i%2]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("remove+add/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				reg.Remove("t000501")
				if err := reg.Set("t000501", ProviderConfig{Issuer: "https://tenant000501.example.com", ClientID: "c", ClientSecret: "s"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTenantsHeap reports the heap of an idle provider (configured, never
// used) at 10,000 providers. Run with -v to read it; it fails past the
// issue's goal of 2 KiB.
func TestTenantsHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 10,000 providers")
	}
	const n = 10_000
	cfg := tenantConfig(n)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	began := time.Now()
	reg, err := NewRegistry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(began)
	per := (heap() - before) / n
	runtime.KeepAlive(reg)
	t.Logf("%d providers: NewRegistry %v, %d B per idle provider", n, built, per)
	if per > 2048 {
		t.Errorf("%d B per idle provider, want ≤ 2048", per)
	}
}
