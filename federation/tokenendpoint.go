package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/httpx"
)

// Every request to a provider's token endpoint, and to endpoints that
// authenticate the client the same way (device authorization), goes
// through postForm: client authentication in one place, one decoder, one
// size cap (maxTokenResponse), errors as *Error with the OAuth error code
// and never the response body.

// Token endpoint client authentication methods (RFC 8414 §2; OpenID
// Connect Core 1.0 §9) that oidcfed speaks.
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authNone  = "none"
)

// ErrTokenEndpointAuth: the client's token endpoint authentication method
// and the provider's token_endpoint_auth_methods_supported do not meet.
var ErrTokenEndpointAuth = errors.New("federation: the provider does not accept the client's token endpoint authentication method")

// clientAuth is how the client authenticates to the token endpoint.
type clientAuth uint8

const (
	clientSecretBasic   clientAuth = iota + 1 // RFC 6749 §2.3.1, HTTP Basic
	clientSecretPost                          // RFC 6749 §2.3.1, in the form
	clientPublic                              // client_id in the form, no secret
	clientPrivateKeyJWT                       // RFC 7523 assertion signed with the client's key
	clientSecretJWT                           // RFC 7523 assertion keyed with the secret (HMAC)
	clientMutualTLS                           // RFC 8705 TLS client certificate, client_id in the form
)

// clientAuthFor picks client authentication: the configured method, which
// the provider must list when it lists any; else basic when listed or when
// nothing is listed (RFC 8414 §2), else post. Never auto-detected, which
// would retry a failed request and send the code twice.
func (p *Provider) clientAuthFor(md *discovery.Metadata, client *clientCreds) (clientAuth, error) {
	m := md.TokenEndpointAuthMethodsSupported
	method := p.cfg.TokenEndpointAuthMethod
	switch {
	case method != "" && len(m) > 0 && !slices.Contains(m, method):
		return 0, fmt.Errorf("%w: provider %s: tokenEndpointAuthMethod %q is not among the provider's %v",
			ErrTokenEndpointAuth, p.key, method, m)
	case method == authNone:
		return clientPublic, nil
	case method == authBasic:
		return clientSecretBasic, nil
	case method == authPost:
		return clientSecretPost, nil
	case method == authPrivateKeyJWT:
		algs := md.TokenEndpointAuthSigningAlgValuesSupported
		if k := p.clientKey(); k.algFor(algs) == "" {
			return 0, fmt.Errorf("%w: provider %s: the client key signs %s, not among the provider's %v",
				ErrTokenEndpointAuth, p.key, k.alg, algs)
		}
		return clientPrivateKeyJWT, nil
	case mutualTLS(method):
		if p.tlsErr != nil {
			return 0, fmt.Errorf("provider %s: %w", p.key, p.tlsErr)
		}
		return clientMutualTLS, nil
	case method == authClientSecretJWT:
		algs := md.TokenEndpointAuthSigningAlgValuesSupported
		n := len(client.secret)
		if n == 0 { // a registration to come: it brings 32 bytes or more
			n = 32
		}
		if hmacAlg(algs, n) == "" {
			return 0, fmt.Errorf("%w: provider %s: none of the provider's %v is an HMAC that a %d-byte secret may key",
				ErrTokenEndpointAuth, p.key, algs, n)
		}
		return clientSecretJWT, nil
	case len(m) == 0 || slices.Contains(m, authBasic):
		return clientSecretBasic, nil
	case slices.Contains(m, authPost):
		return clientSecretPost, nil
	}
	return 0, fmt.Errorf("%w: provider %s supports only %v; oidcfed supports client_secret_basic, client_secret_post, private_key_jwt, client_secret_jwt, tls_client_auth, self_signed_tls_client_auth and none (public clients)",
		ErrTokenEndpointAuth, p.key, m)
}

// viaTLS is endpoint, or its mutual-TLS alias (RFC 8705 §5) when the
// client authenticates with a certificate and the provider names one.
func (st *resolved) viaTLS(endpoint, alias string) string {
	if st.auth == clientMutualTLS && alias != "" {
		return alias
	}
	return endpoint
}

// authenticate adds the client's credentials to a request's form or
// header. A client authenticating with mutual TLS sends client_id alone:
// its connection carries the certificate.
// An assertion's aud is aud ("": the configured clientAssertionAudience).
func (p *Provider) authenticate(st *resolved, form url.Values, header http.Header, aud string) error {
	auth := st.auth
	secret := st.client.secret.Reveal()
	switch {
	case auth == clientPrivateKeyJWT || auth == clientSecretJWT:
		a, err := p.assertion(st, aud)
		if err != nil {
			return fmt.Errorf("signing the client assertion: %w", err)
		}
		form.Set("client_id", st.client.id)
		form.Set("client_assertion_type", assertionType)
		form.Set("client_assertion", a)
	case auth == clientSecretBasic && secret != "":
		// RFC 6749 §2.3.1: both form-urlencoded before Basic encoding.
		creds := url.QueryEscape(st.client.id) + ":" + url.QueryEscape(secret)
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(creds)))
	case auth == clientSecretPost && secret != "":
		form.Set("client_id", st.client.id)
		form.Set("client_secret", secret)
	default:
		form.Set("client_id", st.client.id)
	}
	return nil
}

// oauthError reads an OAuth error answer (RFC 6749 §5.2, RFC 7591 §3.2.2):
// its error code made safe (safeCode), and false when the body is not
// one. Nothing else of the body is kept: it may echo the request.
func oauthError(body []byte) (Code, bool) {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return "", false
	}
	return safeCode(e.Error), true
}

// tokenResponse is a token endpoint's answer (RFC 6749 §5.1; OpenID
// Connect Core 1.0 §3.1.3.3).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	// ExpiresIn is a number, or a string holding one (some providers).
	ExpiresIn json.Number `json:"expires_in"`
	IDToken   string      `json:"id_token"`
	Scope     string      `json:"scope"`
	// dpop is the key the request proved: the tokens are bound to it.
	dpop *DPoPKey
}

// expiry is when the access token expires, requested at start; zero when
// the provider gave no positive lifetime.
func (t *tokenResponse) expiry(start time.Time) time.Time {
	n, err := t.ExpiresIn.Int64()
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return start.Add(time.Duration(n) * time.Second)
}

// tokens are the response's tokens as a Result carries them.
func (t *tokenResponse) tokens(start time.Time) Tokens {
	return Tokens{AccessToken: Secret(t.AccessToken), RefreshToken: Secret(t.RefreshToken), IDToken: Secret(t.IDToken),
		Expiry: t.expiry(start), DPoP: t.dpop}
}

// tokenRequest sends form to the token endpoint and returns its answer
// and when the request was sent (for the expiry, on the registry's clock).
// what names the request in errors: "the sign-in", "the refresh"…
func (p *Provider) tokenRequest(ctx context.Context, st *resolved, form url.Values, what string) (*tokenResponse,
	time.Time, error) {
	return p.tokenRequestDPoP(ctx, st, form, what, nil)
}

// tokenRequestDPoP is tokenRequest proving possession of key (nil: none):
// the answer must then be a DPoP token (token_type DPoP).
func (p *Provider) tokenRequestDPoP(ctx context.Context, st *resolved, form url.Values, what string,
	key *DPoPKey) (*tokenResponse, time.Time, error) {
	start := p.reg.opts.now()
	var tr tokenResponse
	call := clientCall{endpoint: st.viaTLS(st.md.TokenEndpoint, st.md.MTLSEndpointAliases.TokenEndpoint),
		name: "token endpoint", what: what, dpop: key}
	if err := p.post(ctx, st, call, form, &tr); err != nil {
		return nil, start, err
	}
	tr.dpop = key
	return &tr, start, nil
}

// postForm posts form to endpoint with the client's authentication and
// decodes a 200 JSON answer into out. An OAuth error answer (RFC 6749
// §5.2) becomes an *Error with the provider's code when it is a plain one,
// else server_error; anything else is provider_unavailable. The cause
// names the HTTP status and the code only: an error body may echo the
// request (a code and its code_verifier, a refresh token), so it never
// reaches an error or a log.
func (p *Provider) postForm(ctx context.Context, st *resolved, endpoint string, form url.Values, out any,
	what string) error {
	return p.post(ctx, st, clientCall{endpoint: endpoint, name: "token endpoint", what: what}, form, out)
}

// clientCall is a request that authenticates the client.
type clientCall struct {
	endpoint string
	name     string   // the endpoint, in errors: "token endpoint"
	what     string   // the request, in errors: "the sign-in"
	aud      string   // a client assertion's aud ("": clientAssertionAudience's)
	dpop     *DPoPKey // proves possession with a DPoP header (RFC 9449), nil for none
}

// post is postForm for any endpoint that authenticates the client as the
// token endpoint does (RFC 9126 §2: PAR). A 201 answer is a success too;
// with out nil, any 200 or 201 is, whatever its body.
func (p *Provider) post(ctx context.Context, st *resolved, call clientCall, form url.Values, out any) error {
	err := p.postOnce(ctx, st, call, form, out)
	if call.dpop != nil && errors.Is(err, errUseDPoPNonce) {
		// RFC 9449 §8: the server wants a nonce, now known; one retry,
		// with a fresh assertion and proof.
		err = p.postOnce(ctx, st, call, form, out)
	}
	return err
}

// rawAnswer takes an answer undecoded, with its content type.
type rawAnswer struct {
	body        []byte
	contentType string
}

// errUseDPoPNonce: the server answered use_dpop_nonce with a new nonce.
var errUseDPoPNonce = errors.New("the server asks for a DPoP nonce")

func (p *Provider) postOnce(ctx context.Context, st *resolved, call clientCall, form url.Values, out any) error {
	endpoint, what := call.endpoint, call.what
	if st.authErr != nil {
		return st.authErr
	}
	header := http.Header{}
	if err := p.authenticate(st, form, header, call.aud); err != nil {
		return newError(CodeInvalidClient, "the client could not authenticate to the identity provider", err)
	}
	if call.dpop != nil {
		proof, err := call.dpop.Proof(http.MethodPost, endpoint, "", p.dpopNonce())
		if err != nil {
			return newError(CodeServerError, "the DPoP proof could not be signed", err)
		}
		header.Set("DPoP", proof)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return newError(CodeProviderUnavailable, "the identity provider is misconfigured", err)
	}
	req.Header = header
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	client := p.reg.exchange
	if st.auth == clientMutualTLS {
		client = p.tlsExchange
	}
	resp, err := client.Do(req)
	if err != nil {
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			return newError(CodeProviderUnavailable, "the identity provider did not answer in time",
				redactURLError(err))
		}
		return newError(CodeProviderUnavailable, "the identity provider could not complete "+what, redactURLError(err))
	}
	raw, err := httpx.ReadAll(resp)
	if err != nil {
		return newError(CodeProviderUnavailable, "the identity provider's answer could not be read", err)
	}
	nonceChanged := call.dpop != nil && p.keepDPoPNonce(resp.Header)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		code, ok := oauthError(raw)
		if !ok {
			return newError(CodeProviderUnavailable, "the identity provider could not complete "+what,
				fmt.Errorf("%s: HTTP %d without an OAuth error", call.name, resp.StatusCode))
		}
		if code == "use_dpop_nonce" && nonceChanged {
			return errUseDPoPNonce
		}
		if code == CodeInvalidClient {
			p.forgetRegistration(ctx, st.client)
			return newError(code, "the identity provider did not accept the client's credentials for "+what+
				": check tokenEndpointAuthMethod and the secret, keys or certificate registered there",
				fmt.Errorf("%s: HTTP %d %s", call.name, resp.StatusCode, code))
		}
		return newError(code, "the identity provider refused "+what,
			fmt.Errorf("%s: HTTP %d %s", call.name, resp.StatusCode, code))
	}
	if out == nil { // the status is the answer (revocation)
		return nil
	}
	if ra, ok := out.(*rawAnswer); ok { // the caller decodes (introspection)
		ra.body, ra.contentType = raw, resp.Header.Get("Content-Type")
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return newError(CodeProviderUnavailable, "the identity provider's answer is not JSON",
			fmt.Errorf("%s: %w", call.name, err))
	}
	return nil
}
