package federation

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/claims"
)

const tenantA = "11111111-2222-3333-4444-555555555555"

func TestPresetsFillIssuerAndQuirks(t *testing.T) {
	base := func(p ProviderConfig) ProviderConfig {
		p.ClientID, p.ClientSecret = "c", "s"
		return p
	}
	tests := []struct {
		name string
		in   ProviderConfig
		want func(p *ProviderConfig) // edits the input into the expected effective config
	}{
		{"generic changes nothing", ProviderConfig{Preset: "generic", Issuer: "https://idp.example.com"}, func(p *ProviderConfig) {}},
		{"okta org authorization server", ProviderConfig{Preset: "okta", Domain: "example.okta.com"},
			func(p *ProviderConfig) { p.Issuer = "https://example.okta.com" }},
		{"okta default custom authorization server", ProviderConfig{Preset: "okta", Domain: "example.okta.com", AuthorizationServerID: "default"},
			func(p *ProviderConfig) {
				p.Issuer, p.Audiences = "https://example.okta.com/oauth2/default", []string{"api://default"}
			}},
		{"okta custom authorization server", ProviderConfig{Preset: "okta", Domain: "example.okta.com", AuthorizationServerID: "aus1a2b3c"},
			func(p *ProviderConfig) { p.Issuer = "https://example.okta.com/oauth2/aus1a2b3c" }},
		{"okta by issuer", ProviderConfig{Preset: "okta", Issuer: "https://login.example.com/oauth2/default"}, func(p *ProviderConfig) {}},
		{"entra single tenant", ProviderConfig{Preset: "entra", TenantID: tenantA}, func(p *ProviderConfig) {
			p.Issuer = "https://login.microsoftonline.com/" + tenantA + "/v2.0"
			p.AdditionalIssuers = []string{"https://sts.windows.net/" + tenantA + "/"}
			p.EmailTrust, p.Claims.EmailVerified = EmailTrustFromClaim, "xms_edov"
		}},
		{"entra multi-tenant", ProviderConfig{Preset: "entra", TenantID: "organizations", AllowedTenants: []string{tenantA}}, func(p *ProviderConfig) {
			p.Issuer = "https://login.microsoftonline.com/organizations/v2.0"
			p.EmailTrust, p.Claims.EmailVerified = EmailTrustFromClaim, "xms_edov"
		}},
		{"entra never trusting email stays never", ProviderConfig{Preset: "entra", TenantID: "common", EmailTrust: EmailTrustNever}, func(p *ProviderConfig) {
			p.Issuer, p.Claims.EmailVerified = "https://login.microsoftonline.com/common/v2.0", "xms_edov"
		}},
		{"entra national cloud by issuer", ProviderConfig{Preset: "entra", Issuer: "https://login.microsoftonline.us/" + tenantA + "/v2.0"}, func(p *ProviderConfig) {
			p.TenantID, p.EmailTrust, p.Claims.EmailVerified = tenantA, EmailTrustFromClaim, "xms_edov"
		}},
		{"auth0", ProviderConfig{Preset: "auth0", Domain: "example.us.auth0.com"}, func(p *ProviderConfig) { p.Issuer = "https://example.us.auth0.com/" }},
		{"keycloak: groups from the groups claim, roles from realm_access.roles", ProviderConfig{Preset: "keycloak", Issuer: "https://sso.example.com/realms/staff"},
			func(p *ProviderConfig) { p.Claims.Roles = "realm_access.roles" }},
		{"keycloak with a legacy /auth prefix and own groups", ProviderConfig{Preset: "keycloak", Issuer: "https://sso.example.com/auth/realms/staff",
			Claims: claims.Mapping{Groups: "groups"}}, func(p *ProviderConfig) { p.Claims.Roles = "realm_access.roles" }},
		{"google", ProviderConfig{Preset: "google"}, func(p *ProviderConfig) { p.Issuer = "https://accounts.google.com" }},
		{"google workspace", ProviderConfig{Preset: "google", HostedDomain: "example.com", AuthParams: map[string]string{"prompt": "select_account"}}, func(p *ProviderConfig) {
			p.Issuer, p.AuthParams = "https://accounts.google.com", map[string]string{"prompt": "select_account", "hd": "example.com"}
		}},
		{"jumpcloud", ProviderConfig{Preset: "jumpcloud"}, func(p *ProviderConfig) { p.Issuer = "https://oauth.id.jumpcloud.com/" }},
		{"pingone", ProviderConfig{Preset: "ping", TenantID: tenantA}, func(p *ProviderConfig) { p.Issuer = "https://auth.pingone.com/" + tenantA + "/as" }},
		{"pingone europe", ProviderConfig{Preset: "ping", TenantID: tenantA, Domain: "auth.pingone.eu"}, func(p *ProviderConfig) { p.Issuer = "https://auth.pingone.eu/" + tenantA + "/as" }},
		{"pingone canada", ProviderConfig{Preset: "ping", TenantID: tenantA, Domain: "auth.pingone.ca"}, func(p *ProviderConfig) { p.Issuer = "https://auth.pingone.ca/" + tenantA + "/as" }},
		{"pingone australia", ProviderConfig{Preset: "ping", TenantID: tenantA, Domain: "auth.pingone.com.au"}, func(p *ProviderConfig) { p.Issuer = "https://auth.pingone.com.au/" + tenantA + "/as" }},
		{"pingone singapore", ProviderConfig{Preset: "ping", TenantID: tenantA, Domain: "auth.pingone.sg"}, func(p *ProviderConfig) { p.Issuer = "https://auth.pingone.sg/" + tenantA + "/as" }},
		{"pingone asia (legacy)", ProviderConfig{Preset: "ping", TenantID: tenantA, Domain: "auth.pingone.asia"}, func(p *ProviderConfig) { p.Issuer = "https://auth.pingone.asia/" + tenantA + "/as" }},
		{"pingone custom domain by issuer", ProviderConfig{Preset: "ping", Issuer: "https://login.example.com/as"}, func(p *ProviderConfig) {}},
		{"pingfederate by issuer", ProviderConfig{Preset: "ping", Issuer: "https://sso.example.com"}, func(p *ProviderConfig) {}},
		{"gitlab.com", ProviderConfig{Preset: "gitlab"}, func(p *ProviderConfig) { p.Issuer, p.Claims.Groups = "https://gitlab.com", "groups_direct" }},
		{"self-managed gitlab", ProviderConfig{Preset: "gitlab", Domain: "git.example.com"}, func(p *ProviderConfig) {
			p.Issuer, p.Claims.Groups = "https://git.example.com", "groups_direct"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base(tt.in)
			in.AuthParams = maps.Clone(tt.in.AuthParams)
			want := base(tt.in)
			want.AuthParams = maps.Clone(tt.in.AuthParams)
			tt.want(&want)
			got, errs := in.effective("acme")
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("effective config\n%#v\nwant\n%#v", got, want)
			}
			if !reflect.DeepEqual(in.AuthParams, tt.in.AuthParams) {
				t.Fatal("the preset changed the given config's map")
			}
		})
	}
}

func TestPresetRules(t *testing.T) {
	tests := []struct {
		name string
		in   ProviderConfig
		want []string
	}{
		{"an unknown preset", ProviderConfig{Preset: "azure"}, []string{`preset: "azure": want one of auth0, entra, generic, gitlab, google, jumpcloud, keycloak, okta, ping`}},
		{"a field of another preset", ProviderConfig{Preset: "okta", Domain: "example.okta.com", TenantID: tenantA, HostedDomain: "example.com"},
			[]string{`tenantId: applies only to preset entra, ping`, `hostedDomain: applies only to preset google`}},
		{"preset fields without a preset", ProviderConfig{Issuer: "https://idp.example.com", AllowedTenants: []string{tenantA}, AuthorizationServerID: "default"},
			[]string{`authorizationServerId: applies only to preset okta`, `allowedTenants: applies only to preset entra`}},
		{"okta without a domain", ProviderConfig{Preset: "okta"}, []string{`domain: is required for preset "okta" (the host name, e.g. example.okta.com)`}},
		{"okta with a URL as domain", ProviderConfig{Preset: "okta", Domain: "https://example.okta.com"}, []string{`domain: "https://example.okta.com" is not a host name (no scheme, port or path)`}},
		{"okta with a bad server ID", ProviderConfig{Preset: "okta", Domain: "example.okta.com", AuthorizationServerID: "../x"}, []string{`authorizationServerId: "../x" is not an authorization server ID`}},
		{"okta with issuer and domain", ProviderConfig{Preset: "okta", Domain: "example.okta.com", Issuer: "https://example.okta.com"},
			[]string{`issuer: preset "okta" builds the issuer from domain and authorizationServerId; set those or issuer, not both`}},
		{"entra without a tenant", ProviderConfig{Preset: "entra"}, []string{`tenantId: is required for preset "entra": the tenant ID, or organizations or common for any tenant`}},
		{"entra for consumers", ProviderConfig{Preset: "entra", TenantID: "consumers"}, []string{`tenantId: "consumers" has no issuer template; for personal Microsoft accounts use the tenant 9188040d-6c67-4c5b-b112-36a304b66dad`}},
		{"entra by tenant domain", ProviderConfig{Preset: "entra", TenantID: "contoso.onmicrosoft.com"}, []string{`tenantId: "contoso.onmicrosoft.com": want the tenant ID`}},
		{"entra allowed tenants for one tenant", ProviderConfig{Preset: "entra", TenantID: tenantA, AllowedTenants: []string{tenantA}},
			[]string{`allowedTenants: applies only to tenantId organizations or common; a single tenant allows only itself`}},
		{"entra allowed tenant by name", ProviderConfig{Preset: "entra", TenantID: "organizations", AllowedTenants: []string{"contoso"}}, []string{`allowedTenants: "contoso" is not a tenant ID (a UUID)`}},
		{"entra trusting every email", ProviderConfig{Preset: "entra", TenantID: tenantA, EmailTrust: EmailTrustDangerousAlways},
			[]string{`emailTrust: preset "entra" never trusts an email that xms_edov does not vouch for (the nOAuth takeover)`}},
		{"entra with another verification claim", ProviderConfig{Preset: "entra", TenantID: tenantA, Claims: claims.Mapping{EmailVerified: "email_verified"}},
			[]string{`claims.emailVerified: preset "entra" reads email verification from xms_edov only`}},
		{"entra with a v1 issuer", ProviderConfig{Preset: "entra", Issuer: "https://sts.windows.net/" + tenantA + "/"},
			[]string{`issuer: "https://sts.windows.net/` + tenantA + `/" is not an Entra ID v2.0 issuer, https://<host>/<tenant>/v2.0`}},
		{"entra with issuer and tenant", ProviderConfig{Preset: "entra", TenantID: tenantA, Issuer: "https://login.microsoftonline.com/" + tenantA + "/v2.0"},
			[]string{`issuer: preset "entra" builds the issuer from tenantId and domain; set those or issuer, not both`}},
		{"auth0 without a domain", ProviderConfig{Preset: "auth0"}, []string{`domain: is required for preset "auth0"`}},
		{"keycloak without an issuer", ProviderConfig{Preset: "keycloak"}, []string{`issuer: is required for preset "keycloak": the realm URL, https://<host>/realms/<realm>`}},
		{"keycloak with a bare domain", ProviderConfig{Preset: "keycloak", Issuer: "sso.example.com"}, []string{`issuer: "sso.example.com" is not a Keycloak realm URL (https://<host>/realms/<realm>)`}},
		{"okta with issuer and an authorization server", ProviderConfig{Preset: "okta", Issuer: "https://example.okta.com", AuthorizationServerID: "default"},
			[]string{`authorizationServerId: is read with domain only; with issuer set, give the whole issuer https://<domain>/oauth2/default instead`}},
		{"ping with a custom domain as domain", ProviderConfig{Preset: "ping", TenantID: tenantA, Domain: "login.example.com"},
			[]string{`domain: "login.example.com" is not a PingOne region (auth.pingone.com, auth.pingone.eu, auth.pingone.ca, auth.pingone.com.au, auth.pingone.sg, auth.pingone.asia); for a custom domain set issuer https://login.example.com/as instead`}},
		{"keycloak without a realm", ProviderConfig{Preset: "keycloak", Issuer: "https://sso.example.com/auth"}, []string{`issuer: "https://sso.example.com/auth" is not a Keycloak realm URL (https://<host>/realms/<realm>)`}},
		{"google with another issuer", ProviderConfig{Preset: "google", Issuer: "https://accounts.example.com"}, []string{`issuer: preset "google" has the issuer https://accounts.google.com; leave issuer empty`}},
		{"google with a bad hosted domain", ProviderConfig{Preset: "google", HostedDomain: "@example.com"}, []string{`hostedDomain: "@example.com" is not a domain name`}},
		{"google with a conflicting hd parameter", ProviderConfig{Preset: "google", HostedDomain: "example.com", AuthParams: map[string]string{"hd": "other.com"}},
			[]string{`authParams.hd: "other.com" differs from hostedDomain "example.com"; set hostedDomain only`}},
		{"jumpcloud with another issuer", ProviderConfig{Preset: "jumpcloud", Issuer: "https://oauth.id.jumpcloud.com"}, []string{`issuer: preset "jumpcloud" has the issuer https://oauth.id.jumpcloud.com/; leave issuer empty`}},
		{"ping without an environment", ProviderConfig{Preset: "ping", Domain: "auth.pingone.eu"}, []string{`tenantId: is required for preset "ping": the PingOne environment ID (or set issuer for PingFederate)`}},
		{"ping with a bad environment", ProviderConfig{Preset: "ping", TenantID: "env-1"}, []string{`tenantId: "env-1" is not a PingOne environment ID (a UUID)`}},
		{"gitlab with a port", ProviderConfig{Preset: "gitlab", Domain: "git.example.com:8443"}, []string{`domain: "git.example.com:8443" is not a host name (no scheme, port or path)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.ClientID, in.ClientSecret = "c", "s"
			got := problems(t, Config{Providers: map[string]ProviderConfig{"acme": in}}.Validate())
			if len(got) != len(tt.want) {
				t.Fatalf("problems %q; want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], "federation: config: providers.acme."+w) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], w)
				}
			}
		})
	}
}

func TestEveryPresetHasItsGuide(t *testing.T) {
	for _, p := range Presets {
		if !slices.IsSorted(Presets) {
			t.Fatal("Presets are not sorted")
		}
		checkGuide(t, p)
	}
}

// checkGuide checks docs/providers/<preset>.md: it exists, names the
// redirect URI to register and shows the preset in a config.
func checkGuide(t *testing.T, preset string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "providers", preset+".md"))
	if err != nil {
		t.Fatalf("preset %s has no guide: %v", preset, err)
	}
	for _, want := range []string{"/auth/oauth/oidc:", `"preset": "` + preset + `"`, "## "} {
		if !strings.Contains(string(b), want) {
			t.Errorf("docs/providers/%s.md does not contain %q", preset, want)
		}
	}
}
