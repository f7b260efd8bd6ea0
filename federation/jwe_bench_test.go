package federation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// BenchmarkDecrypt is the cost encryption adds to each sign-in: opening
// a nested ID token (an ~800-byte JWS) per key-management alg.
func BenchmarkDecrypt(b *testing.B) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	inner := make([]byte, 800)
	for i := range inner {
		inner[i] = 'a' + byte(i%26)
	}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		e    Encryption
	}{
		{"RSA-OAEP/A128CBC-HS256", rsaKey, Encryption{Alg: "RSA-OAEP"}},
		{"RSA-OAEP-256/A256GCM", rsaKey, Encryption{Alg: "RSA-OAEP-256", Enc: "A256GCM"}},
		{"ECDH-ES/A128CBC-HS256", ecKey, Encryption{Alg: "ECDH-ES"}},
		{"ECDH-ES+A128KW/A256GCM", ecKey, Encryption{Alg: "ECDH-ES+A128KW", Enc: "A256GCM"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ck, _ := NewClientKey(tc.key, "k")
			p := &Provider{clientKeys: []*ClientKey{ck}}
			c, err := jose.NewEncrypter(jose.ContentEncryption(tc.e.enc()),
				jose.Recipient{Algorithm: jose.KeyAlgorithm(tc.e.Alg), Key: tc.key.Public(), KeyID: "k" + encKeySuffix},
				(&jose.EncrypterOptions{}).WithContentType("JWT"))
			if err != nil {
				b.Fatal(err)
			}
			obj, _ := c.Encrypt(inner)
			raw, _ := obj.CompactSerialize()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.decrypt(raw, &tc.e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
