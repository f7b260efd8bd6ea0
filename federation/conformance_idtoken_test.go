package federation_test

// ID-token rules of OpenID Connect Core 1.0 §3.1.3.7 (and §2, §10.1,
// §16.x), each fed to a real sign-in by a misbehaving provider.

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

var enc = base64.RawURLEncoding.EncodeToString

// claimsEdit is a Misbehavior that edits the ID token's claims.
func claimsEdit(edit func(c map[string]any)) federationtest.Misbehavior {
	return federationtest.Misbehavior{IDTokenClaims: edit}
}

// resign replaces the ID token of a token response with one whose claims
// edit changed, signed with op's key: for claims that depend on the access
// token (at_hash).
func resign(r **rp, edit func(c map[string]any, accessToken string)) func(body map[string]any) {
	return func(body map[string]any) {
		raw, _ := body["id_token"].(string)
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
		var c map[string]any
		json.Unmarshal(payload, &c)
		edit(c, body["access_token"].(string))
		b, _ := json.Marshal(c)
		key, kid, alg := (*r).op.Key()
		body["id_token"] = federationtest.Sign(b, key, kid, alg)
	}
}

func signWithHeaders(payload []byte, key any, alg string, headers map[jose.HeaderKey]any) string {
	opts := &jose.SignerOptions{}
	for k, v := range headers {
		opts = opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		panic(err)
	}
	jws, _ := s.Sign(payload)
	out, _ := jws.CompactSerialize()
	return out
}

func TestIDTokenRules(t *testing.T) { checkRules(t, untagged(idTokenRules(t))) }

// idTokenRules are the ID token rules (those with modules run in
// TestConformance); t's cleanup fails it if a jku or x5u URL was fetched.
func idTokenRules(t *testing.T) []rule {
	var jkuHits atomic.Int32
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jkuHits.Add(1)
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: otherKey.Public(), KeyID: "attacker", Algorithm: "RS256", Use: "sig"}}})
	}))
	t.Cleanup(func() {
		attacker.Close()
		if n := jkuHits.Load(); n != 0 {
			t.Errorf("the jku/x5u URL was fetched %d times", n)
		}
	})
	var cur *rp // the rp of the running rule, for resign
	now := time.Now()
	rsaSign := func(edit func(hdr, payload string) string) func([]byte, crypto.Signer, string, string) string {
		return func(payload []byte, key crypto.Signer, kid, alg string) string {
			good := federationtest.Sign(payload, key, kid, alg)
			parts := strings.Split(good, ".")
			return edit(parts[0], parts[1]) + "." + parts[2]
		}
	}
	return []rule{
		// Signature (§3.1.3.7 step 6, §10.1).
		{name: "an RS256 signature is verified", modules: []string{"oidcc-client-test-idtoken-sig-rs256"}, rp: rpOptions{op: federationtest.Options{Algorithm: "RS256"}}},
		{name: "an ES256 signature is verified", rp: rpOptions{op: federationtest.Options{Algorithm: "ES256"}}},
		{name: "an EdDSA signature is verified, with at_hash by SHA-512 (errata)", rp: rpOptions{op: federationtest.Options{Algorithm: "EdDSA"}}},
		{name: "an EdDSA at_hash computed with SHA-256 is rejected", rp: rpOptions{op: federationtest.Options{Algorithm: "EdDSA"}},
			setup: func(r *rp) { cur = r },
			bad: federationtest.Misbehavior{TokenResponse: resign(&cur, func(c map[string]any, at string) {
				sum := sha256.Sum256([]byte(at))
				c["at_hash"] = enc(sum[:16])
			})}, want: "invalid_token", cause: federation.ErrAtHash},
		{name: "a bad signature is rejected", modules: []string{"oidcc-client-test-invalid-sig-rs256"}, bad: federationtest.Misbehavior{Sign: rsaSign(func(h, p string) string {
			return h + "." + enc([]byte(`{"sub":"mallory"}`))
		})}, want: "invalid_token", cause: discovery.ErrInvalidSignature},
		{name: "an ES256 signature that does not verify is rejected", modules: []string{"oidcc-client-test-invalid-sig-es256"}, rp: rpOptions{op: federationtest.Options{Algorithm: "ES256"}},
			bad: federationtest.Misbehavior{Sign: rsaSign(func(h, p string) string {
				return h + "." + enc([]byte(`{"sub":"mallory"}`))
			})}, want: "invalid_token", cause: discovery.ErrInvalidSignature},
		{name: "keys rotated just before signing: the new key is fetched", modules: []string{"oidcc-client-test-signing-key-rotation-just-before-signing"},
			setup: func(r *rp) {
				cur = r
				// The provider's keys are cached first, as after any earlier token.
				b, _ := federation.NewBearer(r.reg, federation.BearerConfig{})
				b.Verify(context.Background(), r.op.SignJWT("at+jwt", map[string]any{"iss": r.op.Issuer(), "sub": "alice",
					"aud": "client-1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}))
			},
			bad: federationtest.Misbehavior{Sign: func(payload []byte, _ crypto.Signer, _, _ string) string {
				cur.op.RotateKey("RS256", false)
				key, kid, alg := cur.op.Key()
				return federationtest.Sign(payload, key, kid, alg)
			}}},
		{name: "alg none is rejected", modules: []string{"oidcc-client-test-idtoken-sig-none"}, bad: federationtest.Misbehavior{Sign: func(payload []byte, _ crypto.Signer, _, _ string) string {
			return enc([]byte(`{"alg":"none"}`)) + "." + enc(payload) + "."
		}}, want: "invalid_token", cause: discovery.ErrUnsupportedAlgorithm},
		{name: "HS256 keyed with the provider's RSA public key is rejected (key confusion)", modules: []string{"oidcc-client-test-invalid-sig-hs256"}, bad: federationtest.Misbehavior{Sign: func(payload []byte, key crypto.Signer, kid, _ string) string {
			der, _ := x509.MarshalPKIXPublicKey(key.Public())
			return federationtest.Sign(payload, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), kid, "HS256")
		}}, want: "invalid_token", cause: discovery.ErrUnsupportedAlgorithm},
		{name: "jku and x5u headers are ignored: the key they point to is never fetched", bad: federationtest.Misbehavior{Sign: func(payload []byte, _ crypto.Signer, _, _ string) string {
			return signWithHeaders(payload, otherKey, "RS256", map[jose.HeaderKey]any{"kid": "attacker", "jku": attacker.URL, "x5u": attacker.URL})
		}}, want: "invalid_token", cause: discovery.ErrUnknownKey},
		{name: "a kid the provider does not publish is rejected", bad: federationtest.Misbehavior{Sign: func(payload []byte, _ crypto.Signer, _, alg string) string {
			return federationtest.Sign(payload, otherKey, "not-published", alg)
		}}, want: "invalid_token", cause: discovery.ErrUnknownKey},
		{name: "kid absent with one key in the JWKS: the key is used", modules: []string{"oidcc-client-test-kid-absent-single-jwks"}, bad: federationtest.Misbehavior{Sign: func(payload []byte, key crypto.Signer, _, alg string) string {
			return federationtest.Sign(payload, key, "", alg)
		}}},
		{name: "kid absent with several keys in the JWKS: each fitting key is tried", modules: []string{"oidcc-client-test-kid-absent-multiple-jwks"}, setup: func(r *rp) { r.op.RotateKey("RS256", true) },
			bad: federationtest.Misbehavior{Sign: func(payload []byte, key crypto.Signer, _, alg string) string {
				return federationtest.Sign(payload, key, "", alg)
			}}},
		{name: "kid absent and no key verifies is rejected", bad: federationtest.Misbehavior{Sign: func(payload []byte, _ crypto.Signer, _, alg string) string {
			return federationtest.Sign(payload, otherKey, "", alg)
		}}, want: "invalid_token", cause: discovery.ErrInvalidSignature},
		// iss and aud (steps 2-5).
		{name: "an iss other than the issuer is rejected", modules: []string{"oidcc-client-test-invalid-iss"}, bad: claimsEdit(func(c map[string]any) { c["iss"] = "https://evil.example" }), want: "invalid_token", cause: discovery.ErrTokenIssuer},
		{name: "an iss differing by a trailing slash is rejected", bad: claimsEdit(func(c map[string]any) { c["iss"] = c["iss"].(string) + "/" }), want: "invalid_token", cause: discovery.ErrTokenIssuer},
		{name: "an aud without the client is rejected", modules: []string{"oidcc-client-test-invalid-aud"}, bad: claimsEdit(func(c map[string]any) { c["aud"] = "other" }), want: "invalid_token", cause: discovery.ErrTokenAudience},
		{name: "several audiences without azp are rejected", bad: claimsEdit(func(c map[string]any) {
			c["aud"] = []string{"client-1", "other"}
			delete(c, "azp")
		}), want: "invalid_token", cause: federation.ErrAZPMismatch},
		{name: "an azp that is not the client is rejected", bad: claimsEdit(func(c map[string]any) { c["azp"] = "other" }), want: "invalid_token", cause: federation.ErrAZPMismatch},
		{name: "an extra audience the client does not trust is rejected, even with azp", bad: claimsEdit(func(c map[string]any) {
			c["aud"] = []string{"client-1", "other"}
		}), want: "invalid_token", cause: federation.ErrUntrustedAudience},
		{name: "an extra audience listed in trustedAudiences is accepted with azp",
			rp:  rpOptions{provider: func(pc *federation.ProviderConfig) { pc.TrustedAudiences = []string{"api-1"} }},
			bad: claimsEdit(func(c map[string]any) { c["aud"] = []string{"client-1", "api-1"} })},
		// Time (steps 9-10) with the leeway.
		{name: "an expired ID token is rejected", bad: claimsEdit(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), want: "invalid_token", cause: discovery.ErrTokenExpired},
		{name: "an ID token expired within the leeway is accepted", bad: claimsEdit(func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() })},
		{name: "a configured leeway of 5 s rejects a token expired 30 s ago", rp: rpOptions{opts: []federation.Option{federation.WithLeeway(5 * time.Second)}},
			bad: claimsEdit(func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() }), want: "invalid_token", cause: discovery.ErrTokenExpired},
		{name: "an iat far in the future is rejected", bad: claimsEdit(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), want: "invalid_token", cause: discovery.ErrTokenIssuedInFuture},
		{name: "an nbf beyond the leeway is rejected", bad: claimsEdit(func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() }), want: "invalid_token", cause: discovery.ErrTokenNotYetValid},
		{name: "an nbf within the leeway is accepted", bad: claimsEdit(func(c map[string]any) { c["nbf"] = now.Add(30 * time.Second).Unix() })},
		{name: "a missing iat is rejected", modules: []string{"oidcc-client-test-missing-iat"}, bad: claimsEdit(func(c map[string]any) { delete(c, "iat") }), want: "invalid_token", cause: discovery.ErrMissingClaim},
		{name: "a missing aud is rejected", modules: []string{"oidcc-client-test-missing-aud"}, bad: claimsEdit(func(c map[string]any) { delete(c, "aud") }), want: "invalid_token", cause: discovery.ErrMissingClaim},
		{name: "a missing exp is rejected", bad: claimsEdit(func(c map[string]any) { delete(c, "exp") }), want: "invalid_token", cause: discovery.ErrMissingClaim},
		// nonce (step 11): replay is the flow's single use, see TestStateRejections.
		{name: "a wrong nonce is rejected", modules: []string{"oidcc-client-test-nonce-invalid"}, bad: claimsEdit(func(c map[string]any) { c["nonce"] = "forged" }), want: "invalid_token", cause: federation.ErrNonceMismatch},
		{name: "a missing nonce is rejected", bad: claimsEdit(func(c map[string]any) { delete(c, "nonce") }), want: "invalid_token", cause: federation.ErrNonceMismatch},
		// at_hash (§3.1.3.8 for the code flow: checked when present).
		{name: "a wrong at_hash is rejected", modules: []string{"oidcc-client-test-invalid-athash"}, bad: claimsEdit(func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }), want: "invalid_token", cause: federation.ErrAtHash},
		{name: "an absent at_hash is accepted (optional in the code flow)", modules: []string{"oidcc-client-test-missing-athash"}, bad: claimsEdit(func(c map[string]any) { delete(c, "at_hash") })},
		// sub (§2) and claim types.
		{name: "a missing sub is rejected", modules: []string{"oidcc-client-test-missing-sub"}, bad: claimsEdit(func(c map[string]any) { delete(c, "sub") }), want: "invalid_token", cause: discovery.ErrMissingClaim},
		{name: "a null sub is rejected", bad: claimsEdit(func(c map[string]any) { c["sub"] = nil }), want: "invalid_token", cause: discovery.ErrMissingClaim},
		{name: "a sub that is not a string is rejected", bad: claimsEdit(func(c map[string]any) { c["sub"] = 42 }), want: "invalid_token", cause: discovery.ErrInvalidClaim},
		{name: "an empty sub is rejected", bad: claimsEdit(func(c map[string]any) { c["sub"] = "" }), want: "invalid_token", cause: discovery.ErrInvalidClaim},
		{name: "null claims read as absent", bad: claimsEdit(func(c map[string]any) { c["name"], c["groups"], c["picture"] = nil, nil, nil })},
		{name: "a profile claim of the wrong type is rejected", bad: claimsEdit(func(c map[string]any) { c["name"] = []string{"x"} }), want: "invalid_token"},
	}
}
