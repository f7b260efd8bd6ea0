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

// CookieConfig configures a [CookieStore].
type CookieConfig struct {
	// Keys seal the cookies: 32 bytes each, the first seals, all open.
	Keys [][]byte
	// Secure marks cookies Secure and names them with the __Host- prefix.
	// Set it unless the site is served over http on a loopback host.
	Secure bool
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// MaxConsumed bounds the set of consumed flow IDs the store keeps to
	// refuse replays, each until its flow expires (about 180 bytes an
	// entry: 100 000 take about 17 MiB). Default: 100 000.
	MaxConsumed int
}

// CookieStore seals each flow into a cookie of its own, named after its
// state, so parallel flows never clobber each other; a browser keeps at
// most [MaxPendingFlows] of them. A sealed cookie cannot be single-use by
// itself: the store also remembers consumed flow IDs until their flows
// expire, at most MaxConsumed of them. When the set is full it first
// drops the IDs of expired flows; only when none has expired does it forget
// the oldest, and then refuses every flow created at or before the
// forgotten one (failing closed). That refusal ends by itself: it reaches
// only flows older than the forgotten one, and they expire within
// [MaxAge]; a sign-in started again succeeds. Several server instances
// need a shared store instead.
type CookieStore struct {
	cfg     CookieConfig
	cookies flowCookies
	codec   *Codec

	mu sync.Mutex
	// consumed maps state → flow creation time, oldest-consumed first (it
	// is only read with Contains and Peek, which keep that order).
	consumed  *lru.Cache[string, time.Time]
	watermark time.Time // flows created at or before this are refused
	swept     time.Time // the last sweep of the whole set for expired flows
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
	s := &CookieStore{cfg: cfg, cookies: flowCookies{secure: cfg.Secure}, codec: codec}
	s.consumed, _ = lru.New[string, time.Time](cfg.MaxConsumed)
	return s, nil
}

// consume records state as consumed, with s.mu held. A full set first
// drops expired flows: those at its oldest end, and, at most once a
// minute, every other one (a slow flow consumed after a quick one). Only
// when still full does it forget the oldest live one and raise the
// watermark to its creation time.
func (s *CookieStore) consume(state string, created, now time.Time) {
	expired := func(c time.Time) bool { return now.Sub(c) >= MaxAge }
	for s.consumed.Len() >= s.cfg.MaxConsumed {
		_, c, _ := s.consumed.GetOldest()
		if expired(c) {
			s.consumed.RemoveOldest()
			continue
		}
		if now.Sub(s.swept) >= time.Minute {
			s.swept = now
			for _, k := range s.consumed.Keys() {
				if c, _ := s.consumed.Peek(k); expired(c) {
					s.consumed.Remove(k)
				}
			}
			continue
		}
		if c.After(s.watermark) {
			s.watermark = c
		}
		s.consumed.RemoveOldest()
	}
	s.consumed.Add(state, created)
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

// Save seals f into its cookie, and expires the browser's oldest flow
// cookies beyond [MaxPendingFlows].
func (s *CookieStore) Save(w http.ResponseWriter, r *http.Request, f *FlowState) error {
	if !validState(f.State) {
		return fmt.Errorf("session: state must be 16-64 base64url characters")
	}
	name := s.cookies.name(f.State)
	b, err := json.Marshal(sealedFlow{Provider: f.Provider, Nonce: f.Nonce, Verifier: f.Verifier.Reveal(),
		RedirectTo: f.RedirectTo, Mode: f.Mode, AccountID: f.AccountID, Created: f.Created.Unix(), Version: f.ProviderVersion})
	if err != nil {
		return err
	}
	c := s.cookies.cookie(name, s.codec.Seal(b, name), int(MaxAge/time.Second))
	if err := c.Valid(); err != nil {
		return fmt.Errorf("session: flow cookie: %w", err)
	}
	s.cookies.capFlows(w, r, func(name, value string) (time.Time, bool) {
		sf, err := s.open(name, value)
		return time.Unix(sf.Created, 0), err == nil
	})
	http.SetCookie(w, c)
	return nil
}

// open unseals the flow cookie name.
func (s *CookieStore) open(name, value string) (sealedFlow, error) {
	var sf sealedFlow
	plain, err := s.codec.Open(value, name)
	if err != nil {
		return sf, err
	}
	// The state is not inside: it is the cookie's name, which the seal binds.
	if err := json.Unmarshal(plain, &sf); err != nil {
		return sf, fmt.Errorf("%w: %w", ErrUnsealable, err)
	}
	return sf, nil
}

// Take opens the flow of state from its cookie, deletes the cookie and
// marks the flow consumed.
func (s *CookieStore) Take(w http.ResponseWriter, r *http.Request, state string) (*FlowState, error) {
	name, value, err := s.cookies.take(w, r, state)
	if err != nil {
		return nil, err
	}
	sf, err := s.open(name, value)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoFlow, err)
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
		return nil, fmt.Errorf("%w: the replay guard is full; flows older than %s are refused", ErrReplayed,
			s.watermark.UTC().Format(time.RFC3339))
	}
	if s.consumed.Contains(state) {
		return nil, ErrReplayed
	}
	s.consume(state, f.Created, now)
	return &f, nil
}
