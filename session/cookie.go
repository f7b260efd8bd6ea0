package session

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/pkce"
)

// CookieConfig configures the cookies of a [CookieStore] or [MemoryStore].
type CookieConfig struct {
	// Keys seal the cookies (CookieStore only): 32 bytes each, the first
	// seals, all open.
	Keys [][]byte
	// Secure marks cookies Secure and names them with the __Host- prefix.
	// Set it unless the site is served over http on a loopback host.
	Secure bool
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// MaxConsumed bounds the set of consumed flow IDs kept to refuse
	// replays (CookieStore only). Default: 100 000.
	MaxConsumed int
}

func (c *CookieConfig) cookieName(state string) string {
	if c.Secure {
		return "__Host-oidcfed-" + state
	}
	return "oidcfed-" + state
}

func (c *CookieConfig) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode}
}

// takeCookie finds the flow cookie of state in r and deletes it from the
// browser, whatever the flow turns out to be: a flow is tried once.
func (c *CookieConfig) takeCookie(w http.ResponseWriter, r *http.Request, state string) (name, value string, err error) {
	if !validState(state) {
		return "", "", ErrNoFlow
	}
	name = c.cookieName(state)
	ck, err := r.Cookie(name)
	if err != nil {
		return "", "", ErrNoFlow
	}
	http.SetCookie(w, c.cookie(name, "", -1))
	return name, ck.Value, nil
}

// validState reports whether state can be part of a cookie name: the
// base64url values the library generates, of a sane length.
func validState(state string) bool {
	if len(state) < 16 || len(state) > 64 {
		return false
	}
	for i := 0; i < len(state); i++ {
		c := state[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// CookieStore seals each flow into a cookie of its own, named after its
// state, so parallel flows never clobber each other. A sealed cookie cannot
// be single-use by itself: the store also remembers consumed flow IDs until
// they expire, in a bounded set. When the set is full it forgets the oldest
// and from then on refuses every flow created before the forgotten one
// (failing closed). Several server instances need a shared store instead.
type CookieStore struct {
	cfg   CookieConfig
	codec *Codec

	mu        sync.Mutex
	consumed  *lru.Cache[string, time.Time] // state → flow creation time
	watermark time.Time                     // flows created at or before this are refused
}

// NewCookieStore returns a store for cfg.
func NewCookieStore(cfg CookieConfig) (*CookieStore, error) {
	codec, err := NewCodec(cfg.Keys...)
	if err != nil {
		return nil, err
	}
	cfg.Now = clock.Or(cfg.Now)
	if cfg.MaxConsumed <= 0 {
		cfg.MaxConsumed = 100_000
	}
	s := &CookieStore{cfg: cfg, codec: codec}
	s.consumed, _ = lru.NewWithEvict(cfg.MaxConsumed, func(_ string, created time.Time) {
		if created.After(s.watermark) { // called with s.mu held
			s.watermark = created
		}
	})
	return s, nil
}

// SecureCookies reports whether the store's cookies are Secure.
func (s *CookieStore) SecureCookies() bool { return s.cfg.Secure }

// sealedFlow is a FlowState as sealed in its cookie, kept short so that the
// cookie stays under 1 KiB with a 512-byte redirectTo.
type sealedFlow struct {
	Provider   string `json:"p"`
	Nonce      string `json:"n"`
	Verifier   string `json:"v"`
	RedirectTo string `json:"r,omitempty"`
	Mode       Mode   `json:"m,omitempty"`
	AccountID  string `json:"a,omitempty"`
	Created    int64  `json:"c"`
	Version    string `json:"pv,omitempty"`
}

// Save seals f into its cookie.
func (s *CookieStore) Save(w http.ResponseWriter, r *http.Request, f *FlowState) error {
	if !validState(f.State) {
		return fmt.Errorf("session: state must be 16-64 base64url characters")
	}
	name := s.cfg.cookieName(f.State)
	b, err := json.Marshal(sealedFlow{Provider: f.Provider, Nonce: f.Nonce, Verifier: f.Verifier.Reveal(),
		RedirectTo: f.RedirectTo, Mode: f.Mode, AccountID: f.AccountID, Created: f.Created.Unix(), Version: f.ProviderVersion})
	if err != nil {
		return err
	}
	c := s.cfg.cookie(name, s.codec.Seal(b, name), int(MaxAge/time.Second))
	if err := c.Valid(); err != nil {
		return fmt.Errorf("session: flow cookie: %w", err)
	}
	http.SetCookie(w, c)
	return nil
}

// Take opens the flow of state from its cookie, deletes the cookie and
// marks the flow consumed.
func (s *CookieStore) Take(w http.ResponseWriter, r *http.Request, state string) (*FlowState, error) {
	name, value, err := s.cfg.takeCookie(w, r, state)
	if err != nil {
		return nil, err
	}
	plain, err := s.codec.Open(value, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoFlow, err)
	}
	// The state is not inside: it is the cookie's name, which the seal binds.
	var sf sealedFlow
	if err := json.Unmarshal(plain, &sf); err != nil {
		return nil, ErrNoFlow
	}
	f := FlowState{Provider: sf.Provider, State: state, Nonce: sf.Nonce, Verifier: pkce.Verifier(sf.Verifier),
		RedirectTo: sf.RedirectTo, Mode: sf.Mode, AccountID: sf.AccountID, Created: time.Unix(sf.Created, 0),
		ProviderVersion: sf.Version}
	now := s.cfg.Now()
	if now.Sub(f.Created) >= MaxAge || f.Created.After(now.Add(time.Minute)) {
		return nil, ErrFlowExpired
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !f.Created.After(s.watermark) {
		return nil, fmt.Errorf("%w: the replay guard is full; flows older than %s are refused", ErrReplayed, s.watermark.UTC().Format(time.RFC3339))
	}
	if _, seen := s.consumed.Get(state); seen {
		return nil, ErrReplayed
	}
	s.consumed.Add(state, f.Created)
	return &f, nil
}
