package federationtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TB is the part of testing.TB the provider needs; nil for a demo that
// closes the provider itself.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// User is an account at the provider.
type User struct {
	Subject           string // sub
	Email             string // email
	EmailVerified     bool   // email_verified
	Name              string // name
	GivenName         string // given_name
	FamilyName        string // family_name
	PreferredUsername string // preferred_username
	// Password enables the resource-owner password grant for the user
	// (with Options.PasswordGrant); empty never matches.
	Password string
	Groups   []string // groups
}

// Client is a registered relying party.
type Client struct {
	ID           string   // client_id
	Secret       string   // empty for a public client
	RedirectURIs []string // exact, or a loopback one without a port (any port)
	// BackchannelLogoutURI receives logout tokens from [Provider.BackchannelLogout].
	BackchannelLogoutURI string
	// Keys verify the client's private_key_jwt assertions (RFC 7523); a
	// client_secret_jwt assertion is verified with Secret.
	Keys []jose.JSONWebKey
	// Certificates are the client's self-signed TLS certificates
	// (self_signed_tls_client_auth, RFC 8705 §2.2).
	Certificates []*x509.Certificate
	// IDTokenEncryption and UserinfoEncryption encrypt this client's ID
	// tokens (signed, then encrypted) and userinfo (signed then encrypted
	// with Options.SignedUserinfo, else encrypted JSON) to one of Keys.
	IDTokenEncryption, UserinfoEncryption *Encryption
	// SecretExpires, when set, is when Secret stops being accepted.
	SecretExpires time.Time
	// RequestObjectAlg is the registered request_object_signing_alg:
	// "none" lets it send unsigned request objects.
	RequestObjectAlg string
	// RequestURIs are the request_uri values the client registered
	// (request objects by reference); any https or loopback one when empty.
	RequestURIs []string
	// TLSSubject is the subject DN (as x509.Certificate.Subject.String
	// writes it) of the client's certificate from Options.ClientCAs
	// (tls_client_auth, RFC 8705 §2.1).
	TLSSubject string
}

// Misbehavior bends the provider's responses. Each nil field leaves the
// provider correct.
type Misbehavior struct {
	// IDTokenClaims edits the ID token's claims before signing.
	IDTokenClaims func(claims map[string]any)
	// Sign replaces the signing of the ID token: it gets the payload and the
	// provider's current key and returns the compact token sent.
	Sign func(payload []byte, key crypto.Signer, kid, alg string) string
	// TokenResponse edits the token endpoint's JSON response.
	TokenResponse func(body map[string]any)
	// AuthorizationResponse edits the query of the redirect to the client.
	AuthorizationResponse func(q url.Values)
	// Userinfo edits the userinfo response's claims.
	Userinfo func(claims map[string]any)
	// TokenEndpoint, when set, answers token requests instead of the
	// provider: for HTML error pages, oversized or slow responses.
	TokenEndpoint http.HandlerFunc
	// UserinfoEndpoint, when set, answers userinfo requests instead of the
	// provider: for non-JSON or signed (JWT) responses.
	UserinfoEndpoint http.HandlerFunc
	// Discovery edits the discovery document.
	Discovery func(doc map[string]any)
	// AccessTokenClaims edits the access token's claims before signing.
	AccessTokenClaims func(claims map[string]any)
	// PAREndpoint, when set, answers pushed authorization requests
	// instead of the provider.
	PAREndpoint http.HandlerFunc
	// WebFinger, when set, answers WebFinger requests instead of the
	// provider.
	WebFinger http.HandlerFunc
	// IntrospectionEndpoint, when set, answers introspection requests
	// instead of the provider.
	IntrospectionEndpoint http.HandlerFunc
	// Introspection edits an introspection answer before it is sent.
	Introspection func(answer map[string]any)
	// Registration edits a registration answer before it is sent, and
	// RegistrationEndpoint answers registrations instead of the provider.
	Registration         func(answer map[string]any)
	RegistrationEndpoint http.HandlerFunc
}

// Options configure [New].
type Options struct {
	// Algorithm signs ID tokens: "RS256" (default), "ES256" or "EdDSA".
	Algorithm string
	// TokenAuthMethods is advertised as token_endpoint_auth_methods_supported
	// and enforced. Default: client_secret_basic. With "none", a client
	// registered without a secret (public) authenticates by client_id alone.
	TokenAuthMethods []string
	// ProfileInUserinfoOnly leaves email and profile claims out of the ID
	// token; they are then served only by userinfo.
	ProfileInUserinfoOnly bool
	// LoginPage shows a page to pick the user instead of approving the first
	// user at once.
	LoginPage bool
	// Addr is the listen address. Default: 127.0.0.1:0. With the host
	// localhost ("localhost:0") the issuer is http://localhost:PORT, a
	// different site from an application on 127.0.0.1, as a real
	// provider is.
	Addr string
	// AccessTokenAudience is the aud of issued access tokens. Default: the
	// client ID.
	AccessTokenAudience string
	// DeviceCodeLifetime and DeviceInterval shape device authorizations
	// (RFC 8628): defaults 10 minutes and 5 seconds.
	DeviceCodeLifetime, DeviceInterval time.Duration
	// PasswordGrant enables the resource-owner password grant (RFC 6749
	// §4.3) for users with a Password. Client credentials (§4.4) are
	// always enabled for confidential clients.
	PasswordGrant bool
	// DPoP takes DPoP proofs (RFC 9449) and binds tokens to their key;
	// DPoPNonce also asks for a nonce first. See dpop.go.
	DPoP, DPoPNonce bool
	// SignedIntrospection answers introspection requests with a JWT
	// (RFC 9701, application/token-introspection+jwt) for the client.
	SignedIntrospection bool
	// DistributedClaims are the claims GET /distributed-claims asserts,
	// as a claims provider, to the bearer token "claims-token".
	DistributedClaims map[string]any
	// SignedUserinfo answers userinfo with a signed JWT (application/jwt)
	// with iss and aud (the client).
	SignedUserinfo bool
	// UserinfoBodyOnly takes the userinfo access token only in a POST
	// form body (RFC 6750 §2.2), as some providers demand.
	UserinfoBodyOnly bool
	// OpaqueAccessTokens issues random access tokens instead of JWTs:
	// an API checks them at the introspection endpoint (RFC 7662).
	OpaqueAccessTokens bool
	// PushedAuthorization "supported" adds a PAR endpoint (RFC 9126);
	// "required" also advertises require_pushed_authorization_requests
	// and refuses authorization requests that were not pushed. Signed
	// request objects (RFC 9101) are taken either way.
	PushedAuthorization string
	// AssertionAlgs are the accepted algorithms of client assertions,
	// advertised as token_endpoint_auth_signing_alg_values_supported.
	// Default: RS256, PS256, ES256, HS256.
	AssertionAlgs []string
	// AssertionAudience "issuer" accepts only the issuer as a client
	// assertion's aud (by default the token endpoint or the issuer).
	AssertionAudience string
	// MutualTLS also serves the token, userinfo and device authorization
	// endpoints on a TLS port that asks for client certificates, advertised
	// as mtls_endpoint_aliases (RFC 8705 §5); see [Provider.MutualTLSRoots].
	MutualTLS bool
	// CertificateBoundTokens binds the access tokens issued over mutual
	// TLS to the client's certificate (RFC 8705 §3: cnf x5t#S256);
	// userinfo then answers them only over a connection with that
	// certificate.
	CertificateBoundTokens bool
	// ClientCAs issue the certificates of tls_client_auth clients.
	ClientCAs *x509.CertPool
	// Registration adds a registration endpoint (RFC 7591, POST
	// /register); RegistrationToken, when set, is the initial access token
	// it requires; RegistrationSecretLifetime, when set, makes registered
	// secrets expire (client_secret_expires_at) and the token endpoint
	// refuse them afterwards.
	Registration               bool
	RegistrationToken          string
	RegistrationSecretLifetime time.Duration
	// KeepRefreshTokens keeps a refresh token valid after use and sends no
	// new one. By default each refresh rotates it: the response carries a
	// new refresh token and the used one is refused from then on.
	KeepRefreshTokens bool
}

// Provider is a running OpenID Provider.
type Provider struct {
	opts   Options
	srv    *http.Server
	ln     net.Listener
	issuer string
	// tlsSrv serves the mutual-TLS aliases at tlsBase, with tlsCert.
	tlsSrv  *http.Server
	tlsBase string
	tlsCert *x509.Certificate

	mu         sync.Mutex
	key        *signingKey
	oldKeys    []*signingKey // still published
	clients    map[string]Client
	users      []User
	codes      map[string]*grant
	tokens     map[string]*grant
	refresh    map[string]*grant         // by refresh token
	devices    map[string]*deviceAuth    // by device code
	authSeen   []string                  // token endpoint auth methods received, in order
	authErr    string                    // why the last client authentication failed
	jtis       map[string]time.Time      // client assertion jti → exp, refused again until then
	bound      map[string]string         // access token → x5t#S256 of the certificate it is bound to
	pushed     map[string]*pushedRequest // by request_uri
	authzSeen  []string                  // how each authorization request came, in order
	revoked    []string                  // tokens sent to the revocation endpoint
	issued     map[string]issuedToken    // access token → to whom, until when
	inspected  int                       // introspection requests answered
	dpopJTIs   map[string]bool           // DPoP proof jtis seen
	registered int                       // clients registered at POST /register
	fetched    int                       // request objects fetched by reference
	bad        Misbehavior
	now        func() time.Time
}

type signingKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

type grant struct {
	client      string
	redirectURI string
	user        User
	nonce       string
	challenge   string
	scopes      []string
	expires     time.Time
	authTime    time.Time
	sid         string // the provider session, sent as the ID token's sid
	dpopJKT     string // the key the code (dpop_jkt) or the grant's tokens are bound to
}

// New starts a provider on a loopback port. With a non-nil t it is closed
// when the test ends and failures end the test.
func New(t TB, opts Options) *Provider {
	if t != nil {
		t.Helper()
	}
	p, err := Start(opts)
	if err != nil {
		if t != nil {
			t.Fatalf("federationtest: %v", err)
		}
		panic(err)
	}
	if t != nil {
		t.Cleanup(p.Close)
	}
	return p
}

// Start starts a provider; Close stops it.
func Start(opts Options) (*Provider, error) {
	if opts.Algorithm == "" {
		opts.Algorithm = "RS256"
	}
	if len(opts.TokenAuthMethods) == 0 {
		opts.TokenAuthMethods = []string{"client_secret_basic"}
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if len(opts.AssertionAlgs) == 0 {
		opts.AssertionAlgs = []string{"RS256", "PS256", "ES256", "HS256"}
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, err
	}
	issuer := "http://" + ln.Addr().String()
	if host, _, _ := net.SplitHostPort(opts.Addr); host == "localhost" {
		issuer = "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	p := &Provider{opts: opts, ln: ln, issuer: issuer, clients: map[string]Client{},
		codes: map[string]*grant{}, tokens: map[string]*grant{}, bound: map[string]string{}, pushed: map[string]*pushedRequest{}, issued: map[string]issuedToken{}, dpopJTIs: map[string]bool{}, refresh: map[string]*grant{}, devices: map[string]*deviceAuth{}, now: time.Now}
	if p.key, err = newSigningKey(opts.Algorithm); err != nil {
		return nil, err
	}
	p.srv = &http.Server{Handler: p.routes(), ReadHeaderTimeout: 5 * time.Second}
	go p.srv.Serve(ln)
	if opts.MutualTLS {
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		if err := p.startMutualTLS(host); err != nil {
			p.srv.Close()
			return nil, err
		}
	}
	return p, nil
}

func newSigningKey(alg string) (*signingKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	kid := make([]byte, 8)
	rand.Read(kid)
	return &signingKey{kid: base64.RawURLEncoding.EncodeToString(kid), alg: alg, priv: priv}, nil
}

// Close stops the provider.
func (p *Provider) Close() {
	p.srv.Close()
	if p.tlsSrv != nil {
		p.tlsSrv.Close()
	}
}

// Issuer returns the provider's issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// AddClient registers a client.
func (p *Provider) AddClient(c Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[c.ID] = c
}

// AddUser adds a user; the first user is the one auto-approval signs in.
func (p *Provider) AddUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users = append(p.users, u)
}

// SetUsers replaces the users.
func (p *Provider) SetUsers(users ...User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users = slices.Clone(users)
}

// Misbehave sets how the provider misbehaves from now on; the zero value
// restores correct behaviour.
func (p *Provider) Misbehave(m Misbehavior) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bad = m
}

// SetClock sets the provider's clock for iat, exp and code expiry.
func (p *Provider) SetClock(now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = now
}

// RotateKey signs with a new key of alg from now on; the old key stays
// published when keepOld is set.
func (p *Provider) RotateKey(alg string, keepOld bool) error {
	k, err := newSigningKey(alg)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if keepOld {
		p.oldKeys = append(p.oldKeys, p.key)
	}
	p.key = k
	return nil
}

// TokenAuthMethodsSeen returns the client authentication methods the token
// endpoint received, in order.
func (p *Provider) TokenAuthMethodsSeen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.authSeen)
}

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /authorize", p.authorize)
	mux.HandleFunc("POST /token",
		p.replaceable(func(m Misbehavior) http.HandlerFunc { return m.TokenEndpoint }, p.token))
	mux.HandleFunc("GET /userinfo",
		p.replaceable(func(m Misbehavior) http.HandlerFunc { return m.UserinfoEndpoint }, p.userinfo))
	mux.HandleFunc("POST /userinfo",
		p.replaceable(func(m Misbehavior) http.HandlerFunc { return m.UserinfoEndpoint }, p.userinfo))
	mux.HandleFunc("GET /end_session", p.endSession)
	mux.HandleFunc("POST /device_authorization", p.deviceAuthorization)
	mux.HandleFunc("POST /revoke", p.revoke)
	mux.HandleFunc("GET /distributed-claims", p.distributedClaims)
	mux.HandleFunc("GET /.well-known/webfinger",
		p.replaceable(func(m Misbehavior) http.HandlerFunc { return m.WebFinger }, p.webfinger))
	mux.HandleFunc("POST /introspect",
		p.replaceable(func(m Misbehavior) http.HandlerFunc { return m.IntrospectionEndpoint }, p.introspect))
	mux.HandleFunc("POST /par",
		p.replaceable(func(m Misbehavior) http.HandlerFunc { return m.PAREndpoint }, p.pushAuthorization))
	mux.HandleFunc("POST /register",
		p.replaceable(func(m Misbehavior) http.HandlerFunc { return m.RegistrationEndpoint }, p.register))
	mux.HandleFunc("GET /device", p.device)
	mux.HandleFunc("POST /device", p.device)
	return mux
}

// replaceable serves h, or the Misbehavior's replacement for it when set.
func (p *Provider) replaceable(replacement func(Misbehavior) http.HandlerFunc, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		serve := replacement(p.bad)
		p.mu.Unlock()
		if serve == nil {
			serve = h
		}
		serve(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// grantTypes are the grant_types_supported.
func (p *Provider) grantTypes() []string {
	g := []string{"authorization_code", "refresh_token", deviceGrant, "client_credentials"}
	if p.opts.PasswordGrant {
		g = append(g, "password")
	}
	return g
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	doc := map[string]any{
		"issuer":                                           p.issuer,
		"authorization_endpoint":                           p.issuer + "/authorize",
		"token_endpoint":                                   p.issuer + "/token",
		"userinfo_endpoint":                                p.issuer + "/userinfo",
		"jwks_uri":                                         p.issuer + "/jwks",
		"end_session_endpoint":                             p.issuer + "/end_session",
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query", "form_post"},
		"revocation_endpoint":                              p.issuer + "/revoke",
		"introspection_endpoint":                           p.issuer + "/introspect",
		"device_authorization_endpoint":                    p.issuer + "/device_authorization",
		"grant_types_supported":                            p.grantTypes(),
		"backchannel_logout_supported":                     true,
		"backchannel_logout_session_supported":             true,
		"subject_types_supported":                          []string{"public"},
		"id_token_signing_alg_values_supported":            []string{"RS256", "ES256", "EdDSA"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"token_endpoint_auth_methods_supported":            p.opts.TokenAuthMethods,
		"token_endpoint_auth_signing_alg_values_supported": p.opts.AssertionAlgs,
		"scopes_supported":                                 []string{"openid", "email", "profile", "groups"},
		"authorization_response_iss_parameter_supported":   true,
	}
	p.pushedMetadata(doc)
	if p.opts.Registration {
		doc["registration_endpoint"] = p.issuer + "/register"
		doc["id_token_encryption_alg_values_supported"] = []string{"RSA-OAEP", "RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A128KW"}
		doc["userinfo_encryption_alg_values_supported"] = []string{"RSA-OAEP", "RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A128KW"}
	}
	if p.tlsSrv != nil {
		doc["mtls_endpoint_aliases"] = p.mutualTLSAliases()
	}
	if p.opts.DPoP {
		doc["dpop_signing_alg_values_supported"] = []string{"ES256", "ES384", "RS256", "PS256", "EdDSA"}
	}
	p.mu.Lock()
	edit := p.bad.Discovery
	p.mu.Unlock()
	if edit != nil {
		edit(doc)
	}
	writeJSON(w, http.StatusOK, doc)
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	keys := append([]*signingKey{p.key}, p.oldKeys...)
	p.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"})
	}
	writeJSON(w, http.StatusOK, set)
}

// pageStyle keeps the demo provider's pages legible.
const pageStyle = `<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.3rem; }
button { font: inherit; padding: .5rem 1rem; min-width: 16rem; text-align: left; border: 1px solid #c8ccd1; border-radius: 6px; background: #f6f8fa; cursor: pointer; }
button:hover { background: #eaeef2; }
input { font: inherit; padding: .3rem; }
</style>`

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo identity provider</title>` + pageStyle + `</head>
<body><h1>Demo identity provider</h1><p>Sign in as:</p>
<form method="post" action="/authorize?{{.Query}}">
{{range .Users}}<p><button type="submit" name="user" value="{{.Subject}}">{{.Name}} &lt;{{.Email}}&gt;{{if not .EmailVerified}} (email not verified){{end}}</button></p>
{{end}}</form></body></html>`))

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q, via, err := p.authorizationParams(r)
	if q == nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	client, ok := p.clients[q.Get("client_id")]
	users := slices.Clone(p.users)
	bad := p.bad
	if r.Method == http.MethodGet {
		p.authzSeen = append(p.authzSeen, via)
	}
	p.mu.Unlock()
	// Errors before the redirect URI is known safe are shown, not redirected
	// (RFC 6749 §4.1.2.1).
	if !ok || !slices.ContainsFunc(client.RedirectURIs, func(u string) bool { return redirectMatches(u, q.Get("redirect_uri")) }) {
		http.Error(w, "unknown client or unregistered redirect_uri", http.StatusBadRequest)
		return
	}
	resp := url.Values{}
	fail := func(code, desc string) {
		resp.Set("error", code)
		resp.Set("error_description", desc)
	}
	switch {
	case errors.Is(err, errExpiredRequest):
		fail("invalid_request_uri", err.Error())
	case err != nil:
		fail("invalid_request", err.Error())
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only code is supported")
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "PKCE with S256 is required")
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		fail("invalid_scope", "openid is required")
	case len(users) == 0:
		fail("access_denied", "no users")
	}
	if !resp.Has("error") {
		user := users[0]
		if p.opts.LoginPage {
			if r.Method == http.MethodGet {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				loginPage.Execute(w, map[string]any{"Query": template.URL(r.URL.RawQuery), "Users": users})
				return
			}
			r.ParseForm()
			i := slices.IndexFunc(users, func(u User) bool { return u.Subject == r.PostForm.Get("user") })
			if i < 0 {
				http.Error(w, "unknown user", http.StatusBadRequest)
				return
			}
			user = users[i]
		}
		code := randomString()
		p.mu.Lock()
		delete(p.pushed, r.URL.Query().Get("request_uri")) // used once
		p.codes[code] = &grant{client: client.ID, redirectURI: q.Get("redirect_uri"), user: user, nonce: q.Get("nonce"),
			challenge: q.Get("code_challenge"), scopes: strings.Fields(q.Get("scope")), expires: p.now().Add(time.Minute),
			dpopJKT:  map[bool]string{true: q.Get("dpop_jkt")}[p.opts.DPoP],
			authTime: p.now(), sid: randomString()}
		p.mu.Unlock()
		resp.Set("code", code)
	}
	if q.Has("state") {
		resp.Set("state", q.Get("state"))
	}
	resp.Set("iss", p.issuer)
	if bad.AuthorizationResponse != nil {
		bad.AuthorizationResponse(resp)
	}
	if q.Get("response_mode") == "form_post" {
		formPost(w, q.Get("redirect_uri"), resp)
		return
	}
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+resp.Encode(), http.StatusFound)
}

// formPostPage is the OAuth 2.0 Form Post Response Mode's answer: a form
// of the response's parameters that submits itself to the redirect URI.
var formPostPage = template.Must(template.New("form_post").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signing in…</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{{.Action}}">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}<noscript><button type="submit">Continue</button></noscript></form></body></html>`))

// formPost answers with formPostPage.
func formPost(w http.ResponseWriter, action string, params url.Values) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	formPostPage.Execute(w, map[string]any{"Action": action, "Params": params})
}

// redirectMatches compares a registered redirect URI with a requested
// one: exactly, except that a registered loopback IP URI without a port
// matches any port (RFC 8252 §7.3), as native apps need.
func redirectMatches(registered, requested string) bool {
	if registered == requested {
		return true
	}
	reg, err1 := url.Parse(registered)
	req, err2 := url.Parse(requested)
	if err1 != nil || err2 != nil || reg.Scheme != "http" || reg.Port() != "" || req.Scheme != "http" ||
		(reg.Hostname() != "127.0.0.1" && reg.Hostname() != "::1") || req.Hostname() != reg.Hostname() {
		return false
	}
	return reg.Path == req.Path && reg.RawQuery == req.RawQuery
}

func randomString() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	id, ok := p.clientRequest(w, r)
	if !ok {
		return
	}
	p.mu.Lock()
	now := p.now()
	p.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case deviceGrant:
		var ok bool
		if r, ok = p.tokenDPoP(w, r, ""); !ok {
			return
		}
		p.deviceToken(w, r, id, r.PostForm.Get("device_code"), now)
	case "authorization_code":
		code := r.PostForm.Get("code")
		p.mu.Lock()
		g := p.codes[code]
		p.mu.Unlock()
		if g != nil { // the proof first: a use_dpop_nonce answer keeps the code
			var ok bool
			if r, ok = p.tokenDPoP(w, r, g.dpopJKT); !ok {
				return
			}
		}
		p.mu.Lock()
		if p.codes[code] != g {
			g = nil // redeemed meanwhile
		}
		delete(p.codes, code) // single use
		p.mu.Unlock()
		switch {
		case g == nil || g.client != id || now.After(g.expires):
			fail(http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		case r.PostForm.Get("redirect_uri") != g.redirectURI:
			fail(http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
		case s256(r.PostForm.Get("code_verifier")) != g.challenge:
			fail(http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		default:
			p.issueTokens(w, r, id, g, now, false)
		}
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		p.mu.Lock()
		g := p.refresh[rt]
		p.mu.Unlock()
		if g != nil && g.client == id { // a bound grant: the same key, before the token rotates
			var ok bool
			if r, ok = p.tokenDPoP(w, r, g.dpopJKT); !ok {
				return
			}
		}
		p.mu.Lock()
		if p.refresh[rt] != g {
			g = nil
		}
		if g != nil && g.client == id && !p.opts.KeepRefreshTokens {
			delete(p.refresh, rt) // rotated: single use
		}
		p.mu.Unlock()
		if g == nil || g.client != id {
			fail(http.StatusBadRequest, "invalid_grant", "unknown, used or revoked refresh token")
			return
		}
		p.issueTokens(w, r, id, g, now, true)
	case "password":
		p.mu.Lock()
		i := slices.IndexFunc(p.users, func(u User) bool {
			return u.Subject == r.PostForm.Get("username") && u.Password != "" && u.Password == r.PostForm.Get("password")
		})
		var user User
		if i >= 0 {
			user = p.users[i]
		}
		p.mu.Unlock()
		switch {
		case !p.opts.PasswordGrant:
			fail(http.StatusBadRequest, "unsupported_grant_type", "")
		case i < 0:
			fail(http.StatusBadRequest, "invalid_grant", "wrong username or password")
		default:
			p.issueTokens(w, r, id,
				&grant{client: id, user: user, scopes: strings.Fields(r.PostForm.Get("scope")), authTime: now,
					sid: randomString()}, now, false)
		}
	case "client_credentials":
		p.mu.Lock()
		c := p.clients[id]
		public := c.Secret == "" && len(c.Keys) == 0 && len(c.Certificates) == 0 && c.TLSSubject == ""
		key := p.key
		p.mu.Unlock()
		if public {
			fail(http.StatusBadRequest, "unauthorized_client", "public clients cannot use client credentials")
			return
		}
		access := p.mint(id, &grant{client: id, user: User{Subject: id}, scopes: strings.Fields(r.PostForm.Get("scope"))},
			now, key, Misbehavior{}, p.boundTo(r))
		writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 300,
			"scope": r.PostForm.Get("scope")})
	default:
		fail(http.StatusBadRequest, "unsupported_grant_type", "")
	}
}

// authenticate checks the client authentication of a parsed token-style
// request (basic, post, or client_id alone for a public client) against
// the registered clients and TokenAuthMethods, and records the method.
func (p *Provider) authenticate(r *http.Request) (clientID string, ok bool) {
	if r.PostForm.Has("client_assertion") || r.PostForm.Has("client_assertion_type") {
		return p.authenticateAssertion(r)
	}
	if _, _, basic := r.BasicAuth(); !basic && !r.PostForm.Has("client_secret") && p.usesCertificate(r.PostForm.Get("client_id")) {
		return p.authenticateCertificate(r)
	}
	id, secret, method := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), "client_secret_post"
	if u, pw, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(pw)
		method = "client_secret_basic"
	} else if !r.PostForm.Has("client_secret") {
		method = "none" // a public client: client_id alone
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authSeen = append(p.authSeen, method)
	client, known := p.clients[id]
	expired := !client.SecretExpires.IsZero() && !p.now().Before(client.SecretExpires)
	return id, known && client.Secret == secret && !expired && slices.Contains(p.opts.TokenAuthMethods, method)
}

// webfinger answers OpenID issuer discovery (OpenID Connect Discovery
// 1.0 §2) for any resource: this provider is its issuer.
func (p *Provider) webfinger(w http.ResponseWriter, r *http.Request) {
	res := r.URL.Query().Get("resource")
	if res == "" || r.URL.Query().Get("rel") != "http://openid.net/specs/connect/1.0/issuer" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/jrd+json")
	json.NewEncoder(w).Encode(map[string]any{"subject": res,
		"links": []map[string]string{{"rel": "http://openid.net/specs/connect/1.0/issuer", "href": p.issuer}}})
}

// distributedClaims serves distributed claims (OpenID Connect Core 1.0
// §5.6.2) as this provider, acting as a claims provider: for the bearer
// token "claims-token", a JWT it signs with sub alice and the claims of
// Options.DistributedClaims.
func (p *Provider) distributedClaims(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer claims-token" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	c := map[string]any{"iss": p.issuer, "sub": "alice"}
	for k, v := range p.opts.DistributedClaims {
		c[k] = v
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.Write([]byte(p.SignJWT("JWT", c)))
}

// clientRequest parses a form request to an endpoint that authenticates
// the client (token, PAR, revocation, introspection) and authenticates
// it; on failure it answers and returns ok false.
func (p *Provider) clientRequest(w http.ResponseWriter, r *http.Request) (id string, ok bool) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "bad form"})
		return "", false
	}
	if id, ok = p.authenticate(r); !ok {
		writeJSON(w, http.StatusUnauthorized,
			map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
	}
	return id, ok
}

// revoke serves the revocation endpoint (RFC 7009): the client
// authenticates as at the token endpoint; a refresh token ends with its
// grant's access tokens, an access token alone; 200 whether or not the
// token was known.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	id, ok := p.clientRequest(w, r)
	if !ok {
		return
	}
	tok := r.PostForm.Get("token")
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.refresh[tok]; g != nil && g.client == id {
		delete(p.refresh, tok)
		for access, ag := range p.tokens {
			if ag == g {
				delete(p.tokens, access)
			}
		}
	}
	if g := p.tokens[tok]; g != nil && g.client == id {
		delete(p.tokens, tok)
	}
	p.revoked = append(p.revoked, tok)
	w.WriteHeader(http.StatusOK)
}

// issuedToken is an access token's client and lifetime.
type issuedToken struct {
	client            string
	issuedAt, expires time.Time
}

// introspect serves the introspection endpoint (RFC 7662): any
// registered client authenticates as at the token endpoint; an access
// token issued and not revoked nor expired is active.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	id, ok := p.clientRequest(w, r)
	if !ok {
		return
	}
	tok := r.PostForm.Get("token")
	p.mu.Lock()
	p.inspected++
	g, info, edit, now := p.tokens[tok], p.issued[tok], p.bad.Introspection, p.now()
	p.mu.Unlock()
	answer := map[string]any{"active": false}
	if g != nil && now.Before(info.expires) {
		answer = map[string]any{"active": true, "sub": g.user.Subject, "client_id": info.client,
			"scope": strings.Join(g.scopes, " "), "token_type": "Bearer", "iss": p.issuer,
			"exp": info.expires.Unix(), "iat": info.issuedAt.Unix()}
		if p.opts.AccessTokenAudience != "" {
			answer["aud"] = p.opts.AccessTokenAudience
		}
	}
	if edit != nil {
		edit(answer)
	}
	if p.opts.SignedIntrospection {
		// RFC 9701: the answer inside a JWT for the client.
		p.mu.Lock()
		key := p.key
		p.mu.Unlock()
		payload, _ := json.Marshal(map[string]any{"iss": p.issuer, "aud": id, "iat": now.Unix(),
			"token_introspection": answer})
		w.Header().Set("Content-Type", "application/token-introspection+jwt")
		w.Write([]byte(signTyped(payload, key.priv, key.kid, key.alg, "token-introspection+jwt")))
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// Introspections is how many introspection requests were answered.
func (p *Provider) Introspections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inspected
}

// Revoked are the tokens sent to the revocation endpoint, in order.
func (p *Provider) Revoked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.revoked)
}

// usesCertificate reports whether the client authenticates with mutual TLS.
func (p *Provider) usesCertificate(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.clients[id]
	return len(c.Certificates) > 0 || c.TLSSubject != ""
}

// RevokeRefreshTokens makes every refresh token issued so far invalid, as
// when the user signs out at the provider or an admin ends the session.
func (p *Provider) RevokeRefreshTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.refresh)
}

// Client is the registered client id (zero when there is none).
func (p *Provider) Client(id string) Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clients[id]
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// issueTokens answers a token request for g. A refresh (OpenID Connect
// Core 1.0 §12.2) keeps auth_time, sends no nonce and, unless
// KeepRefreshTokens, a new refresh token.
func (p *Provider) issueTokens(w http.ResponseWriter, r *http.Request, clientID string, g *grant, now time.Time,
	refresh bool) {
	p.mu.Lock()
	key, bad := p.key, p.bad
	p.mu.Unlock()
	bound, tokenType := p.boundTo(r), "Bearer"
	if jkt, _ := r.Context().Value(dpopJKT{}).(string); jkt != "" {
		bound, tokenType = "jkt:"+jkt, "DPoP"
		g.dpopJKT = jkt // its refresh tokens are bound too
	}
	access := p.mint(clientID, g, now, key, bad, bound)

	claims := map[string]any{
		"iss": p.issuer, "sub": g.user.Subject, "aud": clientID, "azp": clientID,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "auth_time": g.authTime.Unix(),
		"at_hash": atHash(access, key.alg), "sid": g.sid,
	}
	if g.nonce != "" && !refresh {
		claims["nonce"] = g.nonce
	}
	if !p.opts.ProfileInUserinfoOnly {
		for k, v := range profileClaims(g.user, g.scopes) {
			claims[k] = v
		}
	}
	if bad.IDTokenClaims != nil {
		bad.IDTokenClaims(claims)
	}
	payload, _ := json.Marshal(claims)
	var idToken string
	if bad.Sign != nil {
		idToken = bad.Sign(payload, key.priv, key.kid, key.alg)
	} else {
		idToken = Sign(payload, key.priv, key.kid, key.alg)
	}
	if e := p.Client(clientID).IDTokenEncryption; e != nil {
		var err error
		if idToken, err = Encrypt([]byte(idToken), p.Client(clientID).Keys, *e, "JWT"); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error",
				"error_description": err.Error()})
			return
		}
	}
	body := map[string]any{"access_token": access, "token_type": tokenType, "expires_in": 300, "id_token": idToken,
		"scope": strings.Join(g.scopes, " ")}
	if !refresh || !p.opts.KeepRefreshTokens {
		rt := randomString()
		p.mu.Lock()
		p.refresh[rt] = g
		p.mu.Unlock()
		body["refresh_token"] = rt
	}
	if bad.TokenResponse != nil {
		bad.TokenResponse(body)
	}
	writeJSON(w, http.StatusOK, body)
}

// mint issues an access token of g to clientID, valid five minutes: a JWT
// (accessToken), or a random string with Options.OpaqueAccessTokens; and
// registers it for userinfo, introspection and revocation.
func (p *Provider) mint(clientID string, g *grant, now time.Time, key *signingKey, bad Misbehavior, bound string) string {
	access := p.accessToken(clientID, g, now, key, bad, bound)
	if p.opts.OpaqueAccessTokens {
		access = randomString()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokens[access] = g
	p.issued[access] = issuedToken{client: clientID, expires: now.Add(5 * time.Minute), issuedAt: now}
	if bound != "" {
		p.bound[access] = bound
	}
	return access
}

// IssueAccessToken mints an access token for clientID on behalf of
// subject with scopes, as the token endpoint would: for tests of an API.
func (p *Provider) IssueAccessToken(clientID, subject string, scopes ...string) string {
	p.mu.Lock()
	key, now := p.key, p.now()
	p.mu.Unlock()
	return p.mint(clientID, &grant{client: clientID, user: User{Subject: subject}, scopes: scopes}, now, key,
		Misbehavior{}, "")
}

// accessToken is a JWT access token as RFC 9068 profiles it: typ at+jwt,
// aud the resource (Options.AccessTokenAudience, else the client),
// client_id, scope, jti.
func (p *Provider) accessToken(clientID string, g *grant, now time.Time, key *signingKey, bad Misbehavior,
	bound string) string {
	aud := p.opts.AccessTokenAudience
	if aud == "" {
		aud = clientID
	}
	claims := map[string]any{"iss": p.issuer, "sub": g.user.Subject, "aud": aud, "client_id": clientID,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": randomString(),
		"scope": strings.Join(g.scopes, " ")}
	if len(g.user.Groups) > 0 {
		claims["groups"] = g.user.Groups
	}
	if jkt, ok := strings.CutPrefix(bound, "jkt:"); ok {
		claims["cnf"] = map[string]string{"jkt": jkt}
	} else if bound != "" {
		claims["cnf"] = map[string]string{"x5t#S256": bound}
	}
	if bad.AccessTokenClaims != nil {
		bad.AccessTokenClaims(claims)
	}
	payload, _ := json.Marshal(claims)
	return signTyped(payload, key.priv, key.kid, key.alg, "at+jwt")
}

// LogoutToken returns a back-channel logout token (OpenID Connect
// Back-Channel Logout 1.0 §2.4) for clientID naming sub and sid (either may
// be empty), typ logout+jwt, valid for two minutes, with a fresh jti,
// encrypted as the client's ID tokens are. edit, when not nil, changes the
// claims before signing.
func (p *Provider) LogoutToken(clientID, sub, sid string, edit func(claims map[string]any)) string {
	p.mu.Lock()
	now := p.now()
	p.mu.Unlock()
	claims := map[string]any{"iss": p.issuer, "aud": clientID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": randomString(), "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}
	if sub != "" {
		claims["sub"] = sub
	}
	if sid != "" {
		claims["sid"] = sid
	}
	if edit != nil {
		edit(claims)
	}
	tok := p.SignJWT("logout+jwt", claims)
	if c := p.Client(clientID); c.IDTokenEncryption != nil {
		// Back-Channel Logout 1.0 §2.6: with the ID token's encryption.
		if jwe, err := Encrypt([]byte(tok), c.Keys, *c.IDTokenEncryption, "JWT"); err == nil {
			return jwe
		}
	}
	return tok
}

// BackchannelLogout sends a logout token naming sub and sid to clientID's
// BackchannelLogoutURI, as a provider does when a session ends, and
// returns the HTTP status the client answered.
func (p *Provider) BackchannelLogout(clientID, sub, sid string) (int, error) {
	return p.SendLogoutToken(clientID, p.LogoutToken(clientID, sub, sid, nil))
}

// SendLogoutToken posts token to clientID's BackchannelLogoutURI
// (§2.5) and returns the HTTP status the client answered.
func (p *Provider) SendLogoutToken(clientID, token string) (int, error) {
	p.mu.Lock()
	c, ok := p.clients[clientID]
	p.mu.Unlock()
	if !ok || c.BackchannelLogoutURI == "" {
		return 0, fmt.Errorf("federationtest: client %q has no BackchannelLogoutURI", clientID)
	}
	resp, err := http.PostForm(c.BackchannelLogoutURI, url.Values{"logout_token": {token}})
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// SignJWT signs claims with the provider's current key under the JOSE
// header typ (omitted when empty): for tests that need a token the
// provider never issued, such as an access token with chosen claims.
func (p *Provider) SignJWT(typ string, claims map[string]any) string {
	p.mu.Lock()
	key := p.key
	p.mu.Unlock()
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	return signTyped(payload, key.priv, key.kid, key.alg, typ)
}

// Key returns the provider's current signing key, its kid and alg: for
// tests that forge tokens with it (HS256 keyed with its public key…).
func (p *Provider) Key() (key crypto.Signer, kid, alg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.key.priv, p.key.kid, p.key.alg
}

// Sign returns payload as a compact JWS signed with key. Misbehavior.Sign
// implementations may call it with another key or algorithm.
func Sign(payload []byte, key any, kid, alg string) string {
	return signTyped(payload, key, kid, alg, "JWT")
}

func signTyped(payload []byte, key any, kid, alg, typ string) string {
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		panic(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		panic(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// atHash is the at_hash of OpenID Connect Core 1.0 §3.1.3.6: the left half
// of the access token's hash with the signing algorithm's hash, SHA-512
// for EdDSA (Ed25519, per the spec's errata).
func atHash(accessToken, alg string) string {
	var sum []byte
	if alg == "EdDSA" {
		s := sha512.Sum512([]byte(accessToken))
		sum = s[:32]
	} else {
		s := sha256.Sum256([]byte(accessToken))
		sum = s[:16]
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

func profileClaims(u User, scopes []string) map[string]any {
	c := map[string]any{}
	if slices.Contains(scopes, "email") {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	if slices.Contains(scopes, "profile") {
		for k, v := range map[string]string{"name": u.Name, "given_name": u.GivenName, "family_name": u.FamilyName, "preferred_username": u.PreferredUsername} {
			if v != "" {
				c[k] = v
			}
		}
	}
	if len(u.Groups) > 0 {
		c["groups"] = u.Groups
	}
	return c
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("access_token") {
		writeJSON(w, http.StatusBadRequest,
			map[string]string{"error": "invalid_request",
				"error_description": "the access token belongs in the Authorization header"})
		return
	}
	authz := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if dpop, isDPoP := strings.CutPrefix(authz, "DPoP "); isDPoP {
		tok, ok = dpop, true
	}
	if r.Method == http.MethodPost && authz == "" {
		// RFC 6750 §2.2: the token in a form body.
		r.ParseForm()
		tok, ok = r.PostForm.Get("access_token"), r.PostForm.Has("access_token")
	} else if p.opts.UserinfoBodyOnly {
		ok = false
	}
	p.mu.Lock()
	g := p.tokens[tok]
	bad := p.bad
	bound := p.bound[tok]
	p.mu.Unlock()
	if jkt, dpop := strings.CutPrefix(bound, "jkt:"); dpop && g != nil {
		if !p.userinfoDPoP(w, r, tok, jkt) {
			return
		}
		bound = ""
	} else if strings.HasPrefix(authz, "DPoP ") {
		ok = false // a Bearer token is not presented as DPoP
	}
	if !ok || g == nil || bound != "" && p.boundTo(r) != bound {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	c := profileClaims(g.user, g.scopes)
	c["sub"] = g.user.Subject
	if p.opts.SignedUserinfo {
		c["iss"], c["aud"] = p.issuer, g.client
	}
	if bad.Userinfo != nil {
		bad.Userinfo(c)
	}
	e := p.Client(g.client).UserinfoEncryption
	if p.opts.SignedUserinfo || e != nil {
		// OpenID Connect Core 1.0 §5.3.2: a JWT signed with the
		// provider's key, encrypted to the client's when it asked.
		body, cty := []byte(p.SignJWT("JWT", c)), "JWT"
		if !p.opts.SignedUserinfo {
			body, _ = json.Marshal(c)
			cty = ""
		}
		if e != nil {
			jwe, err := Encrypt(body, p.Client(g.client).Keys, *e, cty)
			if err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error",
					"error_description": err.Error()})
				return
			}
			body = []byte(jwe)
		}
		w.Header().Set("Content-Type", "application/jwt")
		w.Write(body)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	if u := r.URL.Query().Get("post_logout_redirect_uri"); u != "" {
		if !p.registeredOrigin(u) {
			http.Error(w, "post_logout_redirect_uri is not on a registered client's origin", http.StatusBadRequest)
			return
		}
		if st := r.URL.Query().Get("state"); st != "" {
			pu, _ := url.Parse(u)
			q := pu.Query()
			q.Set("state", st)
			pu.RawQuery = q.Encode()
			u = pu.String()
		}
		http.Redirect(w, r, u, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title>`+pageStyle+
		`</head><body><h1>Demo identity provider</h1><p>Signed out of the demo identity provider.</p></body></html>`)
}

// registeredOrigin reports whether u is on the origin of a registered
// redirect URI, so end_session is not an open redirector.
func (p *Provider) registeredOrigin(u string) bool {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		for _, ru := range c.RedirectURIs {
			if r, err := url.Parse(ru); err == nil && r.Scheme == pu.Scheme && r.Host == pu.Host {
				return true
			}
		}
	}
	return false
}
