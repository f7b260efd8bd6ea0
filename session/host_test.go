package session

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
)

func newSessions(t *testing.T, secure bool) (*Sessions, *MemoryHostStore, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	store := NewMemoryHostStore(clk.Now)
	m, err := NewSessions(SessionsConfig{Store: store, Keys: [][]byte{key1}, Secure: secure, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return m, store, clk
}

// start signs b in and returns the session ID the cookie holds.
func startSession(t *testing.T, m *Sessions, b *browser, h Host) string {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := m.Start(rec, b.request(), h); err != nil {
		t.Fatal(err)
	}
	b.store(rec)
	return b.cookies[m.cookie].Value
}

func TestSessionsStartGetEnd(t *testing.T) {
	m, store, _ := newSessions(t, false)
	b := newBrowser()
	first := startSession(t, m, b, Host{AccountID: "a1", Provider: "oidc:acme", Subject: "alice", SID: "s1",
		IDToken: "eyJ.id.token", RefreshToken: "refresh-secret"})
	second := startSession(t, m, b, Host{AccountID: "a1", Provider: "oidc:acme", Subject: "alice", IDToken: "eyJ.id.2"})
	if first == second || len(second) < 40 {
		t.Fatalf("sign-in kept the session ID (or it is short): %q → %q", first, second)
	}
	if store.Len() != 1 {
		t.Fatalf("%d sessions stored, want the old one ended: 1", store.Len())
	}
	c := b.cookies["session"]
	if !c.HttpOnly || c.Secure || c.Path != "/" {
		t.Fatalf("cookie %+v, want HttpOnly on / (not Secure on http)", c)
	}
	h, err := m.Get(b.request())
	if err != nil || h.AccountID != "a1" || h.IDToken != "eyJ.id.2" {
		t.Fatalf("Get: %v, %v", h, err)
	}
	// The store holds the tokens sealed, and nothing prints them.
	raw, _ := store.Get(context.Background(), hostKey(second))
	// "eyJ.id", not "eyJ": three characters can turn up in sealed base64.
	if strings.Contains(raw.IDToken, "eyJ.id") || raw.IDToken == "" {
		t.Fatalf("the store holds the ID token as %q, want it sealed", raw.IDToken)
	}
	for _, s := range []string{fmt.Sprint(*h), fmt.Sprintf("%#v", *h), fmt.Sprintf("%+v", *h)} {
		if strings.Contains(s, "eyJ.id") {
			t.Fatalf("printed %s", s)
		}
	}
	rec := httptest.NewRecorder()
	if err := m.End(rec, b.request()); err != nil {
		t.Fatal(err)
	}
	b.store(rec)
	if _, err := m.Get(b.request()); !errors.Is(err, ErrNoSession) || store.Len() != 0 {
		t.Fatalf("after End: %v, %d stored", err, store.Len())
	}
}

func TestSessionsSecureCookie(t *testing.T) {
	m, _, _ := newSessions(t, true)
	b := newBrowser()
	startSession(t, m, b, Host{AccountID: "a1"})
	if c := b.cookies["__Host-session"]; c == nil || !c.Secure {
		t.Fatalf("cookies %v, want a Secure __Host-session", b.cookies)
	}
}

func TestSessionsLifetimes(t *testing.T) {
	m, _, clk := newSessions(t, false)
	b := newBrowser()
	startSession(t, m, b, Host{AccountID: "a1"})
	for range 11 { // used every 59 minutes: idle never ends it, absolute does after 12 h
		clk.Advance(59 * time.Minute)
		if _, err := m.Get(b.request()); err != nil {
			t.Fatalf("a session used within its idle time ended at %v: %v", clk.Now().Sub(t0), err)
		}
	}
	clk.Advance(72 * time.Minute) // 12 h 1 min after sign-in, 72 min after the last use
	if _, err := m.Get(b.request()); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after 12 h: %v, want ErrNoSession (absolute lifetime)", err)
	}
	startSession(t, m, b, Host{AccountID: "a1"})
	clk.Advance(2 * time.Hour)
	if _, err := m.Get(b.request()); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after 2 h unused: %v, want ErrNoSession (idle lifetime)", err)
	}
}

func TestSessionsEndMatching(t *testing.T) {
	m, _, _ := newSessions(t, false)
	alice1, alice2, bob := newBrowser(), newBrowser(), newBrowser()
	startSession(t, m, alice1, Host{Provider: "oidc:acme", Subject: "alice", SID: "s1"})
	startSession(t, m, alice2, Host{Provider: "oidc:acme", Subject: "alice", SID: "s2"})
	startSession(t, m, bob, Host{Provider: "oidc:acme", Subject: "bob", SID: "s3"})
	if n, err := m.EndMatching(context.Background(), "oidc:acme", "", "s1"); err != nil || n != 1 {
		t.Fatalf("by sid: %d, %v", n, err)
	}
	if n, _ := m.EndMatching(context.Background(), "oidc:other", "alice", ""); n != 0 {
		t.Fatalf("another provider's subject ended %d", n)
	}
	if n, _ := m.EndMatching(context.Background(), "oidc:acme", "alice", ""); n != 1 {
		t.Fatalf("by subject: %d, want alice's remaining session", n)
	}
	if _, err := m.Get(bob.request()); err != nil {
		t.Fatalf("bob's session ended: %v", err)
	}
}
