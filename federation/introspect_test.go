package federation_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// opaqueRP signs in at a provider that issues opaque access tokens and
// returns the relying party, a Bearer that introspects them, and a token.
func opaqueRP(t *testing.T, opts ...federation.Option) (*rp, *federation.Bearer, federation.Secret) {
	t.Helper()
	r := newRPWith(t, rpOptions{op: federationtest.Options{OpaqueAccessTokens: true}, opts: opts,
		provider: func(pc *federation.ProviderConfig) { pc.IntrospectOpaqueTokens = true }})
	signsIn(t, r)
	b, err := federation.NewBearer(r.reg, federation.BearerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	tok := r.logins[0].Result.Tokens.AccessToken
	r.mu.Unlock()
	if strings.Count(tok.Reveal(), ".") != 0 {
		t.Fatal("the provider issued a JWT")
	}
	return r, b, tok
}

// TestIntrospection: an opaque token is accepted as its introspection
// says, from the cache the second time, and refused at once after this
// registry revokes it.
func TestIntrospection(t *testing.T) {
	r, b, tok := opaqueRP(t)
	for range 2 {
		p, err := b.Verify(t.Context(), tok.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		if p.Provider != "oidc:acme" || p.User.Subject != "alice" || p.ClientID != "client-1" ||
			!p.HasScope("openid") || p.User.Issuer != r.op.Issuer() || time.Until(p.Expiry) > 5*time.Minute {
			t.Fatalf("principal %+v", p)
		}
	}
	if n := r.op.Introspections(); n != 1 {
		t.Fatalf("%d introspections for two checks, want 1 (cached)", n)
	}
	prov, _ := r.reg.Lookup("oidc:acme")
	if err := prov.Revoke(t.Context(), tok, federation.HintAccessToken); err != nil {
		t.Fatal(err)
	}
	_, err := b.Verify(t.Context(), tok.Reveal())
	if !errors.Is(err, federation.ErrTokenInactive) || code(err) != federation.CodeInvalidToken {
		t.Fatalf("after revocation: %v", err)
	}
	// Refused again from the negative cache: no new request.
	before := r.op.Introspections()
	if _, err := b.Verify(t.Context(), tok.Reveal()); !errors.Is(err, federation.ErrTokenInactive) || r.op.Introspections() != before {
		t.Fatalf("second refusal: %v after %d introspections", err, r.op.Introspections()-before)
	}
	if strings.Contains(r.logs.String(), tok.Reveal()) || strings.Contains(err.Error(), tok.Reveal()) {
		t.Fatal("the token reached a log or an error")
	}
}

// TestIntrospectionRejections: each answer that must not be trusted.
func TestIntrospectionRejections(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(a map[string]any)
		cause error
	}{
		{"inactive", func(a map[string]any) { clear(a); a["active"] = false }, federation.ErrTokenInactive},
		{"another audience", func(a map[string]any) { a["aud"] = "https://other.example" }, discovery.ErrTokenAudience},
		{"another client, no aud", func(a map[string]any) { a["client_id"] = "other" }, discovery.ErrTokenAudience},
		{"expired", func(a map[string]any) { a["exp"] = time.Now().Add(-time.Hour).Unix() }, discovery.ErrTokenExpired},
		{"not yet valid", func(a map[string]any) { a["nbf"] = time.Now().Add(time.Hour).Unix() }, discovery.ErrTokenNotYetValid},
		{"another issuer", func(a map[string]any) { a["iss"] = "https://evil.example" }, discovery.ErrTokenIssuer},
		{"DPoP-bound, as a Bearer token", func(a map[string]any) { a["cnf"] = map[string]string{"jkt": "x"} }, federation.ErrSenderConstrained},
		{"certificate-bound", func(a map[string]any) { a["cnf"] = map[string]string{"x5t#S256": "x"} }, federation.ErrSenderConstrained},
		{"a DPoP token without cnf", func(a map[string]any) { a["token_type"] = "DPoP" }, federation.ErrSenderConstrained},
		{"an ID token", func(a map[string]any) { a["token_type"] = "id_token" }, federation.ErrTokenType},
		{"no subject", func(a map[string]any) { delete(a, "sub") }, discovery.ErrMissingClaim},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, b, tok := opaqueRP(t)
			r.op.Misbehave(federationtest.Misbehavior{Introspection: tc.edit})
			_, err := b.Verify(t.Context(), tok.Reveal())
			if !errors.Is(err, tc.cause) || code(err) != federation.CodeInvalidToken {
				t.Fatalf("Verify = %v, want invalid_token caused by %v", err, tc.cause)
			}
		})
	}
	t.Run("a 500", func(t *testing.T) {
		r, b, tok := opaqueRP(t)
		r.op.Misbehave(federationtest.Misbehavior{IntrospectionEndpoint: func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "down", http.StatusInternalServerError)
		}})
		if _, err := b.Verify(t.Context(), tok.Reveal()); code(err) != federation.CodeProviderUnavailable {
			t.Fatalf("Verify = %v, want provider_unavailable", err)
		}
	})
	t.Run("a slow endpoint", func(t *testing.T) {
		r, b, tok := opaqueRP(t, federation.WithHTTPClient(&http.Client{Timeout: 300 * time.Millisecond}))
		r.op.Misbehave(federationtest.Misbehavior{IntrospectionEndpoint: func(w http.ResponseWriter, req *http.Request) {
			select {
			case <-req.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}})
		_, err := b.Verify(t.Context(), tok.Reveal())
		if code(err) != federation.CodeProviderUnavailable || !strings.Contains(err.Error(), "did not answer in time") {
			t.Fatalf("Verify = %v, want provider_unavailable, timed out", err)
		}
	})
}

// TestIntrospectionBounds: concurrent checks of one token make one
// request; past IntrospectionConcurrency requests in flight, a new token
// is answered temporarily_unavailable at once instead of queued.
func TestIntrospectionBounds(t *testing.T) {
	r, b, tok := opaqueRP(t)
	release := make(chan struct{})
	var mu sync.Mutex
	arrived := 0
	r.op.Misbehave(federationtest.Misbehavior{IntrospectionEndpoint: func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		arrived++
		mu.Unlock()
		<-release
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"active":false}`))
	}})
	var wg sync.WaitGroup
	for range 5 { // one token, five callers
		wg.Go(func() { b.Verify(t.Context(), tok.Reveal()) })
	}
	for i := range federation.IntrospectionConcurrency - 1 { // fill the bound with other tokens
		wg.Go(func() { b.Verify(t.Context(), "opaque-token-"+strings.Repeat("x", i+1)) })
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := arrived
		mu.Unlock()
		if n == federation.IntrospectionConcurrency {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d introspections arrived, want %d (one for the shared token)", n, federation.IntrospectionConcurrency)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := b.Verify(t.Context(), "one-token-too-many")
	if code(err) != federation.CodeTemporarilyUnavailable {
		t.Fatalf("beyond the bound: %v, want temporarily_unavailable", err)
	}
	close(release)
	wg.Wait()
}

// TestIntrospectionConfig: which provider gets opaque tokens is explicit.
func TestIntrospectionConfig(t *testing.T) {
	r := newRPWith(t, rpOptions{op: federationtest.Options{OpaqueAccessTokens: true},
		provider: func(pc *federation.ProviderConfig) { pc.IntrospectOpaqueTokens = true }})
	if _, err := federation.NewBearer(r.reg, federation.BearerConfig{Introspection: "oidc:other"}); err == nil ||
		!strings.Contains(err.Error(), `Introspection: "oidc:other" is not a provider with introspectOpaqueTokens`) {
		t.Fatalf("NewBearer = %v", err)
	}
	pc, _ := r.reg.Lookup("oidc:acme")
	_ = pc
	if err := r.reg.Set("second", federation.ProviderConfig{Issuer: r.op.Issuer(), ClientID: "c2", ClientSecret: "s",
		IntrospectOpaqueTokens: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := federation.NewBearer(r.reg, federation.BearerConfig{}); err == nil ||
		!strings.Contains(err.Error(), "name one in Introspection, or set IntrospectAnyProvider") {
		t.Fatalf("NewBearer with two introspecting providers = %v", err)
	}
	for _, cfg := range []federation.BearerConfig{{Introspection: "oidc:acme"}, {IntrospectAnyProvider: true}} {
		if _, err := federation.NewBearer(r.reg, cfg); err != nil {
			t.Fatalf("NewBearer(%+v) = %v", cfg, err)
		}
	}
}

// TestSignedIntrospection: an RFC 9701 answer is verified with the
// provider's keys (typ, iss, aud) and its token_introspection used.
func TestSignedIntrospection(t *testing.T) {
	r := newRPWith(t, rpOptions{op: federationtest.Options{OpaqueAccessTokens: true, SignedIntrospection: true},
		provider: func(pc *federation.ProviderConfig) { pc.IntrospectOpaqueTokens = true }})
	signsIn(t, r)
	b, _ := federation.NewBearer(r.reg, federation.BearerConfig{})
	tok := r.op.IssueAccessToken("client-1", "alice", "openid")
	if p, err := b.Verify(t.Context(), tok); err != nil || p.User.Subject != "alice" {
		t.Fatalf("Verify = %v, %v", p, err)
	}
	// Answers with another typ, or for another client, are refused.
	r2 := newRPWith(t, rpOptions{op: federationtest.Options{OpaqueAccessTokens: true, SignedIntrospection: true},
		provider: func(pc *federation.ProviderConfig) { pc.IntrospectOpaqueTokens = true }})
	signsIn(t, r2)
	b2, _ := federation.NewBearer(r2.reg, federation.BearerConfig{})
	for typ, aud := range map[string]string{"JWT": "client-1", "token-introspection+jwt": "client-9"} {
		r2.op.Misbehave(federationtest.Misbehavior{IntrospectionEndpoint: func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", "application/token-introspection+jwt")
			w.Write([]byte(r2.op.SignJWT(typ, map[string]any{"iss": r2.op.Issuer(), "aud": aud,
				"iat": time.Now().Unix(), "token_introspection": map[string]any{"active": true, "sub": "alice"}})))
		}})
		if _, err := b2.Verify(t.Context(), r2.op.IssueAccessToken("client-1", "alice")); !errors.Is(err, federation.ErrSignedIntrospection) ||
			code(err) != federation.CodeProviderUnavailable {
			t.Fatalf("typ %s, aud %s: %v", typ, aud, err)
		}
	}
}
