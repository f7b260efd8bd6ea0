package interop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
)

// TestAuthorizationRequests signs in at oidc-provider with the request
// pushed (PAR, RFC 9126: "auto" at a provider that offers it, and
// "required"), as a signed request object by value (RFC 9101), and as a
// signed request object pushed. Each checks what the browser's URL carried
// and that the provider's PAR endpoint was (or was not) called.
func TestAuthorizationRequests(t *testing.T) {
	rp := newRP(t)
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	ck := must(federation.NewClientKey(key, ""))
	secret := func(id string) string { return "secret-" + id + "-0123456789" }
	ids := []string{"par-auto", "par-required", "jar", "jar-par"}
	op := startOIDCProvider(t, rp.base, true, 0, func(cfg map[string]any) {
		for _, id := range ids {
			c := map[string]any{"client_id": id, "client_secret": secret(id),
				"redirect_uris":  []string{rp.base + "/auth/oauth/" + federation.Key(id) + "/callback"},
				"grant_types":    []string{"authorization_code"},
				"response_types": []string{"code"},
				// The request objects are verified with the keys at the
				// relying party's JWKS route.
				"jwks_uri": rp.base + "/auth/oauth/" + federation.Key(id) + "/jwks"}
			if strings.HasPrefix(id, "jar") {
				c["request_object_signing_alg"] = "ES256"
			}
			cfg["clients"] = append(cfg["clients"].([]map[string]any), c)
		}
	})
	providers := map[string]federation.ProviderConfig{}
	for _, id := range ids {
		pc := federation.ProviderConfig{Issuer: op.proc.issuer, ClientID: id, ClientSecret: federation.Secret(secret(id)),
			Scopes: []string{"openid", "email", "profile", "groups"}, ClientKey: ck}
		switch id {
		case "par-auto":
			pc.PushedAuthorization, pc.ClientKey = "auto", nil
		case "par-required":
			pc.PushedAuthorization, pc.ClientKey = "required", nil
		case "jar":
			pc.RequestObject = "signed"
		case "jar-par":
			pc.RequestObject, pc.PushedAuthorization = "signed", "required"
		}
		providers[id] = pc
	}
	rp.serve(providers, federation.BearerConfig{})
	par := op.proc.issuer + "/request"

	for _, tc := range []struct {
		id     string
		params []string // of the browser's authorization URL
		pushed bool
	}{
		{"par-auto", []string{"client_id", "request_uri"}, true},
		{"par-required", []string{"client_id", "request_uri"}, true},
		{"jar", []string{"client_id", "request", "response_type", "scope"}, false},
		{"jar-par", []string{"client_id", "request_uri"}, true},
	} {
		t.Run(tc.id, func(t *testing.T) {
			before := len(rp.requests(par))
			b := newBrowser(t)
			login, _ := rp.signIn(b, federation.Key(tc.id), op.fill)
			wantUser(t, login.Result.User, op.user, tc.id, op.proc.issuer)
			var first *url.URL
			for _, u := range b.visited {
				if strings.HasPrefix(u.String(), op.proc.issuer+"/auth") {
					first = u
					break
				}
			}
			if first == nil {
				t.Fatal("the browser never reached the authorization endpoint")
			}
			var got []string
			for k := range first.Query() {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.params) {
				t.Errorf("the authorization URL carried %v, want %v", got, tc.params)
			}
			if pushed := len(rp.requests(par)) > before; pushed != tc.pushed {
				t.Errorf("pushed to %s: %v, want %v", par, pushed, tc.pushed)
			}
		})
	}
}

// TestStepUp: with a session at oidc-provider, a plain sign-in shows no
// form; a step-up with prompt=login, or with a max_age the session is
// older than, shows the login form again, and the ID token's auth_time
// (Result.Authentication) is the new authentication.
func TestStepUp(t *testing.T) {
	rp, op := setUp(t, oidcProvider, true)
	b := newBrowser(t)
	key := federation.Key(op.plain)
	began := time.Now().Truncate(time.Second)
	rp.signIn(b, key, op.fill)
	if _, forms := rp.signIn(b, key, op.fill); len(forms) != 0 {
		t.Fatalf("a plain second sign-in showed forms %v", forms)
	}
	time.Sleep(2100 * time.Millisecond) // auth_time has whole seconds
	for _, q := range []string{"prompt=login", "max_age=1"} {
		login, forms := rp.signInAt(b, rp.base+"/step-up/"+key+"?"+q, key, op.fill)
		if len(forms) != 1 { // the login form; consent was given at the first sign-in
			t.Errorf("%s: forms %v, want the login form again", q, forms)
		}
		if at := login.Result.Authentication.AuthTime; !at.After(began) {
			t.Errorf("%s: auth_time %s, not after the first sign-in (%s)", q, at, began)
		}
		time.Sleep(2100 * time.Millisecond)
	}
}
