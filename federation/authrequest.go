package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/randid"
)

// The authorization request travels in the browser's URL (the default),
// pushed to the provider first (PAR, RFC 9126), as a signed request
// object (JAR, RFC 9101), or both. Either way it carries the same
// parameters: response_type code, client_id, redirect_uri, scope, state,
// nonce, the PKCE challenge and the provider's authParams.

// pushedAuthorization values.
const (
	pushNever    = "never"    // the URL carries the request (default)
	pushAuto     = "auto"     // push when the provider has a PAR endpoint
	pushRequired = "required" // always push; fail without a PAR endpoint
)

// responseMode values.
const (
	responseQuery    = "query"
	responseFormPost = "form_post"
)

// ErrResponseMode: the provider does not list the configured responseMode.
var ErrResponseMode = errors.New("federation: the provider does not offer the configured responseMode")

// formPost reports whether p's flows are answered by a form_post.
func (p *Provider) formPost() bool { return p.cfg.ResponseMode == responseFormPost }

// checkResponseMode refuses a response mode the provider does not list
// (when it lists any: the default is query and fragment).
func (p *Provider) checkResponseMode(md *discovery.Metadata) error {
	if p.formPost() && len(md.ResponseModesSupported) > 0 && !slices.Contains(md.ResponseModesSupported, responseFormPost) {
		return fmt.Errorf("%w: provider %s lists %v, not form_post", ErrResponseMode, p.key, md.ResponseModesSupported)
	}
	return nil
}

// requestObject's values: a request object signed with the client key,
// or unsigned (alg none: by reference only, for a client registered so).
const (
	requestObjectSigned = "signed"
	requestObjectNone   = "none"
)

// requestObjectLifetime is a request object's exp - iat (RFC 9101 §10.2
// wants a short one): long enough for a browser to reach the provider.
const requestObjectLifetime = 5 * time.Minute

// ErrPushedAuthorization: pushedAuthorization is "required" and the
// provider has no pushed_authorization_request_endpoint.
var ErrPushedAuthorization = errors.New("federation: pushedAuthorization is \"required\" but the provider has no pushed_authorization_request_endpoint")

// ErrRequestObject: the client key cannot sign a request object the
// provider accepts.
var ErrRequestObject = errors.New("federation: the provider accepts no request object algorithm the client key signs")

// pushes reports whether p's authorization requests go through PAR at a
// provider described by md: always when the provider requires it.
func (p *Provider) pushes(md *discovery.Metadata) (bool, error) {
	switch {
	case md.RequirePushedAuthorizationRequests:
		return true, nil
	case p.cfg.PushedAuthorization == pushRequired && md.PushedAuthorizationRequestEndpoint == "":
		return false, fmt.Errorf("%w (%s)", ErrPushedAuthorization, p.key)
	case p.cfg.PushedAuthorization == pushRequired:
		return true, nil
	case p.cfg.PushedAuthorization == pushAuto:
		return md.PushedAuthorizationRequestEndpoint != "", nil
	}
	return false, nil
}

// authorizationRequest turns params into the URL the browser is sent to:
// params themselves, a request object, a request_uri from PAR, or a
// request_uri for a pushed request object.
func (p *Provider) authorizationRequest(ctx context.Context, st *resolved, params url.Values, key *DPoPKey) (string,
	error) {
	if err := p.checkResponseMode(st.md); err != nil {
		return "", newError(CodeProviderUnavailable, "the identity provider is misconfigured", err)
	}
	if p.formPost() {
		params.Set("response_mode", responseFormPost)
	}
	push, err := p.pushes(st.md)
	if err != nil {
		return "", newError(CodeProviderUnavailable, "the identity provider is misconfigured", err)
	}
	if p.cfg.RequestObject != "" {
		obj, err := p.requestObject(st, params)
		if err != nil {
			return "", newError(CodeServerError, "the sign-in could not be started", err)
		}
		switch {
		case p.cfg.RequestURI:
			// By reference (RFC 9101 §5.2): served once at a URL under
			// the mount for the provider to fetch; response_type, client_id
			// and scope also as plain parameters (Core §6.2).
			uri, err := p.serveRequestObject(ctx, st.md, obj)
			if err != nil {
				return "", err
			}
			params = url.Values{"client_id": {st.client.id}, "response_type": params["response_type"],
				"scope": params["scope"], "request_uri": {uri}}
		case push:
			params = url.Values{"client_id": {st.client.id}, "request": {obj}}
		default:
			// OpenID Connect Core 1.0 §6.1: response_type, client_id and
			// scope also as plain parameters, equal to the object's; the
			// provider uses the object's only (RFC 9101 §5).
			params = url.Values{"client_id": {st.client.id}, "response_type": params["response_type"],
				"scope": params["scope"], "request": {obj}}
		}
	}
	if push {
		uri, err := p.push(ctx, st, params, key)
		if err != nil {
			return "", err
		}
		params = url.Values{"client_id": {st.client.id}, "request_uri": {uri}}
	}
	sep := "?"
	if strings.Contains(st.md.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	return st.md.AuthorizationEndpoint + sep + params.Encode(), nil
}

// maxRequestURI bounds the request_uri a PAR answer may carry into the
// browser's URL.
const maxRequestURI = 1024

// push sends params (with key, a DPoP proof) to the PAR endpoint (its mutual-TLS alias for a
// certificate client), authenticated as at the token endpoint with the
// issuer as an assertion's aud (RFC 9126 §2), and returns the request_uri.
// The browser is sent at once, well within the expires_in the answer must
// carry.
func (p *Provider) push(ctx context.Context, st *resolved, params url.Values, key *DPoPKey) (string, error) {
	form := url.Values{}
	for k, v := range params {
		form[k] = slices.Clone(v)
	}
	var out struct {
		RequestURI string      `json:"request_uri"`
		ExpiresIn  json.Number `json:"expires_in"`
	}
	call := clientCall{name: "pushed authorization request endpoint", what: "the sign-in's start", aud: st.md.Issuer,
		dpop: key, // RFC 9449 §10.1: the push proves the key the code will be bound to
		endpoint: st.viaTLS(st.md.PushedAuthorizationRequestEndpoint,
			st.md.MTLSEndpointAliases.PushedAuthorizationRequestEndpoint)}
	began := time.Now()
	err := p.post(ctx, st, call, form, &out)
	if p.step(ctx, StepPushedAuthorization, began, err); err != nil {
		return "", err
	}
	n, err := out.ExpiresIn.Int64()
	switch {
	case out.RequestURI == "" || len(out.RequestURI) > maxRequestURI || strings.ContainsFunc(out.RequestURI, isControl):
		err = fmt.Errorf("pushed authorization request endpoint: request_uri missing, over %d bytes or not printable",
			maxRequestURI)
	case err != nil || n <= 0:
		err = fmt.Errorf("pushed authorization request endpoint: expires_in %q is not a positive number of seconds",
			out.ExpiresIn)
	}
	if err != nil {
		return "", newError(CodeProviderUnavailable, "the identity provider sent an unusable answer", err)
	}
	return out.RequestURI, nil
}

// requestObject signs params as a request object (RFC 9101 §4): every
// parameter as a claim (max_age a number, claims an object), iss the
// client, aud the issuer, a fresh jti, valid for requestObjectLifetime.
func (p *Provider) requestObject(st *resolved, params url.Values) (string, error) {
	if st.requestSigner == nil && p.cfg.RequestObject != requestObjectNone {
		return "", fmt.Errorf("%w (%s)", ErrRequestObject, p.key)
	}
	now := p.reg.opts.now()
	claims := map[string]any{"iss": st.client.id, "aud": st.md.Issuer, "jti": randid.New(),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(requestObjectLifetime).Unix()}
	for k, v := range params {
		switch k {
		case "max_age":
			if n, err := strconv.Atoi(v[0]); err == nil {
				claims[k] = n
				continue
			}
		case "claims":
			if json.Valid([]byte(v[0])) {
				claims[k] = json.RawMessage(v[0])
				continue
			}
		}
		claims[k] = v[0]
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	if p.cfg.RequestObject == requestObjectNone {
		// RFC 9101 §4 with alg none (RFC 7519 §6.1): an Unsecured JWT,
		// for a client whose registration asked for it.
		return unsecuredHeader + "." + base64.RawURLEncoding.EncodeToString(payload) + ".", nil
	}
	jws, err := st.requestSigner.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// unsecuredHeader is {"alg":"none","typ":"oauth-authz-req+jwt"}, encoded.
var unsecuredHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"oauth-authz-req+jwt"}`))

// requestSigner signs p's request objects at a provider described by md:
// with the client key, in an algorithm the provider lists (typ
// oauth-authz-req+jwt, RFC 9101 §10.8). Nil when p sends none.
func (p *Provider) requestSigner(md *discovery.Metadata) (jose.Signer, error) {
	if p.cfg.RequestObject != requestObjectSigned {
		return nil, nil
	}
	k := p.clientKey()
	alg := k.algFor(md.RequestObjectSigningAlgValuesSupported)
	if alg == "" {
		return nil, fmt.Errorf("%w: provider %s: the client key signs %s, not among the provider's %v", ErrRequestObject,
			p.key, k.alg, md.RequestObjectSigningAlgValuesSupported)
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k.signer},
		(&jose.SignerOptions{}).WithType("oauth-authz-req+jwt").WithHeader("kid", k.kid))
}
