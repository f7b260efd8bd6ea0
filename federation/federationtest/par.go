package federationtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Pushed authorization requests (RFC 9126) and request objects (RFC 9101).
// The provider always takes a signed request object by value; with
// Options.PushedAuthorization it has a PAR endpoint too, and with
// "required" it takes authorization requests only through it.

// requestURIPrefix starts every request_uri (RFC 9126 §2.2).
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// pushedLifetime is how long a request_uri may be used.
const pushedLifetime = time.Minute

// pushedRequest is a pushed authorization request until it is used.
type pushedRequest struct {
	params  url.Values
	expires time.Time
	via     string // "par" or "par+request"
}

// pushAuthorization serves the PAR endpoint: the client authenticates as
// at the token endpoint; the request (plain parameters or a request
// object) is kept for a minute under a fresh request_uri.
func (p *Provider) pushAuthorization(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	id, ok := p.clientRequest(w, r)
	if !ok {
		return
	}
	if r.PostForm.Has("request_uri") {
		fail(http.StatusBadRequest, "invalid_request", "request_uri is not allowed in a pushed request")
		return
	}
	params, via := url.Values{}, "par"
	if raw := r.PostForm.Get("request"); raw != "" {
		var err error
		if params, err = p.requestObjectParams(id, raw); err != nil {
			fail(http.StatusBadRequest, "invalid_request_object", err.Error())
			return
		}
		via = "par+request"
	} else {
		for k, v := range r.PostForm {
			if !slices.Contains([]string{"client_assertion", "client_assertion_type", "client_secret"}, k) {
				params[k] = v
			}
		}
	}
	if p.opts.DPoP && r.Header.Get("DPoP") != "" {
		// RFC 9449 §10.1: a proof at PAR binds the code to its key.
		jkt, err := p.checkDPoP(r, p.requestURL(r), "")
		switch {
		case errors.Is(err, errUseNonce):
			w.Header().Set("DPoP-Nonce", dpopNonce)
			fail(http.StatusBadRequest, "use_dpop_nonce", "")
			return
		case err != nil || params.Has("dpop_jkt") && params.Get("dpop_jkt") != jkt:
			fail(http.StatusBadRequest, "invalid_dpop_proof", "the proof is invalid or not for dpop_jkt")
			return
		}
		params.Set("dpop_jkt", jkt)
		via += "+dpop"
	}
	p.mu.Lock()
	client := p.clients[id]
	p.mu.Unlock()
	if params.Get("client_id") != id ||
		!slices.ContainsFunc(client.RedirectURIs, func(u string) bool { return redirectMatches(u, params.Get("redirect_uri")) }) {
		fail(http.StatusBadRequest, "invalid_request", "client_id or redirect_uri does not match the client")
		return
	}
	uri := requestURIPrefix + randomString()
	p.mu.Lock()
	p.pushed[uri] = &pushedRequest{params: params, expires: p.now().Add(pushedLifetime), via: via}
	p.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": int(pushedLifetime.Seconds())})
}

// errExpiredRequest: a request_uri used after its expires_in.
var errExpiredRequest = errors.New("the request_uri has expired")

// authorizationParams are the authorization request's parameters: the
// query's, a pushed request's (request_uri) or a request object's
// (request), and how they came. A pushed request that expired is
// returned with errExpiredRequest, so the error can go to its
// redirect_uri; other errors are shown.
func (p *Provider) authorizationParams(r *http.Request) (url.Values, string, error) {
	q := r.URL.Query()
	switch {
	case q.Has("request_uri") && !strings.HasPrefix(q.Get("request_uri"), requestURIPrefix):
		// A request object by reference (RFC 9101 §5.2): fetched now.
		if p.opts.PushedAuthorization == "required" {
			return q, "query", errors.New("this provider takes authorization requests only through PAR")
		}
		raw, err := p.fetchRequestObject(q.Get("client_id"), q.Get("request_uri"))
		if err != nil {
			return nil, "", err
		}
		params, err := p.requestObjectParams(q.Get("client_id"), raw)
		if err != nil {
			return nil, "", err
		}
		return params, "request_uri", nil
	case q.Has("request_uri"):
		p.mu.Lock()
		pr := p.pushed[q.Get("request_uri")]
		now := p.now()
		p.mu.Unlock()
		switch {
		case pr == nil:
			return nil, "", errors.New("unknown request_uri")
		case pr.params.Get("client_id") != q.Get("client_id"):
			return nil, "", errors.New("the request_uri was pushed by another client")
		case !now.Before(pr.expires):
			return pr.params, pr.via, errExpiredRequest
		}
		return pr.params, pr.via, nil
	case p.opts.PushedAuthorization == "required":
		return q, "query", errors.New("this provider takes authorization requests only through PAR")
	case q.Has("request"):
		params, err := p.requestObjectParams(q.Get("client_id"), q.Get("request"))
		if err != nil {
			return nil, "", err
		}
		return params, "request", nil
	}
	return q, "query", nil
}

// requestObjectParams verifies a request object of clientID (RFC 9101
// §6.3): signed with one of the client's keys, iss the client, aud the
// issuer, not expired; and returns its claims as parameters.
func (p *Provider) requestObjectParams(clientID, raw string) (url.Values, error) {
	p.mu.Lock()
	client, known := p.clients[clientID]
	now := p.now()
	p.mu.Unlock()
	if !known {
		return nil, fmt.Errorf("unknown client %q", clientID)
	}
	var payload []byte
	if hdr, body, ok := unsecured(raw); ok {
		// alg none: only for a client registered with it.
		if client.RequestObjectAlg != "none" {
			return nil, fmt.Errorf("an unsigned request object (alg none), and the client registered %q",
				client.RequestObjectAlg)
		}
		if hdr["typ"] != nil && hdr["typ"] != "oauth-authz-req+jwt" {
			return nil, fmt.Errorf("an unsigned request object of typ %v", hdr["typ"])
		}
		payload = body
	} else {
		jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256})
		if err != nil || len(jws.Signatures) != 1 {
			return nil, fmt.Errorf("the request object is not a signed JWT: %v", err)
		}
		hdr := jws.Signatures[0].Header
		err = fmt.Errorf("no key of the client verifies it (kid %q)", hdr.KeyID)
		for _, k := range client.Keys {
			if hdr.KeyID == "" || k.KeyID == "" || k.KeyID == hdr.KeyID {
				if payload, err = jws.Verify(k.Key); err == nil {
					break
				}
			}
		}
		if err != nil {
			return nil, err
		}
	}
	var claims map[string]any
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	if err := d.Decode(&claims); err != nil {
		return nil, err
	}
	exp, _ := claims["exp"].(json.Number).Int64()
	aud, _ := claims["aud"].(string)
	switch {
	case claims["iss"] != clientID:
		return nil, fmt.Errorf("iss %v is not the client", claims["iss"])
	case aud != p.issuer:
		return nil, fmt.Errorf("aud %v is not the issuer", claims["aud"])
	case exp == 0 || !now.Before(time.Unix(exp, 0)):
		return nil, fmt.Errorf("expired (exp %d)", exp)
	case claims["client_id"] != nil && claims["client_id"] != clientID:
		return nil, fmt.Errorf("client_id %v is not the client", claims["client_id"])
	}
	params := url.Values{}
	for k, v := range claims {
		switch v := v.(type) {
		case string:
			params.Set(k, v)
		case json.Number:
			params.Set(k, v.String())
		default:
			b, _ := json.Marshal(v)
			params.Set(k, string(b))
		}
	}
	for _, k := range []string{"iss", "aud", "exp", "iat", "nbf", "jti"} {
		params.Del(k)
	}
	params.Set("client_id", clientID)
	return params, nil
}

// unsecured splits an Unsecured JWT (alg none, RFC 7519 §6): its header
// and payload, ok false for anything else.
func unsecured(raw string) (header map[string]any, payload []byte, ok bool) {
	h, rest, _ := strings.Cut(raw, ".")
	body, sig, found := strings.Cut(rest, ".")
	if !found || sig != "" {
		return nil, nil, false
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(h)
	pb, err2 := base64.RawURLEncoding.DecodeString(body)
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &header) != nil || header["alg"] != "none" {
		return nil, nil, false
	}
	return header, pb, true
}

// fetchRequestObject fetches a request object by reference for clientID:
// from one of its registered RequestURIs (by prefix) when it has any, http
// only on loopback, 64 KiB, 5 s. Each fetch is counted.
func (p *Provider) fetchRequestObject(clientID, uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return "", errors.New("request_uri is not an http(s) URL")
	}
	p.mu.Lock()
	client := p.clients[clientID]
	p.fetched++
	p.mu.Unlock()
	if len(client.RequestURIs) > 0 && !slices.ContainsFunc(client.RequestURIs,
		func(r string) bool { return strings.HasPrefix(uri, r) }) {
		return "", errors.New("request_uri is not registered")
	}
	body, err := fetchClientDocument(uri)
	if err != nil {
		return "", fmt.Errorf("request_uri: %v", err)
	}
	return strings.TrimSpace(string(body)), nil
}

// RequestURIFetches is how many request objects by reference the provider
// fetched.
func (p *Provider) RequestURIFetches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fetched
}

// AuthorizationsSeen says how each authorization request that reached
// the provider came, in order: "query", "request" (a request object by
// value), "par" or "par+request" (a request object pushed).
func (p *Provider) AuthorizationsSeen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.authzSeen)
}

// pushedMetadata adds the PAR and request object entries to the
// discovery document.
func (p *Provider) pushedMetadata(doc map[string]any) {
	doc["request_parameter_supported"] = true
	doc["request_object_signing_alg_values_supported"] = []string{"RS256", "PS256", "ES256", "none"}
	doc["request_uri_parameter_supported"] = true
	if p.opts.PushedAuthorization != "" {
		doc["pushed_authorization_request_endpoint"] = p.issuer + "/par"
		doc["require_pushed_authorization_requests"] = p.opts.PushedAuthorization == "required"
	}
}
