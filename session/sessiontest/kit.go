// Package sessiontest holds conformance kits for the session package's
// store contracts: an implementation of [session.ReplayGuard] or
// [session.FlowStore] (in memory, Redis, SQL) runs them from its own
// tests, so that every store keeps the same promises.
//
//	func TestMyGuard(t *testing.T) {
//		sessiontest.ReplayGuard(t, func(t *testing.T, now func() time.Time) session.ReplayGuard {
//			return mystore.NewGuard(client, now)
//		})
//	}
package sessiontest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/pkce"
	"github.com/oidcfed/oidcfed/session"
)

// Start is the fake clock's start in every kit.
var Start = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// Concurrency is how many goroutines race for one ID or flow.
const Concurrency = 64

// NewGuard returns a guard on the clock now, empty (IDs are random, so a
// guard over a shared backend may be reused).
type NewGuard func(t *testing.T, now func() time.Time) session.ReplayGuard

// ReplayGuard runs the replay-guard contract against guards from newGuard.
func ReplayGuard(t *testing.T, newGuard NewGuard) {
	t.Run("ClaimOnce", func(t *testing.T) {
		g, _ := guard(t, newGuard)
		id, ctx := randomID("flow"), context.Background()
		until := Start.Add(10 * time.Minute)
		if err := g.Claim(ctx, id, until); err != nil {
			t.Fatalf("first claim: %v", err)
		}
		if err := g.Claim(ctx, id, until); !errors.Is(err, session.ErrReplayed) {
			t.Fatalf("second claim: %v, want session.ErrReplayed", err)
		}
		if err := g.Claim(ctx, randomID("flow"), until); err != nil {
			t.Fatalf("another ID: %v", err)
		}
	})
	t.Run("ConcurrentClaimers", func(t *testing.T) {
		g, _ := guard(t, newGuard)
		id := randomID("jti")
		var won, replayed atomic.Int32
		var wg sync.WaitGroup
		for range Concurrency {
			wg.Go(func() {
				switch err := g.Claim(context.Background(), id, Start.Add(time.Minute)); {
				case err == nil:
					won.Add(1)
				case errors.Is(err, session.ErrReplayed):
					replayed.Add(1)
				default:
					t.Errorf("claim: %v", err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 || replayed.Load() != Concurrency-1 {
			t.Fatalf("%d of %d claimers won and %d were refused, want exactly 1 and %d", won.Load(), Concurrency,
				replayed.Load(), Concurrency-1)
		}
	})
	t.Run("ExpiryOnTheInjectedClock", func(t *testing.T) {
		g, clk := guard(t, newGuard)
		id, ctx := randomID("jti"), context.Background()
		if err := g.Claim(ctx, id, Start.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(59 * time.Second)
		if err := g.Claim(ctx, id, Start.Add(2*time.Minute)); !errors.Is(err, session.ErrReplayed) {
			t.Fatalf("before until: %v, want session.ErrReplayed", err)
		}
		clk.Advance(time.Second)
		if err := g.Claim(ctx, id, clk.Now().Add(time.Minute)); err != nil {
			t.Fatalf("at until: %v, want the ID claimable again", err)
		}
	})
	t.Run("Release", func(t *testing.T) {
		g, _ := guard(t, newGuard)
		id, ctx := randomID("jti"), context.Background()
		until := Start.Add(time.Minute)
		if err := g.Claim(ctx, id, until); err != nil {
			t.Fatal(err)
		}
		if err := g.Release(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := g.Claim(ctx, id, until); err != nil {
			t.Fatalf("after Release: %v", err)
		}
		if err := g.Release(ctx, randomID("jti")); err != nil {
			t.Fatalf("releasing an ID never claimed: %v, want nil", err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		g, _ := guard(t, newGuard)
		id := randomID("flow")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := g.Claim(ctx, id, Start.Add(time.Minute)); err == nil || errors.Is(err, session.ErrReplayed) {
			t.Fatalf("claim with a cancelled context: %v, want the context's error", err)
		}
		if err := g.Claim(context.Background(), id, Start.Add(time.Minute)); err != nil {
			t.Fatalf("after a cancelled claim: %v, want nothing recorded", err)
		}
	})
}

func guard(t *testing.T, newGuard NewGuard) (session.ReplayGuard, *clock.Fake) {
	clk := clock.NewFake(Start)
	return newGuard(t, clk.Now), clk
}

func randomID(kind string) string { return kind + ":" + rand.Text() }

// NewFlowStores returns a function that makes store instances over one
// backend, on the clock now: what one instance saves, another takes (for
// a store of one process, it may return the same instance).
type NewFlowStores func(t *testing.T, now func() time.Time) func() session.FlowStore

// FlowStore runs the flow-store contract against stores from newStores.
func FlowStore(t *testing.T, newStores NewFlowStores) {
	t.Run("TakeOnceAnyInstance", func(t *testing.T) {
		clk := clock.NewFake(Start)
		instance := newStores(t, clk.Now)
		a, b := instance(), instance()
		br, f := newBrowser(), newFlow(clk.Now())
		br.save(t, a, f)
		got, err := br.take(b, f.State)
		if err != nil {
			t.Fatalf("take on another instance: %v", err)
		}
		if got.Nonce != f.Nonce || got.Verifier.Reveal() != f.Verifier.Reveal() || got.Provider != f.Provider ||
			got.RedirectTo != f.RedirectTo || !got.Created.Equal(f.Created) ||
			!slices.Equal(got.ACRValues, f.ACRValues) || got.MaxAge != f.MaxAge || got.FreshLogin != f.FreshLogin ||
			got.FormPost != f.FormPost || !bytes.Equal(got.DPoPKey, f.DPoPKey) {
			t.Fatalf("took %v, want %v", got, f)
		}
		if _, err := br.replay(a, f.State); !errors.Is(err, session.ErrReplayed) && !errors.Is(err, session.ErrNoFlow) {
			t.Fatalf("second take: %v, want ErrReplayed or ErrNoFlow", err)
		}
	})
	t.Run("ConcurrentTakers", func(t *testing.T) {
		clk := clock.NewFake(Start)
		instance := newStores(t, clk.Now)
		br, f := newBrowser(), newFlow(clk.Now())
		br.save(t, instance(), f)
		var won atomic.Int32
		var wg sync.WaitGroup
		for range Concurrency {
			s := instance()
			wg.Go(func() {
				if _, err := br.replay(s, f.State); err == nil {
					won.Add(1)
				} else if !errors.Is(err, session.ErrReplayed) && !errors.Is(err, session.ErrNoFlow) {
					t.Errorf("take: %v", err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d of %d concurrent takers got the flow, want exactly 1", won.Load(), Concurrency)
		}
	})
	t.Run("OtherBrowser", func(t *testing.T) {
		clk := clock.NewFake(Start)
		instance := newStores(t, clk.Now)
		s := instance()
		f := newFlow(clk.Now())
		newBrowser().save(t, s, f)
		if _, err := newBrowser().take(s, f.State); !errors.Is(err, session.ErrNoFlow) {
			t.Fatalf("take from a browser that did not start the flow: %v, want ErrNoFlow", err)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		clk := clock.NewFake(Start)
		instance := newStores(t, clk.Now)
		s := instance()
		br, f := newBrowser(), newFlow(clk.Now())
		br.save(t, s, f)
		clk.Advance(session.MaxAge)
		if _, err := br.take(s, f.State); !errors.Is(err, session.ErrFlowExpired) && !errors.Is(err, session.ErrNoFlow) {
			t.Fatalf("take after MaxAge: %v, want ErrFlowExpired or ErrNoFlow", err)
		}
	})
}

func newFlow(now time.Time) *session.FlowState {
	return &session.FlowState{Provider: "oidc:acme", State: rand.Text()[:22], Nonce: rand.Text()[:22],
		Verifier: pkce.NewVerifier(), RedirectTo: "/next", Mode: session.SignIn, Created: now.Truncate(time.Second),
		ACRValues: []string{"urn:mfa"}, MaxAge: 5 * time.Minute, FreshLogin: true,
		DPoPKey: []byte("a sealed key, for the round trip")}
}

// browser keeps cookies for one origin.
type browser struct {
	mu      sync.Mutex
	cookies map[string]*http.Cookie
}

func newBrowser() *browser { return &browser{cookies: map[string]*http.Cookie{}} }

func (b *browser) request() *http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/auth/oauth/oidc:acme/callback", nil)
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	return r
}

func (b *browser) keep(rec *httptest.ResponseRecorder) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
}

func (b *browser) save(t *testing.T, s session.FlowStore, f *session.FlowState) {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := s.Save(rec, b.request(), f); err != nil {
		t.Fatalf("save: %v", err)
	}
	b.keep(rec)
}

// take takes the flow and updates the browser's cookies.
func (b *browser) take(s session.FlowStore, state string) (*session.FlowState, error) {
	rec := httptest.NewRecorder()
	f, err := s.Take(rec, b.request(), state)
	b.keep(rec)
	return f, err
}

// replay takes the flow with the browser's cookies as they were: a
// replayed request, or one of several racing.
func (b *browser) replay(s session.FlowStore, state string) (*session.FlowState, error) {
	return s.Take(httptest.NewRecorder(), b.request(), state)
}
