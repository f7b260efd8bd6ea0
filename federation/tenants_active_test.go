package federation

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// tenantOP is one HTTP server over loopback serving many issuers,
// <url>/t000123, with one ES256 key, counting the discovery and JWKS
// fetches it answers.
type tenantOP struct {
	srv               *httptest.Server
	signer            jose.Signer
	jwks              []byte
	discovery, keys   atomic.Int64
	jti               atomic.Int64
	mu                sync.Mutex
	discoveryByIssuer map[string]int
}

func newTenantOP(tb testing.TB) *tenantOP {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	o := &tenantOP{discoveryByIssuer: map[string]int{}}
	o.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		tb.Fatal(err)
	}
	o.jwks, _ = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: "k1",
		Algorithm: "ES256", Use: "sig"}}})
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	tb.Cleanup(o.srv.Close)
	return o
}

func (o *tenantOP) serve(w http.ResponseWriter, r *http.Request) {
	tenant, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	iss := o.srv.URL + "/" + tenant
	w.Header().Set("Content-Type", "application/json")
	switch rest {
	case ".well-known/openid-configuration":
		o.discovery.Add(1)
		o.mu.Lock()
		o.discoveryByIssuer[iss]++
		o.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize",
			"token_endpoint": iss + "/token", "jwks_uri": iss + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"ES256"}})
	case "jwks":
		o.keys.Add(1)
		w.Write(o.jwks)
	default:
		http.NotFound(w, r)
	}
}

func (o *tenantOP) issuer(i int) string { return fmt.Sprintf("%s/t%06d", o.srv.URL, i) }

// token is a fresh access token of tenant i (a new jti each call).
func (o *tenantOP) token(tb testing.TB, i int, now time.Time) string {
	payload, _ := json.Marshal(map[string]any{"iss": o.issuer(i), "sub": "user", "aud": "c",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": fmt.Sprint(o.jti.Add(1))})
	jws, err := o.signer.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

// config is tenant i's provider config.
func (o *tenantOP) config(i int) ProviderConfig {
	return ProviderConfig{Issuer: o.issuer(i), ClientID: "c", ClientSecret: "s"}
}

// configs has n tenants.
func (o *tenantOP) configs(n int) Config {
	cfg := Config{Providers: make(map[string]ProviderConfig, n)}
	for i := range n {
		cfg.Providers[fmt.Sprintf("t%06d", i)] = o.config(i)
	}
	return cfg
}

// heapNow is the live heap after a collection.
func heapNow() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestTenantsFetchOnce verifies fresh bearer tokens of every one of n
// tenants, each its own issuer, in 3 rounds: the discovery cache holds
// them all, so each issuer's discovery document and key set is fetched
// exactly once. It reports the heap per active tenant (-v).
func TestTenantsFetchOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("verifies 30,000 tokens")
	}
	n := 10_000
	if raceEnabled {
		n = 1_000 // the race detector slows verification tenfold
	}
	o := newTenantOP(t)
	reg, err := NewRegistry(o.configs(n), WithHTTPClient(o.srv.Client()), WithBearerCacheSize(0))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBearer(reg, BearerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	idle := heapNow()
	for round := range 3 {
		tokens := make([]string, n)
		for i := range n {
			tokens[i] = o.token(t, i, time.Now())
		}
		var wg sync.WaitGroup
		var failed atomic.Int64
		for w := range 4 {
			wg.Go(func() {
				for i := w; i < n; i += 4 {
					if _, err := b.Verify(context.Background(), tokens[i]); err != nil && failed.Add(1) == 1 {
						t.Errorf("round %d, tenant %d: %v", round, i, err)
					}
				}
			})
		}
		wg.Wait()
		if round == 0 {
			runtime.KeepAlive(tokens)
			tokens = nil
			active := heapNow()
			t.Logf("%d tenants: %d B per active tenant (metadata, key set, verifiers)", n, (active-idle)/uint64(n))
			if per := (active - idle) / uint64(n); per > 8<<10 {
				t.Errorf("%d B per active tenant, want ≤ 8 KiB", per)
			}
		}
	}
	if d, k := o.discovery.Load(), o.keys.Load(); d != int64(n) || k != int64(n) {
		t.Fatalf("%d discovery and %d JWKS fetches for %d issuers over 3 rounds, want %d each", d, k, n, n)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for iss, c := range o.discoveryByIssuer {
		if c != 1 {
			t.Fatalf("%s fetched %d times, want once", iss, c)
		}
	}
}

// BenchmarkTenantsBearer verifies bearer tokens at registries of n
// providers, 1,000 of them warm: "cached" sends tokens already verified
// (the verified-token cache answers), "fresh" new ones (signature and
// claims checked; the cache is off).
func BenchmarkTenantsBearer(b *testing.B) {
	o := newTenantOP(b)
	for _, n := range tenantSizes {
		for _, mode := range []string{"cached", "fresh"} {
			size := DefaultBearerCacheSize
			if mode == "fresh" {
				size = 0
			}
			reg, err := NewRegistry(o.configs(n), WithHTTPClient(o.srv.Client()), WithBearerCacheSize(size))
			if err != nil {
				b.Fatal(err)
			}
			bearer, _ := NewBearer(reg, BearerConfig{})
			const warm = 1_000
			tokens := make([]string, warm)
			for i := range tokens {
				tokens[i] = o.token(b, i*(n/warm), time.Now())
				if _, err := bearer.Verify(context.Background(), tokens[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := bearer.Verify(context.Background(), tokens[i%warm]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// tenantSource answers every tN name and issuer of a tenantOP with n
// tenants.
type tenantSource struct {
	o *tenantOP
	n int
}

func (s tenantSource) Provider(ctx context.Context, name string) (ProviderConfig, error) {
	var i int
	if _, err := fmt.Sscanf(name, "t%06d", &i); err != nil || i >= s.n || name != fmt.Sprintf("t%06d", i) {
		return ProviderConfig{}, ErrNoProvider
	}
	return s.o.config(i), nil
}

func (s tenantSource) ProvidersByIssuer(ctx context.Context, iss string) ([]string, error) {
	name, ok := strings.CutPrefix(iss, s.o.srv.URL+"/")
	if !ok {
		return nil, nil
	}
	return []string{name}, nil
}

// BenchmarkTenantsColdStart verifies the first bearer token of a tenant
// the registry has never seen: an issuer lookup and a config from the
// source, discovery and JWKS fetched over loopback, the signature
// checked. n is the tenants the source holds; each op takes the next.
func BenchmarkTenantsColdStart(b *testing.B) {
	o := newTenantOP(b)
	for _, n := range tenantSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			// A new registry each run: -count reruns this function.
			reg, err := NewRegistry(Config{}, WithHTTPClient(o.srv.Client()),
				WithProviderSource(SourceConfig{Source: tenantSource{o, n}}))
			if err != nil {
				b.Fatal(err)
			}
			bearer, _ := NewBearer(reg, BearerConfig{})
			b.ReportAllocs()
			fetched := o.discovery.Load()
			i := 0
			for b.Loop() {
				if i == n {
					b.StopTimer()
					for j := range n {
						reg.Forget(fmt.Sprintf("t%06d", j))
					}
					i = 0
					b.StartTimer()
				}
				b.StopTimer()
				tok := o.token(b, i, time.Now())
				b.StartTimer()
				if _, err := bearer.Verify(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(o.discovery.Load()-fetched)/float64(b.N), "discovery/op")
		})
	}
}
