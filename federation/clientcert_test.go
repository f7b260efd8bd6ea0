package federation_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// certificate issues a client certificate for key with subject cn, signed
// by parent's key (self-signed when parent is nil), valid from an hour ago
// for life.
func certificate(t *testing.T, key crypto.Signer, cn string, parent *x509.Certificate, parentKey crypto.Signer,
	life time.Duration) *x509.Certificate {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"Acme"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(life),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true,
		IsCA: parent == nil && cn == "Acme CA", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// certFile writes certs as a PEM file.
func certFile(t *testing.T, certs ...*x509.Certificate) string {
	t.Helper()
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	path := filepath.Join(t.TempDir(), "client.crt")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mutualTLSRP is a relying party whose client authenticates with method
// at a provider serving mutual TLS, configured by edit and registered as
// client.
func mutualTLSRP(t *testing.T, op federationtest.Options, edit func(pc *federation.ProviderConfig),
	client federationtest.Client) *rp {
	t.Helper()
	op.MutualTLS = true
	r := newRPWith(t, rpOptions{op: op, provider: func(pc *federation.ProviderConfig) {
		pc.ClientSecret = ""
		edit(pc)
	}})
	client.ID = "client-1"
	client.RedirectURIs = []string{r.srv.URL + "/auth/oauth/oidc:acme/callback"}
	r.op.AddClient(client)
	return r
}

func TestSelfSignedTLSClientAuth(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := certificate(t, key, "client-1", nil, nil, 90*24*time.Hour)
	r := mutualTLSRP(t, federationtest.Options{TokenAuthMethods: []string{"self_signed_tls_client_auth"},
		ProfileInUserinfoOnly: true, CertificateBoundTokens: true}, func(pc *federation.ProviderConfig) {
		pc.TokenEndpointAuthMethod = "self_signed_tls_client_auth"
		pc.ClientKeyFile, pc.ClientCertificateFile = keyFile(t, key), certFile(t, cert)
	}, federationtest.Client{Certificates: []*x509.Certificate{cert}})
	signsIn(t, r)
	// The token request went to the TLS alias with the certificate (the
	// provider refuses it anywhere else), and userinfo too: the profile
	// is served only there, for an access token bound to the certificate
	// only over a connection that presents it.
	if seen := r.op.TokenAuthMethodsSeen(); len(seen) != 1 || seen[0] != "self_signed_tls_client_auth" {
		t.Fatalf("the provider saw %v", seen)
	}
	r.mu.Lock()
	l := r.logins[0]
	r.mu.Unlock()
	if l.Result.User.Email != "alice@example.com" || l.Result.User.Name != "Alice A" {
		t.Fatalf("user %+v: userinfo did not answer", l.Result.User)
	}
	// A refresh authenticates the same way.
	p, _ := r.reg.Lookup("oidc:acme")
	if _, err := p.Refresh(t.Context(), l.Result.Tokens); err != nil {
		t.Fatalf("refresh: %v (the provider said %q)", err, r.op.LastAuthError())
	}
	// The certificate is published with the key, as providers that take
	// a jwks_uri for self-signed certificates want (x5c).
	_, body := call(t, r.srv.URL+"/auth/oauth/oidc:acme/jwks")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil || len(set.Keys) != 1 || len(set.Keys[0].Certificates) != 1 ||
		!set.Keys[0].Certificates[0].Equal(cert) || !set.Keys[0].IsPublic() {
		t.Fatalf("jwks %s", body)
	}
}

// TestTLSClientAuth: a certificate from a CA the provider trusts, matched
// by its subject; the key and chain are given in code.
func TestTLSClientAuth(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := certificate(t, caKey, "Acme CA", nil, nil, 365*24*time.Hour)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	cert := certificate(t, key, "client-1", ca, caKey, 90*24*time.Hour)
	ck, err := federation.NewClientCertificate(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}, "")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	r := mutualTLSRP(t, federationtest.Options{TokenAuthMethods: []string{"tls_client_auth"}, ClientCAs: pool},
		func(pc *federation.ProviderConfig) { pc.TokenEndpointAuthMethod, pc.ClientKey = "tls_client_auth", ck },
		federationtest.Client{TLSSubject: "CN=client-1,O=Acme"})
	signsIn(t, r)
	if seen := r.op.TokenAuthMethodsSeen(); seen[0] != "tls_client_auth" {
		t.Fatalf("the provider saw %v", seen)
	}
}

// TestWrongClientCertificateIsRefused: a certificate the provider does
// not know, and one for another subject, end the sign-in with
// invalid_client, the provider saying why.
func TestWrongClientCertificateIsRefused(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	registered := certificate(t, key, "client-1", nil, nil, 90*24*time.Hour)
	other := certificate(t, key, "client-1", nil, nil, 90*24*time.Hour) // same key, another certificate
	r := mutualTLSRP(t, federationtest.Options{TokenAuthMethods: []string{"self_signed_tls_client_auth"}},
		func(pc *federation.ProviderConfig) {
			pc.TokenEndpointAuthMethod = "self_signed_tls_client_auth"
			pc.ClientKeyFile, pc.ClientCertificateFile = keyFile(t, key), certFile(t, other)
		}, federationtest.Client{Certificates: []*x509.Certificate{registered}})
	refused(t, r, "is not one the client registered")

	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := certificate(t, caKey, "Acme CA", nil, nil, 365*24*time.Hour)
	cert := certificate(t, key, "client-2", ca, caKey, 90*24*time.Hour)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	r = mutualTLSRP(t, federationtest.Options{TokenAuthMethods: []string{"tls_client_auth"}, ClientCAs: pool},
		func(pc *federation.ProviderConfig) {
			pc.TokenEndpointAuthMethod = "tls_client_auth"
			pc.ClientKeyFile, pc.ClientCertificateFile = keyFile(t, key), certFile(t, cert)
		}, federationtest.Client{TLSSubject: "CN=client-1,O=Acme"})
	refused(t, r, `subject "CN=client-2,O=Acme" is not the registered`)
}

// refused signs in and wants invalid_client at the callback, the
// provider's reason containing why, and the relying party's log saying
// what to check.
func refused(t *testing.T, r *rp, why string) {
	t.Helper()
	resp := r.signIn(newBrowser(t), "/next")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("error") != string(federation.CodeInvalidClient) || !strings.Contains(r.op.LastAuthError(), why) {
		t.Fatalf("sign-in ended at %q; the provider said %q, want %q", loc, r.op.LastAuthError(), why)
	}
	if !strings.Contains(r.logs.String(), "did not accept the client's credentials for the sign-in: check tokenEndpointAuthMethod") {
		t.Fatalf("the log does not say what to check:\n%s", r.logs)
	}
}

// assertionRecorder records each client assertion sent, and may replace
// the next one with an earlier one.
type assertionRecorder struct {
	mu     sync.Mutex
	sent   []string
	replay bool
}

func (a *assertionRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.Body != nil {
		body, _ := io.ReadAll(req.Body)
		form, _ := url.ParseQuery(string(body))
		if as := form.Get("client_assertion"); as != "" {
			a.mu.Lock()
			if a.replay && len(a.sent) > 0 {
				form.Set("client_assertion", a.sent[0])
				body = []byte(form.Encode())
			} else {
				a.sent = append(a.sent, as)
			}
			a.mu.Unlock()
		}
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		req.ContentLength = int64(len(body))
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestAssertionRejections: what the provider refuses in an assertion is
// invalid_client at the callback, with a log that says what to check.
func TestAssertionRejections(t *testing.T) {
	t.Run("a reused jti", func(t *testing.T) {
		rec := &assertionRecorder{}
		ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ck, _ := federation.NewClientKey(ecKey, "")
		r := newRPWith(t, rpOptions{op: federationtest.Options{TokenAuthMethods: assertionMethods},
			opts:     []federation.Option{federation.WithHTTPClient(&http.Client{Transport: rec})},
			provider: func(pc *federation.ProviderConfig) { pc.TokenEndpointAuthMethod, pc.ClientKey = "private_key_jwt", ck }})
		r.op.AddClient(federationtest.Client{ID: "client-1", Keys: []jose.JSONWebKey{ck.Public()},
			RedirectURIs: []string{r.srv.URL + "/auth/oauth/oidc:acme/callback"}})
		signsIn(t, r)
		rec.mu.Lock()
		rec.replay = true
		rec.mu.Unlock()
		refused(t, r, "was used before")
	})
	// An RP whose client signs with a new EC key, at a provider with
	// options op.
	ecRP := func(t *testing.T, op federationtest.Options, edit func(pc *federation.ProviderConfig)) *rp {
		ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ck, _ := federation.NewClientKey(ecKey, "")
		op.TokenAuthMethods = assertionMethods
		r := newRPWith(t, rpOptions{op: op, provider: func(pc *federation.ProviderConfig) {
			pc.TokenEndpointAuthMethod, pc.ClientKey = "private_key_jwt", ck
			if edit != nil {
				edit(pc)
			}
		}})
		r.op.AddClient(federationtest.Client{ID: "client-1", Keys: []jose.JSONWebKey{ck.Public()},
			RedirectURIs: []string{r.srv.URL + "/auth/oauth/oidc:acme/callback"}})
		return r
	}
	t.Run("an audience the provider does not take", func(t *testing.T) {
		// The provider wants the issuer; the client sends the default,
		// the token endpoint.
		r := ecRP(t, federationtest.Options{AssertionAudience: "issuer"}, nil)
		refused(t, r, "is not the issuer")
	})
	t.Run("an algorithm the provider does not take", func(t *testing.T) {
		// The provider lists no algorithms, so the client signs ES256 for
		// its EC key; the provider takes only RS256.
		r := ecRP(t, federationtest.Options{AssertionAlgs: []string{"RS256"}}, nil)
		r.op.Misbehave(federationtest.Misbehavior{Discovery: func(doc map[string]any) {
			delete(doc, "token_endpoint_auth_signing_alg_values_supported")
		}})
		refused(t, r, "alg ES256 is not among the accepted [RS256]")
	})
	t.Run("a key the provider does not know", func(t *testing.T) {
		r := ecRP(t, federationtest.Options{}, func(pc *federation.ProviderConfig) {
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			pc.ClientKey, _ = federation.NewClientKey(other, "")
		})
		refused(t, r, "no key of the client verifies it")
	})
}

// TestAssertionCarriesCertificateThumbprints: with clientCertificateFile,
// private_key_jwt assertions name the certificate by x5t#S256 and x5t,
// as Microsoft Entra ID's certificate credentials want; an RSA key signs
// PS256 at a provider that takes only that.
func TestAssertionCarriesCertificateThumbprints(t *testing.T) {
	rec := &assertionRecorder{}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	cert := certificate(t, key, "client-1", nil, nil, 90*24*time.Hour)
	r := newRPWith(t, rpOptions{op: federationtest.Options{TokenAuthMethods: assertionMethods, AssertionAlgs: []string{"PS256"}},
		opts: []federation.Option{federation.WithHTTPClient(&http.Client{Transport: rec})},
		provider: func(pc *federation.ProviderConfig) {
			pc.TokenEndpointAuthMethod = "private_key_jwt"
			pc.ClientKeyFile, pc.ClientCertificateFile = keyFile(t, key), certFile(t, cert)
		}})
	ck, _ := federation.NewClientKey(key, "")
	r.op.AddClient(federationtest.Client{ID: "client-1", Keys: []jose.JSONWebKey{ck.Public()},
		RedirectURIs: []string{r.srv.URL + "/auth/oauth/oidc:acme/callback"}})
	signsIn(t, r)
	jws, err := jose.ParseSigned(rec.sent[0], []jose.SignatureAlgorithm{jose.PS256})
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Protected
	s256, s1 := sha256.Sum256(cert.Raw), sha1.Sum(cert.Raw)
	if h.ExtraHeaders["x5t#S256"] != base64.RawURLEncoding.EncodeToString(s256[:]) ||
		h.ExtraHeaders["x5t"] != base64.RawURLEncoding.EncodeToString(s1[:]) || h.KeyID != ck.KeyID() {
		t.Fatalf("header %+v", h)
	}
}

// TestClientCertificateRules: each certificate problem is a *ConfigError
// naming the field.
func TestClientCertificateRules(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := certificate(t, key, "client-1", nil, nil, time.Hour)
	notPEM := filepath.Join(t.TempDir(), "x.crt")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(key.Public())
	pubFile := filepath.Join(t.TempDir(), "pub.pem")
	os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600)
	for _, tc := range []struct {
		name, method, keyFile, certFile, field, want string
		is                                           error
	}{
		{"a certificate for another key", "self_signed_tls_client_auth", keyFile(t, otherKey), certFile(t, cert),
			"clientCertificateFile", "the certificate's public key is not the client key's", federation.ErrCertificateKeyMismatch},
		{"mutual TLS without a certificate", "tls_client_auth", keyFile(t, key), "", "clientCertificateFile",
			`is required for tokenEndpointAuthMethod "tls_client_auth" (or NewClientCertificate in code)`, nil},
		{"a certificate file that is not PEM", "private_key_jwt", keyFile(t, key), notPEM, "clientCertificateFile",
			"no PEM certificate in the file", nil},
		{"a key file as the certificate", "private_key_jwt", keyFile(t, key), keyFile(t, key), "clientCertificateFile",
			`a "PRIVATE KEY" PEM block; want CERTIFICATE blocks`, nil},
		{"an RSA key under 2048 bits", "private_key_jwt", keyFile(t, small), "", "clientKeyFile",
			"an RSA key of 1024 bits; want 2048 or more", nil},
		{"an EC key off P-256", "private_key_jwt", keyFile(t, p384), "", "clientKeyFile",
			"an EC key on P-384; want P-256", nil},
		{"a public key where the private key belongs", "tls_client_auth", pubFile, certFile(t, cert), "clientKeyFile",
			`a "PUBLIC KEY" PEM block; want PRIVATE KEY`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := federation.Config{Providers: map[string]federation.ProviderConfig{"acme": {
				Issuer: "https://idp.example.com", ClientID: "c", TokenEndpointAuthMethod: tc.method,
				ClientKeyFile: tc.keyFile, ClientCertificateFile: tc.certFile}}}.Validate()
			ce, ok := errors.AsType[*federation.ConfigError](err)
			if !ok || ce.Field != tc.field || !strings.Contains(ce.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("Validate = %v, want %s: %s", err, tc.field, tc.want)
			}
		})
	}
	if _, err := federation.NewClientCertificate(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: otherKey}, ""); !errors.Is(err, federation.ErrCertificateKeyMismatch) {
		t.Fatalf("NewClientCertificate with another key: %v", err)
	}
}

// TestCheckWarnsOfExpiringCertificate: Check warns of an expired client
// certificate and of one that expires within 30 days.
func TestCheckWarnsOfExpiringCertificate(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		life        time.Duration
		status, has string
	}{
		{-time.Minute, federation.CheckWarn, "expired at"},
		{10 * 24 * time.Hour, federation.CheckWarn, "expires in 9 days"},
		{90 * 24 * time.Hour, federation.CheckOK, "valid until"},
	} {
		cert := certificate(t, key, "client-1", nil, nil, tc.life)
		r := mutualTLSRP(t, federationtest.Options{TokenAuthMethods: []string{"self_signed_tls_client_auth"}},
			func(pc *federation.ProviderConfig) {
				pc.TokenEndpointAuthMethod = "self_signed_tls_client_auth"
				pc.ClientKeyFile, pc.ClientCertificateFile = keyFile(t, key), certFile(t, cert)
			}, federationtest.Client{Certificates: []*x509.Certificate{cert}})
		got := checkNamed(t, r, "client_certificate")
		if got.Status != tc.status || !strings.Contains(got.Detail, tc.has) {
			t.Errorf("a certificate valid for %v: check %+v, want %s %q", tc.life, got, tc.status, tc.has)
		}
		// An expired certificate is also a warning in the log at start-up.
		if warned := strings.Contains(r.logs.String(), "level=WARN msg=\"federation: client certificate not valid now\""); warned != (tc.life < 0) {
			t.Errorf("a certificate valid for %v: warned at start-up: %v", tc.life, warned)
		}
	}
}

// TestDeviceFlowWithClientCredentials: the device flow's two requests
// authenticate as the token endpoint does, with an assertion and with a
// client certificate at the aliases.
func TestDeviceFlowWithClientCredentials(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := certificate(t, key, "client-1", nil, nil, 90*24*time.Hour)
	ck, _ := federation.NewClientKey(key, "")
	for _, method := range []string{"private_key_jwt", "self_signed_tls_client_auth"} {
		t.Run(method, func(t *testing.T) {
			op := federationtest.New(t, federationtest.Options{TokenAuthMethods: []string{method}, MutualTLS: true})
			op.AddUser(alice)
			op.AddClient(federationtest.Client{ID: "cli", Keys: []jose.JSONWebKey{ck.Public()},
				Certificates: []*x509.Certificate{cert}})
			res := deviceSignIn(t, op, federation.ProviderConfig{Issuer: op.Issuer(), ClientID: "cli",
				TokenEndpointAuthMethod: method, ClientKeyFile: keyFile(t, key), ClientCertificateFile: certFile(t, cert)},
				federation.WithHTTPClient(&http.Client{Transport: &http.Transport{
					TLSClientConfig: &tls.Config{RootCAs: op.MutualTLSRoots()}}}))
			if res.User.Subject != "alice" {
				t.Fatalf("user %+v", res.User)
			}
			if seen := op.TokenAuthMethodsSeen(); len(seen) != 2 || seen[0] != method || seen[1] != method {
				t.Fatalf("the provider saw %v, want %s twice", seen, method)
			}
		})
	}
}

// deviceSignIn runs a device flow at op with pc as provider "acme",
// alice approving at once, and returns its result.
func deviceSignIn(t *testing.T, op *federationtest.Provider, pc federation.ProviderConfig,
	opts ...federation.Option) *federation.Result {
	t.Helper()
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{"acme": pc}},
		append(opts, federation.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }))...)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Lookup("oidc:acme")
	d, err := p.StartDevice(t.Context())
	if err != nil {
		t.Fatalf("start: %v (the provider said %q)", err, op.LastAuthError())
	}
	if err := op.ApproveDevice(d.UserCode, "alice"); err != nil {
		t.Fatal(err)
	}
	res, err := p.PollDevice(t.Context(), d)
	if err != nil {
		t.Fatalf("poll: %v (the provider said %q)", err, op.LastAuthError())
	}
	return res
}

// roundTripper is an http.RoundTripper that is not an *http.Transport.
type roundTripper struct{}

func (roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	return http.DefaultTransport.RoundTrip(r)
}

// TestMutualTLSNeedsATransport: with an HTTP client whose transport is not
// an *http.Transport, which cannot be given the certificate, a mutual-TLS
// client's sign-in fails at the start (never at the callback) and Check
// says why.
func TestMutualTLSNeedsATransport(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := certificate(t, key, "client-1", nil, nil, 90*24*time.Hour)
	r := newRPWith(t, rpOptions{op: federationtest.Options{TokenAuthMethods: []string{"self_signed_tls_client_auth"}},
		opts: []federation.Option{federation.WithHTTPClient(&http.Client{Transport: roundTripper{}})},
		provider: func(pc *federation.ProviderConfig) {
			pc.ClientSecret, pc.TokenEndpointAuthMethod = "", "self_signed_tls_client_auth"
			pc.ClientKeyFile, pc.ClientCertificateFile = keyFile(t, key), certFile(t, cert)
		}})
	if code, _ := status(t, r.srv.URL+"/auth/oauth/oidc:acme"); code != http.StatusBadGateway ||
		r.errs.count(federation.ErrClientTransport) == 0 {
		t.Fatalf("start answered %d, want 502 with ErrClientTransport logged", code)
	}
	if c := checkNamed(t, r, "token_endpoint_auth"); c.Status != federation.CheckFail ||
		!strings.Contains(c.Detail, "mutual TLS needs the registry's HTTP client to use an *http.Transport") {
		t.Fatalf("Check said %+v", c)
	}
}

// TestClientCertificateNeverPrints: a key with its certificate prints,
// formats and logs as its kid only.
func TestClientCertificateNeverPrints(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := certificate(t, key, "client-1", nil, nil, time.Hour)
	ck, err := federation.NewClientCertificate(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}, "kid-2")
	if err != nil || !ck.Certificate().Equal(cert) {
		t.Fatalf("NewClientCertificate: %v", err)
	}
	pc := federation.ProviderConfig{Issuer: "https://idp.example.com", ClientID: "c",
		TokenEndpointAuthMethod: "tls_client_auth", ClientKey: ck}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "provider", pc, "key", ck)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "provider", pc, "key", ck)
	d := key.D.String()[:20]
	for _, s := range []string{fmt.Sprintf("%v", pc), fmt.Sprintf("%+v", pc), fmt.Sprintf("%#v", pc),
		fmt.Sprint(ck), fmt.Sprintf("%#v", ck), fmt.Sprintf("%+v", *ck), logged.String()} {
		if strings.Contains(s, d) || !strings.Contains(s, "[client key kid-2]") {
			t.Fatalf("printed %s", s)
		}
	}
}

// checkNamed runs the handler's Check and returns its result called name.
func checkNamed(t *testing.T, r *rp, name string) federation.CheckResult {
	t.Helper()
	for _, rep := range r.h.Check(t.Context()) {
		for _, c := range rep.Checks {
			if c.Name == name {
				return c
			}
		}
	}
	t.Fatalf("Check has no %s result", name)
	return federation.CheckResult{}
}
