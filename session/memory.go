package session

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/internal/randid"
)

// MemoryStore keeps flows in this process, at most MaxConsumed of them (the
// oldest are dropped first). Each flow is bound to the browser that started
// it by a random value in a cookie, so a state alone cannot be completed
// elsewhere (login CSRF, RFC 6749 §10.12). Use it for one server instance;
// several need a shared store.
type MemoryStore struct {
	cfg   CookieConfig
	flows *lru.Cache[string, memoryFlow]
}

type memoryFlow struct {
	flow    FlowState
	binding string
}

// NewMemoryStore returns a store for cfg (Keys are not used).
func NewMemoryStore(cfg CookieConfig) *MemoryStore {
	cfg.Now = clock.Or(cfg.Now)
	if cfg.MaxConsumed <= 0 {
		cfg.MaxConsumed = 100_000
	}
	flows, _ := lru.New[string, memoryFlow](cfg.MaxConsumed)
	return &MemoryStore{cfg: cfg, flows: flows}
}

// SecureCookies reports whether the store's cookies are Secure.
func (s *MemoryStore) SecureCookies() bool { return s.cfg.Secure }

// Save stores f and sets its binding cookie.
func (s *MemoryStore) Save(w http.ResponseWriter, r *http.Request, f *FlowState) error {
	if !validState(f.State) {
		return fmt.Errorf("session: state must be 16-64 base64url characters")
	}
	binding := randid.New()
	s.flows.Add(f.State, memoryFlow{flow: *f, binding: binding})
	http.SetCookie(w, s.cfg.cookie(s.cfg.cookieName(f.State), binding, int(MaxAge/time.Second)))
	return nil
}

// Take returns the flow of state once, to the browser holding its cookie.
func (s *MemoryStore) Take(w http.ResponseWriter, r *http.Request, state string) (*FlowState, error) {
	_, binding, err := s.cfg.takeCookie(w, r, state)
	if err != nil {
		return nil, err
	}
	mf, ok := s.flows.Peek(state)
	if !ok || subtle.ConstantTimeCompare([]byte(mf.binding), []byte(binding)) != 1 {
		return nil, ErrNoFlow
	}
	if !s.flows.Remove(state) { // a concurrent Take won
		return nil, ErrReplayed
	}
	if s.cfg.Now().Sub(mf.flow.Created) >= MaxAge {
		return nil, ErrFlowExpired
	}
	return &mf.flow, nil
}
