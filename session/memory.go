package session

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/internal/randid"
)

// ErrFull: the store holds as many pending flows as it may, none of them
// expired. The handler answers 503 temporarily_unavailable; the flows in
// the store expire within [MaxAge], so the condition ends by itself.
var ErrFull = errors.New("session: too many sign-ins are pending; try again in a few minutes")

// MemoryStore keeps flows in this process, at most MaxFlows of them. Each
// flow is bound to the browser that started it by a random value in a
// cookie, so a state alone cannot be completed elsewhere (login CSRF, RFC
// 6749 §10.12); a browser keeps at most [MaxPendingFlows] of them. When
// the store is full, Save first drops expired flows and then refuses the
// new one with [ErrFull]: it never evicts another browser's live flow.
// Use it for one server instance; several need a shared store.
type MemoryStore struct {
	cfg     MemoryConfig
	cookies flowCookies

	mu sync.Mutex
	// flows maps state → flow, oldest first: it is only read with Peek,
	// which keeps insertion order, and flows are saved as they are created.
	flows *lru.Cache[string, memoryFlow]
}

type memoryFlow struct {
	flow    FlowState
	binding string
}

// MemoryConfig configures a [MemoryStore].
type MemoryConfig struct {
	// Secure marks the binding cookies Secure and names them with the
	// __Host- prefix. Set it unless the site is served over http on a
	// loopback host.
	Secure bool
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// MaxFlows bounds the flows the store holds (about 550 bytes each plus
	// the redirectTo, at most 512: 10 000 take 5 to 10 MiB). Default:
	// 10 000.
	MaxFlows int
}

// NewMemoryStore returns a store for cfg.
func NewMemoryStore(cfg MemoryConfig) *MemoryStore {
	cfg.Now = clock.Or(cfg.Now)
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = 10_000
	}
	flows, _ := lru.New[string, memoryFlow](cfg.MaxFlows)
	return &MemoryStore{cfg: cfg, cookies: flowCookies{secure: cfg.Secure}, flows: flows}
}

// SecureCookies reports whether the store's cookies are Secure.
func (s *MemoryStore) SecureCookies() bool { return s.cfg.Secure }

// Save stores f and sets its binding cookie. It expires the browser's
// oldest flows beyond [MaxPendingFlows], and fails with [ErrFull] when the
// store holds MaxFlows live flows.
func (s *MemoryStore) Save(w http.ResponseWriter, r *http.Request, f *FlowState) error {
	if !validState(f.State) {
		return fmt.Errorf("session: state must be 16-64 base64url characters")
	}
	now := s.cfg.Now()
	binding := randid.New()
	s.mu.Lock()
	for {
		_, oldest, ok := s.flows.GetOldest()
		if !ok || now.Sub(oldest.flow.Created) < MaxAge {
			break
		}
		s.flows.RemoveOldest()
	}
	if s.flows.Len() >= s.cfg.MaxFlows {
		s.mu.Unlock()
		return ErrFull
	}
	s.flows.Add(f.State, memoryFlow{flow: *f, binding: binding})
	s.mu.Unlock()

	// A cookie is this browser's flow only when its binding matches:
	// knowing a state (it is in the authorization URL) must not let
	// another browser end someone's flow.
	own := map[string]string{} // cookie name → state
	expired := s.cookies.capFlows(w, r, func(name, value string) (time.Time, bool) {
		state := strings.TrimPrefix(strings.TrimPrefix(name, "__Host-"), "oidcfed-")
		mf, ok := s.flows.Peek(state)
		if !ok || subtle.ConstantTimeCompare([]byte(mf.binding), []byte(value)) != 1 {
			return time.Time{}, false
		}
		own[name] = state
		return mf.flow.Created, true
	})
	for _, name := range expired {
		if state, ok := own[name]; ok {
			s.flows.Remove(state)
		}
	}
	http.SetCookie(w, s.cookies.flowCookie(f, s.cookies.name(f.State), binding, int(MaxAge/time.Second)))
	return nil
}

// Take returns the flow of state once, to the browser holding its cookie.
func (s *MemoryStore) Take(w http.ResponseWriter, r *http.Request, state string) (*FlowState, error) {
	_, binding, err := s.cookies.take(w, r, state)
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
