package federation_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/pkce"
	"github.com/oidcfed/oidcfed/session"
)

const benchNonce = "bench-nonce-0123456789"

// benchOP is a token endpoint that answers every exchange with one
// pre-signed token response, so the provider's signing cost is not in the
// measurement, and a JWKS endpoint.
func benchOP(b *testing.B) *httptest.Server {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	var tokenResponse []byte
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.Write(tokenResponse)
	})
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)

	access := "bench-access-token-0123456789abcdef"
	sum := sha256.Sum256([]byte(access))
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": srv.URL, "sub": "alice", "aud": "client-1", "azp": "client-1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": benchNonce,
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]), "email": "alice@example.com", "email_verified": true,
		"name": "Alice A", "given_name": "Alice", "family_name": "A"})
	tokenResponse, _ = json.Marshal(map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600,
		"id_token": federationtest.Sign(claims, key, "k1", "RS256")})
	return srv
}

// BenchmarkCallback is the whole callback route: the flow cookie opened
// and consumed, the RFC 9207 check, the code exchange over loopback HTTP,
// the ID token verified (signature, iss, aud, exp, iat, nonce, azp,
// at_hash), claims mapped, the account resolved, OnLogin and the redirect.
func BenchmarkCallback(b *testing.B) { benchCallback(b, nil) }

// BenchmarkCallbackObserved is BenchmarkCallback with an observer whose
// every hook is set and does nothing: the cost of the events.
func BenchmarkCallbackObserved(b *testing.B) {
	benchCallback(b, nil, federation.WithObserver(noopObserver))
}

// BenchmarkCallbackClientAuth is BenchmarkCallback with each way of
// authenticating the client: a secret in the Authorization header, and an
// assertion signed for every exchange with an ES256 or RS256 key.
func BenchmarkCallbackClientAuth(b *testing.B) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"client_secret_basic", nil}, {"private_key_jwt-ES256", ecKey}, {"private_key_jwt-RS256", rsaKey}} {
		b.Run(tc.name, func(b *testing.B) {
			benchCallback(b, func(pc *federation.ProviderConfig) {
				if tc.key != nil {
					pc.ClientSecret, pc.TokenEndpointAuthMethod = "", "private_key_jwt"
					pc.ClientKey, _ = federation.NewClientKey(tc.key, "")
				}
			})
		})
	}
}

func benchCallback(b *testing.B, edit func(pc *federation.ProviderConfig), opts ...federation.Option) {
	op := benchOP(b)
	pc := federation.ProviderConfig{Issuer: op.URL, ClientID: "client-1", ClientSecret: "s3cret-value",
		Endpoints: discovery.Endpoints{Authorization: op.URL + "/authorize", Token: op.URL + "/token", JWKS: op.URL + "/jwks"}}
	if edit != nil {
		edit(&pc)
	}
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{"bench": pc}},
		opts...)
	if err != nil {
		b.Fatal(err)
	}
	store, _ := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{make([]byte, 32)}, MaxConsumed: b.N + 1})
	h, err := federation.NewHandler(federation.HandlerConfig{Registry: reg, BaseURL: "http://localhost:8080", Flows: store,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
		OnLogin:  func(http.ResponseWriter, *http.Request, *federation.Login) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	// Each iteration completes its own flow, saved beforehand with the
	// nonce the pre-signed ID token carries.
	reqs := make([]*http.Request, b.N+1)
	for i := range reqs {
		f := &session.FlowState{Provider: "oidc:bench", State: fmt.Sprintf("benchstate%012d", i), Nonce: benchNonce,
			Verifier: pkce.NewVerifier(), RedirectTo: "/", Mode: session.SignIn, Created: time.Now()}
		rec := httptest.NewRecorder()
		if err := store.Save(rec, nil, f); err != nil {
			b.Fatal(err)
		}
		reqs[i] = httptest.NewRequest("GET", "/auth/oauth/oidc:bench/callback?code=c0de&iss="+op.URL+"&state="+f.State, nil)
		reqs[i].AddCookie(rec.Result().Cookies()[0])
	}
	callback := func(r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/" {
			b.Fatalf("callback answered %d to %q", rec.Code, rec.Header().Get("Location"))
		}
	}
	callback(reqs[b.N]) // warm: JWKS fetched, account created
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		callback(reqs[i])
	}
}

// BenchmarkCallbackBaseline is the least an application can do by hand for
// the same sign-in: x/oauth2's Exchange, go-oidc's verifier and a nonce
// comparison, against the same endpoint, with everything built once.
func BenchmarkCallbackBaseline(b *testing.B) {
	op := benchOP(b)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second})
	cfg := &oauth2.Config{ClientID: "client-1", ClientSecret: "s3cret-value", RedirectURL: "http://localhost:8080/auth/oauth/oidc:bench/callback",
		Endpoint: oauth2.Endpoint{AuthURL: op.URL + "/authorize", TokenURL: op.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	verifier := oidc.NewVerifier(op.URL, oidc.NewRemoteKeySet(ctx, op.URL+"/jwks"), &oidc.Config{ClientID: "client-1"})
	callback := func() {
		tok, err := cfg.Exchange(ctx, "c0de", oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(ctx, raw)
		if err != nil {
			b.Fatal(err)
		}
		if idt.Nonce != benchNonce {
			b.Fatal("nonce mismatch")
		}
	}
	callback() // warm: JWKS fetched
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		callback()
	}
}
