package federation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/discovery"
)

// TestAssertionSignerIsShared: one signer per discovery document signs
// concurrent assertions (run under -race), each with its own jti.
func TestAssertionSignerIsShared(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ck, _ := NewClientKey(key, "k1")
	reg, err := NewRegistry(Config{Providers: map[string]ProviderConfig{"acme": {Issuer: "https://idp.example.com",
		ClientID: "c", TokenEndpointAuthMethod: authPrivateKeyJWT, ClientKey: ck}}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Lookup("oidc:acme")
	md := &discovery.Metadata{Issuer: "https://idp.example.com", TokenEndpoint: "https://idp.example.com/token"}
	signer, err := p.assertionSigner(md, clientPrivateKeyJWT, p.static)
	if err != nil {
		t.Fatal(err)
	}
	st := &resolved{md: md, client: p.static, auth: clientPrivateKeyJWT, signer: signer}
	var mu sync.Mutex
	jtis := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				a, err := p.assertion(st, "")
				if err != nil {
					t.Error(err)
					return
				}
				jws, err := jose.ParseSigned(a, []jose.SignatureAlgorithm{jose.ES256})
				if err != nil {
					t.Error(err)
					return
				}
				payload, err := jws.Verify(&key.PublicKey)
				if err != nil || jws.Signatures[0].Header.KeyID != "k1" {
					t.Errorf("verify: %v (kid %q)", err, jws.Signatures[0].Header.KeyID)
					return
				}
				var c assertionClaims
				json.Unmarshal(payload, &c)
				mu.Lock()
				if jtis[c.Jti] || c.Aud != md.TokenEndpoint || c.Iss != "c" || c.Sub != "c" || c.Exp-c.Iat != 60 {
					t.Errorf("claims %+v (jti seen: %v)", c, jtis[c.Jti])
				}
				jtis[c.Jti] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
