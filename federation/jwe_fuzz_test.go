package federation

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzDecrypt feeds compact JWEs, well formed and not, to the decryption
// of encrypted ID tokens and userinfo: it never panics, every failure is
// ErrDecrypt, and what it opens is what was encrypted to the client's key
// with the asked alg and enc (the seeds' plaintext), nothing else.
func FuzzDecrypt(f *testing.F) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	ck, err := NewClientKey(key, "k1")
	if err != nil {
		f.Fatal(err)
	}
	e := &Encryption{Alg: "RSA-OAEP"}
	p := &Provider{clientKeys: []*ClientKey{ck}, cfg: ProviderConfig{IDTokenEncryption: e}}
	const plaintext = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
	seal := func(alg jose.KeyAlgorithm, enc jose.ContentEncryption, opts *jose.EncrypterOptions) string {
		c, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: key.Public(), KeyID: "k1-enc"}, opts)
		if err != nil {
			f.Fatal(err)
		}
		obj, err := c.Encrypt([]byte(plaintext))
		if err != nil {
			f.Fatal(err)
		}
		s, _ := obj.CompactSerialize()
		return s
	}
	good := seal(jose.RSA_OAEP, jose.A128CBC_HS256, nil)
	f.Add(good)
	f.Add(seal(jose.RSA_OAEP_256, jose.A128CBC_HS256, nil))
	f.Add(seal(jose.RSA_OAEP, jose.A256GCM, nil))
	f.Add(seal(jose.RSA_OAEP, jose.A128CBC_HS256, &jose.EncrypterOptions{Compression: jose.DEFLATE}))
	f.Add(good[:len(good)-5])
	f.Add("a.b.c.d.e")
	f.Add("....")
	f.Add("eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0....")
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := p.decrypt(raw, e)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error %v is not ErrDecrypt", err)
			}
			return
		}
		if string(out) != plaintext {
			t.Fatalf("opened %q, which the client's key did not seal", out)
		}
	})
}
