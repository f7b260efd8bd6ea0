package interop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/federation"
)

// opKind is one OpenID Provider implementation under test.
type opKind struct {
	name string
	// start runs the provider for the relying party at rpBase. With
	// claimsInIDToken the profile and email claims are in the ID token;
	// without, only at userinfo.
	start func(t *testing.T, rpBase string, claimsInIDToken bool) *runningOP
	// cannot lists the cases this provider cannot do, with the reason.
	cannot map[string]string
}

// runningOP is a started provider and what the RP needs to use it.
type runningOP struct {
	proc *process
	// restart stops the provider and starts it on the same port with new
	// signing keys.
	restart func(t *testing.T) *runningOP
	// providers configures the RP: the provider keys below name entries.
	providers map[string]federation.ProviderConfig
	plain     string // RS256, the provider's defaults
	es256     string // ID tokens signed with ES256 ("" if not offered)
	api       string // JWT access tokens for the bearer case
	apiScope  string // a scope the API requires, "" for none
	// rsaKID and ecKID are the signing key IDs, when the test chose them.
	rsaKID, ecKID string
	// fill is the login form; user is who signs in with it.
	fill       map[string]string
	user       claims.User
	unverified *signer // a user whose email is not verified, if any
	// issInResponse: the provider sends RFC 9207's iss on the redirect.
	issInResponse bool
}

// signer is a user who signs in through the login form.
type signer struct {
	fill map[string]string
	user claims.User
	// sendsFalse: the provider sends email_verified false rather than
	// leaving the claim out.
	sendsFalse bool
}

var zitadelBinary string

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("node"); err != nil {
		mustHave("node", "install Node.js 20 or later")
	}
	if _, err := os.Stat("node_modules/oidc-provider/package.json"); err != nil {
		mustHave("oidc-provider", "run `npm ci` in interop/")
	}
	dir, err := os.MkdirTemp("", "oidcfed-interop")
	if err != nil {
		panic(err)
	}
	zitadelBinary = filepath.Join(dir, "zitadel-op")
	if out, err := exec.Command("go", "build", "-o", zitadelBinary, "./zitadel-op").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building zitadel-op: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// oidcProvider is panva's oidc-provider, run by oidc-provider/server.mjs.
var oidcProvider = opKind{
	name: "oidc-provider",
	start: func(t *testing.T, rpBase string, claimsInIDToken bool) *runningOP {
		return startOIDCProvider(t, rpBase, claimsInIDToken, 0)
	},
	cannot: map[string]string{},
}

const apiResource = "https://api.interop.test"

// oidcProviderClient is the oidc-provider registration of the relying
// party's provider id at rpBase: client_secret_basic with the secret
// "secret-<id>-0123456789", its callback, back-channel logout (with sid)
// and post-logout URIs, the code flow and refresh; extra adds or replaces
// metadata.
func oidcProviderClient(rpBase, id string, extra map[string]any) map[string]any {
	c := map[string]any{
		"client_id": id, "client_secret": "secret-" + id + "-0123456789",
		"redirect_uris":             []string{rpBase + "/auth/oauth/" + federation.Key(id) + "/callback"},
		"post_logout_redirect_uris": []string{rpBase + "/"},
		"backchannel_logout_uri":    rpBase + "/auth/oauth/" + federation.Key(id) + "/backchannel-logout",
		// Puts sid in ID tokens and logout tokens.
		"backchannel_logout_session_required": true,
		"token_endpoint_auth_method":          "client_secret_basic",
		"grant_types":                         []string{"authorization_code", "refresh_token"},
		"response_types":                      []string{"code"},
	}
	maps.Copy(c, extra)
	return c
}

func startOIDCProvider(t *testing.T, rpBase string, claimsInIDToken bool, port int, more ...func(cfg map[string]any)) *runningOP {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKID, ecKID := "rs-"+rand.Text()[:8], "ec-"+rand.Text()[:8]
	client := func(id string, extra map[string]any) map[string]any { return oidcProviderClient(rpBase, id, extra) }
	cfg := map[string]any{
		"port": port,
		"keys": []jose.JSONWebKey{
			{Key: rsaKey, KeyID: rsaKID, Algorithm: "RS256", Use: "sig"},
			{Key: ecKey, KeyID: ecKID, Algorithm: "ES256", Use: "sig"},
		},
		"clients": []map[string]any{
			client("panva", nil),
			client("panva-es256", map[string]any{"id_token_signed_response_alg": "ES256"}),
			client("panva-api", map[string]any{"scope": "openid email profile groups api:read"}),
		},
		"conformIdTokenClaims": !claimsInIDToken,
		"apiResource":          apiResource,
	}
	for _, edit := range more {
		edit(cfg)
	}
	file := filepath.Join(t.TempDir(), "config.json")
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	proc := startProcess(t, "oidc-provider", exec.Command("node", "oidc-provider/server.mjs", file))

	providers := map[string]federation.ProviderConfig{}
	for _, id := range []string{"panva", "panva-es256", "panva-api"} {
		providers[id] = federation.ProviderConfig{Issuer: proc.issuer, ClientID: id,
			ClientSecret: federation.Secret("secret-" + id + "-0123456789"),
			Scopes:       []string{"openid", "email", "profile", "groups"}}
	}
	api := providers["panva-api"]
	api.Scopes = append(api.Scopes, "api:read")
	api.Audiences = []string{apiResource}
	providers["panva-api"] = api

	op := &runningOP{
		proc: proc, providers: providers,
		plain: "panva", es256: "panva-es256", api: "panva-api", apiScope: "api:read",
		rsaKID: rsaKID, ecKID: ecKID,
		fill: map[string]string{"login": "alice", "password": "any"},
		user: claims.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true,
			Name: "Alice Liddell", GivenName: "Alice", FamilyName: "Liddell", Groups: []string{"admins", "staff"}},
		unverified: &signer{fill: map[string]string{"login": "bob", "password": "any"},
			user: claims.User{Subject: "bob", Email: "bob@example.com", EmailVerified: false,
				Name: "Bob Builder", GivenName: "Bob", FamilyName: "Builder", Groups: []string{}},
			sendsFalse: true},
		issInResponse: true,
	}
	op.restart = func(t *testing.T) *runningOP {
		proc.stop(t)
		var port int
		fmt.Sscan(proc.port(), &port)
		return startOIDCProvider(t, rpBase, claimsInIDToken, port)
	}
	return op
}

// zitadel is the example OP of github.com/zitadel/oidc/v3, run by
// zitadel-op.
var zitadel = opKind{
	name: "zitadel",
	start: func(t *testing.T, rpBase string, claimsInIDToken bool) *runningOP {
		return startZitadel(t, rpBase, claimsInIDToken, "0")
	},
	cannot: map[string]string{
		"es256":              "the example OP signs only with RS256 (id_token_signing_alg_values_supported is [RS256])",
		"second-login":       "the example OP keeps no login session: every authorization request shows its login page",
		"backchannel-logout": "zitadel/oidc's OP library sends no back-channel logout tokens",
	},
}

func startZitadel(t *testing.T, rpBase string, claimsInIDToken bool, port string) *runningOP {
	t.Helper()
	proc := startProcess(t, "zitadel-op", exec.Command(zitadelBinary, "-port", port, "-base", rpBase))
	providers := map[string]federation.ProviderConfig{}
	for _, id := range []string{"zitadel", "zitadel-idtoken", "zitadel-api"} {
		// The example issues refresh tokens only for offline_access.
		providers[id] = federation.ProviderConfig{Issuer: proc.issuer, ClientID: id, ClientSecret: "secret",
			Scopes: []string{"openid", "email", "profile", "offline_access"}}
	}
	plain := "zitadel"
	if claimsInIDToken {
		plain = "zitadel-idtoken"
	}
	op := &runningOP{
		proc: proc, providers: providers, plain: plain, api: "zitadel-api",
		fill: map[string]string{"username": "test-user@127.0.0.1", "password": "verysecure"},
		user: claims.User{Subject: "id1", Email: "test-user@zitadel.ch", EmailVerified: true,
			Name: "Test User", GivenName: "Test", FamilyName: "User", PreferredUsername: "test-user@127.0.0.1", Locale: "de"},
		unverified: &signer{fill: map[string]string{"username": "unverified-user", "password": "verysecure"},
			user: claims.User{Subject: "id3", Email: "una@example.com", EmailVerified: false,
				Name: "Una Verified", GivenName: "Una", FamilyName: "Verified", PreferredUsername: "unverified-user", Locale: "en"}},
	}
	op.restart = func(t *testing.T) *runningOP {
		proc.stop(t)
		return startZitadel(t, rpBase, claimsInIDToken, proc.port())
	}
	return op
}
