package federation

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/session"
)

// DPoP at the API (RFC 9449): a token bound to a key (cnf.jkt) is
// accepted only with a proof, signed by that key, of this very request.

// BearerConfig.DPoP values.
const (
	DPoPOff      = "off"      // default: DPoP-bound tokens are refused, as before
	DPoPAllowed  = "allowed"  // Bearer tokens, and DPoP-bound tokens with a proof
	DPoPRequired = "required" // DPoP-bound tokens with a proof only
)

// dpopAlgs are the proof algorithms accepted: asymmetric only (§4.3).
var dpopAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.PS256, jose.RS256, jose.EdDSA}

// dpopAlgsChallenge is the algs parameter of the DPoP challenge.
const dpopAlgsChallenge = "ES256 ES384 PS256 RS256 EdDSA"

// dpopWindow is how far a proof's iat may be from now, besides the
// registry's leeway.
const dpopWindow = 60 * time.Second

// maxDPoPProof bounds the DPoP header read.
const maxDPoPProof = 8 << 10

// Causes of a refused DPoP request, each in an *Error with
// CodeInvalidDPoPProof (the proof) or CodeInvalidToken (the token).
var (
	// ErrDPoPProof: the DPoP proof is missing, malformed, or not of this
	// request (typ, alg, jwk, htm, htu, iat, ath, jti).
	ErrDPoPProof = errors.New("federation: the DPoP proof is invalid")
	// ErrDPoPReplayed: the proof's jti was used before.
	ErrDPoPReplayed = errors.New("federation: the DPoP proof was used before")
	// ErrDPoPKey: the proof's key is not the one the token is bound to.
	ErrDPoPKey = errors.New("federation: the DPoP proof is not signed by the key the token is bound to")
	// ErrDPoPRequired: the API takes DPoP-bound tokens only.
	ErrDPoPRequired = errors.New("federation: this API requires DPoP-bound tokens")
	// ErrDPoPNotBound: a token presented with the DPoP scheme is not bound
	// to a key.
	ErrDPoPNotBound = errors.New("federation: the token presented with DPoP is not DPoP-bound (no cnf.jkt)")
)

// CodeInvalidDPoPProof: the DPoP proof was refused (RFC 9449 §7.1).
const CodeInvalidDPoPProof Code = "invalid_dpop_proof"

// CodeUseDPoPNonce: the proof must carry the nonce of the DPoP-Nonce
// header (RFC 9449 §9).
const CodeUseDPoPNonce Code = "use_dpop_nonce"

// ErrDPoPNonce: a proof without the API's current nonce.
var ErrDPoPNonce = errors.New("federation: the DPoP proof lacks the server's current nonce")

// dpopNoncePeriod is how long an API nonce is current.
const dpopNoncePeriod = 5 * time.Minute

// dpopNonce is the API's nonce for the period of t: an HMAC of the
// period's number with DPoPNonceKey, so every instance with the key
// agrees without sharing state.
func (b *Bearer) dpopNonce(t time.Time) string {
	m := hmac.New(sha256.New, b.cfg.DPoPNonceKey)
	fmt.Fprintf(m, "oidcfed dpop nonce %d", t.Unix()/int64(dpopNoncePeriod/time.Second))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// nonceOK reports whether n is the current or the previous nonce.
func (b *Bearer) nonceOK(n string, now time.Time) bool {
	return hmac.Equal([]byte(n), []byte(b.dpopNonce(now))) ||
		hmac.Equal([]byte(n), []byte(b.dpopNonce(now.Add(-dpopNoncePeriod))))
}

// dpopClaims are a proof's claims (§4.2).
type dpopClaims struct {
	JTI   string      `json:"jti"`
	HTM   string      `json:"htm"`
	HTU   string      `json:"htu"`
	IAT   json.Number `json:"iat"`
	ATH   string      `json:"ath"`
	Nonce string      `json:"nonce"`
}

// verifyProof checks r's DPoP proof for token and returns its key's
// RFC 7638 thumbprint (base64url).
func (b *Bearer) verifyProof(ctx context.Context, r *http.Request, token string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", newError(CodeInvalidDPoPProof, "the DPoP proof is invalid",
			fmt.Errorf("%w: "+format, append([]any{ErrDPoPProof}, args...)...))
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 || proofs[0] == "" || len(proofs[0]) > maxDPoPProof {
		return bad("want exactly one DPoP header of at most %d bytes, got %d", maxDPoPProof, len(proofs))
	}
	payload, jkt, err := parseProof(proofs[0])
	if err != nil {
		return bad("%v", err)
	}
	var c dpopClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return bad("the claims are not JSON")
	}
	iat, err := c.IAT.Int64()
	now, window := b.reg.opts.now(), dpopWindow+b.reg.leeway()
	sum := sha256.Sum256([]byte(token))
	switch {
	case c.JTI == "" || len(c.JTI) > 256:
		return bad("jti missing or over 256 bytes")
	case c.HTM != r.Method:
		return bad("htm %q, want %q", c.HTM, r.Method)
	case !sameHTU(c.HTU, b.requestURL(r)):
		return bad("htu does not name this request's URL")
	case err != nil || now.Sub(time.Unix(iat, 0)).Abs() > window:
		return bad("iat is more than %s from now", window)
	case subtle.ConstantTimeCompare([]byte(c.ATH), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))) != 1:
		return bad("ath is not the hash of the access token")
	case b.cfg.DPoPNonceKey != nil && !b.nonceOK(c.Nonce, now):
		return "", newError(CodeUseDPoPNonce, "the DPoP proof must carry the server's nonce (DPoP-Nonce)", ErrDPoPNonce)
	}
	// One use per proof: the jti, for this key, while the proof could be
	// accepted at all.
	err = b.reg.jtis.Claim(ctx, "dpop:"+jkt+":"+c.JTI, time.Unix(iat, 0).Add(window))
	switch {
	case errors.Is(err, session.ErrReplayed):
		return "", newError(CodeInvalidDPoPProof, "the DPoP proof was used before", ErrDPoPReplayed)
	case err != nil:
		return "", newError(CodeTemporarilyUnavailable, "the DPoP proof could not be checked; try again", err)
	}
	return jkt, nil
}

// parseProof verifies a compact proof's signature with the jwk of its
// header (typ dpop+jwt, an asymmetric alg, a public key) and returns its
// payload and the key's RFC 7638 thumbprint. ES256 with a P-256 key, what
// clients use, is checked directly: go-jose's general parser costs about
// half a signature verification more. Any other alg goes through go-jose.
func parseProof(raw string) ([]byte, string, error) {
	h64, rest, _ := strings.Cut(raw, ".")
	p64, s64, _ := strings.Cut(rest, ".")
	hb, err1 := base64.RawURLEncoding.DecodeString(h64)
	var hdr struct {
		Typ  string          `json:"typ"`
		Alg  string          `json:"alg"`
		Crit json.RawMessage `json:"crit"`
		JWK  struct {
			Kty, Crv, X, Y string
			D              *string `json:"d"`
		} `json:"jwk"`
	}
	if err1 != nil || strings.Count(raw, ".") != 2 || json.Unmarshal(hb, &hdr) != nil {
		return nil, "", errors.New("not a compact JWS")
	}
	switch {
	case hdr.Typ != "dpop+jwt":
		return nil, "", fmt.Errorf("typ %q, want dpop+jwt", hdr.Typ)
	case hdr.JWK.D != nil:
		return nil, "", errors.New("the jwk holds a private key")
	case hdr.Crit != nil:
		return nil, "", errors.New("crit header parameters are not understood")
	case hdr.Alg == "ES256" && hdr.JWK.Kty == "EC" && hdr.JWK.Crv == "P-256":
	default:
		return parseProofJOSE(raw)
	}
	x, err1 := base64.RawURLEncoding.Strict().DecodeString(hdr.JWK.X)
	y, err2 := base64.RawURLEncoding.Strict().DecodeString(hdr.JWK.Y)
	sig, err3 := base64.RawURLEncoding.Strict().DecodeString(s64)
	payload, err4 := base64.RawURLEncoding.DecodeString(p64)
	if err := errors.Join(err1, err2, err3, err4); err != nil || len(x) != 32 || len(y) != 32 || len(sig) != 64 {
		return nil, "", errors.New("the jwk, payload or signature is not well-formed ES256")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, "", errors.New("the jwk is not a point on P-256")
	}
	digest := sha256.Sum256([]byte(raw[:len(h64)+1+len(p64)]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, "", errors.New("the signature does not verify with its jwk")
	}
	// RFC 7638 §3.2: the required members, sorted, no spaces.
	thumb := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + hdr.JWK.X + `","y":"` + hdr.JWK.Y + `"}`))
	return payload, base64.RawURLEncoding.EncodeToString(thumb[:]), nil
}

// parseProofJOSE is parseProof for the algorithms other than ES256.
func parseProofJOSE(raw string) ([]byte, string, error) {
	jws, err := jose.ParseSigned(raw, dpopAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", fmt.Errorf("not a JWS signed with %s", dpopAlgsChallenge)
	}
	jwk := jws.Signatures[0].Protected.JSONWebKey
	switch {
	case jwk == nil || !jwk.Valid():
		return nil, "", errors.New("no valid jwk in the header")
	case !jwk.IsPublic():
		return nil, "", errors.New("the jwk holds a private key")
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return nil, "", errors.New("the signature does not verify with its jwk")
	}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, "", errors.New("the jwk has no thumbprint")
	}
	return payload, base64.RawURLEncoding.EncodeToString(thumb), nil
}

// requestURL is r's URL as the client addressed it, without query and
// fragment: BearerConfig.BaseURL's origin with r's path, else r's own
// scheme and Host.
func (b *Bearer) requestURL(r *http.Request) string {
	if b.base != nil {
		return b.base.Scheme + "://" + b.base.Host + r.URL.EscapedPath()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

// sameHTU compares a proof's htu with the request's URL (RFC 9449 §4.3:
// without query and fragment, after syntax-based normalization: scheme
// and host case, the default port).
func sameHTU(htu, want string) bool {
	u, err1 := url.Parse(htu)
	w, err2 := url.Parse(want)
	if err1 != nil || err2 != nil || u.Opaque != "" || u.User != nil {
		return false
	}
	norm := func(u *url.URL) string {
		host, port := strings.ToLower(u.Hostname()), u.Port()
		scheme := strings.ToLower(u.Scheme)
		if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
			port = ""
		}
		if port != "" {
			host = net.JoinHostPort(host, port)
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		return scheme + "://" + host + path
	}
	return norm(u) == norm(w)
}

// dpopToken reads an "Authorization: DPoP" token.
func dpopToken(h http.Header) (string, bool) {
	v := h.Values("Authorization")
	if len(v) != 1 || len(v[0]) < len("DPoP ") || !strings.EqualFold(v[0][:len("DPoP ")], "DPoP ") {
		return "", false
	}
	return strings.TrimLeft(v[0][len("DPoP "):], " "), true
}
