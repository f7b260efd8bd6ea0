package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrUnsealable is returned by [Codec.Open] for a value that no key opens:
// tampered, truncated, sealed for another purpose, or sealed with a key
// that has been rotated out.
var ErrUnsealable = errors.New("session: sealed value cannot be opened")

// canonical decodes only the encoding Seal produces: the unused bits of the
// last character must be zero, so one sealed value has one spelling.
var canonical = base64.RawURLEncoding.Strict()

// Codec seals values with AES-256-GCM. The first key seals; every key opens,
// so keys can be rotated by putting the new key first and removing the old
// one after the longest lifetime of a sealed value.
type Codec struct {
	aeads []cipher.AEAD
}

// NewCodec returns a codec for keys, each exactly 32 bytes.
func NewCodec(keys ...[]byte) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("session: at least one key is required")
	}
	c := &Codec{}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("session: key %d is %d bytes, want 32", i, len(k))
		}
		block, _ := aes.NewCipher(k) // a 32-byte key cannot fail
		aead, _ := cipher.NewGCM(block)
		c.aeads = append(c.aeads, aead)
	}
	return c, nil
}

// Seal encrypts and authenticates plaintext, binding it to purpose (for
// example the cookie name), and returns unpadded base64url text.
func (c *Codec) Seal(plaintext []byte, purpose string) string {
	aead := c.aeads[0]
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(out)
	out = aead.Seal(out, out, plaintext, []byte(purpose))
	return base64.RawURLEncoding.EncodeToString(out)
}

// Open reverses [Codec.Seal] for the same purpose.
func (c *Codec) Open(sealed, purpose string) ([]byte, error) {
	raw, err := canonical.DecodeString(sealed)
	if err != nil {
		return nil, ErrUnsealable
	}
	for _, aead := range c.aeads {
		if len(raw) < aead.NonceSize()+aead.Overhead() {
			return nil, ErrUnsealable
		}
		nonce, ct := raw[:aead.NonceSize()], raw[aead.NonceSize():]
		if p, err := aead.Open(nil, nonce, ct, []byte(purpose)); err == nil {
			return p, nil
		}
	}
	return nil, ErrUnsealable
}
