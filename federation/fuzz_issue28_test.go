package federation

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// FuzzParseRegistration feeds registration answers to their check: it
// never panics, every refusal is ErrRegistration, and what it accepts has
// a client_id of 1 to 255 printable characters, a secret for
// client_secret_basic, and no secret that expires within a minute.
func FuzzParseRegistration(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	p := &Provider{}
	asked := []byte(`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_basic",` +
		`"id_token_encrypted_response_alg":"RSA-OAEP"}`)
	for _, seed := range []string{
		`{"client_id":"c1","client_secret":"s","client_secret_expires_at":0}`,
		`{"client_id":"c1","client_secret":"s","client_secret_expires_at":1900000000,"redirect_uris":["https://app.example/cb"]}`,
		`{"client_id":"c1","client_secret":"s","client_secret_expires_at":1800000030}`,
		`{"client_id":"c1","client_secret":"s","token_endpoint_auth_method":"none"}`,
		`{"client_id":"c1","client_secret":"s","id_token_encrypted_response_alg":"RSA1_5"}`,
		`{"client_id":"","client_secret":"s"}`,
		`{"client_id":"c\u0000","client_secret":"s"}`,
		`{"client_id":"c1","client_secret":"s","client_secret_expires_at":"soon"}`,
		`{"client_id":"c1","client_secret":"s","client_secret_expires_at":-1}`,
		`[]`, `null`, `{"client_id":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sr, err := p.parseRegistration(raw, asked, now)
		if err != nil {
			if !errors.Is(err, ErrRegistration) {
				t.Fatalf("error %v is not ErrRegistration", err)
			}
			return
		}
		switch {
		case sr.ClientID == "" || len(sr.ClientID) > maxClientID || !printable(sr.ClientID):
			t.Fatalf("accepted client_id %q", sr.ClientID)
		case sr.Secret == "":
			t.Fatal("accepted no secret for client_secret_basic")
		case sr.SecretExpires != 0 && !now.Before(time.Unix(sr.SecretExpires, 0).Add(-registrationRenewal)):
			t.Fatalf("accepted a secret that expires at %d", sr.SecretExpires)
		}
	})
}

// FuzzAggregatedClaims feeds claim sets to the aggregated and distributed
// claims reader, with one listed claim issuer (a loopback server with a
// fixed key, serving distributed claims to the token "t"): it never
// panics, never changes a claim the input had, and adds only the claims
// that issuer signed, with the values it signed.
func FuzzAggregatedClaims(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	f.Cleanup(srv.Close)
	signed := map[string]any{"iss": srv.URL, "sub": "alice", "groups": []any{"staff"}, "given_name": "Alice"}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithHeader("kid", "c1"))
	payload, _ := json.Marshal(signed)
	jws, _ := signer.Sign(payload)
	jwt, _ := jws.CompactSerialize()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: key.Public(), KeyID: "c1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /claims", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(jwt))
	})
	reg, err := NewRegistry(Config{Providers: map[string]ProviderConfig{"acme": {Issuer: "https://op.example",
		ClientID: "c", ClientSecret: "s", AggregatedClaims: []ClaimIssuer{{Issuer: srv.URL, JWKSURI: srv.URL + "/jwks"}}}}},
		WithHTTPClient(&http.Client{Timeout: 2 * time.Second}))
	if err != nil {
		f.Fatal(err)
	}
	p, _ := reg.Lookup("oidc:acme")
	// The harness itself: a source the issuer signed is read, so that
	// the invariants below are not vacuous.
	if out := p.aggregate(context.Background(), map[string]any{"sub": "alice",
		"_claim_names":   map[string]any{"groups": "d1"},
		"_claim_sources": map[string]any{"d1": map[string]any{"endpoint": srv.URL + "/claims", "access_token": "t"}}}); out["groups"] == nil {
		f.Fatal("the harness's distributed claims were not read")
	}
	for _, seed := range []map[string]any{
		{"sub": "alice", "_claim_names": map[string]any{"groups": "s1", "given_name": "s1"},
			"_claim_sources": map[string]any{"s1": map[string]any{"JWT": jwt}}},
		{"sub": "alice", "given_name": "Al", "_claim_names": map[string]any{"given_name": "s1", "sub": "s1"},
			"_claim_sources": map[string]any{"s1": map[string]any{"JWT": jwt}}},
		{"sub": "alice", "_claim_names": map[string]any{"groups": "d1"},
			"_claim_sources": map[string]any{"d1": map[string]any{"endpoint": srv.URL + "/claims", "access_token": "t"}}},
		{"sub": "alice", "_claim_names": map[string]any{"groups": "d1"},
			"_claim_sources": map[string]any{"d1": map[string]any{"endpoint": "http://127.0.0.2:1/claims", "access_token": "t"}}},
		{"sub": "alice", "_claim_names": map[string]any{"groups": "s1"},
			"_claim_sources": map[string]any{"s1": map[string]any{"JWT": jwt[:len(jwt)-4] + "AAAA"}}},
		{"sub": "alice", "_claim_names": "x", "_claim_sources": []any{1}},
	} {
		raw, _ := json.Marshal(seed)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var in map[string]any
		if json.Unmarshal(raw, &in) != nil || in == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		out := p.aggregate(ctx, in)
		for k, v := range in {
			if !reflect.DeepEqual(out[k], v) {
				t.Fatalf("claim %q changed from %v to %v", k, v, out[k])
			}
		}
		for k, v := range out {
			if _, had := in[k]; had {
				continue
			}
			if !slices.Contains([]string{"groups", "given_name"}, k) || !reflect.DeepEqual(signed[k], v) {
				t.Fatalf("added claim %q = %v, which the claim issuer did not sign", k, v)
			}
			if strings.HasPrefix(k, "_") {
				t.Fatalf("added %q", k)
			}
		}
	})
}
