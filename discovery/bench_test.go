package discovery

import (
	"context"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// BenchmarkVerify compares a verification through our KeySet and Verifier
// (typed errors, exp/nbf/iat with leeway, claims decoded once) with go-oidc's
// own RemoteKeySet and IDTokenVerifier doing the same token, keys warm.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256"} {
		k := newKey(b, alg, "bench-"+alg)
		idp := newIdP(b, k)
		raw := k.sign(b, claimsFor(idp.URL, "client-1", time.Now()))
		ctx := context.Background()

		b.Run("oidcfed/"+alg, func(b *testing.B) {
			ks, _ := NewKeySet(KeySetConfig{URI: idp.URL + "/jwks", Algorithms: []string{alg}})
			v, err := NewVerifier(VerifierConfig{Issuer: idp.URL, Audiences: []string{"client-1"}, KeySet: ks, Algorithms: []string{alg}})
			if err != nil {
				b.Fatal(err)
			}
			benchLoop(b, func() error { _, err := v.Verify(ctx, raw); return err })
		})
		b.Run("go-oidc/"+alg, func(b *testing.B) {
			v := oidc.NewVerifier(idp.URL, oidc.NewRemoteKeySet(ctx, idp.URL+"/jwks"),
				&oidc.Config{ClientID: "client-1", SupportedSigningAlgs: []string{alg}})
			benchLoop(b, func() error { _, err := v.Verify(ctx, raw); return err })
		})
	}
}

// benchLoop warms up with one call, then measures verify.
func benchLoop(b *testing.B, verify func() error) {
	if err := verify(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := verify(); err != nil {
			b.Fatal(err)
		}
	}
}
