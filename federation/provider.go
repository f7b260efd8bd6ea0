package federation

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/go-jose/go-jose/v4"
	"github.com/oidcfed/oidcfed/claims"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
	"github.com/oidcfed/oidcfed/session"
)

// Provider is one configured OpenID Provider. Its metadata, keys and
// verifier are derived from the discovery document once per document.
type Provider struct {
	key   string
	given *ProviderConfig // as configured, before the preset; nil: cfg (no preset)
	cfg   ProviderConfig  // with the preset applied
	// version identifies cfg across processes (flows of another version
	// fail); computed on first use, since most of thousands of providers
	// are never used by a given process.
	version     string
	versionOnce sync.Once
	frontend    *allowed // the origin and path of an absolute frontendURL
	src         *discovery.Source
	reg         *Registry
	mapper      *claims.Mapper
	clientKeys  []*ClientKey // ClientKey, or clientKeyFile's keys (read when built); the first signs
	// static is the configured client; registered the live dynamic
	// registration (registration "dynamic"), nil until one is made.
	static     *clientCreds
	registered atomic.Pointer[clientCreds]
	// tlsClient and tlsExchange present the client certificate (mutual
	// TLS methods only); tlsErr says why they could not be built.
	tlsClient, tlsExchange *http.Client
	tlsErr                 error
	// intro introspects opaque bearer tokens (introspectOpaqueTokens).
	intro *introspector
	// claimKeys are the key sets of the aggregatedClaims issuers.
	claimKeys claimKeySets
	// nonce is the authorization server's last DPoP-Nonce.
	nonce  atomic.Pointer[string]
	scopes []string

	removed atomic.Bool // set when removed or replaced, before its key set is released

	mu  sync.Mutex
	cur *resolved
}

// resolved is what a metadata document implies; immutable.
type resolved struct {
	md       *discovery.Metadata
	keys     *discovery.KeySet
	verifier *discovery.Verifier            // ID tokens
	logout   *discovery.Verifier            // back-channel logout tokens
	bearer   map[string]*discovery.Verifier // bearer tokens, by accepted iss
	client   *clientCreds                   // the client_id and secret
	auth     clientAuth
	authErr  error       // why the token endpoint cannot be used, if it cannot
	signer   jose.Signer // signs client assertions (private_key_jwt, client_secret_jwt)
	// requestSigner signs request objects (requestObject "signed").
	requestSigner jose.Signer
}

// signIn resolves the provider for a sign-in, which needs its token endpoint.
func (p *Provider) signIn(ctx context.Context) (*resolved, error) {
	st, err := p.resolve(ctx)
	if err == nil && st.authErr != nil {
		return nil, st.authErr
	}
	return st, err
}

// configVersion returns the provider's version, computing it once.
func (p *Provider) configVersion() string {
	p.versionOnce.Do(func() { p.version = configVersion(p.cfg) })
	return p.version
}

// givenConfig is the provider's config as configured.
func (p *Provider) givenConfig() *ProviderConfig {
	if p.given != nil {
		return p.given
	}
	return &p.cfg
}

// Key returns the provider's registry key, "oidc:<name>".
func (p *Provider) Key() string { return p.key }

// String prints the key and the issuer.
func (p *Provider) String() string {
	return fmt.Sprintf("federation.Provider{%s %s}", p.key, p.src.Issuer())
}

// Tokens are the provider's tokens from a sign-in. They print and log as
// [redacted].
type Tokens struct {
	AccessToken  Secret    // for the provider's APIs and userinfo
	RefreshToken Secret    // for Refresh; empty when none was issued
	IDToken      Secret    // the ID token from sign-in: Refresh and LogoutURL need it
	Expiry       time.Time // from expires_in on the injected clock; zero when not given
	// DPoP is the key the tokens are bound to (provider dpop: true):
	// Refresh and DPoPClient prove possession of it. A secret: store it
	// only sealed ([DPoPKey.MarshalBinary]).
	DPoP *DPoPKey
}

// Result is a verified sign-in at a provider.
type Result struct {
	User   claims.User // the mapped, verified user
	Tokens Tokens      // the tokens of the sign-in
	SID    string      // the ID token's sid, for back-channel logout
	// Authentication is how the user authenticated at the provider, as
	// its ID token says: for a host that requires a second factor, or a
	// recent sign-in, before one action (see [Handler.Start]).
	Authentication Authentication
}

// Authentication is how the user authenticated, from the ID token
// (OpenID Connect Core 1.0 §2). Each field is empty when the provider
// did not say.
type Authentication struct {
	ACR      string    // acr: the authentication context class, e.g. a provider's MFA value
	AMR      []string  // amr: the methods, e.g. ["pwd", "mfa"] (RFC 8176)
	AuthTime time.Time // auth_time: when the user authenticated
}

// authentication reads acr, amr and auth_time from verified claims.
func authentication(c map[string]any) Authentication {
	var a Authentication
	a.ACR, _ = c["acr"].(string)
	if amr, ok := c["amr"].([]any); ok {
		for _, m := range amr {
			if s, ok := m.(string); ok {
				a.AMR = append(a.AMR, s)
			}
		}
	}
	if n, ok := c["auth_time"].(json.Number); ok {
		if sec, err := n.Int64(); err == nil {
			a.AuthTime = time.Unix(sec, 0)
		}
	}
	return a
}

// The String, GoString and LogValue methods below keep tokens out of every
// way a value can be printed, including fmt's fallbacks for a wrong verb,
// which print nested fields without their String methods.

// String prints which tokens are present and the expiry, never a token.
func (t Tokens) String() string {
	dpop := "none"
	if t.DPoP != nil {
		dpop = t.DPoP.String()
	}
	return fmt.Sprintf("federation.Tokens{AccessToken:%s RefreshToken:%s IDToken:%s Expiry:%s DPoP:%s}",
		t.AccessToken.mask(), t.RefreshToken.mask(), t.IDToken.mask(), t.Expiry.Format(time.RFC3339), dpop)
}

// GoString is String.
func (t Tokens) GoString() string { return t.String() }

// LogValue logs the tokens as String prints them.
func (t Tokens) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_token", t.AccessToken.mask()),
		slog.String("refresh_token", t.RefreshToken.mask()),
		slog.String("id_token", t.IDToken.mask()), slog.Time("expiry", t.Expiry))
}

// String prints the user and the tokens, redacted.
func (r Result) String() string {
	return fmt.Sprintf("federation.Result{User:%+v Tokens:%v SID:%q}", r.User, r.Tokens, r.SID)
}

// GoString is String.
func (r Result) GoString() string { return r.String() }

// LogValue logs the result without its tokens.
func (r Result) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", r.User.Provider), slog.String("subject", r.User.Subject),
		slog.String("sid", r.SID), slog.Any("tokens", r.Tokens))
}

func (p *Provider) resolve(ctx context.Context) (*resolved, error) {
	md, err := p.reg.cache.Get(ctx, p.src)
	if err != nil {
		return nil, newError(CodeProviderUnavailable, "the identity provider could not be reached", err)
	}
	client, err := p.credentials(ctx, md)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil && p.cur.md == md && p.cur.client == client {
		return p.cur, nil
	}
	// A client-authentication mismatch fails sign-in only: bearer tokens
	// are verified without the token endpoint.
	auth, authErr := p.clientAuthFor(md, client)
	var signer, requestSigner jose.Signer
	if authErr == nil {
		signer, authErr = p.assertionSigner(md, auth, client)
	}
	if authErr == nil {
		requestSigner, authErr = p.requestSigner(md)
	}
	if authErr != nil {
		authErr = newError(CodeInvalidClient, "the identity provider is misconfigured", authErr)
	}
	var keys *discovery.KeySet
	if p.cur != nil && p.cur.md.JWKSURI == md.JWKSURI {
		keys = p.cur.keys
	} else {
		if p.cur != nil {
			// Another key set: what the old one verified is no longer vouched for.
			p.reg.tokens.evict(p.key, "")
			p.reg.keySets.release(p, p.cur.md.JWKSURI)
		}
		keys, err = p.reg.keySets.acquire(p, md.JWKSURI, func() (*discovery.KeySet, error) {
			return p.reg.newKeySet(p.key, md.JWKSURI)
		})
		if err != nil {
			return nil, newError(CodeProviderUnavailable, "the identity provider is misconfigured", err)
		}
		if p.removed.Load() {
			// Removed while resolving: this request may use the set, but
			// the provider no longer holds it.
			p.reg.keySets.release(p, md.JWKSURI)
		}
	}
	verifier := func(issuer string, audiences []string, subjectOptional bool) (*discovery.Verifier, error) {
		return discovery.NewVerifier(discovery.VerifierConfig{Issuer: issuer, Audiences: audiences,
			KeySet: keys, Algorithms: md.Algorithms(), Now: p.reg.opts.now, Leeway: p.reg.opts.leeway,
			SubjectOptional: subjectOptional})
	}
	st := &resolved{md: md, keys: keys, bearer: map[string]*discovery.Verifier{}, client: client, auth: auth,
		authErr: authErr, signer: signer, requestSigner: requestSigner}
	if st.verifier, err = verifier(md.Issuer, []string{client.id}, false); err != nil {
		return nil, newError(CodeProviderUnavailable, "the identity provider is misconfigured", err)
	}
	if st.logout, err = verifier(md.Issuer, []string{client.id}, true); err != nil {
		return nil, newError(CodeProviderUnavailable, "the identity provider is misconfigured", err)
	}
	for _, iss := range append([]string{md.Issuer}, p.cfg.AdditionalIssuers...) {
		if st.bearer[iss], err = verifier(iss, p.bearerAudiences(client.id), false); err != nil {
			return nil, newError(CodeProviderUnavailable, "the identity provider is misconfigured", err)
		}
	}
	p.cur = st
	return st, nil
}

// newKeySet is the key set of uri, first resolved by provider key; the
// providers that share it ([keySets]) drop their tokens signed by a key
// that leaves it. Fetches are reported for the first provider.
func (r *Registry) newKeySet(key, uri string) (*discovery.KeySet, error) {
	kc := discovery.KeySetConfig{URI: uri, Client: r.opts.client, Now: r.opts.now, Logger: r.opts.logger,
		OnKeyRemoved: func(kid string) {
			for _, k := range r.keySets.users(uri) {
				r.tokens.evict(k, kid)
			}
		}}
	if obs := r.opts.observer; obs != nil && obs.Fetch != nil {
		kc.OnFetch = func(info discovery.FetchInfo) { r.observeFetch(key, FetchJWKS, info) }
	}
	return discovery.NewKeySet(kc)
}

// bearerAudiences are the accepted aud values of bearer tokens: the
// configured audiences, else the client.
func (p *Provider) bearerAudiences(clientID string) []string {
	if len(p.cfg.Audiences) > 0 {
		return p.cfg.Audiences
	}
	return []string{clientID}
}

// oauth2Config builds authorization URLs (x/oauth2 adds the parameters to
// the endpoint's own query); token requests are ours (tokenendpoint.go).
func (p *Provider) oauth2Config(st *resolved, redirectURI string) *oauth2.Config {
	return &oauth2.Config{ClientID: st.client.id, Endpoint: oauth2.Endpoint{AuthURL: st.md.AuthorizationEndpoint},
		RedirectURL: redirectURI, Scopes: p.scopes}
}

// AuthCodeURL returns the authorization URL for f: code flow, PKCE S256,
// state and nonce, with the provider's authParams, requiredAcr and maxAge.
func (p *Provider) AuthCodeURL(ctx context.Context, f *session.FlowState, redirectURI string) (string, error) {
	return p.authCodeURL(ctx, f, redirectURI, nil)
}

// authCodeURL is AuthCodeURL with per-request parameters (login_hint).
func (p *Provider) authCodeURL(ctx context.Context, f *session.FlowState, redirectURI string,
	extra url.Values) (string, error) {
	st, err := p.signIn(ctx)
	if err != nil {
		return "", err
	}
	params := url.Values{"response_type": {"code"}, "client_id": {st.client.id}, "redirect_uri": {redirectURI},
		"scope": {strings.Join(p.scopes, " ")}, "state": {f.State}, "nonce": {f.Nonce},
		"code_challenge": {f.Verifier.Challenge()}, "code_challenge_method": {"S256"}}
	for k, v := range p.authParams(extra) {
		if !params.Has(k) { // reservedParams: refused in authParams already
			params[k] = v[:1]
		}
	}
	var key *DPoPKey
	if len(f.DPoPKey) > 0 {
		if key, err = ParseDPoPKey(f.DPoPKey); err != nil {
			return "", newError(CodeServerError, "the sign-in's DPoP key could not be read", err)
		}
		params.Set("dpop_jkt", key.Thumbprint())
	}
	return p.authorizationRequest(ctx, st, params, key)
}

// LogoutRequest is an RP-initiated logout (OpenID Connect RP-Initiated
// Logout 1.0 §2). Every field is optional.
type LogoutRequest struct {
	// IDTokenHint is the ID token from sign-in. Providers use it to find
	// the session, and many require it to honour PostLogoutRedirectURI.
	IDTokenHint string
	// PostLogoutRedirectURI is where the provider sends the browser after
	// logout. It must be registered at the provider, and allowed here: see
	// ProviderConfig.PostLogoutRedirectURIs.
	PostLogoutRedirectURI string
	// State is returned to PostLogoutRedirectURI as the state parameter.
	State string
	// UILocales are the preferred languages of the logout page, as BCP 47
	// tags, most preferred first.
	UILocales []string
	// LogoutHint tells the provider which account to sign out, e.g. an
	// email address.
	LogoutHint string
}

// ErrPostLogoutRedirect: the post-logout redirect URI is not in the
// provider's postLogoutRedirectURIs, under allowedRedirects or (through
// the Handler) on the application's origin.
var ErrPostLogoutRedirect = errors.New("federation: the post-logout redirect URI is not allowed")

// LogoutURL returns the provider's end_session_endpoint URL for req, with
// client_id. The post-logout redirect must be an absolute https URL (http
// on loopback) that is one of ProviderConfig.PostLogoutRedirectURIs or
// under Config.AllowedRedirects; [Handler.LogoutURL] also accepts paths on
// the application. It fails with [ErrNoEndSession] when the provider has
// no end_session_endpoint: the host then ends its own session only.
func (p *Provider) LogoutURL(ctx context.Context, req LogoutRequest) (string, error) {
	return p.logoutURL(ctx, req, nil)
}

func (p *Provider) logoutURL(ctx context.Context, req LogoutRequest, sameOrigin func(*url.URL) bool) (string, error) {
	if req.PostLogoutRedirectURI != "" {
		u, err := urlcheck.Endpoint(req.PostLogoutRedirectURI)
		if err != nil {
			return "", newError(CodeInvalidRequest, "the post-logout redirect is not an absolute https URL",
				fmt.Errorf("%s: post-logout redirect: %w", p.key, err))
		}
		if urlcheck.HasDotSegment(u.EscapedPath()) || !slices.Contains(p.cfg.PostLogoutRedirectURIs, req.PostLogoutRedirectURI) &&
			!p.reg.allows(u) && (sameOrigin == nil || !sameOrigin(u)) {
			return "", newError(CodeInvalidRequest, "the post-logout redirect is not allowed",
				fmt.Errorf("%w (%s): %q; add it to postLogoutRedirectURIs", ErrPostLogoutRedirect, p.key,
					req.PostLogoutRedirectURI))
		}
	}
	for _, tag := range req.UILocales {
		if tag == "" || strings.ContainsFunc(tag, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return "", newError(CodeInvalidRequest, "a ui_locales value is not a language tag",
				fmt.Errorf("%s: ui_locales: %q", p.key, tag))
		}
	}
	st, err := p.resolve(ctx)
	if err != nil {
		return "", err
	}
	if st.md.EndSessionEndpoint == "" {
		return "", newError(CodeUnsupported,
			"the identity provider does not offer RP-initiated logout; end the local session only",
			fmt.Errorf("%w (%s)", ErrNoEndSession, p.key))
	}
	u, err := url.Parse(st.md.EndSessionEndpoint)
	if err != nil {
		return "", newError(CodeProviderUnavailable, "the identity provider is misconfigured", err)
	}
	q := u.Query()
	q.Set("client_id", st.client.id)
	for name, v := range map[string]string{"id_token_hint": req.IDTokenHint, "post_logout_redirect_uri": req.PostLogoutRedirectURI,
		"state": req.State, "ui_locales": strings.Join(req.UILocales, " "), "logout_hint": req.LogoutHint} {
		if v != "" {
			q.Set(name, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// checkIssParam applies RFC 9207: the authorization response's iss must be
// the provider's issuer when the provider advertises it, or when present.
func (p *Provider) checkIssParam(ctx context.Context, q url.Values) error {
	st, err := p.resolve(ctx)
	if err != nil {
		return err
	}
	if !st.md.AuthorizationResponseISSParameterSupported && !q.Has("iss") {
		return nil
	}
	if got := q.Get("iss"); !st.md.IssuerMatches(got) {
		return newError(CodeInvalidRequest, "the sign-in response came from another identity provider",
			fmt.Errorf("%w: got %q, want %q", ErrIssMismatch, got, st.md.Issuer))
	}
	return nil
}

// completeRedirect applies the authorization response rules (RFC 9207 iss,
// error, code) and completes the sign-in.
func (p *Provider) completeRedirect(ctx context.Context, f *session.FlowState, q url.Values,
	redirectURI string) (*Result, error) {
	if err := p.checkIssParam(ctx, q); err != nil {
		return nil, err
	}
	if e := q.Get("error"); e != "" {
		return nil, newError(safeCode(e), providerDescription(q.Get("error_description")), nil)
	}
	code := q.Get("code")
	if code == "" {
		return nil, newError(CodeInvalidRequest, "the identity provider sent no authorization code", nil)
	}
	return p.complete(ctx, f, code, redirectURI)
}

// providerDescription keeps a provider's error_description printable and short.
func providerDescription(s string) string {
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	if s == "" {
		return "the identity provider refused the sign-in"
	}
	return s
}

// complete exchanges code for tokens with f's PKCE verifier, verifies the ID
// token (signature, iss, aud, exp, iat, nbf, nonce, azp, at_hash), fetches
// userinfo when mapped claims are missing, and maps the user.
func (p *Provider) complete(ctx context.Context, f *session.FlowState, code, redirectURI string) (*Result, error) {
	began := time.Now()
	st, err := p.signIn(ctx)
	p.step(ctx, StepDiscovery, began, err)
	if err != nil {
		return nil, err
	}
	began = time.Now()
	var key *DPoPKey
	if len(f.DPoPKey) > 0 {
		if key, err = ParseDPoPKey(f.DPoPKey); err != nil {
			return nil, newError(CodeServerError, "the sign-in's DPoP key could not be read", err)
		}
	}
	tr, start, err := p.tokenRequestDPoP(ctx, st, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {f.Verifier.Reveal()}}, "the sign-in", key)
	if p.step(ctx, StepToken, began, err); err != nil {
		return nil, err
	}
	began = time.Now()
	vt, err := p.verifyTokenResponse(ctx, st, tr, true)
	if err == nil {
		nonce, _ := vt.Claims["nonce"].(string)
		if subtle.ConstantTimeCompare([]byte(nonce), []byte(f.Nonce)) != 1 || nonce == "" {
			err = newError(CodeInvalidToken, "the identity provider's ID token was rejected", ErrNonceMismatch)
		} else {
			err = p.checkAuthentication(vt.Claims, f)
		}
	}
	if p.step(ctx, StepIDToken, began, err); err != nil {
		return nil, err
	}
	return p.result(ctx, st, tr, vt, start)
}

// step reports a flow step to the observer, and logs it at debug level:
// provider, step, duration and, when it failed, the error (which never
// holds a secret).
func (p *Provider) step(ctx context.Context, step string, began time.Time, err error) {
	if obs := p.reg.opts.observer; obs != nil && obs.Step != nil {
		obs.Step(ctx, StepEvent{Provider: p.key, Step: step, Duration: time.Since(began), Code: codeOf(err)})
	}
	log := p.reg.opts.logger
	if !log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if err != nil {
		log.DebugContext(ctx, "federation: flow step", "provider", p.key, "step", step, "duration", time.Since(began),
			"error", err)
		return
	}
	log.DebugContext(ctx, "federation: flow step", "provider", p.key, "step", step, "duration", time.Since(began))
}

// result maps a verified token response to a Result: userinfo when the ID
// token lacks mapped claims, then the user; start is when the token
// request was sent, for the expiry.
func (p *Provider) result(ctx context.Context, st *resolved, tr *tokenResponse, vt *discovery.Token,
	start time.Time) (*Result, error) {
	all := vt.Claims
	if st.md.UserinfoEndpoint != "" && p.needsUserinfo(all) {
		began := time.Now()
		ui, err := p.userinfo(ctx, st, tr.AccessToken, tr.dpop)
		if p.step(ctx, StepUserinfo, began, err); err != nil {
			return nil, err
		}
		if all, err = p.mapper.Merge(all, ui); err != nil {
			return nil, newError(CodeInvalidToken, "the identity provider's user information was rejected", err)
		}
	}
	all = p.aggregate(ctx, all)
	user, err := p.mapper.User(all)
	if err != nil {
		return nil, newError(CodeInvalidToken, "the identity provider's claims could not be used", err)
	}
	if err := p.checkIdentity(vt.Claims, user); err != nil {
		return nil, err
	}
	user.Provider, user.Issuer = p.key, vt.Issuer // the tenant's own issuer under a template
	res := &Result{User: user, Tokens: tr.tokens(start), Authentication: authentication(vt.Claims)}
	res.SID, _ = all["sid"].(string)
	return res, nil
}

// verifyTokenResponse checks a token response: token_type Bearer, and the
// ID token (required unless needID is false and there is none) verified
// with the rules of OpenID Connect Core 1.0 §3.1.3.7 that do not depend on
// the flow: signature, iss, aud, exp, iat, azp, untrusted audiences and
// at_hash. It returns nil when there is no ID token.
func (p *Provider) verifyTokenResponse(ctx context.Context, st *resolved, tr *tokenResponse,
	needID bool) (*discovery.Token, error) {
	if want := map[bool]string{false: "Bearer", true: "DPoP"}[tr.dpop != nil]; !strings.EqualFold(tr.TokenType, want) {
		// A DPoP request answered with a Bearer token would leave the
		// token unbound (RFC 9449 §5): refused as any other type.
		return nil, newError(CodeInvalidToken, "the identity provider sent an unusable token",
			fmt.Errorf("token_type %q, want %s", tr.TokenType, want))
	}
	if tr.IDToken == "" {
		if !needID {
			return nil, nil
		}
		return nil, newError(CodeInvalidToken, "the identity provider sent no ID token", ErrNoIDToken)
	}
	if e := p.cfg.IDTokenEncryption; e != nil || isJWE(tr.IDToken) {
		// Signed, then encrypted (OpenID Connect Core 1.0 §10.2): what is
		// kept (the logout hint) is the signed token inside.
		inner, err := p.openJWE(tr.IDToken, e, "idTokenEncryption")
		if _, _, _, jws := splitJWS(string(inner)); err == nil && !jws {
			err = fmt.Errorf("%w: the decrypted ID token is not a signed JWT (Core §10.2: sign, then encrypt)",
				ErrDecrypt)
		}
		if tr.IDToken = string(inner); err != nil {
			return nil, newError(CodeInvalidToken, "the identity provider's ID token was rejected",
				fmt.Errorf("ID token: %w", err))
		}
	}
	vt, err := st.verifier.Verify(ctx, tr.IDToken)
	if err != nil {
		if errors.Is(err, discovery.ErrKeysUnavailable) {
			return nil, newError(CodeProviderUnavailable, "the identity provider's keys could not be fetched", err)
		}
		return nil, newError(CodeInvalidToken, "the identity provider's ID token was rejected", err)
	}
	azp, hasAZP := vt.Claims["azp"]
	if hasAZP && azp != st.client.id || !hasAZP && len(vt.Audience) > 1 {
		err = fmt.Errorf("%w: azp %v, audiences %q", ErrAZPMismatch, azp, vt.Audience)
	}
	for _, a := range vt.Audience {
		if err == nil && a != st.client.id && !slices.Contains(p.cfg.TrustedAudiences, a) {
			err = fmt.Errorf("%w: %q", ErrUntrustedAudience, a)
		}
	}
	if err == nil && vt.AccessTokenHash != "" {
		if e := vt.VerifyAccessToken(tr.AccessToken); e != nil {
			err = fmt.Errorf("%w: %v", ErrAtHash, e)
		}
	}
	if err != nil {
		return nil, newError(CodeInvalidToken, "the identity provider's ID token was rejected", err)
	}
	return vt, nil
}

// needsUserinfo reports whether the ID token lacks a claim the requested
// scopes promise (email for "email", name for "profile") or a claim whose
// mapping was configured.
func (p *Provider) needsUserinfo(c map[string]any) bool {
	var fields []string
	if slices.Contains(p.scopes, "email") {
		fields = append(fields, "email")
	}
	if slices.Contains(p.scopes, "profile") {
		fields = append(fields, "name")
	}
	if p.cfg.Claims.Groups != "" {
		fields = append(fields, "groups")
	}
	if p.givenConfig().Claims.Roles != "" { // configured, not a preset's default
		fields = append(fields, "roles")
	}
	return p.mapper.Missing(c, fields...)
}

// userinfo fetches the userinfo claims with the access token in the
// Authorization header (never the query). A signed (JWT) response is
// refused rather than trusted unverified.
func (p *Provider) userinfo(ctx context.Context, st *resolved, accessToken string, key *DPoPKey) (map[string]any,
	error) {
	fail := func(err error) error {
		return newError(CodeProviderUnavailable, "the identity provider's user information could not be read", err)
	}
	endpoint, client := st.md.UserinfoEndpoint, p.reg.opts.client
	if st.auth == clientMutualTLS {
		// An access token issued over mutual TLS may be bound to the
		// certificate (RFC 8705 §3): present it at the alias too.
		endpoint, client = cmp.Or(st.md.MTLSEndpointAliases.UserinfoEndpoint, endpoint), p.tlsClient
	}
	resp, err := p.resourceRequest(ctx, client, http.MethodGet, endpoint, Secret(accessToken), key)
	if err != nil {
		return nil, fail(redactURLError(err))
	}
	body, err := httpx.ReadAll(resp)
	if err != nil {
		return nil, fail(err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fail(fmt.Errorf("userinfo: HTTP %d", resp.StatusCode))
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	signed := mt == "application/jwt"
	if e := p.cfg.UserinfoEncryption; e != nil || signed && isJWE(strings.TrimSpace(string(body))) {
		// Encrypted (Core §5.3.2): signed then encrypted, or encrypted
		// JSON.
		raw := ""
		if signed {
			raw = strings.TrimSpace(string(body))
		}
		if body, err = p.openJWE(raw, e, "userinfoEncryption"); err != nil {
			return nil, newError(CodeInvalidToken, "the identity provider's user information was rejected",
				fmt.Errorf("userinfo: %w", err))
		}
		_, _, _, signed = splitJWS(string(body))
	}
	if signed {
		// OpenID Connect Core 1.0 §5.3.2: a signed response, verified with
		// the provider's keys; iss and aud (the client) required, as the
		// module oidcc-client-test-userinfo-signed expects. The sub is
		// compared with the ID token's by the caller, as for JSON.
		v, err := discovery.NewVerifier(discovery.VerifierConfig{Issuer: st.md.Issuer, Audiences: []string{st.client.id},
			KeySet: st.keys, Algorithms: st.md.Algorithms(), Now: p.reg.opts.now, Leeway: p.reg.opts.leeway,
			ExpiryOptional: true, IssuedAtOptional: true})
		if err != nil {
			return nil, fail(err)
		}
		tok, err := v.Verify(ctx, strings.TrimSpace(string(body)))
		if err != nil {
			if errors.Is(err, discovery.ErrKeysUnavailable) {
				return nil, fail(err)
			}
			return nil, newError(CodeInvalidToken, "the identity provider's signed user information was rejected",
				fmt.Errorf("userinfo: %w", err))
		}
		return tok.Claims, nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var c map[string]any
	if err := d.Decode(&c); err != nil || c == nil {
		return nil, newError(CodeInvalidToken, "the identity provider's user information was rejected",
			errors.New("userinfo: response is not a JSON object"))
	}
	return c, nil
}

// safeCode keeps an error code from a provider only if it is a plain token
// (RFC 6749 §5.2 allows %x20-21 / %x23-5B / %x5D-7E; we allow less).
func safeCode(code string) Code {
	if code == "" || len(code) > 64 || strings.Trim(code, "abcdefghijklmnopqrstuvwxyz_") != "" {
		return CodeServerError
	}
	return Code(code)
}

// redactURLError drops the URL from a *url.Error, which may carry a query.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// sameOriginRedirects is a CheckRedirect policy: it follows at most 10
// redirects, all on the first request's origin, and answers a redirect to
// another origin with crossOrigin (http.ErrUseLastResponse: the redirect
// itself is the response). A transport that adds a token needs it:
// http.Client drops an Authorization header the request carried on a
// cross-origin hop, not one the transport adds.
func sameOriginRedirects(crossOrigin error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		switch {
		case req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host:
			return crossOrigin
		case len(via) >= 10:
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}
