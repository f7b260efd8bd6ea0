package exampleapp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/session"
)

// hostSession is what the example's pages need from a session: the
// account, and the identity and provider session it signed in with. The
// ID token is kept only as the logout hint, the refresh token only to be
// revoked at sign-out.
type hostSession struct {
	AccountID string
	Provider  string
	User      claims.User
	IDToken   federation.Secret
	SID       string
	// RefreshToken is revoked at sign-out where the provider allows it.
	RefreshToken federation.Secret
}

// sessions adapts session.Sessions (a random ID in an HttpOnly, SameSite=Lax
// cookie, __Host-session on https; idle 2 h, absolute 12 h; tokens sealed)
// to the example's pages. The user's claims travel in Values as JSON.
type sessions struct {
	m   *session.Sessions
	log *slog.Logger
}

func newSessions(key []byte, secure bool, store session.HostStore, log *slog.Logger) (*sessions, error) {
	m, err := session.NewSessions(session.SessionsConfig{Store: store, Keys: [][]byte{key}, Secure: secure})
	if err != nil {
		return nil, err
	}
	return &sessions{m: m, log: log}, nil
}

// start replaces the browser's session with a new one under a fresh ID,
// so a session ID planted before sign-in is never promoted.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, hs hostSession) error {
	h := session.Host{AccountID: hs.AccountID, Provider: hs.Provider, Subject: hs.User.Subject, SID: hs.SID,
		IDToken: hs.IDToken.Reveal(), RefreshToken: hs.RefreshToken.Reveal()}
	if hs.User.Subject != "" {
		user, err := json.Marshal(hs.User)
		if err != nil {
			return err
		}
		h.Values = map[string]string{"user": string(user)}
	}
	return s.m.Start(w, r, h)
}

// get returns the browser's live session, or nil.
func (s *sessions) get(r *http.Request) *hostSession {
	h, err := s.m.Get(r)
	if err != nil {
		if !errors.Is(err, session.ErrNoSession) {
			s.log.Warn("session store unavailable", "error", err)
		}
		return nil
	}
	hs := &hostSession{AccountID: h.AccountID, Provider: h.Provider, IDToken: federation.Secret(h.IDToken), SID: h.SID,
		RefreshToken: federation.Secret(h.RefreshToken)}
	if u := h.Values["user"]; u != "" {
		json.Unmarshal([]byte(u), &hs.User)
	}
	return hs
}

// end deletes the browser's session and cookie and returns what it was.
func (s *sessions) end(w http.ResponseWriter, r *http.Request) *hostSession {
	hs := s.get(r)
	if err := s.m.End(w, r); err != nil {
		s.log.Warn("ending the session failed", "error", err)
	}
	return hs
}

// endMatching ends every session signed in through provider whose subject
// is sub or whose provider session is sid, as a back-channel logout asks.
func (s *sessions) endMatching(ctx context.Context, provider, sub, sid string) (int, error) {
	return s.m.EndMatching(ctx, provider, sub, sid)
}
