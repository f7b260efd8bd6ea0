package federation_test

import (
	"context"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// BenchmarkVerifyLogoutToken verifies back-channel logout tokens (ES256,
// keys warm), each with a fresh jti, as a provider sends them. Tokens are
// signed in batches with the timer stopped.
func BenchmarkVerifyLogoutToken(b *testing.B) {
	op := federationtest.New(b, federationtest.Options{Algorithm: "ES256"})
	op.AddClient(federationtest.Client{ID: "client-1", Secret: "s"})
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: op.Issuer(), ClientID: "client-1", ClientSecret: "s"}}})
	if err != nil {
		b.Fatal(err)
	}
	p, _ := reg.Lookup("oidc:acme")
	ctx := context.Background()
	if _, err := p.VerifyLogoutToken(ctx, op.LogoutToken("client-1", "alice", "", nil)); err != nil {
		b.Fatal(err) // warms discovery and keys
	}
	const batch = 512
	tokens := make([]string, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%batch == 0 {
			b.StopTimer()
			tokens = tokens[:0]
			for range batch {
				tokens = append(tokens, op.LogoutToken("client-1", "alice", "sid-1", nil))
			}
			b.StartTimer()
		}
		if _, err := p.VerifyLogoutToken(ctx, tokens[i%batch]); err != nil {
			b.Fatal(err)
		}
	}
}
