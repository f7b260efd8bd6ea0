package sessiontest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/session"
)

// NewHostStore returns an empty host store on the clock now (providers
// are random, so a store over a shared backend may be reused).
type NewHostStore func(t *testing.T, now func() time.Time) session.HostStore

// HostStore runs the host-store contract against stores from newStore.
func HostStore(t *testing.T, newStore NewHostStore) {
	setup := func(t *testing.T) (session.HostStore, *clock.Fake, string) {
		clk := clock.NewFake(Start)
		return newStore(t, clk.Now), clk, "oidc:" + rand.Text()[:8]
	}
	ctx := context.Background()
	t.Run("PutGet", func(t *testing.T) {
		s, _, provider := setup(t)
		h := &session.Host{AccountID: "acct-1", Provider: provider, Subject: "alice", SID: "sid-1", IDToken: "sealed-1",
			RefreshToken: "sealed-2", Values: map[string]string{"name": "Alice"}, Created: Start, Seen: Start}
		key := rand.Text()
		if err := s.Put(ctx, key, h, Start.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got.AccountID != h.AccountID || got.Provider != h.Provider || got.Subject != h.Subject || got.SID != h.SID ||
			got.IDToken != h.IDToken || got.RefreshToken != h.RefreshToken || got.Values["name"] != "Alice" ||
			!got.Created.Equal(h.Created) || !got.Seen.Equal(h.Seen) {
			t.Fatalf("got %#v (tokens %q %q), want %#v", got, got.IDToken, got.RefreshToken, h)
		}
		if _, err := s.Get(ctx, rand.Text()); !errors.Is(err, session.ErrNoSession) {
			t.Fatalf("unknown key: %v, want ErrNoSession", err)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		s, clk, provider := setup(t)
		key := rand.Text()
		if err := s.Put(ctx, key, &session.Host{Provider: provider, Subject: "bob"}, Start.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(59 * time.Second)
		if _, err := s.Get(ctx, key); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		clk.Advance(time.Second)
		if _, err := s.Get(ctx, key); !errors.Is(err, session.ErrNoSession) {
			t.Fatalf("at expiry: %v, want ErrNoSession", err)
		}
	})
	t.Run("DeleteAndDeleteMatching", func(t *testing.T) {
		s, _, provider := setup(t)
		other := provider + "-other"
		put := func(p, sub, sid string) string {
			t.Helper()
			key := rand.Text()
			if err := s.Put(ctx, key, &session.Host{Provider: p, Subject: sub, SID: sid}, Start.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			return key
		}
		a1, a2, b, c, elsewhere := put(provider, "alice", "s1"), put(provider, "alice", "s2"), put(provider, "bob", "s3"),
			put(provider, "carol", "s4"), put(other, "alice", "s1")
		if n, err := s.DeleteMatching(ctx, provider, "alice", ""); err != nil || n != 2 {
			t.Fatalf("by subject: %d, %v; want 2", n, err)
		}
		if n, err := s.DeleteMatching(ctx, provider, "", "s3"); err != nil || n != 1 {
			t.Fatalf("by sid: %d, %v; want 1", n, err)
		}
		if n, err := s.DeleteMatching(ctx, provider, "", ""); err != nil || n != 0 {
			t.Fatalf("empty subject and sid: %d, %v; want 0", n, err)
		}
		for key, live := range map[string]bool{a1: false, a2: false, b: false, c: true, elsewhere: true} {
			if _, err := s.Get(ctx, key); (err == nil) != live {
				t.Fatalf("after the deletes, a session live=%v answered %v", live, err)
			}
		}
		if err := s.Delete(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, c); err != nil {
			t.Fatalf("deleting twice: %v, want nil", err)
		}
		if _, err := s.Get(ctx, c); !errors.Is(err, session.ErrNoSession) {
			t.Fatalf("after Delete: %v", err)
		}
	})
	t.Run("PutReplacesTheIndex", func(t *testing.T) {
		s, _, provider := setup(t)
		key := rand.Text()
		s.Put(ctx, key, &session.Host{Provider: provider, Subject: "alice", SID: "s1"}, Start.Add(time.Hour))
		s.Put(ctx, key, &session.Host{Provider: provider, Subject: "bob", SID: "s2"}, Start.Add(time.Hour))
		if n, _ := s.DeleteMatching(ctx, provider, "alice", "s1"); n != 0 {
			t.Fatalf("the replaced record still matched (%d)", n)
		}
		if n, _ := s.DeleteMatching(ctx, provider, "bob", ""); n != 1 {
			t.Fatalf("the new record did not match (%d)", n)
		}
	})
	t.Run("ConcurrentPutsAndEnd", func(t *testing.T) {
		s, _, provider := setup(t)
		var wg sync.WaitGroup
		keys := make([]string, Concurrency)
		for i := range Concurrency {
			keys[i] = rand.Text()
			wg.Go(func() {
				if err := s.Put(ctx, keys[i], &session.Host{Provider: provider, Subject: "alice",
					SID: fmt.Sprint("s", i)}, Start.Add(time.Hour)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n, err := s.DeleteMatching(ctx, provider, "alice", ""); err != nil || n != Concurrency {
			t.Fatalf("ended %d, %v; want %d", n, err, Concurrency)
		}
		for _, k := range keys {
			if _, err := s.Get(ctx, k); !errors.Is(err, session.ErrNoSession) {
				t.Fatalf("a session survived its logout: %v", err)
			}
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		s, _, provider := setup(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		key := rand.Text()
		if err := s.Put(cctx, key, &session.Host{Provider: provider, Subject: "x"}, Start.Add(time.Hour)); err == nil {
			t.Fatal("Put with a cancelled context succeeded")
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, session.ErrNoSession) {
			t.Fatalf("a cancelled Put was recorded: %v", err)
		}
	})
}
