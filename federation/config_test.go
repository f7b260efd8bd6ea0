package federation

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/discovery"
)

// contractConfig is the config example of EXAMPLE_SERVER.md with every
// optional provider field set.
const contractConfig = `{
  "providers": {
    "acme": {
      "issuer": "https://idp.example.com",
      "clientId": "client-1",
      "clientSecret": "secret-1",
      "scopes": ["openid", "email", "profile"],
      "audiences": ["client-1"],
      "claims": { "email": "email", "name": "name", "groups": "groups" },
      "discoveryURL": "https://idp.example.com/custom/.well-known/openid-configuration",
      "endpoints": {"authorization": "https://idp.example.com/a", "token": "https://idp.example.com/t",
        "userinfo": "https://idp.example.com/u", "jwks": "https://idp.example.com/k", "endSession": "https://idp.example.com/e"},
      "emailTrust": "never",
      "allowSignup": false
    }
  },
  "allowedRedirects": ["http://localhost:3000"]
}`

func TestLoadConfigReadsEveryField(t *testing.T) {
	c, err := LoadConfig(strings.NewReader(contractConfig))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Providers["acme"]
	want := ProviderConfig{Issuer: "https://idp.example.com", ClientID: "client-1", ClientSecret: "secret-1",
		Scopes: []string{"openid", "email", "profile"}, Audiences: []string{"client-1"},
		Claims:       claims.Mapping{Email: "email", Name: "name", Groups: "groups"},
		DiscoveryURL: "https://idp.example.com/custom/.well-known/openid-configuration",
		Endpoints: discovery.Endpoints{Authorization: "https://idp.example.com/a", Token: "https://idp.example.com/t",
			Userinfo: "https://idp.example.com/u", JWKS: "https://idp.example.com/k", EndSession: "https://idp.example.com/e"},
		EmailTrust: EmailTrustNever}
	if p.AllowSignup == nil || *p.AllowSignup {
		t.Fatalf("allowSignup = %v, want false", p.AllowSignup)
	}
	p.AllowSignup = nil
	if p.Issuer != want.Issuer || p.ClientID != want.ClientID || p.ClientSecret.Reveal() != "secret-1" ||
		!slices.Equal(p.Scopes, want.Scopes) || !slices.Equal(p.Audiences, want.Audiences) || p.Claims != want.Claims ||
		p.DiscoveryURL != want.DiscoveryURL || p.Endpoints != want.Endpoints || p.EmailTrust != want.EmailTrust {
		t.Fatalf("provider = %#v\nwant %#v", p, want)
	}
	if !slices.Equal(c.AllowedRedirects, []string{"http://localhost:3000"}) {
		t.Fatalf("allowedRedirects = %q", c.AllowedRedirects)
	}
}

func TestLoadConfigRejectsMalformedInput(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"an unknown top-level field", `{"providers": {}, "provider": {}}`, `unknown field "provider"`},
		{"an unknown provider field", `{"providers": {"acme": {"issuer": "https://idp.example.com", "clientId": "c", "clientSecret": "s", "client_id": "c"}}}`, `unknown field "client_id"`},
		{"an unknown endpoint", `{"providers": {"acme": {"issuer": "https://idp.example.com", "clientId": "c", "clientSecret": "s", "endpoints": {"logout": "https://x"}}}}`, `unknown field "logout"`},
		{"a field of the wrong type", `{"providers": {"acme": {"issuer": "https://idp.example.com", "clientId": "c", "clientSecret": "s", "scopes": "openid"}}}`, "providers.acme.scopes: want an array, got a string"},
		{"trailing data", `{"providers": {}} {}`, "line 1, column 19: trailing data"},
		{"not JSON", `providers: {}`, "line 1, column 1: invalid character"},
		{"empty input", ``, "line 1, column 1: unexpected end of input (EOF)"},
	}
	for _, tt := range tests {
		c, err := LoadConfig(strings.NewReader(tt.json))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "federation: config: ") || c.Providers != nil {
			t.Errorf("%s: LoadConfig = %v; want a federation: config: error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestValidateRules(t *testing.T) {
	good := func() ProviderConfig {
		return ProviderConfig{Issuer: "https://idp.example.com", ClientID: "client-1", ClientSecret: "secret-1"}
	}
	tests := []struct {
		name     string
		provider string
		edit     func(*ProviderConfig)
		want     string
	}{
		{"an upper-case name", "Acme", nil, `config: providers.Acme.name: must match [a-z0-9_-]+`},
		{"a name with a colon", "oidc:acme", nil, `config: providers.oidc:acme.name: must match [a-z0-9_-]+`},
		{"an empty name", "", nil, `config: providers..name: must match [a-z0-9_-]+`},
		{"no issuer", "acme", func(p *ProviderConfig) { p.Issuer = "" }, `config: providers.acme.issuer: is required`},
		{"an http issuer off loopback", "acme", func(p *ProviderConfig) { p.Issuer = "http://idp.example.com" }, `config: providers.acme.issuer: issuer: "http://idp.example.com": url must use https`},
		{"an issuer with a query", "acme", func(p *ProviderConfig) { p.Issuer = "https://idp.example.com?tenant=1" }, `config: providers.acme.issuer: issuer "https://idp.example.com?tenant=1" must not contain a query`},
		{"no client ID", "acme", func(p *ProviderConfig) { p.ClientID = "" }, `config: providers.acme.clientId: is required when issuer is set`},
		{"no client secret", "acme", func(p *ProviderConfig) { p.ClientSecret = "" }, `config: providers.acme.clientSecret: is required for a confidential client (a public client sets tokenEndpointAuthMethod "none")`},
		{"a public client with a secret", "acme", func(p *ProviderConfig) { p.TokenEndpointAuthMethod = "none" }, `config: providers.acme.clientSecret: must be empty for tokenEndpointAuthMethod "none"`},
		{"an unknown token endpoint auth method", "acme", func(p *ProviderConfig) { p.TokenEndpointAuthMethod = "mtls" },
			`config: providers.acme.tokenEndpointAuthMethod: "mtls": want "client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt", "tls_client_auth", "self_signed_tls_client_auth" or "none"`},
		{"tls_client_auth without a key", "acme", func(p *ProviderConfig) { p.TokenEndpointAuthMethod = "tls_client_auth" },
			`config: providers.acme.clientKeyFile: is required for tokenEndpointAuthMethod "tls_client_auth" (or ClientKey in code)`},
		{"a client certificate for a secret method", "acme", func(p *ProviderConfig) { p.ClientCertificateFile = "/c.pem" },
			`config: providers.acme.clientCertificateFile: is used only with tokenEndpointAuthMethod "private_key_jwt", "tls_client_auth" or "self_signed_tls_client_auth"`},
		{"private_key_jwt without a key", "acme", func(p *ProviderConfig) { p.TokenEndpointAuthMethod = "private_key_jwt" },
			`config: providers.acme.clientKeyFile: is required for tokenEndpointAuthMethod "private_key_jwt" (or ClientKey in code)`},
		{"a client key file that does not exist", "acme", func(p *ProviderConfig) {
			p.TokenEndpointAuthMethod, p.ClientKeyFile = "private_key_jwt", "/nonexistent/key.pem"
		}, `config: providers.acme.clientKeyFile: /nonexistent/key.pem: open /nonexistent/key.pem: no such file or directory`},
		{"a client key for a secret method", "acme", func(p *ProviderConfig) { p.ClientKeyFile = "/k.pem" },
			`config: providers.acme.clientKeyFile: is used only with tokenEndpointAuthMethod "private_key_jwt", "tls_client_auth" or "self_signed_tls_client_auth"`},
		{"client_secret_jwt without a secret", "acme", func(p *ProviderConfig) {
			p.TokenEndpointAuthMethod, p.ClientSecret = "client_secret_jwt", ""
		}, `config: providers.acme.clientSecret: must be 32 bytes or more for tokenEndpointAuthMethod "client_secret_jwt" (it keys HS256, RFC 7518 §3.2)`},
		{"client_secret_jwt with a short secret", "acme", func(p *ProviderConfig) {
			p.TokenEndpointAuthMethod, p.ClientSecret = "client_secret_jwt", "s3cret-value"
		}, `config: providers.acme.clientSecret: must be 32 bytes or more for tokenEndpointAuthMethod "client_secret_jwt" (it keys HS256, RFC 7518 §3.2)`},
		{"an unknown assertion audience", "acme", func(p *ProviderConfig) { p.ClientAssertionAudience = "token" },
			`config: providers.acme.clientAssertionAudience: "token": want "tokenEndpoint" or "issuer"`},
		{"a scope with a space", "acme", func(p *ProviderConfig) { p.Scopes = []string{"openid email"} }, `config: providers.acme.scopes: "openid email" is not a scope token`},
		{"an empty scope", "acme", func(p *ProviderConfig) { p.Scopes = []string{""} }, `config: providers.acme.scopes: "" is not a scope token`},
		{"an empty audience", "acme", func(p *ProviderConfig) { p.Audiences = []string{"client-1", ""} }, `config: providers.acme.audiences: must not contain an empty string`},
		{"a claim path with an empty segment", "acme", func(p *ProviderConfig) { p.Claims.Groups = "realm..roles" }, `config: providers.acme.claims: claims: mapping "groups": "realm..roles" is not a claim name or dotted path`},
		{"an unknown emailTrust", "acme", func(p *ProviderConfig) { p.EmailTrust = "always" }, `config: providers.acme.emailTrust: "always": want "fromClaim", "never" or "dangerousAlways"`},
		{"an http discovery URL off loopback", "acme", func(p *ProviderConfig) { p.DiscoveryURL = "http://idp.example.com/.well-known/openid-configuration" }, `config: providers.acme.discoveryURL: discoveryURL: endpoint must use https`},
		{"a bare domain with complete manual endpoints", "acme", func(p *ProviderConfig) {
			p.Issuer = "example.okta.com"
			p.Endpoints = discovery.Endpoints{Authorization: "https://example.okta.com/a", Token: "https://example.okta.com/t", JWKS: "https://example.okta.com/k"}
		}, `config: providers.acme.endpoints: issuer "example.okta.com": a bare domain needs discovery`},
		{"an http additional issuer off loopback", "acme", func(p *ProviderConfig) { p.AdditionalIssuers = []string{"http://sts.example.com/t/"} }, `config: providers.acme.additionalIssuers: "http://sts.example.com/t/": url must use https`},
		{"an additional issuer listed twice", "acme", func(p *ProviderConfig) {
			p.AdditionalIssuers = []string{"https://sts.example.com/t/", "https://sts.example.com/t/"}
		}, `config: providers.acme.additionalIssuers: "https://sts.example.com/t/" is listed twice`},
		{"an additional issuer equal to the issuer", "acme", func(p *ProviderConfig) { p.AdditionalIssuers = []string{"https://idp.example.com"} }, `config: providers.acme.additionalIssuers: "https://idp.example.com" is listed twice`},
		{"a scope prefix with a space", "acme", func(p *ProviderConfig) { p.ScopePrefix = "api://x/ " }, `config: providers.acme.scopePrefix: "api://x/ " contains white space`},
		{"a roles claim path with a trailing dot", "acme", func(p *ProviderConfig) { p.Claims.Roles = "realm_access." }, `config: providers.acme.claims: claims: mapping "roles": "realm_access." is not a claim name or dotted path`},
		{"an http endpoint off loopback", "acme", func(p *ProviderConfig) { p.Endpoints.Token = "http://idp.example.com/token" }, `config: providers.acme.endpoints: discovery: configuration: endpoints.token: endpoint must use https`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			if tt.edit != nil {
				tt.edit(&p)
			}
			err := Config{Providers: map[string]ProviderConfig{tt.provider: p}}.Validate()
			if err == nil || !strings.Contains(err.Error(), "federation: "+tt.want) {
				t.Fatalf("Validate = %v; want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret-1") {
				t.Fatal("the error shows the client secret")
			}
			if _, err := NewRegistry(Config{Providers: map[string]ProviderConfig{tt.provider: p}}); err == nil {
				t.Fatal("NewRegistry accepted the config")
			}
		})
	}
}

func TestValidateAcceptsLoopbackHTTPAndBareDomains(t *testing.T) {
	for _, issuer := range []string{"http://localhost:9000", "http://127.0.0.1:9000/realms/x", "http://[::1]:9000", "example.okta.com"} {
		c := Config{Providers: map[string]ProviderConfig{"a-b_1": {Issuer: issuer, ClientID: "c", ClientSecret: "s"}},
			AllowedRedirects: []string{"https://app.example.com/after", "http://localhost:3000"}}
		if err := c.Validate(); err != nil {
			t.Errorf("issuer %q: %v", issuer, err)
		}
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := Config{
		Providers: map[string]ProviderConfig{
			"acme":  {Issuer: "http://idp.example.com", EmailTrust: "sometimes"},
			"Other": {Issuer: "https://idp.example.com", ClientID: "c", ClientSecret: "s"},
		},
		AllowedRedirects: []string{"http://evil.example", "https://app.example.com/?q=1", "https://app.example.com/app/../admin"},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted the config")
	}
	var lines []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		lines = append(lines, e.Error())
	}
	want := []string{`config: providers.Other.name:`, `config: providers.acme.issuer:`, `config: providers.acme.clientId:`,
		`config: providers.acme.clientSecret:`, `config: providers.acme.emailTrust:`, `config: allowedRedirects[0]: "http://evil.example"`, `config: allowedRedirects[1]: "https://app.example.com/?q=1" must not have a query`,
		`config: allowedRedirects[2]: "https://app.example.com/app/../admin" has a . or .. path segment`}
	if len(lines) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], "federation: "+want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, lines[i], want[i])
		}
	}
}

func TestScopesAlwaysStartWithOpenID(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{nil, []string{"openid", "email", "profile"}},
		{[]string{"email"}, []string{"openid", "email"}},
		{[]string{"profile", "openid", "groups", "profile"}, []string{"openid", "profile", "groups"}},
	} {
		if got := (ProviderConfig{Scopes: tc.in}).scopes(); !slices.Equal(got, tc.want) {
			t.Errorf("scopes(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestErrorMatchesByCode(t *testing.T) {
	err := error(newError(CodeInvalidToken, "rejected", ErrNonceMismatch))
	if !errors.Is(err, &Error{Code: CodeInvalidToken}) || errors.Is(err, &Error{Code: CodeAccessDenied}) || !errors.Is(err, ErrNonceMismatch) {
		t.Fatal("errors.Is does not match by code and cause")
	}
	var fe *Error
	// The package is named once, not again by the sentinel.
	if !errors.As(err, &fe) || fe.Code != CodeInvalidToken || fe.Error() != "federation: invalid_token: rejected: ID token nonce does not match the flow" {
		t.Fatalf("errors.As = %v", fe)
	}
	wrapped := newError(CodeAccessDenied, "refused", fmt.Errorf("%w: tid %q", ErrTenantNotAllowed, "t1"))
	if got := wrapped.Error(); got != `federation: access_denied: refused: the token's tenant is not allowed: tid "t1"` {
		t.Fatalf("Error() = %q", got)
	}
}

func TestLoadConfigReadsBearerAndClientFields(t *testing.T) {
	c, err := LoadConfig(strings.NewReader(`{"providers": {"entra": {"issuer": "https://login.microsoftonline.com/t1/v2.0",
		"clientId": "app-1", "clientSecret": "secret-1", "tokenEndpointAuthMethod": "client_secret_post",
		"additionalIssuers": ["https://sts.windows.net/t1/"], "scopePrefix": "api://app-1/", "claims": {"roles": "roles"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Providers["entra"]
	if p.TokenEndpointAuthMethod != "client_secret_post" || !slices.Equal(p.AdditionalIssuers, []string{"https://sts.windows.net/t1/"}) ||
		p.ScopePrefix != "api://app-1/" || p.Claims.Roles != "roles" {
		t.Fatalf("provider = %#v", p)
	}
}
