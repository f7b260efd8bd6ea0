package federation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/randid"
)

// The client-assertion methods (RFC 7523 §2.2; OpenID Connect Core 1.0 §9).
const (
	authPrivateKeyJWT   = "private_key_jwt"
	authClientSecretJWT = "client_secret_jwt"
	// assertionType is client_assertion_type's value.
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// assertionLifetime is an assertion's exp - iat: one request's worth.
	assertionLifetime = time.Minute
)

// ClientKey is the private key a client signs its assertions with
// (tokenEndpointAuthMethod "private_key_jwt"), for a key held in code: an
// HSM or a cloud KMS behind crypto.Signer. It prints, formats and logs as
// [client key], never its material. Make one with [NewClientKey].
type ClientKey struct {
	signer crypto.Signer
	kid    string
	alg    jose.SignatureAlgorithm // RS256 or ES256; an RSA key signs PS256 where only that is accepted
	// chain is the key's certificate chain, the leaf first (nil without
	// one); x5tS256 and x5t are the leaf's thumbprints.
	chain        []*x509.Certificate
	x5tS256, x5t string
}

// NewClientKey wraps signer, an RSA key of at least 2048 bits or an EC
// P-256 key, with kid (its RFC 7638 thumbprint when empty).
func NewClientKey(signer crypto.Signer, kid string) (*ClientKey, error) {
	var alg jose.SignatureAlgorithm
	switch pub := signer.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("an RSA key of %d bits; want 2048 or more", pub.N.BitLen())
		}
		alg = jose.RS256
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("an EC key on %s; want P-256", pub.Curve.Params().Name)
		}
		alg = jose.ES256
	default:
		return nil, fmt.Errorf("a %T key; want RSA (2048 bits or more) or EC P-256", pub)
	}
	if kid == "" {
		sum, err := (&jose.JSONWebKey{Key: signer.Public()}).Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, err
		}
		kid = base64.RawURLEncoding.EncodeToString(sum)
	}
	return &ClientKey{signer: signer, kid: kid, alg: alg}, nil
}

// KeyID is the kid the key signs with.
func (k *ClientKey) KeyID() string { return k.kid }

// Public is the key's public half as a JWK, for the provider's client
// registration (or the application's jwks_uri).
// With a certificate it carries x5c and the thumbprints. An RSA key names
// no alg: it signs RS256, or PS256 for a provider that takes only that.
func (k *ClientKey) Public() jose.JSONWebKey {
	j := jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.kid, Use: "sig", Certificates: k.chain}
	if k.alg == jose.ES256 {
		j.Algorithm = string(k.alg)
	}
	if len(k.chain) > 0 {
		s256 := sha256.Sum256(k.chain[0].Raw)
		j.CertificateThumbprintSHA256 = s256[:]
	}
	return j
}

// algFor is the algorithm k signs with for a provider that accepts
// supported (any of k's when it lists none): "" when none fits.
func (k *ClientKey) algFor(supported []string) jose.SignatureAlgorithm {
	switch {
	case len(supported) == 0 || slices.Contains(supported, string(k.alg)):
		return k.alg
	case k.alg == jose.RS256 && slices.Contains(supported, string(jose.PS256)):
		return jose.PS256
	}
	return ""
}

// String is [client key] and the kid.
func (k ClientKey) String() string { return "[client key " + k.kid + "]" }

// GoString is String.
func (k ClientKey) GoString() string { return k.String() }

// Format prints String for every verb, so that %+v and %#v of a config
// holding the key never reach its fields.
func (k ClientKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// LogValue logs the kid only.
func (k ClientKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON writes the kid only (the config fingerprint holds no key).
func (k ClientKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// LoadClientKeys reads a PEM file of PKCS#8 private keys (RSA of 2048 bits
// or more, or EC P-256): the first signs; all are the client's keys, so a
// rotation adds the new key after the current one (published, not yet
// signing), moves it first once the provider has it, and removes the old
// one later (docs/client-auth.md).
func LoadClientKeys(path, kid string) ([]*ClientKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []*ClientKey
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("a %q PEM block; want PRIVATE KEY (PKCS#8, e.g. openssl genpkey)", block.Type)
		}
		raw, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("a private key that does not parse as PKCS#8: %w", err)
		}
		signer, ok := raw.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("a %T key, which cannot sign", raw)
		}
		id := ""
		if len(keys) == 0 {
			id = kid // clientKeyId names the signing key
		}
		k, err := NewClientKey(signer, id)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM private key in the file")
	}
	return keys, nil
}

// clientKey is the key that signs p's assertions (nil without one).
func (p *Provider) clientKey() *ClientKey {
	if len(p.clientKeys) == 0 {
		return nil
	}
	return p.clientKeys[0]
}

// assertion signs a client assertion (RFC 7523 §3): iss and sub the
// client, aud the token endpoint or the issuer (also for the other
// endpoints that authenticate the client, such as device authorization:
// RFC 7523 names the token endpoint as an audience, RFC 9126 §2 the
// issuer, and no provider takes one of its other endpoints' URLs only;
// aud, when set, instead), a fresh jti, a one-minute life.
func (p *Provider) assertion(st *resolved, aud string) (string, error) {
	switch {
	case aud != "":
	case p.cfg.ClientAssertionAudience == "issuer":
		aud = st.md.Issuer
	default:
		aud = st.md.TokenEndpoint
	}
	now := p.reg.opts.now()
	claims, _ := json.Marshal(assertionClaims{Iss: st.client.id, Sub: st.client.id, Aud: aud, Jti: randid.New(),
		Iat: now.Unix(), Exp: now.Add(assertionLifetime).Unix()})
	jws, err := st.signer.Sign(claims)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// assertionClaims are a client assertion's claims (RFC 7523 §3).
type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Jti string `json:"jti"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

// assertionSigner signs the client's assertions at a provider described
// by md: built once per discovery document, since the algorithm depends
// on it.
func (p *Provider) assertionSigner(md *discovery.Metadata, auth clientAuth, client *clientCreds) (jose.Signer,
	error) {
	var key jose.SigningKey
	opts := (&jose.SignerOptions{}).WithType("JWT")
	switch auth {
	case clientPrivateKeyJWT:
		k := p.clientKey()
		key = jose.SigningKey{Algorithm: k.algFor(md.TokenEndpointAuthSigningAlgValuesSupported), Key: k.signer}
		opts = opts.WithHeader("kid", k.kid)
		if k.chain != nil {
			opts = opts.WithHeader("x5t#S256", k.x5tS256).WithHeader("x5t", k.x5t)
		}
	case clientSecretJWT:
		key = jose.SigningKey{Algorithm: hmacAlg(md.TokenEndpointAuthSigningAlgValuesSupported,
			len(client.secret)), Key: []byte(client.secret.Reveal())}
	default:
		return nil, nil
	}
	return jose.NewSigner(key, opts)
}

// hmacAlg is the strongest HMAC that the provider lists (HS256 when it
// lists none) and that a secret of secretLen bytes may key: RFC 7518 §3.2
// wants a key at least as long as the hash. "" when none fits.
func hmacAlg(supported []string, secretLen int) jose.SignatureAlgorithm {
	for _, a := range []struct {
		alg jose.SignatureAlgorithm
		min int
	}{{jose.HS512, 64}, {jose.HS384, 48}, {jose.HS256, 32}} {
		if (slices.Contains(supported, string(a.alg)) || len(supported) == 0 && a.alg == jose.HS256) &&
			secretLen >= a.min {
			return a.alg
		}
	}
	return ""
}

// publicKeys are the client's public keys, the signing one first, then
// those the provider may encrypt to (use "enc").
func (p *Provider) publicKeys() []jose.JSONWebKey {
	keys := make([]jose.JSONWebKey, len(p.clientKeys))
	for i, k := range p.clientKeys {
		keys[i] = k.Public()
	}
	return append(keys, p.encryptionKeys()...)
}

// serveJWKS serves GET oidc:{name}/jwks: the client's public keys, for a
// provider that takes the client's jwks_uri instead of registered keys.
// Never a private part; cacheable for 5 minutes, so a key added to the
// file reaches the provider before it signs (it signs once it is first).
func (h *Handler) serveJWKS(w http.ResponseWriter, r *http.Request, key string) {
	if !getOnly(w, r, writeJSONError) {
		return
	}
	p, ok := h.lookup(w, r, key)
	if !ok {
		return
	}
	keys := p.publicKeys()
	if len(keys) == 0 {
		writeJSONError(w, http.StatusNotFound, CodeNotFound, "this provider's client has no keys (private_key_jwt)")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: keys})
}
