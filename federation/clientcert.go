package federation

import (
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/httpx"
)

// Mutual-TLS client authentication (RFC 8705 §2): the client proves
// itself with the TLS client certificate of the connection, and the form
// carries only client_id.
const (
	// authTLS: a certificate from a CA the provider trusts, matched by
	// its subject (or a SAN) registered at the provider.
	authTLS = "tls_client_auth"
	// authSelfSignedTLS: a self-signed certificate registered at the
	// provider (in the client's jwks, as x5c).
	authSelfSignedTLS = "self_signed_tls_client_auth"
)

// mutualTLS reports whether method authenticates with a TLS client
// certificate.
func mutualTLS(method string) bool { return method == authTLS || method == authSelfSignedTLS }

// NewClientCertificate wraps a certificate chain and its private key (as
// tls.LoadX509KeyPair or tls.X509KeyPair return them; the key may be a
// crypto.Signer in an HSM) with kid (its RFC 7638 thumbprint when empty).
// The key signs assertions with the certificate's thumbprints in the
// header (x5t#S256 and x5t, as Microsoft Entra ID's certificate
// credentials want) and authenticates mutual TLS (tls_client_auth,
// self_signed_tls_client_auth). The leaf must be first and match the key.
func NewClientCertificate(cert tls.Certificate, kid string) (*ClientKey, error) {
	if len(cert.Certificate) == 0 {
		return nil, errors.New("no certificate in the tls.Certificate")
	}
	if cert.PrivateKey == nil {
		return nil, errors.New("the tls.Certificate has no private key")
	}
	chain := make([]*x509.Certificate, len(cert.Certificate))
	for i, der := range cert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %w", i+1, err)
		}
		chain[i] = c
	}
	s, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T key, which cannot sign", cert.PrivateKey)
	}
	k, err := NewClientKey(s, kid)
	if err != nil {
		return nil, err
	}
	return k.withChain(chain)
}

// Certificate is the key's certificate (the leaf of its chain), nil for a
// key without one.
func (k *ClientKey) Certificate() *x509.Certificate {
	if len(k.chain) == 0 {
		return nil
	}
	return k.chain[0]
}

// ErrCertificateKeyMismatch: a client certificate is not for the client's
// signing key.
var ErrCertificateKeyMismatch = errors.New("the certificate's public key is not the client key's")

// withChain is a copy of k with chain (leaf first), which must be k's.
func (k *ClientKey) withChain(chain []*x509.Certificate) (*ClientKey, error) {
	pub, ok := chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(k.signer.Public()) {
		return nil, ErrCertificateKeyMismatch
	}
	c := *k
	c.chain = chain
	sha := sha256.Sum256(chain[0].Raw)
	c.x5tS256 = base64.RawURLEncoding.EncodeToString(sha[:])
	sha1 := sha1.Sum(chain[0].Raw) // x5t is SHA-1 by definition (RFC 7515 §4.1.7); a name, not a check
	c.x5t = base64.RawURLEncoding.EncodeToString(sha1[:])
	return &c, nil
}

// loadCertificates reads a PEM file of certificates, the leaf first.
func loadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var chain []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a %q PEM block; want CERTIFICATE blocks, the client's certificate first", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %w", len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("no PEM certificate in the file")
	}
	return chain, nil
}

// tlsCertificate is the key and its chain for a TLS handshake.
func (k *ClientKey) tlsCertificate() tls.Certificate {
	c := tls.Certificate{PrivateKey: k.signer, Leaf: k.chain[0]}
	for _, x := range k.chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// loadCredentials reads and checks the client's keys and certificate for
// the methods that need them (private_key_jwt and mutual TLS), and
// refuses them for the methods that would ignore them. Each file is read
// here only: the provider keeps what validation read.
func (p ProviderConfig) loadCredentials(fail func(field, format string, args ...any)) []*ClientKey {
	keys := p.loadKeys(fail)
	p.validateEncryption(keys, fail)
	return keys
}

// loadKeys reads the client's keys and certificate for the settings that
// use them (an authentication method, request objects, encryption) and
// refuses them for the others.
func (p ProviderConfig) loadKeys(fail func(field, format string, args ...any)) []*ClientKey {
	method := p.TokenEndpointAuthMethod
	encrypts := len(p.encryptions()) > 0
	if method != authPrivateKeyJWT && !mutualTLS(method) && p.RequestObject != requestObjectSigned && !encrypts {
		switch {
		case p.ClientKeyFile != "" || p.ClientKey != nil:
			fail("clientKeyFile", `is used only with tokenEndpointAuthMethod "private_key_jwt", "tls_client_auth" or "self_signed_tls_client_auth", requestObject "signed", or encryption`)
		case p.ClientCertificateFile != "":
			fail("clientCertificateFile", `is used only with tokenEndpointAuthMethod "private_key_jwt", "tls_client_auth" or "self_signed_tls_client_auth", requestObject "signed", or encryption`)
		}
		return nil
	}
	switch { // for the messages below
	case method == authPrivateKeyJWT || mutualTLS(method):
		method = strconv.Quote(method)
	case p.RequestObject == requestObjectSigned:
		method = `requestObject "signed"`
	default:
		method = "encryption"
	}
	var keys []*ClientKey
	switch {
	case p.ClientKey != nil && p.ClientKeyFile != "":
		fail("clientKeyFile", "and ClientKey are both set; set one")
		return nil
	case p.ClientKey != nil:
		keys = []*ClientKey{p.ClientKey}
	case p.ClientKeyFile == "":
		fail("clientKeyFile", "is required for %s (or ClientKey in code)", keyUser(method))
		return nil
	default:
		var err error
		if keys, err = LoadClientKeys(p.ClientKeyFile, p.ClientKeyID); err != nil {
			fail("clientKeyFile", "%s: %v", p.ClientKeyFile, err)
			return nil
		}
	}
	if p.ClientCertificateFile != "" {
		if keys[0].chain != nil {
			fail("clientCertificateFile", "and a ClientKey with a certificate are both set; set one")
			return nil
		}
		chain, err := loadCertificates(p.ClientCertificateFile)
		if err != nil {
			fail("clientCertificateFile", "%s: %v", p.ClientCertificateFile, err)
			return nil
		}
		signing, err := keys[0].withChain(chain)
		if err != nil {
			fail("clientCertificateFile", "%s: %w (the signing key: the first in clientKeyFile)",
				p.ClientCertificateFile, err)
			return nil
		}
		keys = append([]*ClientKey{signing}, keys[1:]...)
	}
	if mutualTLS(p.TokenEndpointAuthMethod) && keys[0].chain == nil {
		fail("clientCertificateFile", "is required for %s (or NewClientCertificate in code)", keyUser(method))
		return nil
	}
	return keys
}

// keyUser names what needs the client key in a message: a quoted
// tokenEndpointAuthMethod, requestObject "signed", or the encryption
// settings.
func keyUser(method string) string {
	switch {
	case method == "encryption":
		return "idTokenEncryption and userinfoEncryption"
	case strings.HasPrefix(method, "requestObject"):
		return method
	}
	return "tokenEndpointAuthMethod " + method
}

// certificateStatus says whether the client's certificate is valid at
// now: "" when it is, else why not (expired, not yet valid).
func certificateStatus(c *x509.Certificate, now time.Time) string {
	switch {
	case now.After(c.NotAfter):
		return fmt.Sprintf("the client certificate %q expired at %s", c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Sprintf("the client certificate %q is not valid before %s", c.Subject,
			c.NotBefore.UTC().Format(time.RFC3339))
	}
	return ""
}

// ErrClientTransport: mutual TLS needs a transport it can give the client
// certificate to.
var ErrClientTransport = errors.New("federation: mutual TLS needs the registry's HTTP client to use an *http.Transport (or none, for the default)")

// mutualTLSClients are base's requests (userinfo) and token-endpoint
// requests, over connections that present cert. The transport is a clone
// of base's, so the certificate never reaches other providers'
// connections. Always this certificate: the provider decides, and says
// why in an invalid_client answer.
func mutualTLSClients(base, exchange *http.Client, cert tls.Certificate) (*http.Client, *http.Client, error) {
	t := httpx.Unwrap(base.Transport)
	tr, ok := t.(*http.Transport)
	if !ok {
		return nil, nil, fmt.Errorf("%w, not a %T", ErrClientTransport, t)
	}
	tr = tr.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &cert, nil
	}
	plain := *base
	plain.Transport = httpx.Cap(tr, httpx.Limit(base.Transport))
	ex := *exchange
	ex.Transport = httpx.Cap(tr, httpx.Limit(exchange.Transport))
	return &plain, &ex, nil
}
