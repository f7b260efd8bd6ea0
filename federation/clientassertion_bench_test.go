package federation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/oidcfed/oidcfed/discovery"
)

// BenchmarkClientAssertion signs one client assertion, as every token
// request with private_key_jwt (RS256, ES256) or client_secret_jwt does.
func BenchmarkClientAssertion(b *testing.B) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name   string
		signer crypto.Signer
	}{{"RS256", rsaKey}, {"ES256", ecKey}, {"HS256", nil}} {
		pc := ProviderConfig{Issuer: "https://idp.example.com", ClientID: "c"}
		auth := clientSecretJWT
		if tc.signer != nil {
			ck, err := NewClientKey(tc.signer, "")
			if err != nil {
				b.Fatal(err)
			}
			pc.TokenEndpointAuthMethod, pc.ClientKey, auth = authPrivateKeyJWT, ck, clientPrivateKeyJWT
		} else {
			pc.TokenEndpointAuthMethod, pc.ClientSecret = authClientSecretJWT, "a-client-secret-of-forty-bytes-or-so-ok"
		}
		reg, err := NewRegistry(Config{Providers: map[string]ProviderConfig{"acme": pc}})
		if err != nil {
			b.Fatal(err)
		}
		p, _ := reg.Lookup("oidc:acme")
		md := &discovery.Metadata{Issuer: pc.Issuer, TokenEndpoint: pc.Issuer + "/token"}
		signer, err := p.assertionSigner(md, auth, p.static)
		if err != nil {
			b.Fatal(err)
		}
		st := &resolved{md: md, client: p.static, auth: auth, signer: signer}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.assertion(st, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
