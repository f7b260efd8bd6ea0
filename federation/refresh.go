package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
)

// ErrIdentityChanged: a refreshed ID token names another user, issuer,
// audience or authorized party than the one from sign-in, or another
// authentication (auth_time, nonce). OpenID Connect Core 1.0 §12.2.
var ErrIdentityChanged = errors.New("federation: the refreshed ID token does not match the one from sign-in")

// ErrNoRefreshToken: Tokens has no refresh token; the provider issued none
// (many issue one only for the offline_access scope).
var ErrNoRefreshToken = errors.New("federation: no refresh token")

// Refresh uses t.RefreshToken at the provider's token endpoint (RFC 6749
// §6) and returns the tokens that replace t.
//
// When the response carries an ID token it is verified like a sign-in's
// (signature, iss, aud, exp, iat, azp, at_hash) and must match t.IDToken, the
// ID token from sign-in, as OpenID Connect Core 1.0 §12.2 requires: the same
// iss, sub, aud and azp, the same auth_time when the original has one, and
// a nonce, if present, equal to the original's. t.IDToken is the host's own
// record and is not re-verified (it may have expired); without it a new ID
// token cannot be checked and Refresh fails.
//
// A rotated refresh token replaces the old one; when the provider sends
// none, the old one is kept, as is the old ID token when no new one comes.
//
// When the provider refuses the refresh token (invalid_grant: expired,
// revoked, already used), the error is an *Error with Code
// CodeLoginRequired: the host should sign the user in again.
func (p *Provider) Refresh(ctx context.Context, t Tokens) (Tokens, error) {
	obs := p.reg.opts.observer
	if obs == nil || obs.Refresh == nil {
		return p.refresh(ctx, t)
	}
	began := time.Now()
	out, err := p.refresh(ctx, t)
	obs.Refresh(ctx, RefreshEvent{Provider: p.key, Code: codeOf(err), Duration: time.Since(began)})
	return out, err
}

func (p *Provider) refresh(ctx context.Context, t Tokens) (Tokens, error) {
	if t.RefreshToken == "" {
		return Tokens{}, newError(CodeLoginRequired, "there is no refresh token; sign in again", ErrNoRefreshToken)
	}
	orig, err := originalClaims(t.IDToken.Reveal())
	if err != nil {
		return Tokens{}, newError(CodeInvalidRequest, "Refresh needs the ID token from sign-in (Tokens.IDToken)", err)
	}
	st, err := p.signIn(ctx)
	if err != nil {
		return Tokens{}, err
	}
	// RFC 6749 §6; the scope is left out, so it stays as granted.
	// A DPoP-bound grant is refreshed with the same key (RFC 9449 §5).
	tr, start, err := p.tokenRequestDPoP(ctx, st, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {t.RefreshToken.Reveal()}}, "the refresh", t.DPoP)
	if fe, ok := errors.AsType[*Error](err); ok && fe.Code == CodeInvalidGrant {
		return Tokens{}, newError(CodeLoginRequired, "the session at the identity provider has ended; sign in again",
			fe.Err)
	} else if err != nil {
		return Tokens{}, err
	}
	vt, err := p.verifyTokenResponse(ctx, st, tr, false)
	if err != nil {
		return Tokens{}, err
	}
	out := tr.tokens(start)
	if out.RefreshToken == "" {
		out.RefreshToken = t.RefreshToken
	}
	if vt == nil {
		out.IDToken = t.IDToken
	} else if err := sameAuthentication(orig, vt.Claims); err != nil {
		return Tokens{}, newError(CodeInvalidToken, "the identity provider's refreshed ID token was rejected", err)
	}
	return out, nil
}

// originalClaims decodes the payload of the ID token from sign-in.
func originalClaims(raw string) (map[string]any, error) {
	_, payload, _, ok := splitJWS(raw)
	if !ok {
		return nil, fmt.Errorf("%w: Tokens.IDToken is not a compact JWS", discovery.ErrMalformedToken)
	}
	var c map[string]any
	if err := decodeSegment(payload, &c); err != nil || c == nil {
		return nil, fmt.Errorf("%w: Tokens.IDToken's payload is not a JSON object", discovery.ErrMalformedToken)
	}
	return c, nil
}

// sameAuthentication applies OpenID Connect Core 1.0 §12.2 to a refreshed
// ID token's claims against the original's.
func sameAuthentication(orig, now map[string]any) error {
	for _, name := range []string{"iss", "sub", "azp"} {
		if claimString(orig[name]) != claimString(now[name]) {
			return fmt.Errorf("%w: %s changed", ErrIdentityChanged, name)
		}
	}
	if !slices.Equal(audiences(orig["aud"]), audiences(now["aud"])) {
		return fmt.Errorf("%w: aud changed", ErrIdentityChanged)
	}
	if at, ok := orig["auth_time"]; ok && claimString(at) != claimString(now["auth_time"]) {
		return fmt.Errorf("%w: auth_time changed", ErrIdentityChanged)
	}
	if n, ok := now["nonce"]; ok && claimString(n) != claimString(orig["nonce"]) {
		return fmt.Errorf("%w: nonce differs from the original", ErrIdentityChanged)
	}
	return nil
}

// claimString spells a claim's value for comparison, so that a number
// decoded as float64 and one kept as json.Number compare equal; an absent
// claim is "".
func claimString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		return x.String()
	}
	return fmt.Sprint(v)
}

// audiences reads aud, a string or a list of strings, as a sorted list.
func audiences(v any) []string {
	var out []string
	switch a := v.(type) {
	case string:
		out = []string{a}
	case []any:
		for _, x := range a {
			out = append(out, claimString(x))
		}
	}
	slices.Sort(out)
	return out
}

// Refresher keeps a session's tokens fresh for a long-running client:
// Token returns the current tokens while the access token is valid, and
// refreshes them (once, however many callers wait) when it is within
// RefreshMargin of expiring. It is safe for concurrent use and stores no
// context.
type Refresher struct {
	p  *Provider
	mu sync.Mutex
	t  Tokens
}

// RefreshMargin is how long before expiry [Refresher] refreshes.
const RefreshMargin = 30 * time.Second

// Refresher returns a Refresher starting from t, e.g. a sign-in's
// Result.Tokens. Tokens without an Expiry are treated as valid until a
// refresh is forced with Refresh.
func (p *Provider) Refresher(t Tokens) *Refresher { return &Refresher{p: p, t: t} }

// Token returns valid tokens, refreshing them first when they are about to
// expire. After a failed refresh the old tokens are kept and the error is
// returned; a CodeLoginRequired error will not heal by retrying.
func (s *Refresher) Token(ctx context.Context) (Tokens, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.Expiry.IsZero() || s.p.reg.opts.now().Add(RefreshMargin).Before(s.t.Expiry) {
		return s.t, nil
	}
	return s.refresh(ctx)
}

// Refresh refreshes now, whatever the expiry, and returns the new tokens.
func (s *Refresher) Refresh(ctx context.Context) (Tokens, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh(ctx)
}

func (s *Refresher) refresh(ctx context.Context) (Tokens, error) {
	t, err := s.p.Refresh(ctx, s.t)
	if err != nil {
		return Tokens{}, err
	}
	s.t = t
	return t, nil
}
