package federation

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/discovery"
)

// Encryption asks the provider to encrypt a response to the client (JWE,
// OpenID Connect Core 1.0 §10.2): the ID token (signed, then encrypted) or
// userinfo. The provider encrypts to a key at the client's JWKS route,
// where each client key that can decrypt Alg is published a second time
// with use "enc". Once asked, a plaintext response is refused.
type Encryption struct {
	// Alg encrypts the content key: "RSA-OAEP", "RSA-OAEP-256" (an RSA
	// client key) or "ECDH-ES", "ECDH-ES+A128KW" (an EC P-256 one).
	Alg string `json:"alg"`
	// Enc encrypts the content: "A128CBC-HS256" (the default, as in
	// OpenID Connect Dynamic Client Registration) or "A256GCM".
	Enc string `json:"enc,omitempty"`
}

// The accepted algorithms; RSA1_5 (padding oracles), A*KW with a shared
// secret and PBES2 are not.
var (
	encryptionAlgs = []string{string(jose.RSA_OAEP), string(jose.RSA_OAEP_256), string(jose.ECDH_ES),
		string(jose.ECDH_ES_A128KW)}
	contentEncs = []string{string(jose.A128CBC_HS256), string(jose.A256GCM)}
)

// encKeySuffix ends the kid of a client key published for encryption:
// the same key under another kid, so that a provider looking a signing key
// up by kid never finds the "enc" entry.
const encKeySuffix = "-enc"

var (
	// ErrNotEncrypted: the provider sent a plaintext ID token or userinfo
	// where the client asked for encryption (idTokenEncryption,
	// userinfoEncryption). Check the client's registration at the provider.
	ErrNotEncrypted = errors.New("federation: the response is not encrypted, and the client asked for encryption")
	// ErrDecrypt: an encrypted response that the client's keys cannot
	// decrypt, or that uses another algorithm than the one asked for.
	ErrDecrypt = errors.New("federation: the encrypted response could not be decrypted")
)

// enc is e's content encryption, with the default.
func (e *Encryption) enc() string {
	if e.Enc == "" {
		return string(jose.A128CBC_HS256)
	}
	return e.Enc
}

// rsa reports whether e's alg needs an RSA key (else EC).
func (e *Encryption) rsa() bool { return strings.HasPrefix(e.Alg, "RSA") }

// encryptions are the provider's Encryption settings that are set.
func (p ProviderConfig) encryptions() []*Encryption {
	var out []*Encryption
	for _, e := range []*Encryption{p.IDTokenEncryption, p.UserinfoEncryption} {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// validateEncryption validates idTokenEncryption and userinfoEncryption
// against the client's keys.
func (p ProviderConfig) validateEncryption(keys []*ClientKey, fail func(field, format string, args ...any)) {
	for field, e := range map[string]*Encryption{"idTokenEncryption": p.IDTokenEncryption,
		"userinfoEncryption": p.UserinfoEncryption} {
		switch {
		case e == nil:
		case !slices.Contains(encryptionAlgs, e.Alg):
			fail(field, "alg %q is not supported; want one of %s", e.Alg, strings.Join(encryptionAlgs, ", "))
		case !slices.Contains(contentEncs, e.enc()):
			fail(field, "enc %q is not supported; want one of %s", e.Enc, strings.Join(contentEncs, ", "))
		case keys != nil && !slices.ContainsFunc(keys, func(k *ClientKey) bool { return k.decrypts(e) }):
			kind := "an EC P-256"
			if e.rsa() {
				kind = "an RSA"
			}
			fail(field, "alg %s needs %s private key in clientKeyFile (a ClientKey in code decrypts only when its signer is an *rsa.PrivateKey or *ecdsa.PrivateKey)", e.Alg, kind)
		}
	}
}

// decrypts reports whether k can decrypt what e encrypts.
func (k *ClientKey) decrypts(e *Encryption) bool {
	switch k.signer.(type) {
	case *rsa.PrivateKey:
		return e.rsa()
	case *ecdsa.PrivateKey:
		return !e.rsa()
	}
	return false
}

// encryptionKeys are the client's keys that the provider may encrypt to,
// as published at the JWKS route (use "enc").
func (p *Provider) encryptionKeys() []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range p.clientKeys {
		if !slices.ContainsFunc(p.cfg.encryptions(), k.decrypts) {
			continue
		}
		out = append(out, jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.kid + encKeySuffix, Use: "enc"})
	}
	return out
}

// decrypt opens a compact JWE encrypted to the client with e's alg and
// enc (ErrDecrypt for another, or for one no client key opens). A
// compressed ("zip") JWE is refused: OpenID Connect never compresses, and
// decompression would let a small token become a large allocation.
func (p *Provider) decrypt(raw string, e *Encryption) ([]byte, error) {
	obj, err := jose.ParseEncryptedCompact(raw, []jose.KeyAlgorithm{jose.KeyAlgorithm(e.Alg)},
		[]jose.ContentEncryption{jose.ContentEncryption(e.enc())})
	if err != nil {
		return nil, fmt.Errorf("%w: %v (want alg %s, enc %s)", ErrDecrypt, err, e.Alg, e.enc())
	}
	if _, zip := obj.Header.ExtraHeaders["zip"]; zip {
		return nil, fmt.Errorf("%w: a compressed JWE (zip)", ErrDecrypt)
	}
	kid, _ := strings.CutSuffix(obj.Header.KeyID, encKeySuffix)
	if !slices.ContainsFunc(p.clientKeys, func(k *ClientKey) bool { return k.kid == kid }) {
		kid = "" // a kid of the provider's own making: try each key that fits
	}
	for _, k := range p.clientKeys {
		if !k.decrypts(e) || kid != "" && k.kid != kid {
			continue
		}
		if out, err := obj.Decrypt(k.signer); err == nil {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: no client key (kid %q) decrypts it", ErrDecrypt, obj.Header.KeyID)
}

// checkEncryption reports whether the provider lists the encryption the
// client asks for (a warning when not: it may not say).
func (p *Provider) checkEncryption(md *discovery.Metadata, add func(name, status, format string, args ...any)) {
	for _, c := range []struct {
		what      string
		e         *Encryption
		algs, enc []string
	}{
		{"ID tokens", p.cfg.IDTokenEncryption, md.IDTokenEncryptionAlgValuesSupported, md.IDTokenEncryptionEncValuesSupported},
		{"userinfo", p.cfg.UserinfoEncryption, md.UserinfoEncryptionAlgValuesSupported, md.UserinfoEncryptionEncValuesSupported},
	} {
		switch {
		case c.e == nil:
		case !slices.Contains(c.algs, c.e.Alg) || len(c.enc) > 0 && !slices.Contains(c.enc, c.e.enc()):
			add("encryption", CheckWarn, "%s: %s %s is not among the provider's %v %v; it may send them unencrypted, which is refused",
				c.what, c.e.Alg, c.e.enc(), c.algs, c.enc)
		default:
			add("encryption", CheckOK, "%s encrypted with %s %s", c.what, c.e.Alg, c.e.enc())
		}
	}
}

// isJWE reports whether raw has the five parts of a compact JWE.
func isJWE(raw string) bool { return strings.Count(raw, ".") == 4 }

// openJWE decrypts raw, a response the client asked to be encrypted with
// e (field names the setting): ErrNotEncrypted when it is not a JWE, and
// ErrDecrypt when it is one and e is nil.
func (p *Provider) openJWE(raw string, e *Encryption, field string) ([]byte, error) {
	switch {
	case e == nil:
		return nil, fmt.Errorf("%w: an encrypted response, and %s is not set", ErrDecrypt, field)
	case !isJWE(raw):
		return nil, fmt.Errorf("%w (%s %s)", ErrNotEncrypted, field, e.Alg)
	}
	return p.decrypt(raw, e)
}
