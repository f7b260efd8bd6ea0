package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
)

// Secret is a client secret. It prints and logs as [redacted]; JSON
// decoding reads it, JSON encoding writes [redacted].
type Secret string

func (Secret) String() string                 { return "[redacted]" }
func (Secret) GoString() string               { return "[redacted]" }
func (Secret) LogValue() slog.Value           { return slog.StringValue("[redacted]") }
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Format prints [redacted] for every verb, %d and %x included, which would
// otherwise print the string itself.
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, "[redacted]") }

// mask is [redacted] for a secret that is set and "" for none.
func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// Config is the library's configuration: the JSON format of the example
// server's config file.
type Config struct {
	Providers map[string]ProviderConfig `json:"providers"`
	// AllowedRedirects are origins, or origin+path prefixes, that redirectTo
	// may name besides same-origin paths.
	AllowedRedirects []string `json:"allowedRedirects,omitempty"`
}

// ProviderConfig configures one provider, registered as "oidc:<name>".
type ProviderConfig struct {
	// Issuer is a full URL, which the discovery document's issuer must
	// equal, or a bare domain (https://domain, with or without a trailing
	// slash in the document). http only on loopback hosts.
	Issuer       string `json:"issuer"`
	ClientID     string `json:"clientId"`
	ClientSecret Secret `json:"clientSecret,omitempty"`
	// TokenEndpointAuthMethod is how the client authenticates at the token
	// endpoint: "client_secret_basic" or "client_secret_post", by default
	// the first of those the provider lists (basic when it lists none); or
	// "none" for a public client (a CLI, a native app, or an API that only
	// verifies bearer tokens), which has no secret. PKCE is used either way.
	TokenEndpointAuthMethod string `json:"tokenEndpointAuthMethod,omitempty"`
	// Scopes default to openid email profile; openid is always added.
	Scopes []string `json:"scopes,omitempty"`
	// Audiences are the accepted aud of bearer tokens; default [ClientID].
	Audiences []string `json:"audiences,omitempty"`
	// TrustedAudiences are the aud values besides ClientID that an ID token
	// may carry (OpenID Connect Core 1.0 §3.1.3.7 step 3: an ID token with
	// an audience the client does not trust is rejected). Such a token must
	// also carry azp = ClientID.
	TrustedAudiences []string `json:"trustedAudiences,omitempty"`
	// AdditionalIssuers are further exact iss values of this provider's
	// bearer tokens, signed with the same keys: Microsoft Entra ID's v1
	// issuer https://sts.windows.net/<tenant>/ beside the v2 one. ID tokens
	// must carry the discovered issuer.
	AdditionalIssuers []string `json:"additionalIssuers,omitempty"`
	// ScopePrefix is stripped from bearer-token scopes, so handlers see
	// bare names: "api://<app-id>/" for Entra's "api://<app-id>/read".
	ScopePrefix string `json:"scopePrefix,omitempty"`
	// Claims maps User fields to claim names; default the standard claims.
	Claims       claims.Mapping      `json:"claims,omitempty"`
	DiscoveryURL string              `json:"discoveryURL,omitempty"`
	Endpoints    discovery.Endpoints `json:"endpoints,omitempty"`
	// EmailTrust is "fromClaim" (default), "never" or "dangerousAlways";
	// see EmailTrustFromClaim.
	EmailTrust string `json:"emailTrust,omitempty"`
	// AllowSignup (default true) lets a sign-in create an account.
	AllowSignup *bool `json:"allowSignup,omitempty"`
	// PublicClientID is the client ID of a public client (a CLI or native
	// app: no secret, PKCE) registered at the same provider. The Handler's
	// GET discovery route publishes it so that a CLI needs only the
	// server's URL. When the provider itself is configured as a public
	// client (tokenEndpointAuthMethod "none"), ClientID is published.
	PublicClientID string `json:"publicClientId,omitempty"`
	// DangerousAllowPasswordGrant lets [Provider.PasswordGrant] run. The
	// resource-owner password grant bypasses MFA and the provider's login
	// page and is removed in OAuth 2.1: use it only for CI against test
	// tenants.
	DangerousAllowPasswordGrant bool `json:"dangerousAllowPasswordGrant,omitempty"`
	// PostLogoutRedirectURIs are the exact URLs [Provider.LogoutURL] may
	// send the browser back to, as registered at the provider. URLs under
	// the registry's allowedRedirects are accepted too, and
	// [Handler.LogoutURL] also accepts the application's own origin.
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectURIs,omitempty"`
}

// Email trust values: how far a provider's email claim is believed when
// accounts are linked by email.
const (
	// EmailTrustFromClaim believes the email when the provider asserts
	// email_verified true (JSON true or "true"). The default.
	EmailTrustFromClaim = "fromClaim"
	// EmailTrustNever never links by this provider's email: for providers
	// whose email claim the user can set without verification (Microsoft
	// Entra ID's email claim, "nOAuth").
	EmailTrustNever = "never"
	// EmailTrustDangerousAlways believes the email even when the provider
	// did not verify it. Anyone who can set that email at the provider
	// takes over the local account with the same verified email. Only for a
	// provider that verifies every email without saying so.
	EmailTrustDangerousAlways = "dangerousAlways"
)

// DefaultScopes are requested when a provider sets none.
var DefaultScopes = []string{"openid", "email", "profile"}

var providerName = regexp.MustCompile(`^[a-z0-9_-]+$`)

// LoadConfig decodes a JSON config, rejecting unknown fields, and validates it.
func LoadConfig(r io.Reader) (Config, error) {
	var c Config
	d := json.NewDecoder(r)
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("federation: config: %w", err)
	}
	if d.More() {
		return Config{}, errors.New("federation: config: trailing data after the JSON object")
	}
	return c, c.Validate()
}

// Validate reports every problem at once, each naming provider and field.
func (c Config) Validate() error {
	var errs []error
	names := make([]string, 0, len(c.Providers))
	for name := range c.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		errs = append(errs, c.Providers[name].validate(name)...)
	}
	for _, a := range c.AllowedRedirects {
		if _, err := parseAllowed(a); err != nil {
			errs = append(errs, fmt.Errorf("federation: allowedRedirects: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (p ProviderConfig) validate(name string) []error {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("federation: provider %q: %s: %s", name, field, fmt.Sprintf(format, args...)))
	}
	if !providerName.MatchString(name) {
		fail("name", "must match [a-z0-9_-]+")
	}
	if p.Issuer == "" {
		fail("issuer", "is required")
	} else if _, err := discovery.ParseIssuer(p.Issuer); err != nil {
		fail("issuer", "%v", err)
	} else {
		// Each field alone with the issuer, so the problem is named by its field.
		if _, err := discovery.NewSource(p.Issuer, p.DiscoveryURL, discovery.Endpoints{}); err != nil {
			fail("discoveryURL", "%v", err)
		}
		if _, err := discovery.NewSource(p.Issuer, "", p.Endpoints); err != nil {
			fail("endpoints", "%v", err)
		}
	}
	if p.ClientID == "" {
		fail("clientId", "is required when issuer is set")
	}
	switch p.TokenEndpointAuthMethod {
	case "", authBasic, authPost:
		if p.ClientSecret == "" {
			fail("clientSecret", `is required for a confidential client (a public client sets tokenEndpointAuthMethod "none")`)
		}
	case authNone:
		if p.ClientSecret != "" {
			fail("clientSecret", `must be empty for tokenEndpointAuthMethod "none"`)
		}
	default:
		fail("tokenEndpointAuthMethod", "%q: want %q, %q or %q", p.TokenEndpointAuthMethod, authBasic, authPost, authNone)
	}
	for _, s := range p.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			fail("scopes", "%q is not a scope token", s)
		}
	}
	if slices.Contains(p.Audiences, "") {
		fail("audiences", "must not contain an empty string")
	}
	if slices.Contains(p.TrustedAudiences, "") {
		fail("trustedAudiences", "must not contain an empty string")
	}
	for i, iss := range p.AdditionalIssuers {
		if _, err := urlcheck.Endpoint(iss); err != nil {
			fail("additionalIssuers", "%v", err)
		} else if iss == p.Issuer || slices.Contains(p.AdditionalIssuers[:i], iss) {
			fail("additionalIssuers", "%q is listed twice", iss)
		}
	}
	for _, u := range p.PostLogoutRedirectURIs {
		if _, err := urlcheck.Endpoint(u); err != nil {
			fail("postLogoutRedirectURIs", "%v", err)
		}
	}
	if strings.ContainsFunc(p.ScopePrefix, unicode.IsSpace) {
		fail("scopePrefix", "%q contains white space", p.ScopePrefix)
	}
	if _, err := p.Claims.Compile(); err != nil {
		fail("claims", "%v", err)
	}
	switch p.EmailTrust {
	case "", EmailTrustFromClaim, EmailTrustNever, EmailTrustDangerousAlways:
	default:
		fail("emailTrust", "%q: want %q, %q or %q", p.EmailTrust, EmailTrustFromClaim, EmailTrustNever, EmailTrustDangerousAlways)
	}
	return errs
}

// scopes returns the scopes to request: the configured ones (or the
// defaults) with openid first.
func (p ProviderConfig) scopes() []string {
	s := p.Scopes
	if len(s) == 0 {
		s = DefaultScopes
	}
	out := []string{"openid"}
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// allowed is an allowedRedirects entry: an origin and an optional path prefix.
type allowed struct {
	origin string // scheme://host[:port]
	prefix string // "" or a path starting with "/"
}

func parseAllowed(s string) (allowed, error) {
	u, err := urlcheck.Endpoint(s)
	if err != nil {
		return allowed{}, err
	}
	if u.RawQuery != "" {
		return allowed{}, fmt.Errorf("%q must not have a query", s)
	}
	return allowed{origin: u.Scheme + "://" + strings.ToLower(u.Host), prefix: strings.TrimSuffix(u.EscapedPath(), "/")}, nil
}
