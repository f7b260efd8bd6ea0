package federation

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/httpx"
	"github.com/oidcfed/oidcfed/session"
)

// Dynamic client registration (RFC 7591; OpenID Connect Dynamic Client
// Registration 1.0): a provider configured with registration "dynamic"
// and no clientId registers the client at its registration_endpoint on
// first use, keeps the credentials in the registry's value store (shared
// by instances, sealed), and registers again when they expire or the
// provider no longer knows them.

const (
	registrationStatic  = "static"
	registrationDynamic = "dynamic"
	// registrationTimeout bounds one registration request.
	registrationTimeout = 10 * time.Second
	// registrationRenewal re-registers this long before a secret expires,
	// so that no request carries a secret that expires on the way.
	registrationRenewal = time.Minute
	// maxClientID bounds a registered client_id.
	maxClientID = 255
	// registrationPurpose binds sealed registrations to their use.
	registrationPurpose = "oidcfed registration"
)

var (
	// ErrRegistration: the provider refused to register the client, or its
	// answer cannot be used (no client_id, no secret where the method
	// needs one, an expired secret, other metadata than asked).
	ErrRegistration = errors.New("federation: dynamic client registration failed")
	// ErrNoHandler: dynamic registration needs the application's redirect
	// and JWKS URLs, which a Handler on the registry gives.
	ErrNoHandler = errors.New("federation: dynamic registration needs a Handler on the registry (NewHandler) for the client's redirect and JWKS URLs")
)

// clientCreds are the client's identity at the provider: configured, or
// registered (then issuer, store key and the secret's expiry).
type clientCreds struct {
	id      string
	secret  Secret
	expires time.Time // the secret's expiry; zero: none
	issuer  string    // registered only: where
	key     string    // registered only: the value store key
}

// live reports whether c may be used at now (a static client always may).
func (c *clientCreds) live(issuer string, now time.Time) bool {
	return c.key == "" || c.issuer == issuer && (c.expires.IsZero() || now.Before(c.expires.Add(-registrationRenewal)))
}

// storedRegistration is a registration as the value store keeps it
// (sealed unless the store is this process's memory).
type storedRegistration struct {
	Issuer        string `json:"iss"`
	ClientID      string `json:"client_id"`
	Secret        string `json:"client_secret,omitempty"`
	SecretExpires int64  `json:"client_secret_expires_at,omitempty"`
	// AccessToken and ClientURI manage the registration (RFC 7592).
	AccessToken string `json:"registration_access_token,omitempty"`
	ClientURI   string `json:"registration_client_uri,omitempty"`
}

// credentials are the client's credentials for md's provider: the
// configured ones, or a registration (kept, loaded from the store, or
// made now, once however many requests ask at the same time).
func (p *Provider) credentials(ctx context.Context, md *discovery.Metadata) (*clientCreds, error) {
	if p.cfg.Registration != registrationDynamic {
		return p.static, nil
	}
	if c := p.liveRegistration(md.Issuer); c != nil {
		return c, nil
	}
	return p.reg.registering.Do(ctx, p.key, func() (*clientCreds, error) {
		if c := p.liveRegistration(md.Issuer); c != nil { // made while this call waited
			return c, nil
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), registrationTimeout)
		defer cancel()
		c, err := p.register(ctx, md)
		if err == nil {
			p.registered.Store(c)
		}
		return c, err
	})
}

// liveRegistration is the registration this process holds for issuer,
// when it may still be used; nil otherwise.
func (p *Provider) liveRegistration(issuer string) *clientCreds {
	if c := p.registered.Load(); c != nil && c.live(issuer, p.reg.opts.now()) {
		return c
	}
	return nil
}

// register returns the stored registration for md's provider and this
// client's metadata, or registers one and stores it.
func (p *Provider) register(ctx context.Context, md *discovery.Metadata) (*clientCreds, error) {
	fail := func(code Code, err error) (*clientCreds, error) {
		return nil, newError(code, "the client could not be registered at the identity provider", err)
	}
	h := p.reg.handler.Load()
	if h == nil {
		return fail(CodeServerError, ErrNoHandler)
	}
	if md.RegistrationEndpoint == "" {
		return fail(CodeServerError, fmt.Errorf("%w: the provider has no registration_endpoint", ErrRegistration))
	}
	body, err := json.Marshal(p.registrationRequest(h, md))
	if err != nil {
		return fail(CodeServerError, err)
	}
	// The store key changes with what is asked: another redirect URI,
	// method or encryption registers anew rather than reuse a client
	// registered for something else.
	sum := sha256.Sum256(append([]byte(md.Issuer+"\n"), body...))
	key := "registration:" + p.key + ":" + hex.EncodeToString(sum[:16])
	now := p.reg.opts.now()
	if c, err := p.reg.values.loadRegistration(ctx, key); err == nil && c.live(md.Issuer, now) {
		return c, nil
	} else if err != nil && !errors.Is(err, session.ErrNoValue) {
		p.reg.opts.logger.Warn("federation: a stored client registration could not be read; registering again",
			"provider", p.key, "error", err)
	}
	began := time.Now()
	sr, err := p.postRegistration(ctx, md.RegistrationEndpoint, body, now)
	if p.step(ctx, StepRegistration, began, err); err != nil {
		return nil, err
	}
	sr.Issuer = md.Issuer
	c := sr.creds(key)
	if err := p.reg.values.storeRegistration(ctx, key, sr, c.expires); err != nil {
		// The client is registered: this instance uses it, others will
		// register their own.
		p.reg.opts.logger.Warn("federation: a client registration could not be stored", "provider", p.key,
			"error", err)
	}
	p.reg.opts.logger.Info("federation: client registered", "provider", p.key, "client_id", c.id)
	return c, nil
}

// clientID is the client's ID as far as it is known without a request:
// the configured one, or the live registration's ("" before one).
func (p *Provider) clientID() string {
	if c := p.registered.Load(); c != nil {
		return c.id
	}
	return p.static.id
}

// creds are r's credentials under the value store key.
func (r *storedRegistration) creds(key string) *clientCreds {
	c := &clientCreds{id: r.ClientID, secret: Secret(r.Secret), issuer: r.Issuer, key: key}
	if r.SecretExpires > 0 {
		c.expires = time.Unix(r.SecretExpires, 0)
	}
	return c
}

// registrationRequest is the client metadata registered (RFC 7591 §2;
// OpenID Connect Dynamic Client Registration 1.0 §2).
func (p *Provider) registrationRequest(h *Handler, md *discovery.Metadata) map[string]any {
	method := p.cfg.TokenEndpointAuthMethod
	m := map[string]any{
		"redirect_uris":              []string{h.redirectURI(p, false), h.redirectURI(p, true)},
		"response_types":             []string{"code"},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"application_type":           "web",
		"token_endpoint_auth_method": method,
		"scope":                      strings.Join(p.scopes, " "),
	}
	if alg := idTokenAlg(md); alg != "" {
		m["id_token_signed_response_alg"] = alg
	}
	if len(p.clientKeys) > 0 {
		m["jwks_uri"] = h.JWKSURI(p.key)
	}
	// An alg the key cannot sign for this provider is left out: the
	// start fails on it anyway (ErrTokenEndpointAuth, ErrRequestObject).
	if k := p.clientKey(); k != nil {
		if alg := k.algFor(md.TokenEndpointAuthSigningAlgValuesSupported); method == authPrivateKeyJWT && alg != "" {
			m["token_endpoint_auth_signing_alg"] = string(alg)
		}
		if method == authTLS && k.chain != nil {
			m["tls_client_auth_subject_dn"] = k.chain[0].Subject.String()
		}
		if alg := k.algFor(md.RequestObjectSigningAlgValuesSupported); p.cfg.RequestObject == requestObjectSigned && alg != "" {
			m["request_object_signing_alg"] = string(alg)
		}
	}
	if p.cfg.RequestObject == requestObjectNone {
		m["request_object_signing_alg"] = "none"
	}
	if e := p.cfg.IDTokenEncryption; e != nil {
		m["id_token_encrypted_response_alg"], m["id_token_encrypted_response_enc"] = e.Alg, e.enc()
	}
	if e := p.cfg.UserinfoEncryption; e != nil {
		// Signed, then encrypted (some providers encrypt only what they sign).
		m["userinfo_signed_response_alg"] = cmp.Or(idTokenAlg(md), "RS256")
		m["userinfo_encrypted_response_alg"], m["userinfo_encrypted_response_enc"] = e.Alg, e.enc()
	}
	if h.cfg.OnLogout != nil {
		m["backchannel_logout_uri"] = h.base.String() + h.mount + p.key + "/backchannel-logout"
	}
	if len(p.cfg.PostLogoutRedirectURIs) > 0 {
		m["post_logout_redirect_uris"] = p.cfg.PostLogoutRedirectURIs
	}
	if p.cfg.DPoP {
		m["dpop_bound_access_tokens"] = true
	}
	return m
}

// idTokenAlg is the ID token algorithm asked at registration: RS256 (the
// default, left unsaid) when the provider lists it or lists none, else
// the first it lists that oidcfed verifies.
func idTokenAlg(md *discovery.Metadata) string {
	algs := md.IDTokenSigningAlgValuesSupported
	if len(algs) == 0 || slices.Contains(algs, "RS256") {
		return ""
	}
	if a := md.Algorithms(); len(a) > 0 {
		return a[0]
	}
	return ""
}

// postRegistration sends the registration request and checks the answer
// (RFC 7591 §3.2): an OAuth error keeps its code (invalid_redirect_uri,
// invalid_client_metadata…), never the body.
func (p *Provider) postRegistration(ctx context.Context, endpoint string, body []byte,
	now time.Time) (*storedRegistration, error) {
	fail := func(code Code, err error) (*storedRegistration, error) {
		return nil, newError(code, "the client could not be registered at the identity provider", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fail(CodeProviderUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if t := p.cfg.RegistrationToken; t != "" {
		// RFC 7591 §3: the initial access token.
		req.Header.Set("Authorization", "Bearer "+t.Reveal())
	}
	resp, err := p.reg.exchange.Do(req)
	if err != nil {
		return fail(CodeProviderUnavailable, redactURLError(err))
	}
	raw, err := httpx.ReadAll(resp)
	if err != nil {
		return fail(CodeProviderUnavailable, err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		code, ok := oauthError(raw)
		if !ok {
			return fail(CodeProviderUnavailable, fmt.Errorf("%w: registration endpoint: HTTP %d without an OAuth error",
				ErrRegistration, resp.StatusCode))
		}
		return fail(code, fmt.Errorf("%w: registration endpoint: HTTP %d %s", ErrRegistration, resp.StatusCode, code))
	}
	sr, err := p.parseRegistration(raw, body, now)
	if err != nil {
		return fail(CodeInvalidClient, err)
	}
	return sr, nil
}

// parseRegistration checks a registration answer against the request
// (asked): the client_id, a secret where the method needs one and not
// expired, and the metadata the provider echoes unchanged.
func (p *Provider) parseRegistration(raw, asked []byte, now time.Time) (*storedRegistration, error) {
	bad := func(format string, args ...any) (*storedRegistration, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrRegistration}, args...)...)
	}
	var r struct {
		storedRegistration
		SecretExpires *json.Number `json:"client_secret_expires_at"`
		Method        *string      `json:"token_endpoint_auth_method"`
		RedirectURIs  []string     `json:"redirect_uris"`
		IDTokenEnc    *string      `json:"id_token_encrypted_response_alg"`
		UserinfoEnc   *string      `json:"userinfo_encrypted_response_alg"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		return bad("the answer is not a JSON object of client metadata")
	}
	var req struct {
		Method       string   `json:"token_endpoint_auth_method"`
		RedirectURIs []string `json:"redirect_uris"`
		IDTokenEnc   string   `json:"id_token_encrypted_response_alg"`
		UserinfoEnc  string   `json:"userinfo_encrypted_response_alg"`
	}
	json.Unmarshal(asked, &req)
	sr := r.storedRegistration
	switch {
	case sr.ClientID == "" || len(sr.ClientID) > maxClientID || !printable(sr.ClientID):
		return bad("no usable client_id (1 to %d printable ASCII characters)", maxClientID)
	case r.Method != nil && *r.Method != req.Method:
		return bad("registered with token_endpoint_auth_method %q, not %q as asked", *r.Method, req.Method)
	case r.RedirectURIs != nil && !containsAll(r.RedirectURIs, req.RedirectURIs):
		return bad("the registered redirect_uris leave out one that was asked")
	case r.IDTokenEnc != nil && *r.IDTokenEnc != req.IDTokenEnc:
		return bad("registered with id_token_encrypted_response_alg %q, not %q as asked", *r.IDTokenEnc, req.IDTokenEnc)
	case r.UserinfoEnc != nil && *r.UserinfoEnc != req.UserinfoEnc:
		return bad("registered with userinfo_encrypted_response_alg %q, not %q as asked", *r.UserinfoEnc, req.UserinfoEnc)
	}
	switch req.Method {
	case authBasic, authPost, authClientSecretJWT:
		if sr.Secret == "" {
			return bad("no client_secret for token_endpoint_auth_method %q", req.Method)
		}
		if req.Method == authClientSecretJWT && len(sr.Secret) < 32 {
			return bad("a client_secret of %d bytes, too short to key HS256 (32 or more)", len(sr.Secret))
		}
	default:
		sr.Secret = "" // a secret the method does not use is not kept
	}
	if r.SecretExpires != nil && sr.Secret != "" {
		n, err := r.SecretExpires.Int64()
		if err != nil || n < 0 {
			return bad("client_secret_expires_at is not a time")
		}
		if n > 0 && !now.Before(time.Unix(n, 0).Add(-registrationRenewal)) {
			return bad("the client_secret expires at %s, already or within a minute", time.Unix(n, 0).UTC())
		}
		sr.SecretExpires = n
	}
	return &sr, nil
}

// printable reports whether s is printable ASCII (RFC 6749 VSCHAR).
func printable(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// containsAll reports whether have holds every one of want.
func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// forgetRegistration drops c, a registration the provider refused
// (invalid_client), from this process and the value store, so that the
// next sign-in registers again.
func (p *Provider) forgetRegistration(ctx context.Context, c *clientCreds) {
	if c == nil || c.key == "" {
		return
	}
	p.registered.CompareAndSwap(c, nil)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), registrationTimeout)
	defer cancel()
	if stored, err := p.reg.values.loadRegistration(ctx, c.key); err == nil && stored.id == c.id {
		if err := p.reg.values.store.Delete(ctx, c.key); err != nil {
			p.reg.opts.logger.Warn("federation: a refused client registration could not be deleted",
				"provider", p.key, "error", err)
		}
	}
	p.reg.opts.logger.Warn("federation: the provider refused the registered client; it registers again at the next sign-in",
		"provider", p.key, "client_id", c.id)
}

// values is the registry's value store, with the codec that seals what it
// holds (nil: the store is this process's memory).
type values struct {
	store session.ValueStore
	codec *session.Codec
}

// init sets the store of o (a memory store by default) and its codec.
func (v *values) init(o options) error {
	v.store = o.values
	if v.store == nil {
		v.store = session.NewMemoryValues(session.ValuesConfig{Now: o.now})
	}
	_, memory := v.store.(*session.MemoryValues)
	if len(o.sealKeys) == 0 && !memory {
		return &ConfigError{Field: "valueStore", Path: "WithValueStore",
			Err: errors.New("keys are required with a shared store: they seal the registered clients' secrets")}
	}
	if len(o.sealKeys) > 0 {
		c, err := session.NewCodec(o.sealKeys...)
		if err != nil {
			return &ConfigError{Field: "valueStore", Path: "WithValueStore", Err: err}
		}
		v.codec = c
	}
	return nil
}

func (v *values) storeRegistration(ctx context.Context, key string, sr *storedRegistration, expires time.Time) error {
	raw, err := json.Marshal(sr)
	if err != nil {
		return err
	}
	if v.codec != nil {
		raw = []byte(v.codec.Seal(raw, registrationPurpose))
	}
	return v.store.Put(ctx, key, raw, expires)
}

func (v *values) loadRegistration(ctx context.Context, key string) (*clientCreds, error) {
	raw, err := v.store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if v.codec != nil {
		if raw, err = v.codec.Open(string(raw), registrationPurpose); err != nil {
			return nil, err
		}
	}
	var sr storedRegistration
	if err := json.Unmarshal(raw, &sr); err != nil {
		return nil, err
	}
	return sr.creds(key), nil
}
