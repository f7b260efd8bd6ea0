package federation

import (
	"errors"
	"testing"

	"github.com/oidcfed/oidcfed/claims"
)

// The Google preset's issuer cannot be served on loopback, so hostedDomain
// is checked here on claims; the flow tests run the same check through
// Provider.result for allowedTenants and allowedEmailDomains.
func TestHostedDomainIsEnforcedOnTheHDClaim(t *testing.T) {
	reg, err := NewRegistry(Config{Providers: map[string]ProviderConfig{"ws": {Preset: "google", HostedDomain: "example.com",
		ClientID: "c", ClientSecret: "s"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Lookup("oidc:ws")
	if p.cfg.AuthParams["hd"] != "example.com" {
		t.Fatalf("authParams = %v, want hd sent", p.cfg.AuthParams)
	}
	user := claims.User{Subject: "1", Email: "a@example.com", EmailVerified: true}
	if err := p.checkIdentity(map[string]any{"hd": "example.com"}, user); err != nil {
		t.Fatalf("the workspace account: %v", err)
	}
	for name, c := range map[string]map[string]any{
		"a consumer account (no hd)":  {},
		"another workspace":           {"hd": "example.org"},
		"a subdomain":                 {"hd": "eu.example.com"},
		"hd of another type":          {"hd": true},
		"an email in the domain only": {"email": "a@example.com"},
	} {
		err := p.checkIdentity(c, user)
		var fe *Error
		if !errors.Is(err, ErrHostedDomain) || !errors.As(err, &fe) || fe.Code != CodeAccessDenied {
			t.Errorf("%s: %v, want access_denied with ErrHostedDomain", name, err)
		}
	}
}

// TestNeedsUserinfo: userinfo is called for a claim that the scopes
// promise or that the config maps, when the ID token lacks it; never for
// a preset's default mapping of a claim the provider keeps out of ID
// tokens (Keycloak's realm_access.roles).
func TestNeedsUserinfo(t *testing.T) {
	complete := map[string]any{"sub": "u", "email": "u@example.com", "name": "U"}
	for _, tc := range []struct {
		name string
		pc   ProviderConfig
		want bool
	}{
		{"keycloak's default roles claim", ProviderConfig{Preset: "keycloak", Issuer: "https://sso.example.com/realms/staff"}, false},
		{"a configured roles claim", ProviderConfig{Issuer: "https://idp.example.com", Claims: claims.Mapping{Roles: "app_roles"}}, true},
		{"a configured groups claim", ProviderConfig{Issuer: "https://idp.example.com", Claims: claims.Mapping{Groups: "teams"}}, true},
		{"nothing mapped beyond the scopes", ProviderConfig{Issuer: "https://idp.example.com"}, false},
	} {
		tc.pc.ClientID, tc.pc.ClientSecret = "c", "s"
		reg, err := NewRegistry(Config{Providers: map[string]ProviderConfig{"p": tc.pc}})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := reg.Lookup("oidc:p")
		if got := p.needsUserinfo(complete); got != tc.want {
			t.Errorf("%s: needsUserinfo = %t, want %t", tc.name, got, tc.want)
		}
	}
}
