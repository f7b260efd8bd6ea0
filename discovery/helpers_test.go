package discovery

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type testKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

var rsaKeys sync.Map // kid → *rsa.PrivateKey, generated once per test binary

func newKey(t testing.TB, alg, kid string) *testKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256":
		if k, ok := rsaKeys.Load(kid); ok {
			priv = k.(*rsa.PrivateKey)
		} else {
			priv, err = rsa.GenerateKey(rand.Reader, 2048)
			rsaKeys.Store(kid, priv)
		}
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("unsupported alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{kid: kid, alg: alg, priv: priv}
}

func (k *testKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}

// sign returns a compact JWS of claims signed by k.
func (k *testKey) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testIdP is a loopback provider whose handlers count requests. Its
// responses can be changed while it runs.
type testIdP struct {
	*httptest.Server
	discoveryHits atomic.Int32
	jwksHits      atomic.Int32

	mu       sync.Mutex
	doc      func(base string) any // nil: a valid document
	docFail  bool                  // answer discovery with 500
	docBlock chan struct{}         // when set, discovery waits on it
	jwks     []byte                // raw JWKS body
}

func newIdP(t testing.TB, keys ...*testKey) *testIdP {
	t.Helper()
	p := &testIdP{}
	p.setKeys(t, keys...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discoveryHits.Add(1)
		p.mu.Lock()
		block, fail, doc := p.docBlock, p.docFail, p.doc
		p.mu.Unlock()
		if block != nil {
			<-block
		}
		if fail {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		var body any = p.validDoc()
		if doc != nil {
			body = doc(p.URL)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		p.mu.Lock()
		body := p.jwks
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *testIdP) validDoc() map[string]any {
	return map[string]any{
		"issuer":                                p.URL,
		"authorization_endpoint":                p.URL + "/authorize",
		"token_endpoint":                        p.URL + "/token",
		"userinfo_endpoint":                     p.URL + "/userinfo",
		"jwks_uri":                              p.URL + "/jwks",
		"response_types_supported":              []string{"code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
	}
}

func (p *testIdP) setKeys(t testing.TB, keys ...*testKey) {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	p.setJWKS(b)
}

func (p *testIdP) setJWKS(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jwks = b
}

func (p *testIdP) set(f func(p *testIdP)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func claimsFor(iss, aud string, now time.Time) map[string]any {
	return map[string]any{
		"iss": iss, "aud": aud, "sub": "user-1",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
	}
}
