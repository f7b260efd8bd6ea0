package federation

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/session"
)

// LogoutEvent is a verified back-channel logout request (OpenID Connect
// Back-Channel Logout 1.0): the provider ended a session and asks the
// application to end its own. It names a subject, a provider session (SID)
// or both; end every session that matches what is given.
type LogoutEvent struct {
	Provider string    // registry key, "oidc:<name>"
	Issuer   string    // the token's iss (a tenant's own under a template)
	Subject  string    // "" when the token names only a session
	SID      string    // the provider's session ID (Result.SID); "" when not sent
	IssuedAt time.Time // the token's iat
}

// backchannelEvent is the member of a logout token's events claim that
// makes it one (§2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// Reasons a logout token is refused, beyond the signature, iss, aud, exp
// and iat rules that [discovery.Verifier] applies (errors.Is with
// discovery's sentinels). OpenID Connect Back-Channel Logout 1.0 §2.6.
var (
	ErrLogoutTokenType = errors.New("federation: logout token typ is not logout+jwt (nor absent or JWT)")
	ErrLogoutEvent     = errors.New("federation: logout token has no back-channel logout event object")
	ErrLogoutNonce     = errors.New("federation: logout token carries a nonce, so it may be an ID token")
	ErrLogoutSubject   = errors.New("federation: logout token has neither sub nor sid")
	ErrLogoutJTI       = errors.New("federation: logout token has no jti")
	ErrLogoutReplay    = errors.New("federation: logout token was already used (same jti)")
)

// maxLogoutRequest caps a back-channel logout request body.
const maxLogoutRequest = 64 << 10

// VerifyLogoutToken verifies a back-channel logout token (OpenID Connect
// Back-Channel Logout 1.0 §2.6). The checks are: the signature with the
// provider's keys (never alg none), iss the provider's issuer, aud the
// client ID, exp and iat with the registry's leeway, a JOSE typ of
// logout+jwt (or absent or JWT, for older providers), an events claim
// whose back-channel logout member is an object, sub or sid (or both), no
// nonce, a tenant in allowedTenants (multi-tenant providers), and a jti
// not seen before from this provider. The jti is recorded
// until the token expires; Handler un-records it when the host's OnLogout
// fails, so the provider can retry.
//
// A refusal is an *Error with code invalid_token wrapping the rule's
// sentinel (ErrLogoutReplay, discovery.ErrTokenExpired…), or
// provider_unavailable when the provider's keys cannot be fetched.
func (p *Provider) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutEvent, error) {
	ev, _, err := p.verifyLogoutToken(ctx, raw)
	return ev, err
}

func (p *Provider) verifyLogoutToken(ctx context.Context, raw string) (*LogoutEvent, string, error) {
	ev, jti, err := p.checkLogoutToken(ctx, raw)
	switch {
	case err == nil:
		return ev, jti, nil
	case errors.As(err, new(*Error)):
		return nil, "", err
	case errors.Is(err, discovery.ErrKeysUnavailable):
		return nil, "", newError(CodeProviderUnavailable, "the identity provider's keys could not be fetched", err)
	}
	return nil, "", newError(CodeInvalidToken, "the logout token was rejected", err)
}

func (p *Provider) checkLogoutToken(ctx context.Context, raw string) (*LogoutEvent, string, error) {
	if e := p.cfg.IDTokenEncryption; e != nil || isJWE(raw) {
		// Back-Channel Logout 1.0 §2.6: encrypted with the ID token's
		// algorithms when the client registered them, and then refused in
		// plaintext.
		inner, err := p.openJWE(raw, e, "idTokenEncryption")
		if err != nil {
			return nil, "", fmt.Errorf("logout token: %w", err)
		}
		raw = string(inner)
	}
	header, _, _, ok := splitJWS(raw)
	if !ok {
		return nil, "", errNotCompactJWS
	}
	typ, err := jwtTyp(header)
	if err != nil {
		return nil, "", fmt.Errorf("%w: header is not base64url JSON", discovery.ErrMalformedToken)
	}
	if t := normalizeTyp(typ); t != "" && t != "jwt" && t != "logout+jwt" {
		return nil, "", fmt.Errorf("%w: %q", ErrLogoutTokenType, typ)
	}
	st, err := p.resolve(ctx)
	if err != nil {
		return nil, "", err
	}
	tok, err := st.logout.Verify(ctx, raw)
	if err != nil {
		return nil, "", err
	}
	c := tok.Claims
	if err := p.checkTenant(c); err != nil {
		return nil, "", err
	}
	events, _ := c["events"].(map[string]any)
	if _, ok := events[backchannelEvent].(map[string]any); !ok {
		return nil, "", ErrLogoutEvent
	}
	if _, ok := c["nonce"]; ok {
		return nil, "", ErrLogoutNonce
	}
	sub, _ := c["sub"].(string)
	sid, sidOK := c["sid"].(string)
	if _, present := c["sid"]; present && (!sidOK || sid == "") {
		return nil, "", fmt.Errorf("%w: sid is not a non-empty string", discovery.ErrInvalidClaim)
	}
	if sub == "" && sid == "" {
		return nil, "", ErrLogoutSubject
	}
	jti, _ := c["jti"].(string)
	if jti == "" {
		return nil, "", ErrLogoutJTI
	}
	if err := p.reg.jtis.Claim(ctx, jtiID(p.key, jti), tok.Expiry.Add(p.reg.leeway())); errors.Is(err,
		session.ErrReplayed) {
		return nil, "", fmt.Errorf("%w (%w)", ErrLogoutReplay, err)
	} else if err != nil {
		return nil, "", newError(CodeTemporarilyUnavailable, "the logout could not be recorded; send it again",
			fmt.Errorf("%w: %w", session.ErrUnavailable, err))
	}
	// The token's own iss: under a multi-tenant template, the tenant's issuer.
	return &LogoutEvent{Provider: p.key, Issuer: tok.Issuer, Subject: sub, SID: sid, IssuedAt: tok.IssuedAt}, jti, nil
}

// backchannelLogout serves POST oidc:{name}/backchannel-logout (§2.5, §2.8).
func (h *Handler) backchannelLogout(w http.ResponseWriter, r *http.Request, p *Provider) {
	var code Code // for the observer: "" when the sessions were ended
	if obs := p.reg.opts.observer; obs != nil && obs.Logout != nil {
		began := time.Now()
		defer func() {
			obs.Logout(r.Context(), LogoutObserved{Provider: p.key, Code: code, Duration: time.Since(began)})
		}()
	}
	fail := func(desc string, err error) {
		h.log.Warn("federation: back-channel logout refused", "provider", p.key, "error", err)
		code = codeOf(err)
		if _, ok := errors.AsType[*Error](err); !ok {
			code = CodeInvalidRequest
		}
		writeJSONError(w, http.StatusBadRequest, CodeInvalidRequest, desc)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		fail("the request must be application/x-www-form-urlencoded",
			fmt.Errorf("content type %q", r.Header.Get("Content-Type")))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutRequest)
	if err := r.ParseForm(); err != nil {
		fail("the request body could not be read", err)
		return
	}
	if len(r.PostForm["logout_token"]) != 1 {
		fail("the request must carry one logout_token", errors.New("logout_token missing or repeated"))
		return
	}
	ev, jti, err := p.verifyLogoutToken(r.Context(), r.PostForm.Get("logout_token"))
	if err != nil {
		if errors.Is(err, discovery.ErrKeysUnavailable) {
			// The provider retries on errors; a 400 is what the spec allows.
			fail("the identity provider's keys could not be fetched", err)
			return
		}
		fail("the logout token was rejected", err)
		return
	}
	if err := h.cfg.OnLogout(r.Context(), *ev); err != nil {
		if rerr := p.reg.jtis.Release(context.WithoutCancel(r.Context()), jtiID(p.key, jti)); rerr != nil {
			h.log.Warn("federation: releasing a logout token's jti failed", "provider", p.key, "error", rerr)
		}
		fail("the logout could not be completed", fmt.Errorf("OnLogout: %w", err))
		return
	}
	h.log.Info("federation: back-channel logout", "provider", p.key, "subject", ev.Subject, "sid", ev.SID)
	w.WriteHeader(http.StatusOK)
}

// jtiID is the replay-guard ID of a logout token's jti at provider key.
func jtiID(key, jti string) string { return "jti:" + key + "\x00" + jti }
