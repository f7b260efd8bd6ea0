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

// TestDecryptKeyID: a JWE names the client's key by its published kid
// (with -enc), by the bare kid, by a kid of the provider's own, or not at
// all; each opens with the key that fits.
func TestDecryptKeyID(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	c1, _ := NewClientKey(k1, "k1")
	c2, _ := NewClientKey(k2, "k2")
	e := &Encryption{Alg: "RSA-OAEP"}
	p := &Provider{clientKeys: []*ClientKey{c1, c2}}
	for _, kid := range []string{"k2-enc", "k2", "thumbprint-of-their-own", ""} {
		c, err := jose.NewEncrypter(jose.A128CBC_HS256, jose.Recipient{Algorithm: jose.RSA_OAEP, Key: k2.Public(), KeyID: kid}, nil)
		if err != nil {
			t.Fatal(err)
		}
		obj, _ := c.Encrypt([]byte("x.y.z"))
		raw, _ := obj.CompactSerialize()
		if out, err := p.decrypt(raw, e); err != nil || string(out) != "x.y.z" {
			t.Errorf("kid %q: %q %v", kid, out, err)
		}
	}
	// Named as k1's, sealed to k2: k1 alone is tried, and fails.
	c, _ := jose.NewEncrypter(jose.A128CBC_HS256, jose.Recipient{Algorithm: jose.RSA_OAEP, Key: k2.Public(), KeyID: "k1-enc"}, nil)
	obj, _ := c.Encrypt([]byte("x.y.z"))
	raw, _ := obj.CompactSerialize()
	if _, err := p.decrypt(raw, e); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("k1's kid on k2's JWE: %v, want ErrDecrypt", err)
	}
}
