package discovery

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/internal/flight"
	"github.com/oidcfed/oidcfed/internal/httpx"
)

// KeySetConfig configures a [KeySet]. Zero values take the defaults.
type KeySetConfig struct {
	// URI is the provider's jwks_uri. Required.
	URI string
	// Client makes the requests. Default: a client with a 10 s timeout.
	// Responses are always capped at 1 MiB.
	Client *http.Client
	// Algorithms are the accepted signing algorithms. Default:
	// [SigningAlgorithms]. Symmetric algorithms and "none" are never accepted.
	Algorithms []string
	// Now is the clock for expiry and cooldown. Default: time.Now.
	Now func() time.Time
	// TTL is how long fetched keys are used before a refetch. Default: 1 hour.
	TTL time.Duration
	// Cooldown is the least time between two fetches: a token with an
	// unknown key ID triggers a refetch only when the last fetch is older.
	// Default: 30 seconds.
	Cooldown time.Duration
	// StaleFor is how long past their TTL keys remain usable while refetches
	// fail. Default: 24 hours.
	StaleFor time.Duration
	// FetchTimeout bounds one fetch, which runs detached from the request
	// that triggered it. Default: 10 seconds.
	FetchTimeout time.Duration
	// Logger receives skipped keys and fetch failures. Default: discard.
	Logger *slog.Logger
	// OnKeyRemoved, when set, is called with the key ID of every key that a
	// refetch no longer lists, so that caches of tokens it verified can
	// drop them.
	OnKeyRemoved func(kid string)
	// OnFetch, when set, is called after every fetch. It runs on the
	// fetch's goroutine: keep it fast.
	OnFetch func(info FetchInfo)
}

// KeySet is a provider's JSON Web Key Set, fetched with the capped client
// and cached. It implements [oidc.KeySet]. Unlike go-oidc's RemoteKeySet it
// skips keys it cannot parse instead of failing, refetches for an unknown
// key ID at most once per cooldown (concurrent callers share the fetch),
// keeps keys usable while the provider is down, and reports its status.
type KeySet struct {
	cfg    KeySetConfig
	client *http.Client
	algs   []jose.SignatureAlgorithm // cfg.Algorithms, converted once

	mu          sync.Mutex
	keys        []jose.JSONWebKey // public signing keys only
	fetchedAt   time.Time         // last successful fetch
	lastAttempt time.Time         // last fetch started
	lastUnknown time.Time         // last fetch started for an unknown key
	lastErr     error

	fetches flight.Group[struct{}, []jose.JSONWebKey] // the one fetch in flight
}

var _ oidc.KeySet = (*KeySet)(nil)

// NewKeySet returns a key set for cfg.URI. Nothing is fetched until the
// first verification.
func NewKeySet(cfg KeySetConfig) (*KeySet, error) {
	if cfg.URI == "" {
		return nil, &MetadataError{URL: "configuration", Field: "jwks_uri", Err: ErrMissingField}
	}
	cfg.Now = clock.Or(cfg.Now)
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = SigningAlgorithms
	}
	for _, a := range cfg.Algorithms {
		if !slices.Contains(SigningAlgorithms, a) {
			return nil, fmt.Errorf("discovery: algorithm %q is not accepted; use asymmetric algorithms from %v", a,
				SigningAlgorithms)
		}
	}
	orDefault(&cfg.TTL, time.Hour)
	orDefault(&cfg.Cooldown, 30*time.Second)
	orDefault(&cfg.StaleFor, 24*time.Hour)
	orDefault(&cfg.FetchTimeout, httpx.DefaultTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ks := &KeySet{cfg: cfg, client: fetchClient(cfg.Client)}
	for _, a := range cfg.Algorithms {
		ks.algs = append(ks.algs, jose.SignatureAlgorithm(a))
	}
	return ks, nil
}

// VerifySignature verifies the JWS signature of jwt with the provider's
// keys and returns its payload. It implements [oidc.KeySet]. Errors are
// *[TokenError], or wrap [ErrKeysUnavailable] when no keys can be had.
func (ks *KeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, _, _, err := ks.verify(ctx, jwt, ks.algs, ks.cfg.Algorithms)
	return payload, err
}

// verify parses jwt, a compact JWS signed with one of algs (accepted names
// them, for errors), and returns its payload, its alg and the key ID of the
// key that verified it ("" for a key without one).
func (ks *KeySet) verify(ctx context.Context, jwt string, algs []jose.SignatureAlgorithm,
	accepted []string) (payload []byte, alg, keyID string, err error) {
	jws, err := jose.ParseSignedCompact(jwt, algs)
	if err != nil {
		return nil, "", "", classifyParseError(jwt, accepted, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, "", "", tokenErr(ErrMalformedToken, "%d signatures, want 1", len(jws.Signatures))
	}
	h := jws.Signatures[0].Protected
	keys, err := ks.current(ctx)
	if err != nil {
		return nil, "", "", err
	}
	payload, kid, known := verifyWith(jws, keys, h.KeyID, h.Algorithm)
	if payload != nil {
		return payload, h.Algorithm, kid, nil
	}
	if known {
		// The key is there and the signature is wrong: a refetch cannot help.
		return nil, "", "", tokenErr(ErrInvalidSignature, "kid %q, alg %s", h.KeyID, h.Algorithm)
	}
	// An unknown kid, or no kid and no key verifies: the provider may have
	// rotated its keys. Refetch, at most once per cooldown.
	if keys, ok := ks.refetch(ctx, true); ok {
		if payload, kid, known = verifyWith(jws, keys, h.KeyID, h.Algorithm); payload != nil {
			return payload, h.Algorithm, kid, nil
		}
	}
	if h.KeyID == "" || known {
		return nil, "", "", tokenErr(ErrInvalidSignature, "kid %q, alg %s", h.KeyID, h.Algorithm)
	}
	return nil, "", "", tokenErr(ErrUnknownKey, "kid %q", h.KeyID)
}

// classifyParseError tells a refused algorithm from a malformed token.
func classifyParseError(jwt string, accepted []string, err error) error {
	header, _, _ := strings.Cut(jwt, ".")
	var h struct {
		Alg string `json:"alg"`
	}
	if raw, derr := base64.RawURLEncoding.DecodeString(header); derr == nil && json.Unmarshal(raw, &h) == nil && h.Alg != "" && !slices.Contains(accepted, h.Alg) {
		return tokenErr(ErrUnsupportedAlgorithm, "alg %q, accepted %v", h.Alg, accepted)
	}
	return tokenErr(ErrMalformedToken, "%v", err)
}

// verifyWith tries the keys that fit kid and alg and returns the payload and
// the key ID of the key that verified it. known reports whether any key had
// the token's kid.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey,
	kid, alg string) (payload []byte, keyID string, known bool) {
	for i := range keys {
		k := &keys[i]
		if kid != "" && k.KeyID != kid {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != alg || !keyFits(k.Key, alg) {
			continue
		}
		if kid != "" {
			known = true
		}
		if p, err := jws.Verify(k.Key); err == nil {
			return p, k.KeyID, true
		}
	}
	return nil, "", known
}

// keyFits reports whether a public key can verify alg.
func keyFits(key any, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// current returns the usable keys, fetching when there are none yet or
// they are past their TTL. Expired keys are served for StaleFor while
// refetches fail.
func (ks *KeySet) current(ctx context.Context) ([]jose.JSONWebKey, error) {
	ks.mu.Lock()
	keys, fetchedAt := ks.keys, ks.fetchedAt
	ks.mu.Unlock()
	now := ks.cfg.Now()
	if !fetchedAt.IsZero() && now.Before(fetchedAt.Add(ks.cfg.TTL)) {
		return keys, nil
	}
	if fresh, ok := ks.refetch(ctx, false); ok {
		return fresh, nil
	}
	ks.mu.Lock()
	keys, fetchedAt, lastErr := ks.keys, ks.fetchedAt, ks.lastErr
	ks.mu.Unlock()
	if !fetchedAt.IsZero() && now.Before(fetchedAt.Add(ks.cfg.TTL+ks.cfg.StaleFor)) {
		return keys, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, lastErr)
}

// refetch joins the fetch in flight or starts one, and reports whether a
// fetch succeeded, with the keys it brought. A fetch for an unknown key
// starts at most once per cooldown; a fetch for expired keys starts at most
// once per cooldown after a failure.
func (ks *KeySet) refetch(ctx context.Context, unknownKey bool) ([]jose.JSONWebKey, bool) {
	start := func() bool {
		ks.mu.Lock()
		defer ks.mu.Unlock()
		now := ks.cfg.Now()
		cooling := func(last time.Time) bool { return !last.IsZero() && now.Before(last.Add(ks.cfg.Cooldown)) }
		if unknownKey && cooling(ks.lastUnknown) || ks.lastErr != nil && cooling(ks.lastAttempt) {
			return false
		}
		if unknownKey {
			ks.lastUnknown = now
		}
		ks.lastAttempt = now
		return true
	}
	keys, err, joined := ks.fetches.DoIf(ctx, struct{}{}, start, func() ([]jose.JSONWebKey, error) {
		return ks.fetch(unknownKey)
	})
	return keys, joined && err == nil
}

// fetch runs detached from any caller, bounded by FetchTimeout.
func (ks *KeySet) fetch(unknownKey bool) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ks.cfg.FetchTimeout)
	defer cancel()
	info := FetchInfo{UnknownKey: unknownKey}
	keys, err := ks.download(ctx, &info)
	var removed []string
	ks.mu.Lock()
	if err == nil {
		for _, old := range ks.keys {
			if old.KeyID != "" && !slices.ContainsFunc(keys, func(k jose.JSONWebKey) bool { return k.KeyID == old.KeyID }) {
				removed = append(removed, old.KeyID)
			}
		}
		ks.keys, ks.fetchedAt = keys, ks.cfg.Now()
	} else {
		info.Stale = !ks.fetchedAt.IsZero() && ks.cfg.Now().Before(ks.fetchedAt.Add(ks.cfg.TTL+ks.cfg.StaleFor))
	}
	ks.lastErr = err
	ks.mu.Unlock()
	if ks.cfg.OnFetch != nil {
		ks.cfg.OnFetch(info)
	}
	if err != nil {
		ks.cfg.Logger.Warn("discovery: JWKS fetch failed", "uri", ks.cfg.URI, "error", err)
	}
	// Callbacks run before waiters wake, so that no caller of this fetch
	// can act on state (a cached token) that the removal invalidates.
	if ks.cfg.OnKeyRemoved != nil {
		for _, kid := range removed {
			ks.cfg.OnKeyRemoved(kid)
		}
	}
	return keys, err
}

// download fetches and parses the JWKS, keeping the public signing keys it
// can use and logging those it skips.
func (ks *KeySet) download(ctx context.Context, info *FetchInfo) (keys []jose.JSONWebKey, err error) {
	defer func() {
		if err != nil {
			info.Err = err
		}
	}()
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, ks.client, ks.cfg.URI, &doc, info); err != nil {
		return nil, err
	}
	for i, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			ks.cfg.Logger.Warn("discovery: skipping unparseable JWK", "uri", ks.cfg.URI, "index", i, "error", err)
			continue
		}
		switch {
		case k.Use != "" && k.Use != "sig":
			continue
		case !k.IsPublic() || !k.Valid():
			ks.cfg.Logger.Warn("discovery: skipping JWK that is not a valid public key", "uri", ks.cfg.URI,
				"kid", k.KeyID)
			continue
		case !slices.ContainsFunc(ks.cfg.Algorithms, func(a string) bool { return keyFits(k.Key, a) }):
			ks.cfg.Logger.Debug("discovery: skipping JWK for no accepted algorithm", "uri", ks.cfg.URI, "kid", k.KeyID)
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, &MetadataError{URL: ks.cfg.URI, Field: "keys", Err: errors.New("no usable public signing key")}
	}
	return keys, nil
}

// Refresh fetches the keys now, or joins the fetch in flight, and
// returns its error. After a failure, a new fetch starts only after the
// cooldown; until then Refresh returns the last error.
func (ks *KeySet) Refresh(ctx context.Context) error {
	if _, ok := ks.refetch(ctx, false); ok {
		return nil
	}
	ks.mu.Lock()
	err := ks.lastErr
	ks.mu.Unlock()
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// KeySetStatus describes a key set, for diagnostics. It holds no key
// material.
type KeySetStatus struct {
	URI         string    // the jwks_uri
	FetchedAt   time.Time // zero before the first successful fetch
	NextRefresh time.Time // when the keys pass their TTL
	KeyIDs      []string  // the kids of the usable keys
	LastError   string    // the last fetch's error, empty when it succeeded
}

// Status returns the key set's state.
func (ks *KeySet) Status() KeySetStatus {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	s := KeySetStatus{URI: ks.cfg.URI, FetchedAt: ks.fetchedAt}
	if !ks.fetchedAt.IsZero() {
		s.NextRefresh = ks.fetchedAt.Add(ks.cfg.TTL)
	}
	for _, k := range ks.keys {
		s.KeyIDs = append(s.KeyIDs, k.KeyID)
	}
	if ks.lastErr != nil {
		s.LastError = ks.lastErr.Error()
	}
	return s
}
