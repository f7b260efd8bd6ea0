package interop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/federation"
)

// TestClientAuthentication signs in at oidc-provider with the client
// authentication methods that send no shared secret: private_key_jwt
// (RS256 with the keys fetched from the relying party's JWKS route, ES256
// with a key registered inline and held in code), client_secret_jwt, and
// self_signed_tls_client_auth over oidc-provider's mutual-TLS listener;
// refresh and the device flow with private_key_jwt.
func TestClientAuthentication(t *testing.T) {
	rp := newRP(t)
	rsaKey := must(rsa.GenerateKey(rand.Reader, 2048))
	ecKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tlsKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tlsCert := selfSigned(t, tlsKey, "pkix-client", x509.ExtKeyUsageClientAuth)
	serverKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	serverCert := selfSigned(t, serverKey, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	secret := rand.Text() + rand.Text() // 52 bytes: HS256 wants 32 or more

	ecClient := must(federation.NewClientKey(ecKey, ""))
	ecJWK := ecClient.Public()
	jwksRoute := func(id string) string { return rp.base + "/auth/oauth/" + federation.Key(id) + "/jwks" }
	client := func(id, method string, extra map[string]any) map[string]any {
		c := map[string]any{"client_id": id, "token_endpoint_auth_method": method,
			"redirect_uris":  []string{rp.base + "/auth/oauth/" + federation.Key(id) + "/callback"},
			"grant_types":    []string{"authorization_code", "refresh_token"},
			"response_types": []string{"code"}}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	op := startOIDCProvider(t, rp.base, false, 0, func(cfg map[string]any) {
		cfg["clients"] = append(cfg["clients"].([]map[string]any),
			client("pkjwt-rs256", "private_key_jwt", map[string]any{"jwks_uri": jwksRoute("pkjwt-rs256"),
				"token_endpoint_auth_signing_alg": "RS256",
				"grant_types": []string{"authorization_code", "refresh_token",
					"urn:ietf:params:oauth:grant-type:device_code"}}),
			client("pkjwt-es256", "private_key_jwt", map[string]any{"jwks": jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ecJWK}},
				"token_endpoint_auth_signing_alg": "ES256"}),
			client("csjwt", "client_secret_jwt", map[string]any{"client_secret": secret}),
			client("mtls", "self_signed_tls_client_auth", map[string]any{"jwks_uri": jwksRoute("mtls")}),
		)
		cfg["mtls"] = map[string]string{"key": pemKey(t, serverKey), "cert": pemCert(serverCert)}
	})

	scopes := []string{"openid", "email", "profile", "groups"}
	dir := t.TempDir()
	write := func(name, data string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	providers := map[string]federation.ProviderConfig{
		"pkjwt-rs256": {Issuer: op.proc.issuer, ClientID: "pkjwt-rs256", Scopes: scopes,
			TokenEndpointAuthMethod: "private_key_jwt", ClientKeyFile: write("rsa.pem", pemKey(t, rsaKey))},
		"pkjwt-es256": {Issuer: op.proc.issuer, ClientID: "pkjwt-es256", Scopes: scopes,
			TokenEndpointAuthMethod: "private_key_jwt", ClientKey: ecClient},
		"csjwt": {Issuer: op.proc.issuer, ClientID: "csjwt", Scopes: scopes,
			TokenEndpointAuthMethod: "client_secret_jwt", ClientSecret: federation.Secret(secret)},
		"mtls": {Issuer: op.proc.issuer, ClientID: "mtls", Scopes: scopes,
			TokenEndpointAuthMethod: "self_signed_tls_client_auth",
			ClientKeyFile:           write("tls.pem", pemKey(t, tlsKey)), ClientCertificateFile: write("tls.crt", pemCert(tlsCert))},
	}
	roots := x509.NewCertPool()
	roots.AddCert(serverCert)
	// Mutual TLS needs an *http.Transport, which this one is: it trusts
	// the provider's TLS listener.
	rp.client = &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	// The device flow is approved before the first poll: no wait needed.
	rp.options = []federation.Option{federation.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() })}
	rp.serve(providers, federation.BearerConfig{})

	for _, id := range []string{"pkjwt-rs256", "pkjwt-es256", "csjwt", "mtls"} {
		t.Run(id, func(t *testing.T) {
			login, _ := rp.signIn(newBrowser(t), federation.Key(id), op.fill)
			// The claims are at userinfo only (conformIdTokenClaims): for
			// mtls, userinfo was called at its alias too.
			wantUser(t, login.Result.User, op.user, id, op.proc.issuer)
		})
	}
	t.Run("refresh", func(t *testing.T) {
		login, _ := rp.signIn(newBrowser(t), federation.Key("pkjwt-rs256"), op.fill)
		got, err := rp.provider(federation.Key("pkjwt-rs256")).Refresh(t.Context(), login.Result.Tokens)
		if err != nil || got.AccessToken == "" || got.AccessToken == login.Result.Tokens.AccessToken {
			t.Fatalf("refresh: %v %v", got, err)
		}
	})
	t.Run("device", func(t *testing.T) {
		p := rp.provider(federation.Key("pkjwt-rs256"))
		d, err := p.StartDevice(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// The user approves at the provider's own pages: the user code
		// (filled in), the login, the consent.
		b := newBrowser(t)
		page := b.get(d.VerificationURIComplete)
		fill := map[string]string{"user_code": d.UserCode, "login": "alice", "password": "any"}
		for n := 0; page.firstForm() != nil; n++ {
			if n == 6 {
				t.Fatalf("more than 6 forms at %s", page.url.Redacted())
			}
			page = b.submit(page.firstForm(), fill)
		}
		res, err := p.PollDevice(t.Context(), d)
		if err != nil {
			t.Fatalf("poll: %v; last page %s: %s", err, page.url.Redacted(), page.snippet())
		}
		wantUser(t, res.User, op.user, "pkjwt-rs256", op.proc.issuer)
	})
}

// selfSigned is a certificate for key, valid for a day, for 127.0.0.1 and
// localhost.
func selfSigned(t *testing.T, key crypto.Signer, cn string, usage x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	serial := must(rand.Int(rand.Reader, big.NewInt(1<<62)))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	return must(x509.ParseCertificate(must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key))))
}

func pemKey(t *testing.T, key crypto.Signer) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))}))
}

func pemCert(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// must panics on err: for set-up that cannot fail with good arguments.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
