package federation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// problems returns the messages of a joined config error, in order.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var out []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			var ce *ConfigError
			if !errors.As(e, &ce) {
				t.Fatalf("problem %v is not a *ConfigError", e)
			}
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func TestLoadConfigReportsEveryShapeProblemWithItsPath(t *testing.T) {
	_, err := LoadConfig(strings.NewReader(`{
  "providers": {
    "acme": {"issuer": "https://idp.example.com", "clientID": "c", "clientSecret": 7, "scopes": ["openid", 1],
      "claims": {"group": "groups"}, "allowSignup": "no", "maxAge": 1.5, "authParams": {"prompt": ["login"]}},
    "beta": []
  },
  "allowedRedirects": "https://app.example.com"
}`))
	want := []string{
		`federation: config: allowedRedirects: want an array, got a string`,
		`federation: config: providers.acme.allowSignup: want true or false, got a string`,
		`federation: config: providers.acme.authParams.prompt: want a string, got an array`,
		`federation: config: providers.acme.claims.group: unknown field "group" (did you mean "groups"?)`,
		`federation: config: providers.acme.clientID: unknown field "clientID" (did you mean "clientId"?)`,
		`federation: config: providers.acme.clientSecret: want a string, got the number 7`,
		`federation: config: providers.acme.maxAge: want an integer, got the number 1.5`,
		`federation: config: providers.acme.scopes[1]: want a string, got the number 1`,
		`federation: config: providers.beta: want an object, got an array`,
	}
	if got := problems(t, err); !slices.Equal(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Path != "allowedRedirects" {
		t.Fatalf("errors.As = %+v", ce)
	}
}

func TestLoadConfigLocatesSyntaxErrors(t *testing.T) {
	_, err := LoadConfig(strings.NewReader("{\n  \"providers\": {\n    \"acme\": {,}\n  }\n}"))
	if got := problems(t, err); len(got) != 1 || !strings.HasPrefix(got[0], "federation: config: line 3, column 14: invalid character ','") {
		t.Fatalf("error = %q", got)
	}
	_, err = LoadConfig(strings.NewReader(strings.Repeat(" ", MaxConfigSize+1)))
	if got := problems(t, err); got[0] != "federation: config: (input): is larger than 4194304 bytes" {
		t.Fatalf("error = %q", got)
	}
}

func TestLoadConfigNamesProviderAndFieldOfEveryValidationProblem(t *testing.T) {
	_, err := LoadConfig(strings.NewReader(`{"providers": {
  "acme": {"issuer": "https://idp.example.com", "clientId": "c", "clientSecret": "s", "maxAge": -1, "redirectURL": "https://app.example.com/cb"},
  "corp": {"preset": "entra", "clientId": "c", "clientSecret": "s"}}}`))
	want := []string{
		`federation: config: providers.acme.redirectURL: "https://app.example.com/cb" does not route to the handler: its path must end in /oidc:acme/callback`,
		`federation: config: providers.acme.maxAge: -1: want seconds > 0 (for a fresh login every time, set authParams.prompt to login)`,
		`federation: config: providers.corp.tenantId: is required for preset "entra": the tenant ID, or organizations or common for any tenant`,
	}
	got := problems(t, err)
	if !slices.Equal(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Provider != "acme" || ce.Field != "redirectURL" || ce.Path != "providers.acme.redirectURL" {
		t.Fatalf("errors.As = %+v", ce)
	}
}

func TestSignInOptionRules(t *testing.T) {
	good := func() ProviderConfig {
		return ProviderConfig{Issuer: "https://idp.example.com", ClientID: "client-1", ClientSecret: "secret-1"}
	}
	tests := []struct {
		name string
		edit func(*ProviderConfig)
		want string
	}{
		{"a redirect URL over http off loopback", func(p *ProviderConfig) { p.RedirectURL = "http://acme.example.com/auth/oauth/oidc:acme/callback" },
			`redirectURL: "http://acme.example.com/auth/oauth/oidc:acme/callback": url must use https`},
		{"a redirect URL with a query", func(p *ProviderConfig) { p.RedirectURL = "https://acme.example.com/auth/oauth/oidc:acme/callback?x=1" },
			`redirectURL: "https://acme.example.com/auth/oauth/oidc:acme/callback?x=1" must not have a query or fragment`},
		{"a redirect URL for another provider", func(p *ProviderConfig) { p.RedirectURL = "https://acme.example.com/auth/oauth/oidc:beta/callback" },
			`redirectURL: "https://acme.example.com/auth/oauth/oidc:beta/callback" does not route to the handler: its path must end in /oidc:acme/callback`},
		{"a link callback as redirect URL", func(p *ProviderConfig) {
			p.RedirectURL = "https://acme.example.com/auth/oauth/link/oidc:acme/callback/x"
		},
			`redirectURL: "https://acme.example.com/auth/oauth/link/oidc:acme/callback/x" does not route to the handler`},
		{"a protocol-relative frontend URL", func(p *ProviderConfig) { p.FrontendURL = "//evil.example/" }, `frontendURL: "//evil.example/" is not a path on the application`},
		{"a frontend URL over http off loopback", func(p *ProviderConfig) { p.FrontendURL = "http://acme.example.com/" }, `frontendURL: "http://acme.example.com/": url must use https`},
		{"a frontend URL with a fragment", func(p *ProviderConfig) { p.FrontendURL = "https://acme.example.com/#x" }, `frontendURL: "https://acme.example.com/#x" must not contain a fragment`},
		{"a frontend URL with a dot segment", func(p *ProviderConfig) { p.FrontendURL = "https://acme.example.com/app/%2e%2e/admin" },
			`frontendURL: "https://acme.example.com/app/%2e%2e/admin" has a . or .. path segment`},
		{"a frontend path with a dot segment", func(p *ProviderConfig) { p.FrontendURL = "/app/../admin" }, `frontendURL: "/app/../admin" has a . or .. path segment`},
		{"a post-logout URI with a dot segment", func(p *ProviderConfig) { p.PostLogoutRedirectURIs = []string{"https://acme.example.com/a/.%2E/b"} },
			`postLogoutRedirectURIs: "https://acme.example.com/a/.%2E/b" has a . or .. path segment`},
		{"an overridden state", func(p *ProviderConfig) { p.AuthParams = map[string]string{"state": "x"} }, `authParams.state: is set by oidcfed and cannot be overridden`},
		{"an overridden redirect_uri", func(p *ProviderConfig) { p.AuthParams = map[string]string{"redirect_uri": "https://evil.example"} }, `authParams.redirect_uri: is set by oidcfed and cannot be overridden`},
		{"an overridden PKCE method", func(p *ProviderConfig) { p.AuthParams = map[string]string{"code_challenge_method": "plain"} }, `authParams.code_challenge_method: is set by oidcfed`},
		{"max_age as a parameter", func(p *ProviderConfig) { p.AuthParams = map[string]string{"max_age": "60"} }, `authParams.max_age: set maxAge instead, so that auth_time is checked`},
		{"a parameter name with a space", func(p *ProviderConfig) { p.AuthParams = map[string]string{"a b": "x"} }, `authParams: "a b" is not a parameter name`},
		{"an empty parameter", func(p *ProviderConfig) { p.AuthParams = map[string]string{"login_hint": ""} }, `authParams.login_hint: must be a non-empty value without control characters`},
		{"a parameter with a line break", func(p *ProviderConfig) { p.AuthParams = map[string]string{"acr_values": "a\nb"} }, `authParams.acr_values: must be a non-empty value without control characters`},
		{"an unknown prompt", func(p *ProviderConfig) { p.AuthParams = map[string]string{"prompt": "login always"} }, `authParams.prompt: "always": want none, login, consent, select_account, create`},
		{"prompt none with login", func(p *ProviderConfig) { p.AuthParams = map[string]string{"prompt": "none login"} }, `authParams.prompt: none cannot be combined with other values`},
		{"an acr with a space", func(p *ProviderConfig) { p.RequiredACR = []string{"urn:mfa phr"} }, `requiredAcr: "urn:mfa phr" is not an acr value`},
		{"an empty acr", func(p *ProviderConfig) { p.RequiredACR = []string{""} }, `requiredAcr: "" is not an acr value`},
		{"a negative maxAge", func(p *ProviderConfig) { p.MaxAge = -5 }, `maxAge: -5: want seconds > 0`},
		{"an email domain with a scheme", func(p *ProviderConfig) { p.AllowedEmailDomains = []string{"https://example.com"} }, `allowedEmailDomains: "https://example.com" is not a lower-case domain name`},
		{"an upper-case email domain", func(p *ProviderConfig) { p.AllowedEmailDomains = []string{"Example.com"} }, `allowedEmailDomains: "Example.com" is not a lower-case domain name`},
		{"email domains without email trust", func(p *ProviderConfig) {
			p.AllowedEmailDomains = []string{"example.com"}
			p.EmailTrust = EmailTrustNever
		}, `allowedEmailDomains: needs a trusted email, but emailTrust is "never"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			tt.edit(&p)
			got := problems(t, Config{Providers: map[string]ProviderConfig{"acme": p}}.Validate())
			if len(got) != 1 || !strings.HasPrefix(got[0], "federation: config: providers.acme."+tt.want) {
				t.Fatalf("problems %q; want one starting %q", got, tt.want)
			}
		})
	}
	p := good()
	p.RedirectURL, p.FrontendURL = "https://acme.example.com/sso/oidc:acme/callback", "https://acme.example.com/home"
	p.AuthParams = map[string]string{"prompt": "select_account consent", "login_hint": "a@example.com", "domain_hint": "example.com"}
	p.RequiredACR, p.MaxAge, p.AllowedEmailDomains = []string{"urn:okta:loa:2fa:any"}, 3600, []string{"example.com"}
	if err := (Config{Providers: map[string]ProviderConfig{"acme": p}}).Validate(); err != nil {
		t.Fatalf("a config with every option: %v", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{
		"PATH=/usr/bin",
		"TENANT_OIDC_ACME_ISSUER=https://acme.example.com",
		"TENANT_OIDC_ACME_CLIENT_ID=acme-client",
		"TENANT_OIDC_ACME_CLIENT_SECRET_FILE=" + secretFile,
		"TENANT_OIDC_ACME_SCOPES=openid, email groups,profile",
		"TENANT_OIDC_ACME_FRONTEND_URL=https://acme.app.example.com/",
		"TENANT_OIDC_ACME_REDIRECT_URL=https://acme.app.example.com/auth/oauth/oidc:acme/callback",
		"TENANT_OIDC_BIG_CORP_PRESET=entra",
		"TENANT_OIDC_BIG_CORP_TENANT_ID=organizations",
		"TENANT_OIDC_BIG_CORP_ALLOWED_TENANTS=11111111-2222-3333-4444-555555555555 66666666-7777-8888-9999-000000000000",
		"TENANT_OIDC_BIG_CORP_CLIENT_ID=corp-client",
		"TENANT_OIDC_BIG_CORP_CLIENT_SECRET=corp-secret",
		// The longest suffix wins: the name is "ws_client", not "ws".
		"TENANT_OIDC_WS_CLIENT_CLIENT_ID=ws-id",
		"TENANT_OIDC_WS_CLIENT_CLIENT_SECRET=ws-secret",
		"TENANT_OIDC_WS_CLIENT_PRESET=google",
		"TENANT_OIDC_WS_CLIENT_HOSTED_DOMAIN=example.com",
		"TENANT_OIDC_WS_CLIENT_ALLOWED_EMAIL_DOMAINS=example.com",
		"OTHER_OIDC_X_ISSUER=https://ignored.example.com",
	}
	c, err := configFromEnv("TENANT_OIDC", environ, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(c.Providers); !slices.Equal(got, []string{"acme", "big_corp", "ws_client"}) {
		t.Fatalf("providers %q", got)
	}
	acme := c.Providers["acme"]
	if acme.Issuer != "https://acme.example.com" || acme.ClientID != "acme-client" || acme.ClientSecret.Reveal() != "file-secret" ||
		!slices.Equal(acme.Scopes, []string{"openid", "email", "groups", "profile"}) || acme.FrontendURL != "https://acme.app.example.com/" ||
		acme.RedirectURL != "https://acme.app.example.com/auth/oauth/oidc:acme/callback" {
		t.Fatalf("acme = %#v", acme)
	}
	corp := c.Providers["big_corp"]
	if corp.Preset != "entra" || corp.TenantID != "organizations" || len(corp.AllowedTenants) != 2 || corp.ClientSecret.Reveal() != "corp-secret" {
		t.Fatalf("big_corp = %#v", corp)
	}
	ws := c.Providers["ws_client"]
	if ws.ClientID != "ws-id" || ws.HostedDomain != "example.com" || !slices.Equal(ws.AllowedEmailDomains, []string{"example.com"}) {
		t.Fatalf("ws_client = %#v", ws)
	}
	if _, err := NewRegistry(c); err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
}

func TestConfigFromEnvNamesTheVariableOfEveryProblem(t *testing.T) {
	files := map[string]string{"/run/secrets/empty": "\n"}
	readFile := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	environ := []string{
		"T_ACME_ISSUER=http://idp.example.com",
		"T_ACME_CLIENT_SECRET=s3cret-value",
		"T_ACME_CLIENT_SECRET_FILE=/run/secrets/acme",
		"T_ACME_CLIENTID=typo",
		"T_BETA_ISSUER=https://beta.example.com",
		"T_BETA_CLIENT_ID=b",
		"T_BETA_CLIENT_SECRET_FILE=/run/secrets/missing",
		"T_GAMMA_ISSUER=https://gamma.example.com",
		"T_GAMMA_CLIENT_ID=g",
		"T_GAMMA_CLIENT_SECRET_FILE=/run/secrets/empty",
		"T_GAMMA_SCOPES=openid \"x\"",
		"T_DOT.NAME_ISSUER=https://dot.example.com",
		"T_DOT.NAME_CLIENT_ID=d",
		"T_DOT.NAME_CLIENT_SECRET=d",
		"T_ENTRA_PRESET=entra",
		"T_ENTRA_CLIENT_ID=e",
		"T_ENTRA_CLIENT_SECRET=e",
		"T_ENTRA_TENANT_ID=contoso.onmicrosoft.com",
		"T__ISSUER=https://x.example.com",
	}
	_, err := configFromEnv("T", environ, readFile)
	want := []string{
		`federation: config: T_ACME_CLIENTID: is not a known setting: want T_<NAME> followed by one of _ISSUER, _CLIENT_ID, _CLIENT_SECRET, _CLIENT_SECRET_FILE, _REDIRECT_URL, _SCOPES, _FRONTEND_URL, _PRESET, _TENANT_ID, _ALLOWED_TENANTS, _HOSTED_DOMAIN, _ALLOWED_EMAIL_DOMAINS, _TOKEN_ENDPOINT_AUTH_METHOD, _CLIENT_KEY_FILE, _CLIENT_KEY_ID, _EMAIL_DOMAINS, _CLIENT_CERTIFICATE_FILE, _REGISTRATION, _REGISTRATION_TOKEN, _CLIENT_ASSERTION_AUDIENCE`,
		`federation: config: T_ACME_CLIENT_SECRET_FILE: conflicts with T_ACME_CLIENT_SECRET; set one`,
		`federation: config: T_BETA_CLIENT_SECRET_FILE: cannot read the secret file: file does not exist`,
		`federation: config: T_GAMMA_CLIENT_SECRET_FILE: the secret file "/run/secrets/empty" is empty`,
		`federation: config: T__ISSUER: is not a known setting: want T_<NAME> followed by one of _ISSUER, _CLIENT_ID, _CLIENT_SECRET, _CLIENT_SECRET_FILE, _REDIRECT_URL, _SCOPES, _FRONTEND_URL, _PRESET, _TENANT_ID, _ALLOWED_TENANTS, _HOSTED_DOMAIN, _ALLOWED_EMAIL_DOMAINS, _TOKEN_ENDPOINT_AUTH_METHOD, _CLIENT_KEY_FILE, _CLIENT_KEY_ID, _EMAIL_DOMAINS, _CLIENT_CERTIFICATE_FILE, _REGISTRATION, _REGISTRATION_TOKEN, _CLIENT_ASSERTION_AUDIENCE`,
		`federation: config: T_ACME_ISSUER: issuer: "http://idp.example.com": url must use https (http only for loopback hosts)`,
		`federation: config: T_ACME_* (providers.acme.clientId): is required when issuer is set`,
		`federation: config: T_BETA_CLIENT_SECRET_FILE: is required for a confidential client (a public client sets tokenEndpointAuthMethod "none")`,
		`federation: config: T_DOT.NAME_CLIENT_ID: must match [a-z0-9_-]+`,
		`federation: config: T_ENTRA_TENANT_ID: "contoso.onmicrosoft.com": want the tenant ID (a UUID; a domain name's tokens carry the ID, which would not match), organizations or common`,
		`federation: config: T_GAMMA_CLIENT_SECRET_FILE: is required for a confidential client (a public client sets tokenEndpointAuthMethod "none")`,
		`federation: config: T_GAMMA_SCOPES: "\"x\"" is not a scope token`,
	}
	got := problems(t, err)
	if !slices.Equal(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(err.Error(), "s3cret-value") {
		t.Fatal("the error shows a secret")
	}
	if _, err := configFromEnv("t-x", nil, readFile); err == nil || err.Error() != `federation: config: prefix: "t-x": want upper-case letters, digits and underscores` {
		t.Fatalf("bad prefix: %v", err)
	}
	if c, err := configFromEnv("T", []string{"PATH=/bin"}, readFile); err != nil || len(c.Providers) != 0 {
		t.Fatalf("no variables: %v, %v", c, err)
	}
}

func TestConfigFromEnvReadsTheProcessEnvironment(t *testing.T) {
	t.Setenv("OIDCFED_TEST_ACME_ISSUER", "https://acme.example.com")
	t.Setenv("OIDCFED_TEST_ACME_CLIENT_ID", "c")
	t.Setenv("OIDCFED_TEST_ACME_CLIENT_SECRET", "s")
	c, err := ConfigFromEnv("OIDCFED_TEST")
	if err != nil || c.Providers["acme"].ClientID != "c" {
		t.Fatalf("ConfigFromEnv = %v, %v", c, err)
	}
}

func TestConfigFromEnvClientKeys(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	file := filepath.Join(t.TempDir(), "client.pem")
	os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	environ := []string{
		"T_KEYED_ISSUER=https://idp.example.com",
		"T_KEYED_CLIENT_ID=keyed-client",
		"T_KEYED_TOKEN_ENDPOINT_AUTH_METHOD=private_key_jwt",
		"T_KEYED_CLIENT_KEY_FILE=" + file,
		"T_KEYED_CLIENT_KEY_ID=k1",
		"T_KEYED_CLIENT_ASSERTION_AUDIENCE=issuer",
		"T_KEYED_EMAIL_DOMAINS=company.example, corp.example",
	}
	c, err := configFromEnv("T", environ, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	pc := c.Providers["keyed"]
	if pc.TokenEndpointAuthMethod != "private_key_jwt" || pc.ClientKeyFile != file || pc.ClientKeyID != "k1" ||
		pc.ClientAssertionAudience != "issuer" || strings.Join(pc.EmailDomains, ",") != "company.example,corp.example" {
		t.Fatalf("keyed = %#v", pc)
	}
	environ[3] = "T_KEYED_CLIENT_KEY_FILE=/nonexistent/client.pem"
	_, err = configFromEnv("T", environ, os.ReadFile)
	if err == nil || !strings.Contains(err.Error(), "T_KEYED_CLIENT_KEY_FILE") {
		t.Fatalf("a missing key file: %v, want the variable named", err)
	}
}
