package federation_test

import (
	"errors"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// userinfoBearerBody mirrors the RP module
// oidcc-client-test-userinfo-bearer-body (TestConformance): at a provider
// that takes the access token only in a form body, userinfoTokenInBody
// sends it there, and the profile comes from userinfo; the header is
// refused there, and the option does not go with dpop.
func userinfoBearerBody(t *testing.T) {
	t.Run("the body", func(t *testing.T) {
		r := newRPWith(t, rpOptions{op: federationtest.Options{UserinfoBodyOnly: true, ProfileInUserinfoOnly: true},
			provider: func(pc *federation.ProviderConfig) { pc.UserinfoTokenInBody = true }})
		signsIn(t, r)
		r.mu.Lock()
		u := r.logins[0].Result.User
		r.mu.Unlock()
		if u.Email != "alice@example.com" {
			t.Fatalf("user %+v: userinfo did not answer", u)
		}
	})
	t.Run("the header at a provider that demands the body is refused", func(t *testing.T) {
		r := newRP(t, federationtest.Options{UserinfoBodyOnly: true, ProfileInUserinfoOnly: true})
		if resp := r.signIn(newBrowser(t), "/next"); r.loginCount() != 0 || resp.Header.Get("Location") == "/next" {
			t.Fatal("the sign-in passed without userinfo")
		}
	})
	err := federation.Config{Providers: map[string]federation.ProviderConfig{"a": {Issuer: "https://idp.example.com",
		ClientID: "c", ClientSecret: "s", UserinfoTokenInBody: true, DPoP: true}}}.Validate()
	if ce, ok := errors.AsType[*federation.ConfigError](err); !ok || ce.Field != "userinfoTokenInBody" {
		t.Fatalf("userinfoTokenInBody with dpop: %v", err)
	}
}
