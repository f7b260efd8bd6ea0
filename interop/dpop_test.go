package interop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/federation"
)

// TestDPoP signs in at oidc-provider with DPoP (its nonces required at the
// token endpoint and userinfo), refreshes with the same key, and calls the
// relying party's API, which requires DPoP, with Tokens.Client; then
// presents the bound token without its proof, with a replayed proof and
// with another key's proof, each refused with its exact error.
func TestDPoP(t *testing.T) {
	rp := newRP(t)
	op := startOIDCProvider(t, rp.base, false, 0)
	pc := op.providers[op.api]
	pc.DPoP = true
	rp.serve(map[string]federation.ProviderConfig{op.api: pc},
		federation.BearerConfig{Scopes: []string{op.apiScope}, DPoP: federation.DPoPAllowed})
	login, _ := rp.signIn(newBrowser(t), federation.Key(op.api), op.fill)
	tokens := login.Result.Tokens
	if tokens.DPoP == nil || login.Result.User.Email != op.user.Email { // the email is from userinfo, over DPoP
		t.Fatalf("tokens %v, user %+v", tokens, login.Result.User)
	}
	parts := strings.Split(tokens.AccessToken.Reveal(), ".")
	if len(parts) != 3 {
		t.Fatal("want a JWT access token for the API")
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Cnf struct{ JKT string } `json:"cnf"`
	}
	json.Unmarshal(payload, &c)
	if c.Cnf.JKT != tokens.DPoP.Thumbprint() {
		t.Fatalf("cnf.jkt %q, want the key's %q", c.Cnf.JKT, tokens.DPoP.Thumbprint())
	}
	refreshed, err := rp.provider(federation.Key(op.api)).Refresh(t.Context(), tokens)
	if err != nil || refreshed.DPoP != tokens.DPoP {
		t.Fatalf("refresh: %v", err)
	}
	// The sign-in's first token request had no nonce and was answered
	// use_dpop_nonce: two requests for the sign-in, one for the refresh.
	if n := len(rp.requests(op.proc.issuer + "/token")); n != 3 {
		t.Fatalf("%d token requests, want 3 (the nonce retry, then the refresh)", n)
	}
	resp, err := refreshed.Client(nil).Get(rp.base + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"subject":"alice"`) {
		t.Fatalf("/api/me with DPoP: %d %s", resp.StatusCode, body)
	}

	call := func(authz, proof string) (int, []string, string) {
		req, _ := http.NewRequest(http.MethodGet, rp.base+"/api/me", nil)
		req.Header.Set("Authorization", authz)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Values("WWW-Authenticate"), string(b)
	}
	tok := refreshed.AccessToken
	proof, _ := refreshed.DPoP.Proof("GET", rp.base+"/api/me", tok, "")
	if status, _, _ := call("DPoP "+tok.Reveal(), proof); status != http.StatusOK {
		t.Fatalf("a fresh proof: %d", status)
	}
	other, _ := federation.NewDPoPKey()
	otherProof, _ := other.Proof("GET", rp.base+"/api/me", tok, "")
	otherURL, _ := refreshed.DPoP.Proof("GET", rp.base+"/api/other", tok, "")
	otherMethod, _ := refreshed.DPoP.Proof("POST", rp.base+"/api/me", tok, "")
	noATH, _ := refreshed.DPoP.Proof("GET", rp.base+"/api/me", "", "")
	sum := sha256.Sum256([]byte(tok.Reveal()))
	claims := func(iat int64) string {
		return fmt.Sprintf(`{"jti":%q,"htm":"GET","htu":%q,"iat":%d,"ath":%q}`, rand.Text(), rp.base+"/api/me", iat,
			base64.RawURLEncoding.EncodeToString(sum[:]))
	}
	ecKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	sign := func(alg jose.SignatureAlgorithm, key any, payload string) string {
		opts := (&jose.SignerOptions{EmbedJWK: alg != jose.HS256}).WithType("dpop+jwt")
		s := must(jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts))
		return must(must(s.Sign([]byte(payload))).CompactSerialize())
	}
	stale := sign(jose.ES256, ecKey, claims(time.Now().Add(-5*time.Minute).Unix()))
	hs256 := sign(jose.HS256, []byte(strings.Repeat("k", 32)), claims(time.Now().Unix()))
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"dpop+jwt","alg":"none"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(claims(time.Now().Unix()))) + "."
	for _, tc := range []struct {
		name, authz, proof, code, scheme string
	}{
		{"the bound token as Bearer", "Bearer " + tok.Reveal(), "", "invalid_token", "Bearer"},
		{"a replayed proof", "DPoP " + tok.Reveal(), proof, "invalid_dpop_proof", "DPoP"},
		{"another key's proof", "DPoP " + tok.Reveal(), otherProof, "invalid_dpop_proof", "DPoP"},
		{"a proof for another URL", "DPoP " + tok.Reveal(), otherURL, "invalid_dpop_proof", "DPoP"},
		{"a proof for another method", "DPoP " + tok.Reveal(), otherMethod, "invalid_dpop_proof", "DPoP"},
		{"a proof without ath", "DPoP " + tok.Reveal(), noATH, "invalid_dpop_proof", "DPoP"},
		{"a stale iat", "DPoP " + tok.Reveal(), stale, "invalid_dpop_proof", "DPoP"},
		{"an HS256 proof", "DPoP " + tok.Reveal(), hs256, "invalid_dpop_proof", "DPoP"},
		{"an alg none proof", "DPoP " + tok.Reveal(), none, "invalid_dpop_proof", "DPoP"},
	} {
		status, challenges, body := call(tc.authz, tc.proof)
		var carrying string
		for _, c := range challenges {
			if strings.Contains(c, `error="`+tc.code+`"`) {
				carrying = c
			}
		}
		if status != http.StatusUnauthorized || !strings.HasPrefix(carrying, tc.scheme+" ") ||
			!strings.HasPrefix(challenges[0], "Bearer ") || strings.Contains(body, tok.Reveal()) {
			t.Errorf("%s: %d %q %s", tc.name, status, challenges, body)
		}
	}
	if log := rp.logOutput(); strings.Contains(log, tok.Reveal()) || strings.Contains(log, proof) {
		t.Fatal("the token or a proof reached the log")
	}
}
