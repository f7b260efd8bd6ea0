package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
)

// Host is the server-side record of a signed-in browser: what a host
// application needs after sign-in, and what back-channel logout needs to
// find it. IDToken (the logout hint) and RefreshToken are sealed before
// they reach the [HostStore] and never printed.
type Host struct {
	AccountID    string
	Provider     string // registry key, "oidc:<name>"; "" for a session without one (anonymous)
	Subject      string // the provider's sub
	SID          string // the provider's session, for back-channel logout by sid
	IDToken      string // kept as id_token_hint for RP-initiated logout
	RefreshToken string // kept only when the host sets it
	// Values are the host's own small values (a display name); not secret.
	Values map[string]string
	// Created and Seen are set by [Sessions].
	Created, Seen time.Time
}

// String prints the session without its tokens.
func (h Host) String() string {
	return fmt.Sprintf("session.Host{Account:%s Provider:%s Subject:%s SID:%s tokens:[redacted]}", h.AccountID,
		h.Provider, h.Subject, h.SID)
}

// GoString is String.
func (h Host) GoString() string { return h.String() }

// LogValue logs the session without its tokens.
func (h Host) LogValue() slog.Value {
	return slog.GroupValue(slog.String("account", h.AccountID), slog.String("provider", h.Provider),
		slog.String("subject", h.Subject), slog.String("sid", h.SID))
}

// ErrNoSession: no live session has this ID.
var ErrNoSession = errors.New("session: no such session")

// HostStore keeps host sessions for [Sessions], by a key that is the
// SHA-256 of the session ID (the ID itself never reaches the store). Put
// stores h until expires (replacing any record of key); Get returns it, or
// [ErrNoSession]; Delete removes it (no error when absent); DeleteMatching
// removes every session of provider whose Subject is subject or whose SID
// is sid (an empty value matches nothing) and returns how many. Errors
// other than ErrNoSession mean the store cannot answer; wrap
// [ErrUnavailable]. session/sessiontest.HostStore is the conformance kit.
type HostStore interface {
	Put(ctx context.Context, key string, h *Host, expires time.Time) error
	Get(ctx context.Context, key string) (*Host, error)
	Delete(ctx context.Context, key string) error
	DeleteMatching(ctx context.Context, provider, subject, sid string) (int, error)
}

// SessionsConfig configures [Sessions].
type SessionsConfig struct {
	Store HostStore // default: a MemoryHostStore
	// Keys seal the tokens in each session (32 bytes each; the first
	// seals, all open).
	Keys [][]byte
	// Secure marks the cookie Secure and names it __Host-session; on http
	// (a loopback host) it is named session.
	Secure bool
	// Idle ends a session unused this long. Default: 2 hours.
	Idle time.Duration
	// Absolute ends a session this long after sign-in, used or not.
	// Default: 12 hours.
	Absolute time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Sessions manages host sessions: an opaque random ID in an HttpOnly,
// SameSite=Lax cookie, a new one at every sign-in (so a planted ID is
// never promoted), idle and absolute lifetimes, and an end that a
// back-channel logout reaches on every instance sharing the store.
type Sessions struct {
	cfg    SessionsConfig
	codec  *Codec
	cookie string
}

// NewSessions returns a session manager for cfg.
func NewSessions(cfg SessionsConfig) (*Sessions, error) {
	codec, err := NewCodec(cfg.Keys...)
	if err != nil {
		return nil, err
	}
	cfg.Now = clock.Or(cfg.Now)
	if cfg.Idle <= 0 {
		cfg.Idle = 2 * time.Hour
	}
	if cfg.Absolute <= 0 {
		cfg.Absolute = 12 * time.Hour
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryHostStore(cfg.Now)
	}
	name := "session"
	if cfg.Secure {
		name = "__Host-session"
	}
	return &Sessions{cfg: cfg, codec: codec, cookie: name}, nil
}

// hostKey is the store key of a session ID.
func hostKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func (m *Sessions) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: m.cookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: m.cfg.Secure, SameSite: http.SameSiteLaxMode})
}

// Start ends the browser's current session, if any, and starts h under a
// new ID.
func (m *Sessions) Start(w http.ResponseWriter, r *http.Request, h Host) error {
	ctx := r.Context()
	if c, err := r.Cookie(m.cookie); err == nil {
		if err := m.cfg.Store.Delete(ctx, hostKey(c.Value)); err != nil {
			return err
		}
	}
	now := m.cfg.Now()
	h.Created, h.Seen = now, now
	sealed := m.seal(h)
	id := rand.Text() + rand.Text() // 256 bits
	if err := m.cfg.Store.Put(ctx, hostKey(id), &sealed, m.expiry(h)); err != nil {
		return err
	}
	m.setCookie(w, id, int(m.cfg.Absolute/time.Second))
	return nil
}

// expiry is when h ends unless used again.
func (m *Sessions) expiry(h Host) time.Time {
	return minTime(h.Seen.Add(m.cfg.Idle), h.Created.Add(m.cfg.Absolute))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Get returns the browser's live session, or [ErrNoSession]. A use more
// than a minute after the last one extends the idle lifetime (one write a
// minute at most).
func (m *Sessions) Get(r *http.Request) (*Host, error) {
	c, err := r.Cookie(m.cookie)
	if err != nil {
		return nil, ErrNoSession
	}
	key := hostKey(c.Value)
	h, err := m.cfg.Store.Get(r.Context(), key)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	if !now.Before(m.expiry(*h)) {
		return nil, ErrNoSession
	}
	if now.Sub(h.Seen) >= time.Minute {
		h.Seen = now
		if err := m.cfg.Store.Put(r.Context(), key, h, m.expiry(*h)); err != nil {
			return nil, err
		}
	}
	open, err := m.open(*h)
	if err != nil {
		return nil, ErrNoSession // sealed with a key no longer configured
	}
	return &open, nil
}

// End ends the browser's session and clears its cookie.
func (m *Sessions) End(w http.ResponseWriter, r *http.Request) error {
	c, err := r.Cookie(m.cookie)
	if err != nil {
		return nil
	}
	m.setCookie(w, "", -1)
	return m.cfg.Store.Delete(r.Context(), hostKey(c.Value))
}

// EndMatching ends every session of provider whose subject or sid
// matches, as a back-channel logout asks (federation.LogoutEvent's
// Provider, Subject and SID), on every instance sharing the store.
func (m *Sessions) EndMatching(ctx context.Context, provider, subject, sid string) (int, error) {
	if provider == "" || subject == "" && sid == "" {
		return 0, nil
	}
	return m.cfg.Store.DeleteMatching(ctx, provider, subject, sid)
}

// seal returns h with its tokens sealed.
func (m *Sessions) seal(h Host) Host {
	if h.IDToken != "" {
		h.IDToken = m.codec.Seal([]byte(h.IDToken), "session-id-token")
	}
	if h.RefreshToken != "" {
		h.RefreshToken = m.codec.Seal([]byte(h.RefreshToken), "session-refresh-token")
	}
	return h
}

// open returns h with its tokens opened.
func (m *Sessions) open(h Host) (Host, error) {
	for _, f := range []struct {
		v       *string
		purpose string
	}{{&h.IDToken, "session-id-token"}, {&h.RefreshToken, "session-refresh-token"}} {
		if *f.v == "" {
			continue
		}
		b, err := m.codec.Open(*f.v, f.purpose)
		if err != nil {
			return Host{}, err
		}
		*f.v = string(b)
	}
	return h, nil
}
