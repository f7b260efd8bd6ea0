package exampleapp

import (
	"crypto/rand"
	"net/http"
	"sync"
	"time"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/federation"
)

// sessionLifetime is how long a host session lasts.
const sessionLifetime = 12 * time.Hour

// hostSession is the example's own session: what it needs for /, /me and
// logout. The ID token is kept only as the logout hint; SID (the
// provider's session) lets a back-channel logout find the session.
type hostSession struct {
	AccountID string
	Provider  string
	User      claims.User
	IDToken   federation.Secret
	SID       string
	expires   time.Time
}

// sessions is an in-memory session store behind a random session ID in an
// HttpOnly, SameSite=Lax cookie (Secure, with the __Host- prefix, on https).
type sessions struct {
	cookie string
	secure bool

	mu sync.Mutex
	m  map[string]*hostSession
}

func newSessions(secure bool) *sessions {
	name := "session"
	if secure {
		name = "__Host-session"
	}
	return &sessions{cookie: name, secure: secure, m: map[string]*hostSession{}}
}

func (s *sessions) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// start replaces any session of the browser with a new one under a fresh
// ID, so a session ID planted before sign-in is never promoted.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, hs hostSession) {
	id := rand.Text()
	now := time.Now()
	hs.expires = now.Add(sessionLifetime)
	s.mu.Lock()
	if c, err := r.Cookie(s.cookie); err == nil {
		delete(s.m, c.Value)
	}
	for k, v := range s.m { // cheap at example scale; a real store expires entries itself
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[id] = &hs
	s.mu.Unlock()
	s.setCookie(w, id, int(sessionLifetime/time.Second))
}

// get returns the browser's live session, or nil.
func (s *sessions) get(r *http.Request) *hostSession {
	c, err := r.Cookie(s.cookie)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.m[c.Value]
	if hs == nil || time.Now().After(hs.expires) {
		return nil
	}
	cp := *hs
	return &cp
}

// end deletes the browser's session and cookie and returns what it was.
func (s *sessions) end(w http.ResponseWriter, r *http.Request) *hostSession {
	c, err := r.Cookie(s.cookie)
	if err != nil {
		return nil
	}
	s.setCookie(w, "", -1)
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.m[c.Value]
	delete(s.m, c.Value)
	return hs
}

// endMatching ends every session signed in through provider whose subject
// is sub or whose provider session is sid (an empty value matches
// nothing), as a back-channel logout asks, and returns how many ended.
func (s *sessions) endMatching(provider, sub, sid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, hs := range s.m {
		if hs.Provider == provider && (sub != "" && hs.User.Subject == sub || sid != "" && hs.SID == sid) {
			delete(s.m, k)
			n++
		}
	}
	return n
}
