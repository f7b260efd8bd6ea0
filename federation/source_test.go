package federation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/internal/clock"
)

// testSource is a ProviderSource over a map, counting its lookups. fail,
// when set, answers every lookup; block, when set, is waited for first.
type testSource struct {
	mu       sync.Mutex
	configs  map[string]federation.ProviderConfig
	calls    map[string]int // by name, and "iss:<issuer>"
	fail     error
	block    chan struct{}
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	sawCtx   chan error // when set, receives ctx's error after a block ends
}

func newTestSource() *testSource {
	return &testSource{configs: map[string]federation.ProviderConfig{}, calls: map[string]int{}}
}

func (s *testSource) put(name string, pc federation.ProviderConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configs[name] = pc
}

func (s *testSource) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// enter counts the call, honours block and fail.
func (s *testSource) enter(ctx context.Context, id string) error {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxSeen.Load()
		if n <= m || s.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	s.mu.Lock()
	s.calls[id]++
	block, fail := s.block, s.fail
	s.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			if s.sawCtx != nil {
				s.sawCtx <- ctx.Err()
			}
			return ctx.Err()
		}
	}
	return fail
}

func (s *testSource) Provider(ctx context.Context, name string) (federation.ProviderConfig, error) {
	if err := s.enter(ctx, name); err != nil {
		return federation.ProviderConfig{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pc, ok := s.configs[name]
	if !ok {
		return pc, fmt.Errorf("tenant %q: %w", name, federation.ErrNoProvider)
	}
	return pc, nil
}

// issuerSource adds lookups by issuer.
type issuerSource struct{ *testSource }

func (s issuerSource) ProvidersByIssuer(ctx context.Context, iss string) ([]string, error) {
	if err := s.enter(ctx, "iss:"+iss); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name, pc := range s.configs {
		if pc.Issuer == iss {
			names = append(names, name)
		}
	}
	return names, nil
}

// sourcedRP is a relying party whose acme comes from a testSource on a
// fake clock.
func sourcedRP(t *testing.T, cfg federation.SourceConfig) (*rp, *testSource, *clock.Fake) {
	t.Helper()
	src := newTestSource()
	if cfg.Source == nil {
		cfg.Source = src
	} else {
		src = cfg.Source.(issuerSource).testSource
	}
	clk := clock.NewFake(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	r := newRPWith(t, rpOptions{now: clk.Now, source: &cfg})
	r.op.SetClock(clk.Now)
	return r, src, clk
}

// status fetches u without following redirects and returns the status
// and the error code of a JSON error body.
func status(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, body := call(t, u, "Accept", "application/json")
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal([]byte(body), &e)
	return resp.StatusCode, e.Error
}

func TestSourceLoadsOnFirstUseOnce(t *testing.T) {
	r, src, _ := sourcedRP(t, federation.SourceConfig{})
	if keys := r.reg.Keys(); len(keys) != 0 {
		t.Fatalf("keys before first use %v, want none", keys)
	}
	for range 2 {
		if resp := r.signIn(newBrowser(t), "/next"); resp.StatusCode != http.StatusFound ||
			resp.Header.Get("Location") != "/next" {
			t.Fatalf("sign-in answered %d to %q; logs:\n%s", resp.StatusCode, resp.Header.Get("Location"), r.logs)
		}
	}
	if r.loginCount() != 2 || src.count("acme") != 1 {
		t.Fatalf("%d logins, %d source lookups; want 2 and 1", r.loginCount(), src.count("acme"))
	}
	if keys := r.reg.Keys(); len(keys) != 1 || keys[0] != "oidc:acme" {
		t.Fatalf("keys %v, want [oidc:acme]", keys)
	}
}

func TestSourceUnknownNamesCostOneLookupPerTTL(t *testing.T) {
	r, src, clk := sourcedRP(t, federation.SourceConfig{})
	for range 50 {
		if code, e := status(t, r.srv.URL+"/auth/oauth/oidc:nope"); code != http.StatusNotFound || e != "unknown_provider" {
			t.Fatalf("unknown name answered %d %q, want 404 unknown_provider", code, e)
		}
	}
	if n := src.count("nope"); n != 1 {
		t.Fatalf("%d source lookups for 50 requests, want 1", n)
	}
	// A name that cannot be a provider's is refused without asking.
	if code, _ := status(t, r.srv.URL+"/auth/oauth/oidc:NO%20PE"); code != http.StatusNotFound || src.count("NO PE") != 0 {
		t.Fatalf("invalid name answered %d after %d lookups, want 404 after none", code, src.count("NO PE"))
	}
	clk.Advance(federation.DefaultSourceNegativeTTL + time.Second)
	status(t, r.srv.URL+"/auth/oauth/oidc:nope")
	if n := src.count("nope"); n != 2 {
		t.Fatalf("%d lookups after the negative TTL, want 2", n)
	}
	// Added at the source: Forget makes it usable before the TTL ends.
	src.put("nope", federation.ProviderConfig{Issuer: r.op.Issuer(), ClientID: "client-1", ClientSecret: "s3cret-value"})
	if code, _ := status(t, r.srv.URL+"/auth/oauth/oidc:nope"); code != http.StatusNotFound {
		t.Fatalf("within the negative TTL answered %d, want 404", code)
	}
	r.reg.Forget("nope")
	if _, err := r.reg.Load(context.Background(), "nope"); err != nil {
		t.Fatalf("after Forget: %v", err)
	}
}

func TestSourceNegativeCacheIsBounded(t *testing.T) {
	r, src, _ := sourcedRP(t, federation.SourceConfig{NegativeSize: 2})
	for _, name := range []string{"a", "b", "c", "a"} {
		r.reg.Load(context.Background(), name)
	}
	if n := src.count("a"); n != 2 {
		t.Fatalf("%d lookups of a, want 2: three names in a negative cache of 2 forget the oldest", n)
	}
}

func TestSourceFailureIsNotCached(t *testing.T) {
	r, src, _ := sourcedRP(t, federation.SourceConfig{})
	cause := errors.New("tenant database down")
	src.fail = cause
	for range 2 {
		if code, e := status(t, r.srv.URL+"/auth/oauth/oidc:acme"); code != http.StatusBadGateway || e != "provider_unavailable" {
			t.Fatalf("failing source answered %d %q, want 502 provider_unavailable", code, e)
		}
	}
	if n := src.count("acme"); n != 2 {
		t.Fatalf("%d lookups, want 2: a failure is not remembered", n)
	}
	_, err := r.reg.Load(context.Background(), "acme")
	var fe *federation.Error
	if !errors.As(err, &fe) || fe.Code != federation.CodeProviderUnavailable || !errors.Is(err, cause) {
		t.Fatalf("Load: %v, want provider_unavailable wrapping the cause", err)
	}
	src.fail = nil
	if resp := r.signIn(newBrowser(t), "/next"); resp.Header.Get("Location") != "/next" {
		t.Fatalf("after recovery the sign-in ended at %q", resp.Header.Get("Location"))
	}
}

func TestSourceHangEndsAtTheDeadline(t *testing.T) {
	r, src, _ := sourcedRP(t, federation.SourceConfig{Timeout: 50 * time.Millisecond})
	src.block = make(chan struct{}) // never closed
	src.sawCtx = make(chan error, 4)
	// No request deadline: the default timeout applies.
	if code, e := status(t, r.srv.URL+"/auth/oauth/oidc:acme"); code != http.StatusBadGateway || e != "provider_unavailable" {
		t.Fatalf("hanging source answered %d %q, want 502 provider_unavailable", code, e)
	}
	if err := <-src.sawCtx; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("source saw %v, want its context's deadline", err)
	}
	// The caller's own deadline, here shorter than the default.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := r.reg.Load(ctx, "other")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load with a deadline: %v, want context.DeadlineExceeded", err)
	}
	if n := src.count("acme"); n != 1 {
		t.Fatalf("%d lookups, want 1", n)
	}
	status(t, r.srv.URL+"/auth/oauth/oidc:acme")
	if n := src.count("acme"); n != 2 {
		t.Fatalf("%d lookups after a timeout, want 2: nothing was cached", n)
	}
}

func TestSourceInvalidConfigIsLoggedAndNotCached(t *testing.T) {
	r, src, _ := sourcedRP(t, federation.SourceConfig{})
	src.put("acme", federation.ProviderConfig{Issuer: r.op.Issuer()}) // no clientId
	for range 2 {
		if code, e := status(t, r.srv.URL+"/auth/oauth/oidc:acme"); code != http.StatusBadGateway || e != "provider_unavailable" {
			t.Fatalf("invalid config answered %d %q, want 502 provider_unavailable", code, e)
		}
	}
	if n := src.count("acme"); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}
	var ce *federation.ConfigError
	found := false
	r.errs.mu.Lock()
	for _, err := range r.errs.errs {
		if errors.As(err, &ce) && ce.Provider == "acme" && ce.Field == "clientId" {
			found = true
		}
	}
	r.errs.mu.Unlock()
	if !found {
		t.Fatalf("no *ConfigError for acme's clientId logged:\n%s", r.logs)
	}
}

func TestSourceLookupsAreSharedAndLimited(t *testing.T) {
	r, src, _ := sourcedRP(t, federation.SourceConfig{MaxConcurrent: 3})
	src.block = make(chan struct{})
	for i := range 20 {
		src.put(fmt.Sprintf("t%d", i), federation.ProviderConfig{Issuer: r.op.Issuer(), ClientID: "c", ClientSecret: "s3cret-value"})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Go(func() {
			_, err := r.reg.Load(context.Background(), fmt.Sprintf("t%d", i%20))
			errs <- err
		})
	}
	for src.inFlight.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	close(src.block)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := src.maxSeen.Load(); m != 3 {
		t.Fatalf("%d lookups at once, want the limit, 3", m)
	}
	for i := range 20 {
		if n := src.count(fmt.Sprintf("t%d", i)); n != 1 {
			t.Fatalf("t%d looked up %d times by 3 concurrent callers, want 1", i, n)
		}
	}
}

func TestSourceTTLReloads(t *testing.T) {
	r, src, clk := sourcedRP(t, federation.SourceConfig{TTL: time.Hour})
	ctx := context.Background()
	p1, err := r.reg.Load(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	// Unchanged: the same provider carries on.
	if p2, err := r.reg.Load(ctx, "acme"); err != nil || p2 != p1 || src.count("acme") != 2 {
		t.Fatalf("reload: %v, same provider %v, %d lookups; want the same after 2", err, p2 == p1, src.count("acme"))
	}
	// A failing source keeps the loaded config.
	clk.Advance(time.Hour)
	src.fail = errors.New("down")
	if p3, err := r.reg.Load(ctx, "acme"); err != nil || p3 != p1 {
		t.Fatalf("reload while the source fails: %v, want the loaded provider", err)
	}
	// Gone at the source: removed.
	clk.Advance(time.Hour)
	src.fail = nil
	src.mu.Lock()
	delete(src.configs, "acme")
	src.mu.Unlock()
	if code, e := status(t, r.srv.URL+"/auth/oauth/oidc:acme"); code != http.StatusNotFound || e != "unknown_provider" {
		t.Fatalf("removed at the source: %d %q, want 404 unknown_provider", code, e)
	}
	if _, ok := r.reg.Lookup("oidc:acme"); ok {
		t.Fatal("a provider gone at the source is still registered")
	}
}

func TestSourceForgetKeepsFlowsOfAnUnchangedConfig(t *testing.T) {
	r, src, _ := sourcedRP(t, federation.SourceConfig{})
	b := newBrowser(t)
	// Start, then Forget before the callback: reloaded unchanged, the
	// flow completes.
	resp := b.get(r.srv.URL+"/auth/oauth/oidc:acme?redirectTo=/next", func(u *url.URL) bool {
		return u.Path == "/auth/oauth/oidc:acme/callback"
	})
	r.reg.Forget("acme")
	if _, ok := r.reg.Lookup("oidc:acme"); ok {
		t.Fatal("Forget left the provider registered")
	}
	cb, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	leaves := func(u *url.URL) bool { return u.Path == "/next" }
	if end := b.get(cb.String(), leaves); end.Header.Get("Location") != "/next" {
		t.Fatalf("callback after Forget ended at %q; logs:\n%s", end.Header.Get("Location"), r.logs)
	}
	// Changed while in flight: provider_changed.
	resp = b.get(r.srv.URL+"/auth/oauth/oidc:acme?redirectTo=/next", func(u *url.URL) bool {
		return u.Path == "/auth/oauth/oidc:acme/callback"
	})
	pc := src.configs["acme"]
	pc.Scopes = []string{"openid", "email"}
	src.put("acme", pc)
	r.reg.Forget("acme")
	cb, _ = resp.Request.URL.Parse(resp.Header.Get("Location"))
	end := b.get(cb.String(), leaves)
	loc, _ := url.Parse(end.Header.Get("Location"))
	if loc.Query().Get("error") != string(federation.CodeProviderChanged) {
		t.Fatalf("callback after a change ended at %q, want error=provider_changed", loc)
	}
}

func TestSourceDoesNotOverrideSet(t *testing.T) {
	r, src, _ := sourcedRP(t, federation.SourceConfig{})
	pc := federation.ProviderConfig{Issuer: r.op.Issuer(), ClientID: "client-1", ClientSecret: "s3cret-value"}
	if err := r.reg.Set("acme", pc); err != nil {
		t.Fatal(err)
	}
	r.reg.Forget("acme")
	if _, ok := r.reg.Lookup("oidc:acme"); !ok || src.count("acme") != 0 {
		t.Fatalf("Forget removed a Set provider (registered %v) or the source was asked (%d)", ok, src.count("acme"))
	}
}

// sourcedAPI is an API whose registry holds nothing but a source with
// tenant t1 of a.op; byIssuer makes the source an IssuerSource.
func sourcedAPI(t *testing.T, byIssuer bool) (*api, *testSource) {
	a := newAPI(t, nil)
	src := newTestSource()
	src.put("t1", federation.ProviderConfig{Issuer: a.op.Issuer(), ClientID: "web-1", ClientSecret: "s3cret-value",
		Audiences: []string{"api-1"}})
	var source federation.ProviderSource = src
	if byIssuer {
		source = issuerSource{src}
	}
	reg, err := federation.NewRegistry(federation.Config{}, federation.WithClock(a.clock.Now),
		federation.WithProviderSource(federation.SourceConfig{Source: source}))
	if err != nil {
		t.Fatal(err)
	}
	a.reg = reg
	return a, src
}

func TestSourceBearerByIssuer(t *testing.T) {
	a, src := sourcedAPI(t, true)
	reg := a.reg
	srv := a.serve(t, federation.BearerConfig{})
	for range 3 {
		if resp, body := call(t, srv.URL, "Authorization", "Bearer "+a.token(a.op, nil)); resp.StatusCode != http.StatusOK {
			t.Fatalf("token of a sourced provider: %d %s", resp.StatusCode, body)
		}
	}
	if n, m := src.count("iss:"+a.op.Issuer()), src.count("t1"); n != 1 || m != 1 {
		t.Fatalf("%d issuer and %d name lookups for 3 tokens, want 1 and 1", n, m)
	}
	// An issuer the source does not know: 401, asked once per TTL.
	for range 3 {
		resp, _ := call(t, srv.URL, "Authorization", "Bearer "+a.token(a.op2, nil))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unknown issuer answered %d, want 401", resp.StatusCode)
		}
	}
	if n := src.count("iss:" + a.op2.Issuer()); n != 1 {
		t.Fatalf("%d lookups of an unknown issuer, want 1", n)
	}
	_, err := mustBearer(t, reg, federation.BearerConfig{}).Verify(context.Background(), a.token(a.op2, nil))
	if !errors.Is(err, federation.ErrUnknownIssuer) {
		t.Fatalf("unknown issuer: %v, want ErrUnknownIssuer", err)
	}
	// A source that cannot answer: 503, as unreachable keys are.
	a.clock.Advance(2 * federation.DefaultSourceNegativeTTL)
	src.fail = errors.New("down")
	if resp, _ := call(t, srv.URL, "Authorization", "Bearer "+a.token(a.op2, nil)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("failing source answered %d, want 503", resp.StatusCode)
	}
}

func TestSourceBearerWithoutIssuerLookup(t *testing.T) {
	a, _ := sourcedAPI(t, false)
	reg := a.reg
	b := mustBearer(t, reg, federation.BearerConfig{})
	if _, err := b.Verify(context.Background(), a.token(a.op, nil)); !errors.Is(err, federation.ErrUnknownIssuer) {
		t.Fatalf("before Load: %v, want ErrUnknownIssuer", err)
	}
	if _, err := reg.Load(context.Background(), "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(context.Background(), a.token(a.op, nil)); err != nil {
		t.Fatalf("after Load: %v", err)
	}
}
