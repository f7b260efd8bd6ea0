package discovery

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestVerifierRejections(t *testing.T) {
	rs := newKey(t, "RS256", "rs")
	es := newKey(t, "ES256", "es")
	f := newKeySetFixture(t, rs, es)
	now := f.clk.Now()
	base := func() map[string]any { return claimsFor(f.idp.URL, "client-1", now) }
	with := func(edit func(c map[string]any)) string {
		c := base()
		edit(c)
		return rs.sign(t, c)
	}

	// alg "none": a header and payload with an empty signature.
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(base())
	algNone := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."

	// HS256 keyed with the RSA public key (key confusion).
	der, _ := x509.MarshalPKIXPublicKey(rs.priv.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubPEM}, (&jose.SignerOptions{}).WithHeader("kid", "rs"))
	hsJWS, _ := hs.Sign(payload)
	hsToken, _ := hsJWS.CompactSerialize()

	// A valid token whose payload is swapped after signing.
	good := rs.sign(t, base())
	parts := strings.Split(good, ".")
	evil := base()
	evil["sub"] = "admin"
	evilPayload, _ := json.Marshal(evil)
	tampered := parts[0] + "." + enc(evilPayload) + "." + parts[2]

	// The same signed token in the JWS JSON serialization: ID tokens are compact only.
	rsSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: rs.priv}, (&jose.SignerOptions{}).WithHeader("kid", "rs"))
	jsonJWS, _ := rsSigner.Sign(payload)
	jsonToken := jsonJWS.FullSerialize()

	// Called directly, as a bearer middleware would, the key set refuses it too.
	if _, err := f.ks.VerifySignature(context.Background(), jsonToken); !errors.Is(err, ErrMalformedToken) {
		t.Fatalf("KeySet.VerifySignature(JSON serialization) = %v, want ErrMalformedToken", err)
	}

	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"a JWS in the JSON serialization is malformed", jsonToken, ErrMalformedToken},
		{"alg none is rejected", algNone, ErrUnsupportedAlgorithm},
		{"HS256 signed with the RSA public key is rejected", hsToken, ErrUnsupportedAlgorithm},
		{"a payload changed after signing fails the signature", tampered, ErrInvalidSignature},
		{"a token that is not a JWT is malformed", "not.a.jwt", ErrMalformedToken},
		{"an unknown kid is rejected", newKey(t, "ES256", "nobody").sign(t, base()), ErrUnknownKey},
		{"a known kid signed by another key fails the signature", (&testKey{kid: "es", alg: "ES256", priv: newKey(t, "ES256", "x").priv}).sign(t, base()), ErrInvalidSignature},
		{"iss of another provider is rejected", with(func(c map[string]any) { c["iss"] = "https://evil.example" }), ErrTokenIssuer},
		{"aud without the client is rejected", with(func(c map[string]any) { c["aud"] = "other-client" }), ErrTokenAudience},
		{"aud list without the client is rejected", with(func(c map[string]any) { c["aud"] = []string{"a", "b"} }), ErrTokenAudience},
		{"exp more than the leeway past is rejected", with(func(c map[string]any) { c["exp"] = now.Add(-61 * time.Second).Unix() }), ErrTokenExpired},
		{"exp missing is rejected", with(func(c map[string]any) { delete(c, "exp") }), ErrMissingClaim},
		{"exp as a string is rejected", with(func(c map[string]any) { c["exp"] = "tomorrow" }), ErrInvalidClaim},
		{"nbf beyond the leeway is rejected", with(func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() }), ErrTokenNotYetValid},
		{"iat beyond the leeway is rejected", with(func(c map[string]any) { c["iat"] = now.Add(2 * time.Minute).Unix() }), ErrTokenIssuedInFuture},
		{"iat missing is rejected", with(func(c map[string]any) { delete(c, "iat") }), ErrMissingClaim},
		{"sub missing is rejected", with(func(c map[string]any) { delete(c, "sub") }), ErrMissingClaim},
		{"sub null is rejected", with(func(c map[string]any) { c["sub"] = nil }), ErrMissingClaim},
		{"sub as a number is rejected", with(func(c map[string]any) { c["sub"] = 42 }), ErrInvalidClaim},
		{"sub empty is rejected", with(func(c map[string]any) { c["sub"] = "" }), ErrInvalidClaim},
		{"iss missing is rejected", with(func(c map[string]any) { delete(c, "iss") }), ErrTokenIssuer},
		{"iss as a number is rejected", with(func(c map[string]any) { c["iss"] = 7 }), ErrTokenIssuer},
		{"iss with a trailing slash is rejected", with(func(c map[string]any) { c["iss"] = c["iss"].(string) + "/" }), ErrTokenIssuer},
		{"aud missing is rejected", with(func(c map[string]any) { delete(c, "aud") }), ErrMissingClaim},
		{"aud as a number is rejected", with(func(c map[string]any) { c["aud"] = 7 }), ErrInvalidClaim},
		{"aud list with a number is rejected", with(func(c map[string]any) { c["aud"] = []any{"client-1", 7} }), ErrInvalidClaim},
		{"at_hash as a number is rejected", with(func(c map[string]any) { c["at_hash"] = 7 }), ErrInvalidClaim},
		{"at_hash empty is rejected", with(func(c map[string]any) { c["at_hash"] = "" }), ErrInvalidClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := f.v.Verify(context.Background(), tt.raw)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidToken) || tok != nil {
				t.Fatalf("Verify = %v, %v; want %v", tok, err, tt.want)
			}
		})
	}
}

func TestVerifierAccepts(t *testing.T) {
	rs := newKey(t, "RS256", "rs")
	es := newKey(t, "ES256", "es")
	f := newKeySetFixture(t, rs, es)
	now := f.clk.Now()
	tests := []struct {
		name string
		key  *testKey
		edit func(c map[string]any)
	}{
		{"RS256 token is accepted", rs, nil},
		{"ES256 token is accepted", es, nil},
		{"exp within the leeway is accepted", rs, func(c map[string]any) { c["exp"] = now.Add(-59 * time.Second).Unix() }},
		{"iat within the leeway is accepted", rs, func(c map[string]any) { c["iat"] = now.Add(59 * time.Second).Unix() }},
		{"nbf within the leeway is accepted", rs, func(c map[string]any) { c["nbf"] = now.Add(59 * time.Second).Unix() }},
		{"aud list containing the client is accepted", es, func(c map[string]any) { c["aud"] = []string{"other", "client-1"} }},
		{"a single key without kid is found", &testKey{alg: "RS256", priv: rs.priv}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := claimsFor(f.idp.URL, "client-1", now)
			c["email"] = "ada@example.com"
			if tt.edit != nil {
				tt.edit(c)
			}
			tok, err := f.v.Verify(context.Background(), tt.key.sign(t, c))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tok.Claims["sub"] != "user-1" || tok.Claims["email"] != "ada@example.com" || tok.Issuer != f.idp.URL || tok.Algorithm != tt.key.alg || len(tok.Audience) == 0 {
				t.Fatalf("claims = %v", tok.Claims)
			}
			if want := time.Unix(c["exp"].(int64), 0); !tok.Expiry.Equal(want) {
				t.Fatalf("Expiry = %v, want %v", tok.Expiry, want)
			}
		})
	}
}

func TestVerifierSeveralAudiences(t *testing.T) {
	k := newKey(t, "ES256", "k")
	idp := newIdP(t, k)
	ks, _ := NewKeySet(KeySetConfig{URI: idp.URL + "/jwks"})
	v, err := NewVerifier(VerifierConfig{Issuer: idp.URL, Audiences: []string{"api://one", "api://two"}, KeySet: ks, Algorithms: []string{"ES256"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := v.Verify(context.Background(), k.sign(t, claimsFor(idp.URL, "api://two", now))); err != nil {
		t.Fatalf("second audience: %v", err)
	}
	if _, err := v.Verify(context.Background(), k.sign(t, claimsFor(idp.URL, "api://three", now))); !errors.Is(err, ErrTokenAudience) {
		t.Fatalf("foreign audience: %v, want ErrTokenAudience", err)
	}
}

func TestNewVerifierReportsEveryProblem(t *testing.T) {
	_, err := NewVerifier(VerifierConfig{Algorithms: []string{"HS256"}})
	for _, want := range []string{"Issuer is required", "Audiences", "KeySet is required", `"HS256"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewVerifier error %v does not mention %s", err, want)
		}
	}
}

// TestVerifierSubjectOptional: a logout-token verifier accepts a token
// without sub, but a sub that is present must still be a non-empty string.
func TestVerifierSubjectOptional(t *testing.T) {
	k := newKey(t, "ES256", "k")
	idp := newIdP(t, k)
	ks, _ := NewKeySet(KeySetConfig{URI: idp.URL + "/jwks"})
	v, err := NewVerifier(VerifierConfig{Issuer: idp.URL, Audiences: []string{"client-1"}, KeySet: ks, Algorithms: []string{"ES256"}, SubjectOptional: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tc := range []struct {
		name string
		edit func(c map[string]any)
		want error
	}{
		{"no sub", func(c map[string]any) { delete(c, "sub") }, nil},
		{"a sub", func(c map[string]any) {}, nil},
		{"an empty sub", func(c map[string]any) { c["sub"] = "" }, ErrInvalidClaim},
		{"a numeric sub", func(c map[string]any) { c["sub"] = 7 }, ErrInvalidClaim},
		{"a null sub", func(c map[string]any) { c["sub"] = nil }, ErrMissingClaim},
	} {
		c := claimsFor(idp.URL, "client-1", now)
		tc.edit(c)
		_, err := v.Verify(context.Background(), k.sign(t, c))
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestVerifyAccessToken: at_hash is the left half of the access token's
// hash with the alg's SHA-2 function, SHA-512 for EdDSA (OpenID Connect
// Core 1.0 §3.1.3.6 and its errata).
func TestVerifyAccessToken(t *testing.T) {
	const at = "access-token-value"
	half := func(sum []byte) string { return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]) }
	s256, s384, s512 := sha256.Sum256([]byte(at)), sha512.Sum384([]byte(at)), sha512.Sum512([]byte(at))
	for _, tc := range []struct {
		alg, hash string
		want      error
	}{
		{"RS256", half(s256[:]), nil},
		{"ES256", half(s256[:]), nil},
		{"PS384", half(s384[:]), nil},
		{"ES512", half(s512[:]), nil},
		{"EdDSA", half(s512[:]), nil},
		{"EdDSA", half(s256[:]), ErrAccessTokenHash}, // SHA-256 for Ed25519 is the pre-errata mistake
		{"RS256", half(s384[:]), ErrAccessTokenHash},
		{"RS256", half(s256[:])[1:], ErrAccessTokenHash},
		{"none", half(s256[:]), ErrAccessTokenHash},
	} {
		tok := &Token{Algorithm: tc.alg, AccessTokenHash: tc.hash}
		if err := tok.VerifyAccessToken(at); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("alg %s, at_hash %s: %v, want %v", tc.alg, tc.hash, err, tc.want)
		}
	}
}

func TestVerifierExpiryOptional(t *testing.T) {
	k := newKey(t, "ES256", "k")
	idp := newIdP(t, k)
	ks, _ := NewKeySet(KeySetConfig{URI: idp.URL + "/jwks"})
	now := time.Now()
	for _, optional := range []bool{false, true} {
		v, err := NewVerifier(VerifierConfig{Issuer: idp.URL, Audiences: []string{"client-1"}, KeySet: ks,
			Algorithms: []string{"ES256"}, ExpiryOptional: optional})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			edit func(c map[string]any)
			want error
		}{
			{"no exp", func(c map[string]any) { delete(c, "exp") }, map[bool]error{false: ErrMissingClaim, true: nil}[optional]},
			{"an expired exp", func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }, ErrTokenExpired},
		} {
			c := claimsFor(idp.URL, "client-1", now)
			tc.edit(c)
			_, err := v.Verify(context.Background(), k.sign(t, c))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("optional=%v, %s: %v, want %v", optional, tc.name, err, tc.want)
			}
		}
	}
}

func TestVerifierIssuedAtOptional(t *testing.T) {
	k := newKey(t, "ES256", "k")
	idp := newIdP(t, k)
	ks, _ := NewKeySet(KeySetConfig{URI: idp.URL + "/jwks"})
	now := time.Now()
	for _, optional := range []bool{false, true} {
		v, _ := NewVerifier(VerifierConfig{Issuer: idp.URL, Audiences: []string{"client-1"}, KeySet: ks,
			Algorithms: []string{"ES256"}, IssuedAtOptional: optional})
		c := claimsFor(idp.URL, "client-1", now)
		delete(c, "iat")
		_, err := v.Verify(context.Background(), k.sign(t, c))
		if optional && err != nil || !optional && !errors.Is(err, ErrMissingClaim) {
			t.Errorf("optional=%v, no iat: %v", optional, err)
		}
		c = claimsFor(idp.URL, "client-1", now)
		c["iat"] = now.Add(time.Hour).Unix()
		if _, err := v.Verify(context.Background(), k.sign(t, c)); !errors.Is(err, ErrTokenIssuedInFuture) {
			t.Errorf("optional=%v, iat in the future: %v", optional, err)
		}
	}
}
