package federationtest

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Encryption encrypts a response to the client (OpenID Connect Core 1.0
// §10.2): Alg and Enc as the registration's *_encrypted_response_alg and
// _enc (Enc defaults to A128CBC-HS256), to the first of the client's
// Keys that fits Alg and whose use is "enc" or unset.
type Encryption struct {
	Alg, Enc string
}

// Encrypt encrypts payload to the first key of keys that fits e, with cty
// (JWT for a nested token, "" for JSON). It fails when none fits.
func Encrypt(payload []byte, keys []jose.JSONWebKey, e Encryption, cty string) (string, error) {
	wantRSA := strings.HasPrefix(e.Alg, "RSA")
	for _, k := range keys {
		_, isRSA := k.Key.(*rsa.PublicKey)
		_, isEC := k.Key.(*ecdsa.PublicKey)
		if k.Use == "sig" || isRSA != wantRSA || !isRSA && !isEC {
			continue
		}
		enc := jose.ContentEncryption(e.Enc)
		if enc == "" {
			enc = jose.A128CBC_HS256
		}
		opts := (&jose.EncrypterOptions{}).WithHeader("kid", k.KeyID)
		if cty != "" {
			opts = opts.WithContentType(jose.ContentType(cty))
		}
		c, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: jose.KeyAlgorithm(e.Alg), Key: k.Key}, opts)
		if err != nil {
			return "", err
		}
		obj, err := c.Encrypt(payload)
		if err != nil {
			return "", err
		}
		return obj.CompactSerialize()
	}
	return "", fmt.Errorf("federationtest: no client key with use enc fits %s", e.Alg)
}
