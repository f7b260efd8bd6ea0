package federation_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// keyFile writes keys as a PEM file of PKCS#8 blocks.
func keyFile(t *testing.T, keys ...crypto.Signer) string {
	t.Helper()
	var out []byte
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
	}
	path := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var assertionMethods = []string{"private_key_jwt", "client_secret_jwt"}

// longSecret keys HS256 (32 bytes or more).
const longSecret = "a-client-secret-of-forty-bytes-or-so-ok"

// assertionRP is a relying party whose acme client authenticates with
// method, its keys registered at the provider as registered.
func assertionRP(t *testing.T, edit func(pc *federation.ProviderConfig), registered ...crypto.Signer) *rp {
	t.Helper()
	r := newRPWith(t, rpOptions{op: federationtest.Options{TokenAuthMethods: assertionMethods}, provider: edit})
	var jwks []jose.JSONWebKey
	for _, k := range registered {
		ck, err := federation.NewClientKey(k, "")
		if err != nil {
			t.Fatal(err)
		}
		jwks = append(jwks, ck.Public())
	}
	r.op.AddClient(federationtest.Client{ID: "client-1", Secret: longSecret, Keys: jwks,
		RedirectURIs: []string{r.srv.URL + "/auth/oauth/oidc:acme/callback"}})
	return r
}

func signsIn(t *testing.T, r *rp) {
	t.Helper()
	resp := r.signIn(newBrowser(t), "/next")
	if loc := resp.Header.Get("Location"); loc != "/next" || r.loginCount() != 1 {
		t.Fatalf("sign-in ended at %q (%d logins); the provider said %q; logs:\n%s", loc, r.loginCount(),
			r.op.LastAuthError(), r.logs)
	}
	if seen := r.op.TokenAuthMethodsSeen(); len(seen) == 0 {
		t.Fatal("no token request")
	}
}

func TestPrivateKeyJWT(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	next, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	t.Run("RS256 from a file", func(t *testing.T) {
		file := keyFile(t, rsaKey)
		r := assertionRP(t, func(pc *federation.ProviderConfig) {
			pc.TokenEndpointAuthMethod, pc.ClientKeyFile = "private_key_jwt", file
		}, rsaKey)
		signsIn(t, r)
		if seen := r.op.TokenAuthMethodsSeen(); seen[0] != "private_key_jwt" {
			t.Fatalf("the provider saw %v", seen)
		}
	})
	t.Run("ES256 in code, audience the issuer", func(t *testing.T) {
		ck, err := federation.NewClientKey(ecKey, "")
		if err != nil {
			t.Fatal(err)
		}
		signsIn(t, assertionRP(t, func(pc *federation.ProviderConfig) {
			pc.TokenEndpointAuthMethod, pc.ClientKey, pc.ClientAssertionAudience = "private_key_jwt", ck, "issuer"
		}, ecKey))
	})
	t.Run("rotation: the first key of the file signs", func(t *testing.T) {
		file := keyFile(t, next, ecKey)
		signsIn(t, assertionRP(t, func(pc *federation.ProviderConfig) {
			pc.TokenEndpointAuthMethod, pc.ClientKeyFile = "private_key_jwt", file
		}, ecKey, next))
	})
	t.Run("a key the provider does not know", func(t *testing.T) {
		file := keyFile(t, next)
		r := assertionRP(t, func(pc *federation.ProviderConfig) {
			pc.TokenEndpointAuthMethod, pc.ClientKeyFile = "private_key_jwt", file
		}, ecKey)
		resp := r.signIn(newBrowser(t), "/next")
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc.Query().Get("error") != string(federation.CodeInvalidClient) ||
			!strings.Contains(r.op.LastAuthError(), "signature") {
			t.Fatalf("sign-in with an unknown key ended at %q; the provider said %q", loc, r.op.LastAuthError())
		}
	})
}

func TestClientSecretJWT(t *testing.T) {
	r := assertionRP(t, func(pc *federation.ProviderConfig) {
		pc.TokenEndpointAuthMethod, pc.ClientSecret = "client_secret_jwt", longSecret
	})
	signsIn(t, r)
	if seen := r.op.TokenAuthMethodsSeen(); seen[0] != "client_secret_jwt" {
		t.Fatalf("the provider saw %v", seen)
	}
}

func TestClientKeyNeverPrints(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	ck, err := federation.NewClientKey(key, "kid-1")
	if err != nil {
		t.Fatal(err)
	}
	pc := federation.ProviderConfig{Issuer: "https://idp.example.com", ClientID: "c",
		TokenEndpointAuthMethod: "private_key_jwt", ClientKey: ck}
	secret := key.D.String()[:20]
	for _, s := range []string{fmt.Sprintf("%v", pc), fmt.Sprintf("%+v", pc), fmt.Sprintf("%#v", pc),
		fmt.Sprint(ck), fmt.Sprintf("%#v", ck)} {
		if strings.Contains(s, secret) || !strings.Contains(s, "[client key kid-1]") {
			t.Fatalf("printed %s", s)
		}
	}
}

func TestClientKeyRules(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, k := range []crypto.Signer{small, p384} {
		if _, err := federation.NewClientKey(k, ""); err == nil {
			t.Fatalf("a %T key was accepted", k.Public())
		}
	}
	path := filepath.Join(t.TempDir(), "cert.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), 0o600)
	if _, err := federation.LoadClientKeys(path, ""); err == nil || !strings.Contains(err.Error(), "want PRIVATE KEY") {
		t.Fatalf("a certificate as the key file: %v", err)
	}
}

// TestAssertionAlgorithmNotAdvertised: an ES256 key at a provider that
// lists only RS256 fails the sign-in's start and fails Check, both
// saying why.
func TestAssertionAlgorithmNotAdvertised(t *testing.T) {
	r := ecClientRP(t)
	r.op.Misbehave(federationtest.Misbehavior{Discovery: func(doc map[string]any) {
		doc["token_endpoint_auth_signing_alg_values_supported"] = []string{"RS256"}
	}})
	// The start refuses before the browser leaves: the token endpoint
	// could not be used afterwards.
	if code, _ := status(t, r.srv.URL+"/auth/oauth/oidc:acme"); code != http.StatusBadGateway ||
		r.errs.count(federation.ErrTokenEndpointAuth) == 0 {
		t.Fatalf("start answered %d, want 502 with ErrTokenEndpointAuth logged", code)
	}
	if c := checkNamed(t, r, "token_endpoint_auth"); c.Status != federation.CheckFail || !strings.Contains(c.Detail, "ES256") {
		t.Fatalf("Check said %+v, want token_endpoint_auth failed naming ES256", c)
	}
}

func TestClientJWKSRoute(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	file := keyFile(t, ecKey, rsaKey)
	r := assertionRP(t, func(pc *federation.ProviderConfig) {
		pc.TokenEndpointAuthMethod, pc.ClientKeyFile = "private_key_jwt", file
	}, ecKey)
	resp, body := call(t, r.srv.URL+"/auth/oauth/oidc:acme/jwks")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks: %d %s", resp.StatusCode, body)
	}
	first, _ := federation.NewClientKey(ecKey, "")
	if len(set.Keys) != 2 || set.Keys[0].KeyID != first.KeyID() || !set.Keys[0].IsPublic() || !set.Keys[1].IsPublic() ||
		strings.Contains(body, `"d"`) {
		t.Fatalf("jwks %s, want both public keys, the signing one first", body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Fatalf("Cache-Control %q", cc)
	}
	plain := newRP(t, federationtest.Options{}) // a client secret: no keys
	if resp, _ := call(t, plain.srv.URL+"/auth/oauth/oidc:acme/jwks"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("jwks of a secret client answered %d, want 404", resp.StatusCode)
	}
	if resp, _ := call(t, r.srv.URL+"/auth/oauth/oidc:nope/jwks"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("jwks of an unknown provider answered %d, want 404", resp.StatusCode)
	}
}

// TestExpiredAssertionIsRefused: a relying party whose clock is 10
// minutes slow signs assertions the provider finds expired: the sign-in
// ends with invalid_client.
func TestExpiredAssertionIsRefused(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ck, _ := federation.NewClientKey(ecKey, "")
	slow := func() time.Time { return time.Now().Add(-10 * time.Minute) }
	r := newRPWith(t, rpOptions{op: federationtest.Options{TokenAuthMethods: assertionMethods}, now: slow,
		provider: func(pc *federation.ProviderConfig) { pc.TokenEndpointAuthMethod, pc.ClientKey = "private_key_jwt", ck }})
	r.op.AddClient(federationtest.Client{ID: "client-1", Keys: []jose.JSONWebKey{ck.Public()},
		RedirectURIs: []string{r.srv.URL + "/auth/oauth/oidc:acme/callback"}})
	resp := r.signIn(newBrowser(t), "/next")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("error") != string(federation.CodeInvalidClient) || !strings.Contains(r.op.LastAuthError(), "expired") {
		t.Fatalf("sign-in ended at %q; the provider said %q", loc, r.op.LastAuthError())
	}
}

// TestPrivateKeyJWTRefresh: a refresh authenticates with an assertion too.
func TestPrivateKeyJWTRefresh(t *testing.T) {
	r := ecClientRP(t)
	signsIn(t, r)
	p, _ := r.reg.Lookup("oidc:acme")
	r.mu.Lock()
	tokens := r.logins[0].Result.Tokens
	r.mu.Unlock()
	if tokens.RefreshToken == "" {
		t.Fatal("no refresh token from sign-in")
	}
	if _, err := p.Refresh(t.Context(), tokens); err != nil {
		t.Fatalf("refresh: %v (the provider said %q)", err, r.op.LastAuthError())
	}
	if seen := r.op.TokenAuthMethodsSeen(); len(seen) != 2 || seen[1] != "private_key_jwt" {
		t.Fatalf("the provider saw %v, want private_key_jwt twice", seen)
	}
}

// ecClientRP is a relying party whose client signs assertions with a new
// EC key in code, registered at the provider.
func ecClientRP(t *testing.T) *rp {
	t.Helper()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ck, err := federation.NewClientKey(ecKey, "")
	if err != nil {
		t.Fatal(err)
	}
	return assertionRP(t, func(pc *federation.ProviderConfig) {
		pc.TokenEndpointAuthMethod, pc.ClientKey = "private_key_jwt", ck
	}, ecKey)
}
