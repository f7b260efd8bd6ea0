package federation

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/discovery"
)

// Principal is the caller behind a verified bearer token. A cached token's
// Principal is shared by every request that presents the token: treat it,
// its slices and User.Raw as read-only.
type Principal struct {
	// Provider is the registry key of the provider that issued the token.
	Provider string
	// User is the token's claims mapped with the provider's claim mapping;
	// User.Raw holds every claim.
	User claims.User
	// Scopes are the granted scopes, from scope (a space-separated string)
	// or scp (a string or a list), with the provider's scopePrefix removed.
	Scopes []string
	// Roles are from the provider's roles claim (default "roles").
	Roles []string
	// ClientID is the client the token was issued to: client_id (RFC 9068)
	// or azp.
	ClientID string
	// Audience is the token's aud.
	Audience []string
	// TokenType is the token's JOSE typ header as sent ("at+jwt", "JWT"…).
	TokenType string
	// Expiry and IssuedAt are exp and iat.
	Expiry, IssuedAt time.Time
	// KeyThumbprint is the cnf.jkt of a DPoP-bound token (RFC 9449 §6):
	// the middleware accepted it with a proof signed by that key.
	KeyThumbprint string
}

// HasScope reports whether s was granted.
func (p *Principal) HasScope(s string) bool { return slices.Contains(p.Scopes, s) }

// HasRole reports whether the principal has role r.
func (p *Principal) HasRole(r string) bool { return slices.Contains(p.Roles, r) }

// String prints the principal without its token.
func (p *Principal) String() string {
	return fmt.Sprintf("federation.Principal{%s %s scopes=%q exp=%s}", p.Provider, p.User.Subject, p.Scopes,
		p.Expiry.UTC().Format(time.RFC3339))
}

type principalKey struct{}

// PrincipalFrom returns the principal that [Bearer.Middleware] put in ctx.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok
}

// ContextWithPrincipal returns ctx carrying p, as the middleware does: for
// testing handlers without tokens.
func ContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Causes of a refused bearer token, besides discovery's token sentinels.
// Each arrives wrapped in an *[Error] with [CodeInvalidToken].
var (
	ErrUnknownIssuer     = errors.New("federation: the token's iss is not a configured provider")
	ErrTokenType         = errors.New("federation: the token's typ is not an accepted access-token type")
	ErrSenderConstrained = errors.New("federation: the token is sender-constrained (cnf) and needs a proof of possession: a DPoP proof (BearerConfig.DPoP) or a certificate binding, which this middleware does not check")
	ErrProviderRefused   = errors.New("federation: the token's provider is not accepted here")
	ErrInsufficientScope = errors.New("federation: the token lacks a required scope")
	// ErrTokenInQuery: RFC 6750 §2.3 URI query tokens end up in logs and
	// Referer headers; only the Authorization header is read.
	ErrTokenInQuery = errors.New("federation: bearer tokens are accepted only in the Authorization header")
)

// BearerConfig is the policy of a [Bearer].
type BearerConfig struct {
	// Realm names the protected API in WWW-Authenticate. Default "api".
	Realm string
	// Scopes must all be granted (after scopePrefix stripping).
	Scopes []string
	// RequireAccessTokenType accepts only tokens whose typ header is at+jwt
	// (RFC 9068 §2.1). That is the one reliable way to refuse ID tokens and
	// other JWTs of the provider presented as access tokens; but providers
	// that do not follow RFC 9068 (Microsoft Entra ID, Keycloak, Google)
	// send typ JWT, and their access tokens are then refused too. Off, the
	// typ may be absent, JWT or at+jwt, and every other typ (logout+jwt,
	// secevent+jwt…) is refused.
	RequireAccessTokenType bool
	// Providers restricts the accepted providers to these registry keys.
	// Default: every provider of the registry.
	Providers []string
	// Introspection is the provider (registry key) whose introspection
	// endpoint checks tokens that are not JWTs (opaque tokens, RFC 7662);
	// it must have introspectOpaqueTokens. Default: the one provider with
	// introspectOpaqueTokens, if there is exactly one; with none, an
	// opaque token is refused (invalid_token).
	Introspection string
	// IntrospectAnyProvider sends an opaque token to every provider with
	// introspectOpaqueTokens in turn until one says it is active. An
	// opaque token names no issuer, so this hands every bearer token
	// presented to the API to each of those providers, who may log or use
	// it: only for providers that trust each other.
	IntrospectAnyProvider bool
	// DPoP is whether DPoP-bound tokens (RFC 9449) are accepted, with the
	// proof of possession the DPoP header carries: "off" (default: they
	// are refused, as sender-constrained), "allowed" (Bearer tokens too)
	// or "required". See docs/bearer.md.
	DPoP string
	// DPoPNonceKey, when set (32 bytes or more, the same on every
	// instance), makes the API require a server nonce in DPoP proofs
	// (RFC 9449 §9): a proof without the current nonce is answered 401
	// use_dpop_nonce with a DPoP-Nonce header, which clients (Tokens.Client
	// among them) retry with. Nonces change every 5 minutes; the previous
	// one is still accepted.
	DPoPNonceKey []byte
	// BaseURL is the API's public origin (https://api.example.com), to
	// check a proof's htu behind a proxy. Default: the request's scheme
	// and Host.
	BaseURL string
}

// Bearer verifies bearer tokens (RFC 6750) of a registry's providers and
// applies a [BearerConfig]. Verified tokens are cached by the registry
// (see [WithBearerCacheSize]), shared by every Bearer of the registry.
type Bearer struct {
	reg *Registry
	cfg BearerConfig
	// challenge is the WWW-Authenticate value without error parameters.
	challenge string
	// base is BaseURL parsed (nil: from each request).
	base *url.URL
}

// NewBearer checks cfg and returns a Bearer, or every problem with cfg at
// once (errors.Join): a configuration error, not an *Error.
func NewBearer(reg *Registry, cfg BearerConfig) (*Bearer, error) {
	var errs []error
	if reg == nil {
		errs = append(errs, errors.New("federation: bearer: a Registry is required"))
	}
	if cfg.Realm == "" {
		cfg.Realm = "api"
	}
	if strings.ContainsFunc(cfg.Realm, func(r rune) bool { return isControl(r) || r == '"' || r == '\\' }) {
		errs = append(errs,
			fmt.Errorf("federation: bearer: Realm %q must not contain quotes, backslashes or control characters",
				cfg.Realm))
	}
	for _, s := range cfg.Scopes {
		if !isScopeToken(s) {
			errs = append(errs, fmt.Errorf("federation: bearer: Scopes: %q is not a scope token (RFC 6749 §3.3)", s))
		}
	}
	for _, k := range cfg.Providers {
		if reg != nil && !slices.Contains(reg.Keys(), k) {
			errs = append(errs, fmt.Errorf("federation: bearer: Providers: %q is not registered", k))
		}
	}
	switch cfg.DPoP {
	case "", DPoPOff, DPoPAllowed, DPoPRequired:
	default:
		errs = append(errs, fmt.Errorf("federation: bearer: DPoP %q: want %q, %q or %q", cfg.DPoP, DPoPOff, DPoPAllowed,
			DPoPRequired))
	}
	if cfg.DPoPNonceKey != nil && len(cfg.DPoPNonceKey) < 32 {
		errs = append(errs, fmt.Errorf("federation: bearer: DPoPNonceKey is %d bytes, want 32 or more",
			len(cfg.DPoPNonceKey)))
	}
	var base *url.URL
	if cfg.BaseURL != "" {
		u, err := urlcheck.Endpoint(cfg.BaseURL)
		if err != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("federation: bearer: BaseURL must be an origin such as https://api.example.com: %q",
				cfg.BaseURL))
		} else {
			base = u
		}
	}
	if reg != nil {
		var introspecting []string
		for _, k := range reg.Keys() {
			if p, ok := reg.Lookup(k); ok && p.intro != nil {
				introspecting = append(introspecting, k)
			}
		}
		switch {
		case cfg.Introspection != "" && !slices.Contains(introspecting, cfg.Introspection):
			errs = append(errs, fmt.Errorf("federation: bearer: Introspection: %q is not a provider with introspectOpaqueTokens (those are %q)",
				cfg.Introspection, introspecting))
		case cfg.Introspection == "" && len(introspecting) > 1 && !cfg.IntrospectAnyProvider:
			errs = append(errs, fmt.Errorf("federation: bearer: providers %q introspect opaque tokens: name one in Introspection, or set IntrospectAnyProvider (which sends every opaque token to each)",
				introspecting))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.Scopes, cfg.Providers = slices.Clone(cfg.Scopes), slices.Clone(cfg.Providers)
	return &Bearer{reg: reg, cfg: cfg, challenge: `Bearer realm="` + cfg.Realm + `"`, base: base}, nil
}

// RequireBearer is [NewBearer] followed by [Bearer.Middleware]; it panics
// when cfg is invalid, which is a programming error found at start-up.
func RequireBearer(reg *Registry, cfg BearerConfig) func(http.Handler) http.Handler {
	b, err := NewBearer(reg, cfg)
	if err != nil {
		panic(err)
	}
	return b.Middleware
}

// isScopeToken reports whether s is a scope-token: %x21 / %x23-5B / %x5D-7E.
func isScopeToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s,
		func(r rune) bool { return r <= 0x20 || r >= 0x7f || r == '"' || r == '\\' })
}

// Verify verifies raw, a JWT access token, and applies the policy.
// The token's unverified iss only selects the provider and its keys: the
// provider's verifier then checks signature, iss, aud (the provider's
// audiences, default its client ID), exp, nbf and iat with the registry's
// leeway. A refused token is an *[Error] with [CodeInvalidToken] (its Err
// wraps the precise cause, a discovery token sentinel or one of this
// package's), a missing scope one with [CodeInsufficientScope], and
// unreachable provider keys one with [CodeProviderUnavailable].
func (b *Bearer) Verify(ctx context.Context, raw string) (*Principal, error) {
	p, err := b.verifyObserved(ctx, raw)
	if err == nil && p.KeyThumbprint != "" {
		// Bound to a key: only a proof of possession makes it usable
		// (the middleware, with BearerConfig.DPoP).
		return nil, invalidToken(ErrSenderConstrained)
	}
	return p, err
}

// verifyObserved is Verify, DPoP-bound tokens included, reported to the
// observer.
func (b *Bearer) verifyObserved(ctx context.Context, raw string) (*Principal, error) {
	obs := b.reg.opts.observer
	if obs == nil || obs.Bearer == nil {
		return b.verify(ctx, raw, &bearerCheck{})
	}
	check := bearerCheck{timed: true}
	p, err := b.verify(ctx, raw, &check)
	e := BearerEvent{Provider: check.provider, CacheHit: check.hit, Code: codeOf(err), Duration: check.took}
	if err == nil && obs.Subjects {
		e.Subject = p.User.Subject
	}
	obs.Bearer(ctx, e)
	return p, err
}

// bearerCheck is what a verification learned for the observer: the
// provider the token's iss selected, whether the cache answered and, when
// timed, how long a verification past the cache took.
type bearerCheck struct {
	provider string
	hit      bool
	timed    bool
	took     time.Duration
}

func (b *Bearer) verify(ctx context.Context, raw string, check *bearerCheck) (*Principal, error) {
	var provs []*Provider
	var p *Principal
	var err error
	if !looksLikeJWS(raw) {
		// An answer cached for a provider this Bearer asks is used as is;
		// only a miss looks for the providers that introspect.
		if p, err = b.cachedOpaque(raw, check); p == nil {
			provs = b.introspectionProviders()
		}
	}
	opaque := p != nil || len(provs) > 0 // else refused below as a malformed JWT
	switch {
	case p != nil:
	case opaque:
		p, err = b.verifyOpaque(ctx, raw, provs, check)
	default:
		p, err = b.reg.verifyBearer(ctx, raw, check)
	}
	if err != nil {
		return nil, err
	}
	// An introspected token has no typ: the provider said it is an access token.
	if b.cfg.RequireAccessTokenType && !opaque && normalizeTyp(p.TokenType) != "at+jwt" {
		return nil, invalidToken(fmt.Errorf("%w: typ %q, want at+jwt", ErrTokenType, p.TokenType))
	}
	if len(b.cfg.Providers) > 0 && !slices.Contains(b.cfg.Providers, p.Provider) {
		return nil, invalidToken(fmt.Errorf("%w: %s", ErrProviderRefused, p.Provider))
	}
	for _, s := range b.cfg.Scopes {
		if !p.HasScope(s) {
			return nil, newError(CodeInsufficientScope, "the token lacks a required scope",
				fmt.Errorf("%w: %q not in %q", ErrInsufficientScope, s, p.Scopes))
		}
	}
	return p, nil
}

// Middleware serves next with the verified [Principal] in the request's
// context ([PrincipalFrom]); otherwise it answers per RFC 6750 §3 with a
// WWW-Authenticate challenge and a JSON body {"error", "error_description"}:
// no token, 401 without an error code; a refused token, 401
// invalid_token; a missing scope, 403 insufficient_scope with the required
// scopes; a token in the URI query, 400 invalid_request; the provider's
// keys unreachable, 503. A token in a form body is never read. The token
// is never echoed or logged.
func (b *Bearer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("access_token") {
			b.fail(w, r,
				newError(CodeInvalidRequest, "send the token in the Authorization header, not the URL",
					ErrTokenInQuery), "Bearer")
			return
		}
		dpop := b.cfg.DPoP == DPoPAllowed || b.cfg.DPoP == DPoPRequired
		raw, ok := bearerToken(r.Header)
		scheme := "Bearer"
		if !ok && dpop {
			raw, ok = dpopToken(r.Header)
			scheme = "DPoP"
		}
		if !ok {
			b.challenges(w, "", "")
			writeBearerError(w, http.StatusUnauthorized, CodeUnauthenticated,
				"an Authorization: "+b.schemes()+" token is required")
			return
		}
		p, err := b.verifyRequest(r, raw, scheme)
		if err != nil {
			b.fail(w, r, err, scheme)
			return
		}
		if scheme == "DPoP" && b.cfg.DPoPNonceKey != nil {
			// The nonce for the next proof, so that a client need not be
			// refused once per period to learn it (RFC 9449 §8.2).
			w.Header().Set("DPoP-Nonce", b.dpopNonce(b.reg.opts.now()))
		}
		next.ServeHTTP(w, r.WithContext(ContextWithPrincipal(r.Context(), p)))
	})
}

// bearerToken reads the token of an "Authorization: Bearer" header. The
// scheme is case-insensitive (RFC 9110 §11.1). Several Authorization
// headers, or another scheme, read as no token.
func bearerToken(h http.Header) (string, bool) {
	v := h.Values("Authorization")
	if len(v) != 1 || len(v[0]) < len("Bearer ") || !strings.EqualFold(v[0][:len("Bearer ")], "Bearer ") {
		return "", false
	}
	return strings.TrimLeft(v[0][len("Bearer "):], " "), true
}

func (b *Bearer) fail(w http.ResponseWriter, r *http.Request, err error, scheme string) {
	var e *Error
	if !errors.As(err, &e) {
		e = newError(CodeServerError, "the token could not be checked", err)
	}
	status := http.StatusUnauthorized
	params := `error="` + string(e.Code) + `", error_description="` + e.Description + `"`
	switch e.Code {
	case CodeInvalidToken, CodeInvalidDPoPProof, CodeUseDPoPNonce:
	case CodeInsufficientScope:
		status = http.StatusForbidden
		params += `, scope="` + strings.Join(b.cfg.Scopes, " ") + `"`
	case CodeInvalidRequest:
		status = http.StatusBadRequest
	default:
		status, params = http.StatusServiceUnavailable, ""
	}
	b.reg.opts.logger.Info("federation: bearer token refused", "path", r.URL.Path, "scheme", scheme, "code", e.Code,
		"error", e.Err)
	if params != "" {
		if errors.Is(e, ErrDPoPRequired) || errors.Is(e, ErrDPoPNonce) {
			scheme = "DPoP" // the error is about the scheme to use
		}
		if errors.Is(e, ErrDPoPNonce) {
			w.Header().Set("DPoP-Nonce", b.dpopNonce(b.reg.opts.now()))
		}
		b.challenges(w, scheme, params)
	}
	writeBearerError(w, status, e.Code, e.Description)
}

// challenges sets WWW-Authenticate: a challenge per accepted scheme,
// Bearer first (RFC 9449 §7.1), params (the error) on the one of scheme.
func (b *Bearer) challenges(w http.ResponseWriter, scheme, params string) {
	with := func(c string) string {
		if params == "" {
			return c
		}
		return c + ", " + params
	}
	dpop := `DPoP algs="` + dpopAlgsChallenge + `"`
	if b.cfg.DPoP != DPoPRequired {
		if scheme == "Bearer" {
			w.Header().Add("WWW-Authenticate", with(b.challenge))
		} else {
			w.Header().Add("WWW-Authenticate", b.challenge)
		}
	}
	if b.cfg.DPoP == DPoPAllowed || b.cfg.DPoP == DPoPRequired {
		if scheme == "DPoP" {
			w.Header().Add("WWW-Authenticate", with(dpop))
		} else {
			w.Header().Add("WWW-Authenticate", dpop)
		}
	}
}

// schemes names the accepted authorization schemes, for a message.
func (b *Bearer) schemes() string {
	switch b.cfg.DPoP {
	case DPoPAllowed:
		return "Bearer or DPoP"
	case DPoPRequired:
		return "DPoP"
	}
	return "Bearer"
}

// verifyRequest verifies the token r presents under scheme: a Bearer
// token must not be DPoP-bound (and Bearer must be allowed); a DPoP one
// must be bound to the key of a valid proof of r.
func (b *Bearer) verifyRequest(r *http.Request, raw, scheme string) (*Principal, error) {
	ctx := r.Context()
	if scheme == "Bearer" {
		if b.cfg.DPoP == DPoPRequired {
			return nil, invalidToken(ErrDPoPRequired)
		}
		return b.Verify(ctx, raw)
	}
	jkt, err := b.verifyProof(ctx, r, raw)
	if err != nil {
		return nil, err
	}
	p, err := b.verifyObserved(ctx, raw)
	switch {
	case err != nil:
		return nil, err
	case p.KeyThumbprint == "":
		return nil, invalidToken(ErrDPoPNotBound)
	case subtle.ConstantTimeCompare([]byte(p.KeyThumbprint), []byte(jkt)) != 1:
		return nil, newError(CodeInvalidDPoPProof, "the DPoP proof is not signed by the token's key", ErrDPoPKey)
	}
	return p, nil
}

func writeBearerError(w http.ResponseWriter, status int, code Code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSONError(w, status, code, desc)
}

func invalidToken(cause error) *Error {
	return newError(CodeInvalidToken, tokenDescription(cause), cause)
}

// tokenDescriptions say why a token was refused, in fixed words: nothing
// from the token reaches the response. The first cause that matches wins.
var tokenDescriptions = []struct {
	cause error
	desc  string
}{
	{discovery.ErrTokenExpired, "the token is expired"},
	{discovery.ErrTokenNotYetValid, "the token is not valid yet"},
	{discovery.ErrTokenIssuedInFuture, "the token is issued in the future"},
	{discovery.ErrTokenAudience, "the token is not meant for this API (aud)"},
	{discovery.ErrTokenIssuer, "the token's issuer is not trusted"},
	{ErrUnknownIssuer, "the token's issuer is not trusted"},
	{ErrProviderRefused, "the token's issuer is not accepted here"},
	{discovery.ErrUnsupportedAlgorithm, "the token's signing algorithm is not accepted"},
	{discovery.ErrInvalidSignature, "the token's signature does not verify"},
	{discovery.ErrUnknownKey, "the token's signing key is unknown"},
	{discovery.ErrMalformedToken, "the token is not a signed JWT"},
	{ErrTokenType, "the token is not an access token of an accepted type"},
	{ErrSenderConstrained, "the token is sender-constrained and cannot be used as a bearer token"},
	{ErrTokenInactive, "the token is not active"},
	{ErrDPoPRequired, "this API takes DPoP-bound tokens only"},
	{ErrDPoPNotBound, "the token is not bound to a DPoP key"},
}

func tokenDescription(cause error) string {
	for _, d := range tokenDescriptions {
		if errors.Is(cause, d.cause) {
			return d.desc
		}
	}
	return "the token's claims are invalid"
}

// verifyBearer verifies raw with the provider its iss names, through the
// cache. The result does not depend on any Bearer's policy.
func (r *Registry) verifyBearer(ctx context.Context, raw string, check *bearerCheck) (*Principal, error) {
	header, payload, _, ok := splitJWS(raw)
	if !ok {
		return nil, invalidToken(errNotCompactJWS)
	}
	sum := sha256.Sum256([]byte(raw))
	if p, ok := r.tokens.get(sum); ok {
		check.provider, check.hit = p.Provider, true
		return p, nil
	}
	if check.timed {
		defer func(began time.Time) { check.took = time.Since(began) }(time.Now())
	}
	var body struct {
		Iss string             `json:"iss"`
		Aud discovery.Audience `json:"aud"`
	}
	typ, err := jwtTyp(header)
	if err != nil || decodeSegment(payload, &body) != nil {
		return nil, invalidToken(fmt.Errorf("%w: header or payload is not base64url JSON", discovery.ErrMalformedToken))
	}
	if t := normalizeTyp(typ); t != "" && t != "jwt" && t != "at+jwt" {
		return nil, invalidToken(fmt.Errorf("%w: typ %q", ErrTokenType, typ))
	}
	prov := r.providerForIssuer(body.Iss, body.Aud)
	if prov == nil && r.source != nil {
		if err := r.providersForIssuer(ctx, body.Iss); err != nil {
			return nil, err
		}
		prov = r.providerForIssuer(body.Iss, body.Aud) // loaded now, or by a flight that just ended
	}
	if prov != nil && r.source != nil && r.sourceExpired(prov.key) {
		if prov, err = r.provider(ctx, prov.key); errors.Is(err, ErrNoProvider) {
			prov = nil
		} else if err != nil {
			return nil, err
		}
	}
	if prov == nil {
		return nil, invalidToken(fmt.Errorf("%w: iss %q", ErrUnknownIssuer, body.Iss))
	}
	check.provider = prov.key
	gen := r.tokens.generation(prov.key)
	st, err := prov.resolve(ctx)
	if err != nil {
		return nil, err
	}
	v := st.bearer[body.Iss]
	if v == nil && st.md.IssuerMatches(body.Iss) {
		v = st.bearer[st.md.Issuer] // a tenant of a multi-tenant template
	}
	if v == nil {
		// A bare-domain issuer matched, but not as the provider spells it.
		return nil, invalidToken(&discovery.TokenError{Err: discovery.ErrTokenIssuer,
			Detail: fmt.Sprintf("iss %q, want %q", body.Iss, st.md.Issuer)})
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, discovery.ErrKeysUnavailable) {
			return nil, newError(CodeProviderUnavailable,
				"the identity provider's keys could not be fetched; try again later", err)
		}
		return nil, invalidToken(err)
	}
	jkt, err := dpopBinding(tok.Claims["cnf"])
	if err != nil {
		return nil, invalidToken(err)
	}
	if err := prov.checkTenant(tok.Claims); err != nil {
		return nil, invalidToken(err.Err)
	}
	p, err := prov.principal(tok, typ)
	if err != nil {
		return nil, invalidToken(err)
	}
	p.KeyThumbprint = jkt
	r.tokens.add(sum, &cachedToken{principal: p, provider: prov.key, kid: tok.KeyID}, gen)
	return p, nil
}

// dpopBinding reads a token's cnf: "" when it has none, the jkt of a
// DPoP-bound token, else ErrSenderConstrained (a certificate binding,
// x5t#S256, which this middleware cannot check).
func dpopBinding(cnf any) (string, error) {
	if cnf == nil {
		return "", nil
	}
	m, ok := cnf.(map[string]any)
	jkt, _ := m["jkt"].(string)
	if !ok || len(m) != 1 || jkt == "" {
		return "", ErrSenderConstrained
	}
	return jkt, nil
}

// providerForIssuer selects the provider whose issuer (or one of whose
// additional issuers) is iss; among several, the first (by key) whose
// audiences include one of aud, else the first. It grants nothing: the
// provider's verifier checks the signed token.
func (r *Registry) providerForIssuer(iss string, aud []string) *Provider {
	ix := r.index.Load()
	var first *Provider
	var exact []*Provider
	if v, ok := ix.exact.Load(iss); ok {
		exact = v.([]*Provider)
	}
	for _, p := range exact {
		if slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(p.bearerAudiences(p.clientID()), a) }) {
			return p
		}
		if first == nil {
			first = p
		}
	}
	for _, p := range *ix.tenants.Load() {
		if !p.tenantIssuer(iss) {
			continue
		}
		if slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(p.bearerAudiences(p.clientID()), a) }) {
			return p
		}
		if first == nil {
			first = p
		}
	}
	return first
}

// principal maps a verified token.
func (p *Provider) principal(tok *discovery.Token, typ string) (*Principal, error) {
	user, err := p.mapper.User(tok.Claims)
	if err != nil {
		return nil, err
	}
	user.Provider, user.Issuer = p.key, tok.Issuer // verified: the discovered or an additional issuer
	scopes, err := scopesOf(tok.Claims, p.cfg.ScopePrefix)
	if err != nil {
		return nil, err
	}
	clientID, _ := tok.Claims["client_id"].(string)
	if clientID == "" {
		clientID, _ = tok.Claims["azp"].(string)
	}
	return &Principal{Provider: p.key, User: user, Scopes: scopes, Roles: user.Roles, ClientID: clientID,
		Audience: tok.Audience, TokenType: typ, Expiry: tok.Expiry, IssuedAt: tok.IssuedAt}, nil
}

// scopesOf reads scope (RFC 9068 §2.2.3: a space-separated string) or scp
// (a string or a list, as Okta and Entra send), stripping prefix.
func scopesOf(c map[string]any, prefix string) ([]string, error) {
	name, v := "scope", c["scope"]
	if v == nil {
		name, v = "scp", c["scp"]
	}
	var out []string
	switch v := v.(type) {
	case nil:
	case string:
		out = strings.Fields(v)
	case []any:
		out = make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, &claims.ClaimError{Claim: name, Reason: "has a non-string element"}
			}
			out = append(out, s)
		}
	default:
		return nil, &claims.ClaimError{Claim: name, Reason: "is neither a string nor a list"}
	}
	if prefix != "" {
		for i, s := range out {
			out[i] = strings.TrimPrefix(s, prefix)
		}
	}
	return out, nil
}
