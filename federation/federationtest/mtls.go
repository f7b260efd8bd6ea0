package federationtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"slices"
	"time"
)

// Mutual TLS (RFC 8705). With Options.MutualTLS the provider also listens
// on a TLS port that asks for a client certificate, and advertises its
// token, userinfo and device authorization endpoints there as
// mtls_endpoint_aliases. A client registered with Certificates
// authenticates with one of them (self_signed_tls_client_auth); one
// registered with TLSSubject with a certificate from Options.ClientCAs
// whose subject is that (tls_client_auth).

// startMutualTLS starts the TLS listener on the issuer's host.
func (p *Provider) startMutualTLS(host string) error {
	cert, err := serverCertificate()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return err
	}
	p.tlsCert = cert.Leaf
	p.tlsBase = "https://" + net.JoinHostPort(host, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
	// RequestClientCert: any certificate is taken, and checked per client
	// below, as a provider with self-signed clients must.
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert,
		MinVersion: tls.VersionTLS12}
	p.tlsSrv = &http.Server{Handler: p.routes(), ReadHeaderTimeout: 5 * time.Second, TLSConfig: cfg}
	go p.tlsSrv.Serve(tls.NewListener(ln, cfg))
	return nil
}

// serverCertificate is a fresh self-signed certificate for the loopback
// names.
func serverCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "federationtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// MutualTLSRoots is a pool holding the certificate of the mutual-TLS
// listener, for the relying party's http.Client (nil without
// Options.MutualTLS).
func (p *Provider) MutualTLSRoots() *x509.CertPool {
	if p.tlsCert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.tlsCert)
	return pool
}

// mutualTLSAliases are the mtls_endpoint_aliases of the discovery
// document.
func (p *Provider) mutualTLSAliases() map[string]string {
	return map[string]string{"token_endpoint": p.tlsBase + "/token", "userinfo_endpoint": p.tlsBase + "/userinfo",
		"device_authorization_endpoint":         p.tlsBase + "/device_authorization",
		"pushed_authorization_request_endpoint": p.tlsBase + "/par"}
}

// authenticateCertificate checks the TLS client certificate of a request
// that carries only client_id: against the client's registered
// Certificates (self_signed_tls_client_auth) or, for a client with a
// TLSSubject, a chain to Options.ClientCAs with that subject
// (tls_client_auth).
func (p *Provider) authenticateCertificate(r *http.Request) (string, bool) {
	id := r.PostForm.Get("client_id")
	p.mu.Lock()
	client, known := p.clients[id]
	p.mu.Unlock()
	method, err := "self_signed_tls_client_auth", error(nil)
	if client.TLSSubject != "" {
		method = "tls_client_auth"
	}
	switch {
	case !known:
		err = fmt.Errorf("unknown client %q", id)
	case r.TLS == nil || len(r.TLS.PeerCertificates) == 0:
		err = errors.New("no client certificate: the request did not use the mtls_endpoint_aliases")
	case method == "tls_client_auth":
		err = p.verifyChain(r.TLS.PeerCertificates, client.TLSSubject)
	default:
		leaf := r.TLS.PeerCertificates[0]
		switch {
		case !slices.ContainsFunc(client.Certificates, func(c *x509.Certificate) bool { return bytes.Equal(c.Raw, leaf.Raw) }):
			err = fmt.Errorf("the certificate %q is not one the client registered", leaf.Subject)
		case p.now().After(leaf.NotAfter) || p.now().Before(leaf.NotBefore):
			err = fmt.Errorf("the certificate %q is not valid now", leaf.Subject)
		}
	}
	return p.recordAuth(id, method, err)
}

// verifyChain checks certs against Options.ClientCAs for client
// authentication, and the leaf's subject against subject.
func (p *Provider) verifyChain(certs []*x509.Certificate, subject string) error {
	if p.opts.ClientCAs == nil {
		return errors.New("tls_client_auth needs Options.ClientCAs")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: p.opts.ClientCAs, Intermediates: inter,
		CurrentTime: p.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return fmt.Errorf("the certificate chain: %v", err)
	}
	if got := certs[0].Subject.String(); got != subject {
		return fmt.Errorf("the certificate's subject %q is not the registered %q", got, subject)
	}
	return nil
}

// boundTo is the x5t#S256 that r's access tokens are bound to: its client
// certificate's with Options.CertificateBoundTokens, else "".
func (p *Provider) boundTo(r *http.Request) string {
	if !p.opts.CertificateBoundTokens || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
