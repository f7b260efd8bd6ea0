package interop

import (
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
