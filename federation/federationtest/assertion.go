package federationtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// assertionType is the client_assertion_type of RFC 7523 §2.2.
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// authenticateAssertion checks a private_key_jwt or client_secret_jwt
// client assertion (RFC 7523 §3, OpenID Connect Core 1.0 §9): the
// signature with the client's keys or secret, iss = sub = the client, aud
// the token endpoint or the issuer, exp in the future and at most 5
// minutes after iat, and a jti never seen before. Why a refusal happened
// is kept for [Provider.LastAuthError].
func (p *Provider) authenticateAssertion(r *http.Request) (string, bool) {
	id, method, err := p.checkAssertion(r)
	return p.recordAuth(id, method, err)
}

// recordAuth records a client authentication by method and its outcome
// err (nil: accepted unless the method is not among TokenAuthMethods).
func (p *Provider) recordAuth(id, method string, err error) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authSeen = append(p.authSeen, method)
	p.authErr = ""
	if err == nil && !slices.Contains(p.opts.TokenAuthMethods, method) {
		err = fmt.Errorf("%s is not among %v", method, p.opts.TokenAuthMethods)
	}
	if err != nil {
		p.authErr = err.Error()
		return id, false
	}
	return id, true
}

func (p *Provider) checkAssertion(r *http.Request) (id, method string, err error) {
	method = "private_key_jwt"
	if r.PostForm.Get("client_assertion_type") != assertionType {
		return "", method, fmt.Errorf("client_assertion_type %q", r.PostForm.Get("client_assertion_type"))
	}
	algs := []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.HS256, jose.HS384, jose.HS512}
	jws, err := jose.ParseSigned(r.PostForm.Get("client_assertion"), algs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", method, fmt.Errorf("the assertion is not a compact JWS: %v", err)
	}
	var unverified struct {
		Iss, Sub string
	}
	json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified)
	id = unverified.Iss
	p.mu.Lock()
	client, known := p.clients[id]
	p.mu.Unlock()
	if !known {
		return id, method, fmt.Errorf("unknown client %q", id)
	}
	hdr := jws.Signatures[0].Header
	if !slices.Contains(p.opts.AssertionAlgs, hdr.Algorithm) {
		return id, method, fmt.Errorf("alg %s is not among the accepted %v", hdr.Algorithm, p.opts.AssertionAlgs)
	}
	var payload []byte
	if alg := hdr.Algorithm; alg == "HS256" || alg == "HS384" || alg == "HS512" {
		method = "client_secret_jwt"
		payload, err = jws.Verify([]byte(client.Secret))
	} else {
		err = fmt.Errorf("no key of the client verifies it (kid %q)", hdr.KeyID)
		for _, k := range client.Keys {
			if hdr.KeyID != "" && k.KeyID != "" && k.KeyID != hdr.KeyID {
				continue
			}
			if payload, err = jws.Verify(k.Key); err == nil {
				break
			}
		}
	}
	if err != nil {
		return id, method, fmt.Errorf("signature: %v", err)
	}
	var c struct {
		Iss, Sub, Jti string
		Aud           any
		Exp, Iat      int64
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return id, method, err
	}
	now := p.now()
	var auds []string
	switch a := c.Aud.(type) {
	case string:
		auds = []string{a}
	case []any:
		for _, v := range a {
			s, _ := v.(string)
			auds = append(auds, s)
		}
	}
	switch {
	case c.Sub != c.Iss:
		return id, method, fmt.Errorf("sub %q is not iss %q", c.Sub, c.Iss)
	case r.PostForm.Has("client_id") && r.PostForm.Get("client_id") != c.Iss:
		return id, method, fmt.Errorf("client_id %q is not the assertion's iss", r.PostForm.Get("client_id"))
	case p.opts.AssertionAudience == "issuer" && !slices.Equal(auds, []string{p.issuer}):
		return id, method, fmt.Errorf("aud %v is not the issuer", auds)
	case !slices.Contains(auds, p.issuer+"/token") && !slices.Contains(auds, p.issuer) &&
		(p.tlsBase == "" || !slices.Contains(auds, p.tlsBase+"/token")):
		return id, method, fmt.Errorf("aud %v is neither the token endpoint nor the issuer", auds)
	case c.Exp == 0 || !now.Before(time.Unix(c.Exp, 0)):
		return id, method, fmt.Errorf("expired (exp %d)", c.Exp)
	case c.Iat == 0 || c.Exp-c.Iat > 300:
		return id, method, fmt.Errorf("a lifetime over 5 minutes (iat %d, exp %d)", c.Iat, c.Exp)
	case c.Jti == "":
		return id, method, fmt.Errorf("no jti")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jtis == nil {
		p.jtis = map[string]time.Time{}
	}
	if until, seen := p.jtis[c.Jti]; seen && now.Before(until) {
		return id, method, fmt.Errorf("jti %q was used before", c.Jti)
	}
	p.jtis[c.Jti] = time.Unix(c.Exp, 0)
	return id, method, nil
}

// LastAuthError says why the last client assertion was refused ("" when
// it was accepted).
func (p *Provider) LastAuthError() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.authErr
}
