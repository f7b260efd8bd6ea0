package interop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
)

// TestOpaqueTokens: oidc-provider's opaque access token (no resource
// indicator) is accepted by the API through introspection, then revoked
// through the library, then refused.
func TestOpaqueTokens(t *testing.T) {
	rp := newRP(t)
	op := startOIDCProvider(t, rp.base, true, 0)
	pc := op.providers[op.plain]
	pc.IntrospectOpaqueTokens = true
	rp.serve(map[string]federation.ProviderConfig{op.plain: pc}, federation.BearerConfig{})
	login, _ := rp.signIn(newBrowser(t), federation.Key(op.plain), op.fill)
	tok := login.Result.Tokens.AccessToken
	if strings.Count(tok.Reveal(), ".") == 2 {
		t.Fatal("oidc-provider issued a JWT access token; this case needs an opaque one")
	}
	if status, _, body := rp.callAPI(tok.Reveal()); status != http.StatusOK || !strings.Contains(body, `"subject":"alice"`) {
		t.Fatalf("/api/me with the opaque token: %d %s", status, body)
	}
	introspect := op.proc.issuer + "/token/introspection"
	if n := len(rp.requests(introspect)); n != 1 {
		t.Fatalf("%d introspection requests, want 1", n)
	}
	if status, _, _ := rp.callAPI(tok.Reveal()); status != http.StatusOK || len(rp.requests(introspect)) != 1 {
		t.Fatalf("a second call: %d, %d introspections (want the cached answer)", status, len(rp.requests(introspect)))
	}
	if err := rp.provider(federation.Key(op.plain)).Revoke(t.Context(), tok, federation.HintAccessToken); err != nil {
		t.Fatal(err)
	}
	status, challenge, body := rp.callAPI(tok.Reveal())
	if status != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Bearer") ||
		!strings.Contains(challenge, `error="invalid_token"`) || !strings.Contains(body, "the token is not active") {
		t.Fatalf("after revocation: %d %q %s", status, challenge, body)
	}
	if strings.Contains(rp.logOutput(), tok.Reveal()) {
		t.Fatal("the token reached the log")
	}
}

// TestSignedUserinfo: a client registered with userinfo_signed_response_alg
// gets its userinfo as a signed JWT from oidc-provider, which the relying
// party verifies (iss, aud, signature) and maps like JSON claims.
func TestSignedUserinfo(t *testing.T) {
	rp := newRP(t)
	op := startOIDCProvider(t, rp.base, false, 0, func(cfg map[string]any) {
		cfg["clients"] = append(cfg["clients"].([]map[string]any), map[string]any{
			"client_id": "signed-ui", "client_secret": "secret-signed-ui-0123456789",
			"redirect_uris":  []string{rp.base + "/auth/oauth/" + federation.Key("signed-ui") + "/callback"},
			"grant_types":    []string{"authorization_code"},
			"response_types": []string{"code"}, "userinfo_signed_response_alg": "RS256"})
	})
	rp.serve(map[string]federation.ProviderConfig{"signed-ui": {Issuer: op.proc.issuer, ClientID: "signed-ui",
		ClientSecret: "secret-signed-ui-0123456789", Scopes: []string{"openid", "email", "profile", "groups"}}},
		federation.BearerConfig{})
	login, _ := rp.signIn(newBrowser(t), federation.Key("signed-ui"), op.fill)
	// conformIdTokenClaims keeps the profile out of the ID token: it came
	// from the signed userinfo.
	wantUser(t, login.Result.User, op.user, "signed-ui", op.proc.issuer)
}

// TestEncryptedResponses: clients registered with
// id_token_encrypted_response_alg and userinfo_encrypted_response_alg get
// their ID tokens and userinfo signed, then encrypted by oidc-provider
// (which encrypts userinfo only when it signs it too) to a key it
// fetched from the relying party's JWKS route, published there with use
// enc; the relying party decrypts, verifies and maps them.
func TestEncryptedResponses(t *testing.T) {
	rp := newRP(t)
	rsaKey := must(rsa.GenerateKey(rand.Reader, 2048))
	ecKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	client := func(id string, extra map[string]any) map[string]any {
		extra["jwks_uri"] = rp.base + "/auth/oauth/" + federation.Key(id) + "/jwks"
		extra["grant_types"] = []string{"authorization_code"}
		return oidcProviderClient(rp.base, id, extra)
	}
	op := startOIDCProvider(t, rp.base, false, 0, func(cfg map[string]any) {
		cfg["clients"] = append(cfg["clients"].([]map[string]any),
			client("enc-rsa", map[string]any{
				"id_token_encrypted_response_alg": "RSA-OAEP-256", "id_token_encrypted_response_enc": "A256GCM",
				"userinfo_signed_response_alg":    "RS256",
				"userinfo_encrypted_response_alg": "RSA-OAEP", "userinfo_encrypted_response_enc": "A128CBC-HS256"}),
			client("enc-ec", map[string]any{
				"id_token_encrypted_response_alg": "ECDH-ES", "id_token_encrypted_response_enc": "A128CBC-HS256",
				"userinfo_signed_response_alg":    "ES256",
				"userinfo_encrypted_response_alg": "ECDH-ES", "userinfo_encrypted_response_enc": "A256GCM"}))
	})
	scopes := []string{"openid", "email", "profile", "groups"}
	rp.serve(map[string]federation.ProviderConfig{
		"enc-rsa": {Issuer: op.proc.issuer, ClientID: "enc-rsa", ClientSecret: "secret-enc-rsa-0123456789",
			Scopes: scopes, ClientKey: must(federation.NewClientKey(rsaKey, "")),
			IDTokenEncryption:  &federation.Encryption{Alg: "RSA-OAEP-256", Enc: "A256GCM"},
			UserinfoEncryption: &federation.Encryption{Alg: "RSA-OAEP"}},
		"enc-ec": {Issuer: op.proc.issuer, ClientID: "enc-ec", ClientSecret: "secret-enc-ec-0123456789",
			Scopes: scopes, ClientKey: must(federation.NewClientKey(ecKey, "")),
			IDTokenEncryption:  &federation.Encryption{Alg: "ECDH-ES"},
			UserinfoEncryption: &federation.Encryption{Alg: "ECDH-ES", Enc: "A256GCM"}},
	}, federation.BearerConfig{})
	for _, id := range []string{"enc-rsa", "enc-ec"} {
		t.Run(id, func(t *testing.T) {
			b := newBrowser(t)
			login, _ := rp.signIn(b, federation.Key(id), op.fill)
			// conformIdTokenClaims keeps the profile out of the ID token:
			// it came from the encrypted userinfo.
			wantUser(t, login.Result.User, op.user, id, op.proc.issuer)
			if strings.Count(login.Result.Tokens.IDToken.Reveal(), ".") != 2 {
				t.Fatal("the kept ID token is not the signed token inside the JWE")
			}
			if n := len(rp.requests(op.proc.issuer + "/me")); n == 0 {
				t.Fatal("userinfo was not called")
			}
			// The kept ID token is the hint the provider can read, and the
			// back-channel logout token it sends comes encrypted too.
			before := len(rp.logoutsSoFar())
			u, err := rp.handler.LogoutURL(t.Context(), federation.Key(id), federation.LogoutRequest{
				IDTokenHint: login.Result.Tokens.IDToken.Reveal(), PostLogoutRedirectURI: "/"})
			if err != nil {
				t.Fatal(err)
			}
			logOut(t, b, u, rp)
			if got := rp.logoutsSoFar(); len(got) != before+1 || got[len(got)-1].SID != login.Result.SID {
				t.Fatalf("back-channel logouts %+v, want one for the session", got[before:])
			}
		})
	}
}

// TestDynamicRegistration: a provider configured with registration
// "dynamic" registers at oidc-provider's registration endpoint with the
// initial access token, private_key_jwt and its JWKS route as jwks_uri
// (and, for one client, encrypted ID tokens), once, then signs in.
func TestDynamicRegistration(t *testing.T) {
	rp := newRP(t)
	op := startOIDCProvider(t, rp.base, false, 0, func(cfg map[string]any) {
		cfg["registrationToken"] = "initial-access-token-0123456789"
	})
	scopes := []string{"openid", "email", "profile", "groups"}
	rp.serve(map[string]federation.ProviderConfig{
		"dyn-pkjwt": {Issuer: op.proc.issuer, Registration: "dynamic", Scopes: scopes,
			RegistrationToken: "initial-access-token-0123456789",
			ClientKey:         must(federation.NewClientKey(must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)), ""))},
		"dyn-enc": {Issuer: op.proc.issuer, Registration: "dynamic", Scopes: scopes,
			RegistrationToken: "initial-access-token-0123456789",
			ClientKey:         must(federation.NewClientKey(must(rsa.GenerateKey(rand.Reader, 2048)), "")),
			IDTokenEncryption: &federation.Encryption{Alg: "RSA-OAEP-256"}},
	}, federation.BearerConfig{})
	register := op.proc.issuer + "/reg"
	for _, id := range []string{"dyn-pkjwt", "dyn-enc"} {
		t.Run(id, func(t *testing.T) {
			before := len(rp.requests(register))
			for range 2 {
				login, _ := rp.signIn(newBrowser(t), federation.Key(id), op.fill)
				wantUser(t, login.Result.User, op.user, id, op.proc.issuer)
			}
			if n := len(rp.requests(register)) - before; n != 1 {
				t.Fatalf("%d registration requests for two sign-ins, want 1", n)
			}
			for _, r := range rp.requests(op.proc.issuer + "/token") {
				if r.form.Get("client_assertion_type") == "" {
					t.Fatal("a token request without a client assertion (private_key_jwt)")
				}
			}
		})
	}
}
