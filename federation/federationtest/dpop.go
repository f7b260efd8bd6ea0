package federationtest

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DPoP (RFC 9449). With Options.DPoP the provider takes DPoP proofs at
// the token endpoint and issues tokens bound to the proof's key (cnf.jkt,
// token_type DPoP); userinfo then takes such a token only with a proof by
// that key. With Options.DPoPNonce both ask for a nonce first
// (use_dpop_nonce with a DPoP-Nonce header), as a careful provider does.

// dpopNonce is the one nonce the provider hands out.
const dpopNonce = "federationtest-dpop-nonce"

type dpopJKT struct{}

// errUseNonce: a proof without the nonce the provider asks for.
var errUseNonce = errors.New("use_dpop_nonce")

// checkDPoP verifies r's DPoP proof for htu (and accessToken's hash when
// one is given) and returns the key's thumbprint.
func (p *Provider) checkDPoP(r *http.Request, htu, accessToken string) (string, error) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return "", fmt.Errorf("%d DPoP headers", len(proofs))
	}
	jws, err := jose.ParseSigned(proofs[0], []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256, jose.PS256,
		jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		return "", errors.New("the proof is not a JWS")
	}
	h := jws.Signatures[0].Protected
	if h.ExtraHeaders["typ"] != "dpop+jwt" || h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
		return "", errors.New("typ or jwk")
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		return "", errors.New("signature")
	}
	var c struct {
		JTI, HTM, HTU, ATH, Nonce string
		IAT                       int64
	}
	json.Unmarshal(payload, &c)
	p.mu.Lock()
	now, seen := p.now(), p.dpopJTIs[c.JTI]
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(accessToken))
	switch {
	case c.JTI == "" || seen:
		return "", errors.New("jti missing or reused")
	case c.HTM != r.Method || c.HTU != htu:
		return "", fmt.Errorf("htm %q htu %q, want %s %s", c.HTM, c.HTU, r.Method, htu)
	case now.Sub(time.Unix(c.IAT, 0)).Abs() > time.Minute:
		return "", errors.New("iat")
	case accessToken != "" && c.ATH != base64.RawURLEncoding.EncodeToString(sum[:]):
		return "", errors.New("ath")
	case p.opts.DPoPNonce && c.Nonce != dpopNonce:
		return "", errUseNonce
	}
	thumb, _ := h.JSONWebKey.Thumbprint(crypto.SHA256)
	p.mu.Lock()
	p.dpopJTIs[c.JTI] = true
	p.mu.Unlock()
	return base64.RawURLEncoding.EncodeToString(thumb), nil
}

// tokenDPoP checks a token request's proof, when the provider does DPoP
// and the request carries one (or the grant is bound to a key). It
// answers the request itself on failure and returns ok false; else r
// carries the key's thumbprint for issueTokens.
func (p *Provider) tokenDPoP(w http.ResponseWriter, r *http.Request, boundTo string) (*http.Request, bool) {
	if !p.opts.DPoP || r.Header.Get("DPoP") == "" && boundTo == "" {
		return r, true
	}
	jkt, err := p.checkDPoP(r, p.requestURL(r), "")
	switch {
	case errors.Is(err, errUseNonce):
		w.Header().Set("DPoP-Nonce", dpopNonce)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "use_dpop_nonce"})
		return nil, false
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_dpop_proof", "error_description": err.Error()})
		return nil, false
	case boundTo != "" && jkt != boundTo:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_dpop_proof",
			"error_description": "the proof's key is not the one the grant is bound to"})
		return nil, false
	}
	return r.WithContext(context.WithValue(r.Context(), dpopJKT{}, jkt)), true
}

// requestURL is the URL r was sent to, without its query.
func (p *Provider) requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}

// userinfoDPoP checks a DPoP-bound token's presentation at userinfo.
func (p *Provider) userinfoDPoP(w http.ResponseWriter, r *http.Request, tok, jkt string) bool {
	fail := func(code string) bool {
		w.Header().Set("WWW-Authenticate", `DPoP error="`+code+`"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": code})
		return false
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "DPoP ") {
		return fail("invalid_token")
	}
	got, err := p.checkDPoP(r, p.requestURL(r), tok)
	switch {
	case errors.Is(err, errUseNonce):
		w.Header().Set("DPoP-Nonce", dpopNonce)
		return fail("use_dpop_nonce")
	case err != nil || got != jkt:
		return fail("invalid_dpop_proof")
	}
	return true
}
