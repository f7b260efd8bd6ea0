package federation_test

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/federation"
)

// BenchmarkDPoP is the bearer middleware per request with a cached token:
// a plain Bearer token, and a DPoP-bound one with a fresh ES256 proof
// (parse, verify, claims, jti claimed); beside them one ES256 signature
// verification, the floor of a proof check.
func BenchmarkDPoP(b *testing.B) {
	a := newDPoPAPI(b, federation.BearerConfig{DPoP: federation.DPoPAllowed})
	h := a.srv.Config.Handler
	plain, bound := a.token(""), a.token(a.jkt)
	run := func(b *testing.B, req func(i int) *http.Request) {
		b.ReportAllocs()
		reqs := make([]*http.Request, b.N+1)
		for i := range reqs {
			reqs[i] = req(i)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, reqs[b.N]) // warm: keys fetched, token cached
		if rec.Code != http.StatusOK {
			b.Fatalf("warm-up: %d %s", rec.Code, rec.Body)
		}
		b.ResetTimer()
		for i := range b.N {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, reqs[i])
			if rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	}
	b.Run("bearer", func(b *testing.B) {
		run(b, func(int) *http.Request {
			r := httptest.NewRequest("GET", a.srv.URL+"/me", nil)
			r.Header.Set("Authorization", "Bearer "+plain)
			return r
		})
	})
	b.Run("dpop", func(b *testing.B) {
		run(b, func(int) *http.Request {
			r := httptest.NewRequest("GET", a.srv.URL+"/me", nil)
			r.Header.Set("Authorization", "DPoP "+bound)
			r.Header.Set("DPoP", proof(b, a.key, jose.ES256, "GET", a.srv.URL+"/me", bound, nil))
			return r
		})
	})
	b.Run("es256-verify", func(b *testing.B) {
		sum := sha256.Sum256([]byte("payload"))
		sig, _ := ecdsa.SignASN1(nil, a.key, sum[:])
		b.ReportAllocs()
		for b.Loop() {
			if !ecdsa.VerifyASN1(&a.key.PublicKey, sum[:], sig) {
				b.Fatal("verify")
			}
		}
	})
}
