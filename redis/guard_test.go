package oidcfedredis_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/pkce"
	oidcfedredis "github.com/oidcfed/oidcfed/redis"
	"github.com/oidcfed/oidcfed/redis/redistest"
	"github.com/oidcfed/oidcfed/session"
	"github.com/oidcfed/oidcfed/session/sessiontest"
)

func TestReplayGuardConformance(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	sessiontest.ReplayGuard(t, func(t *testing.T, now func() time.Time) session.ReplayGuard {
		return oidcfedredis.NewReplayGuard(rdb, oidcfedredis.Config{Now: now})
	})
}

// TestFlowStoreConformance: each instance has its own connection pool.
func TestFlowStoreConformance(t *testing.T) {
	srv := redistest.Start(t)
	sessiontest.FlowStore(t, func(t *testing.T, now func() time.Time) func() session.FlowStore {
		return func() session.FlowStore {
			guard := oidcfedredis.NewReplayGuard(srv.Client(), oidcfedredis.Config{Now: now})
			s, err := oidcfedredis.NewFlowStore(guard, session.CookieConfig{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)}})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// TestKeysAreHashes: no ID reaches Redis, only its hash, under the prefix,
// with an expiry.
func TestKeysAreHashes(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	g := oidcfedredis.NewReplayGuard(rdb, oidcfedredis.Config{Prefix: "app1:"})
	const secret = "flow:SECRETSTATEVALUE0123"
	if err := g.Claim(context.Background(), secret, time.Now().Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "app1:replay:") || strings.Contains(keys[0], "SECRET") {
		t.Fatalf("keys %q, want one app1:replay:<sha-256>", keys)
	}
	ttl := rdb.PTTL(context.Background(), keys[0]).Val()
	if ttl < 10*time.Minute || ttl > 11*time.Minute {
		t.Fatalf("key expires in %v, want the ID's 10 minutes plus 1", ttl)
	}
	if v := rdb.Get(context.Background(), keys[0]).Val(); strings.Contains(v, "SECRET") {
		t.Fatalf("value %q holds the ID", v)
	}
}

// TestRedisRestart: while Redis is down a callback fails with
// session.ErrUnavailable (the handler's 503), and nothing is half-written:
// after a restart new flows complete once.
func TestRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	clk := clock.NewFake(time.Now())
	guard := oidcfedredis.NewReplayGuard(srv.Client(), oidcfedredis.Config{Now: clk.Now})
	store, err := oidcfedredis.NewFlowStore(guard, session.CookieConfig{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	flow := func() (*session.FlowState, *httptest.ResponseRecorder) {
		f := &session.FlowState{Provider: "oidc:acme", State: strings.Repeat("s", 10) + pkce.NewVerifier().Reveal()[:20],
			Nonce: "nonce-value-123456", Verifier: pkce.NewVerifier(), RedirectTo: "/", Created: clk.Now().Truncate(time.Second)}
		rec := httptest.NewRecorder()
		if err := store.Save(rec, httptest.NewRequest("GET", "http://127.0.0.1/", nil), f); err != nil {
			t.Fatal(err)
		}
		return f, rec
	}
	take := func(f *session.FlowState, rec *httptest.ResponseRecorder) error {
		r := httptest.NewRequest("GET", "http://127.0.0.1/cb", nil)
		for _, c := range rec.Result().Cookies() {
			r.AddCookie(c)
		}
		_, err := store.Take(httptest.NewRecorder(), r, f.State)
		return err
	}
	inFlight, rec := flow()
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- take(inFlight, rec) }()
	select {
	case err := <-done:
		if !errors.Is(err, session.ErrUnavailable) {
			t.Fatalf("take while Redis is down: %v, want session.ErrUnavailable", err)
		}
	case <-ctx.Done():
		t.Fatal("take while Redis is down did not return within 5 s")
	}
	srv.Start()
	f, rec := flow()
	if err := take(f, rec); err != nil {
		t.Fatalf("take after the restart: %v", err)
	}
	if err := take(f, rec); !errors.Is(err, session.ErrReplayed) {
		t.Fatalf("second take after the restart: %v, want ErrReplayed", err)
	}
}

func TestHostStoreConformance(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	sessiontest.HostStore(t, func(t *testing.T, now func() time.Time) session.HostStore {
		return oidcfedredis.NewHostStore(rdb, oidcfedredis.Config{Now: now})
	})
}

// TestSessionsSurviveARestartWithPersistence: with appendonly on, a
// session acknowledged before Redis is killed is there after it restarts.
func TestSessionsSurviveARestartWithPersistence(t *testing.T) {
	srv := redistest.StartPersistent(t)
	m, err := session.NewSessions(session.SessionsConfig{Keys: [][]byte{bytes.Repeat([]byte{3}, 32)},
		Store: oidcfedredis.NewHostStore(srv.Client(), oidcfedredis.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := m.Start(rec, httptest.NewRequest("GET", "http://127.0.0.1/", nil),
		session.Host{AccountID: "acct-1", Provider: "oidc:acme", Subject: "alice", IDToken: "eyJ.id.token"}); err != nil {
		t.Fatal(err)
	}
	browser := httptest.NewRequest("GET", "http://127.0.0.1/me", nil)
	for _, c := range rec.Result().Cookies() {
		browser.AddCookie(c)
	}
	srv.Stop()
	if _, err := m.Get(browser); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("Get while Redis is down: %v, want session.ErrUnavailable", err)
	}
	srv.Start()
	h, err := m.Get(browser)
	if err != nil || h.AccountID != "acct-1" || h.IDToken != "eyJ.id.token" {
		t.Fatalf("after the restart: %v, %v; want the session", h, err)
	}
}

func TestValueStoreConformance(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	sessiontest.ValueStore(t, func(t *testing.T, now func() time.Time) session.ValueStore {
		return oidcfedredis.NewValueStore(rdb, oidcfedredis.Config{Now: now})
	})
}

// TestValueKeysAreHashes: a value's key reaches Redis only hashed, under
// the prefix, with Redis's own expiry a minute after the value's.
func TestValueKeysAreHashes(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	s := oidcfedredis.NewValueStore(rdb, oidcfedredis.Config{Prefix: "app1:"})
	const key = "requri:SECRETIDVALUE0123"
	if err := s.Put(context.Background(), key, []byte("v"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(context.Background(), "*").Result()
	if err != nil || len(keys) != 1 || !strings.HasPrefix(keys[0], "app1:value:") || strings.Contains(keys[0], "SECRET") {
		t.Fatalf("keys %q %v", keys, err)
	}
	if ttl := rdb.TTL(context.Background(), keys[0]).Val(); ttl < time.Minute || ttl > 2*time.Minute {
		t.Fatalf("TTL %v, want about 2 minutes", ttl)
	}
}
