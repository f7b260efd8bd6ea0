package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

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
	// entry: 100 000 take about 17 MiB), when Replay is nil. Default:
	// 100 000.
	MaxConsumed int
	// Replay remembers consumed flow IDs. Several server instances share
	// one (a Redis or SQL guard): then a flow completes on any instance,
	// once. Default: a [MemoryReplayGuard] of MaxConsumed IDs.
	Replay ReplayGuard
}

// CookieStore seals each flow into a cookie of its own, named after its
// state, so parallel flows never clobber each other; a browser keeps at
// most [MaxPendingFlows] of them. A sealed cookie cannot be single-use by
// itself: the store also claims each flow ID in a [ReplayGuard] until the
// flow expires. The default guard is in memory and bounded (see
// [MemoryReplayGuard] for how it fails closed when full). Several server
// instances share the cookie keys and one guard, and then need nothing
// else shared for flows.
type CookieStore struct {
	cfg     CookieConfig
	cookies flowCookies
	codec   *Codec
	replay  ReplayGuard
}

// NewCookieStore returns a store for cfg.
func NewCookieStore(cfg CookieConfig) (*CookieStore, error) {
	codec, err := NewCodec(cfg.Keys...)
	if err != nil {
		return nil, err
	}
	cfg.Now = clock.Or(cfg.Now)
	s := &CookieStore{cfg: cfg, cookies: flowCookies{secure: cfg.Secure}, codec: codec, replay: cfg.Replay}
	if s.replay == nil {
		s.replay = NewMemoryReplayGuard(ReplayConfig{Max: cfg.MaxConsumed, Now: cfg.Now})
	}
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
	// Step-up (FlowState.ACRValues, MaxAge in seconds, FreshLogin).
	ACR    []string `json:"acr,omitempty"`
	MaxAge int64    `json:"ma,omitempty"`
	Fresh  bool     `json:"fl,omitempty"`
	// FormPost (FlowState.FormPost).
	FormPost bool `json:"fp,omitempty"`
	// DPoPKey (FlowState.DPoPKey).
	DPoPKey []byte `json:"dk,omitempty"`
}

// Save seals f into its cookie, and expires the browser's oldest flow
// cookies beyond [MaxPendingFlows].
func (s *CookieStore) Save(w http.ResponseWriter, r *http.Request, f *FlowState) error {
	if !validState(f.State) {
		return fmt.Errorf("session: state must be 16-64 base64url characters")
	}
	name := s.cookies.name(f.State)
	b, err := json.Marshal(sealedFlow{Provider: f.Provider, Nonce: f.Nonce, Verifier: f.Verifier.Reveal(),
		RedirectTo: f.RedirectTo, Mode: f.Mode, AccountID: f.AccountID, Created: f.Created.Unix(), Version: f.ProviderVersion,
		ACR: f.ACRValues, MaxAge: int64(f.MaxAge / time.Second), Fresh: f.FreshLogin, FormPost: f.FormPost,
		DPoPKey: f.DPoPKey})
	if err != nil {
		return err
	}
	c := s.cookies.flowCookie(f, name, s.codec.Seal(b, name), int(MaxAge/time.Second))
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
		ProviderVersion: sf.Version, ACRValues: sf.ACR, MaxAge: time.Duration(sf.MaxAge) * time.Second,
		FreshLogin: sf.Fresh, FormPost: sf.FormPost, DPoPKey: sf.DPoPKey}
	now := s.cfg.Now()
	if now.Sub(f.Created) >= MaxAge || f.Created.After(now.Add(time.Minute)) {
		return nil, ErrFlowExpired
	}
	if err := s.replay.Claim(r.Context(), "flow:"+state, f.Created.Add(MaxAge)); errors.Is(err, ErrReplayed) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &f, nil
}
