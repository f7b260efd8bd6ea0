package discovery

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
)

func newSource(t testing.TB, issuer string) *Source {
	t.Helper()
	s, err := NewSource(issuer, "", Endpoints{})
	if err != nil {
		t.Fatalf("NewSource(%q): %v", issuer, err)
	}
	return s
}

// waitFor polls cond without sleeping on a clock the code reads; it bounds
// the wait generously so a broken implementation fails instead of hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCacheConcurrentCallersShareOneFetch(t *testing.T) {
	idp := newIdP(t)
	release := make(chan struct{})
	idp.set(func(p *testIdP) { p.docBlock = release })
	c := NewCache(CacheConfig{})
	src := newSource(t, idp.URL)

	const callers = 200
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			<-start // a barrier right before Get
			md, err := c.Get(context.Background(), src)
			if err == nil && md.Issuer != idp.URL {
				err = errors.New("wrong issuer " + md.Issuer)
			}
			errs <- err
		})
	}
	close(start)
	waitFor(t, "200 callers waiting on one fetch", func() bool { return c.waiting(src) == callers })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
	}
	if n := idp.discoveryHits.Load(); n != 1 {
		t.Fatalf("discovery fetched %d times, want 1", n)
	}
	// A later call is served from the cache.
	if _, err := c.Get(context.Background(), src); err != nil || idp.discoveryHits.Load() != 1 {
		t.Fatalf("cached Get: err %v, fetches %d, want nil and 1", err, idp.discoveryHits.Load())
	}
}

func TestCacheCancelledCallerDoesNotCancelFetch(t *testing.T) {
	idp := newIdP(t)
	release := make(chan struct{})
	idp.set(func(p *testIdP) { p.docBlock = release })
	c := NewCache(CacheConfig{})
	src := newSource(t, idp.URL)

	ctx, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() { _, err := c.Get(ctx, src); firstErr <- err }()
	waitFor(t, "the first caller to start the fetch", func() bool { return c.waiting(src) == 1 })

	const others = 5
	results := make(chan error, others)
	for range others {
		go func() { _, err := c.Get(context.Background(), src); results <- err }()
	}
	waitFor(t, "all callers waiting", func() bool { return c.waiting(src) == others+1 })
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v, want context.Canceled", err)
	}
	close(release)
	for range others {
		if err := <-results; err != nil {
			t.Fatalf("other caller: %v", err)
		}
	}
	if st := c.Status(src); st.LastError != "" || st.FetchedAt.IsZero() {
		t.Fatalf("status after fetch = %+v, want a success and no error cached", st)
	}
	if _, err := c.Get(context.Background(), src); err != nil || idp.discoveryHits.Load() != 1 {
		t.Fatalf("after cancellation: err %v, fetches %d; want cached success, 1 fetch", err, idp.discoveryHits.Load())
	}
}

func TestCacheTTLAndStaleIfError(t *testing.T) {
	idp := newIdP(t)
	clk := clock.NewFake(epoch)
	c := NewCache(CacheConfig{Now: clk.Now})
	src := newSource(t, idp.URL)
	ctx := context.Background()

	first, err := c.Get(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour - time.Second)
	if _, err := c.Get(ctx, src); err != nil || idp.discoveryHits.Load() != 1 {
		t.Fatalf("within the TTL: err %v, fetches %d, want 1", err, idp.discoveryHits.Load())
	}
	clk.Advance(time.Second) // exactly at the TTL: expired
	if _, err := c.Get(ctx, src); err != nil || idp.discoveryHits.Load() != 2 {
		t.Fatalf("at the TTL: err %v, fetches %d, want a refetch (2)", err, idp.discoveryHits.Load())
	}

	idp.set(func(p *testIdP) { p.docFail = true })
	clk.Advance(time.Hour + time.Minute)
	md, err := c.Get(ctx, src)
	if err != nil || md.Issuer != first.Issuer {
		t.Fatalf("past the TTL with the server failing: %v, want the stale document", err)
	}
	if st := c.Status(src); !st.Stale || st.LastError == "" {
		t.Fatalf("status = %+v, want stale with the last error", st)
	}
	hits := idp.discoveryHits.Load()
	clk.Advance(5 * time.Second) // within the negative TTL: no new fetch
	if _, err := c.Get(ctx, src); err != nil || idp.discoveryHits.Load() != hits {
		t.Fatalf("within the negative TTL: err %v, fetches %d, want %d", err, idp.discoveryHits.Load(), hits)
	}

	clk.Advance(24*time.Hour - time.Minute) // 24 h past expiry
	_, err = c.Get(ctx, src)
	if !errors.Is(err, ErrHTTPStatus) {
		t.Fatalf("24 h past expiry: %v, want the fetch error (ErrHTTPStatus)", err)
	}
}

func TestCacheNegativeEntryExpires(t *testing.T) {
	idp := newIdP(t)
	idp.set(func(p *testIdP) { p.docFail = true })
	clk := clock.NewFake(epoch)
	c := NewCache(CacheConfig{Now: clk.Now})
	src := newSource(t, idp.URL)
	ctx := context.Background()

	if _, err := c.Get(ctx, src); !errors.Is(err, ErrHTTPStatus) {
		t.Fatalf("first Get: %v, want ErrHTTPStatus", err)
	}
	clk.Advance(10*time.Second - time.Millisecond)
	if _, err := c.Get(ctx, src); !errors.Is(err, ErrHTTPStatus) || idp.discoveryHits.Load() != 1 {
		t.Fatalf("within 10 s: err %v, fetches %d; want the cached error and 1 fetch", err, idp.discoveryHits.Load())
	}
	idp.set(func(p *testIdP) { p.docFail = false })
	clk.Advance(time.Millisecond)
	if _, err := c.Get(ctx, src); err != nil || idp.discoveryHits.Load() != 2 {
		t.Fatalf("after 10 s: err %v, fetches %d; want a refetch that succeeds", err, idp.discoveryHits.Load())
	}
}

func TestCacheManualEndpointsSkipDiscovery(t *testing.T) {
	src, err := NewSource("https://idp.example", "", Endpoints{
		Authorization: "https://idp.example/a", Token: "https://idp.example/t", JWKS: "https://idp.example/k",
	})
	if err != nil {
		t.Fatal(err)
	}
	md, err := NewCache(CacheConfig{}).Get(context.Background(), src)
	if err != nil || md.TokenEndpoint != "https://idp.example/t" || md.Issuer != "https://idp.example" {
		t.Fatalf("Get = %+v, %v; want the manual endpoints without a fetch", md, err)
	}
}

func TestCacheOverridesApplyAfterDiscovery(t *testing.T) {
	idp := newIdP(t)
	src, err := NewSource(idp.URL, "", Endpoints{Userinfo: idp.URL + "/custom-userinfo"})
	if err != nil {
		t.Fatal(err)
	}
	md, err := NewCache(CacheConfig{}).Get(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if md.UserinfoEndpoint != idp.URL+"/custom-userinfo" || md.TokenEndpoint != idp.URL+"/token" {
		t.Fatalf("metadata = %+v, want the userinfo override and the discovered token endpoint", md)
	}
}
