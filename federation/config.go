package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
)

// Secret is a client secret. It prints and logs as [redacted]; JSON
// decoding reads it, JSON encoding writes [redacted].
type Secret string

// String prints [redacted], so that a secret cannot reach a log, an
// error or a JSON dump by accident; [Secret.Reveal] is the one way out.
func (Secret) String() string { return "[redacted]" }

// GoString prints [redacted] for %#v.
func (Secret) GoString() string { return "[redacted]" }

// LogValue logs [redacted].
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalJSON writes "[redacted]"; decoding reads the real value.
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
	Providers map[string]ProviderConfig `json:"providers"` // by name: "acme" is registered as "oidc:acme"
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
	ClientID     string `json:"clientId"`               // the client ID registered at the provider
	ClientSecret Secret `json:"clientSecret,omitempty"` // empty for a public client (tokenEndpointAuthMethod "none")
	// Registration "dynamic" registers the client at the provider's
	// registration_endpoint on first use (RFC 7591; OpenID Connect Dynamic
	// Client Registration) instead of a configured clientId and
	// clientSecret, which must then be empty: the redirect URIs, the JWKS
	// route (with client keys), tokenEndpointAuthMethod (default
	// private_key_jwt with client keys, else client_secret_basic) and the
	// encryption settings are registered, the credentials kept in the
	// registry's value store (WithValueStore: shared and sealed), renewed
	// before client_secret_expires_at, and registered again when the
	// provider answers invalid_client. Needs a Handler on the registry.
	// Default "static".
	Registration string `json:"registration,omitempty"`
	// RegistrationToken is the initial access token that authorizes
	// registration (RFC 7591 §3), when the provider asks for one.
	RegistrationToken Secret `json:"registrationToken,omitempty"`
	// TokenEndpointAuthMethod is how the client authenticates at the token
	// endpoint: "client_secret_basic" or "client_secret_post", by default
	// the first of those the provider lists (basic when it lists none); or
	// "none" for a public client (a CLI, a native app, or an API that only
	// verifies bearer tokens), which has no secret. PKCE is used either way.
	// With keys instead of a secret: "private_key_jwt" (ClientKeyFile),
	// "client_secret_jwt" (a secret of 32 bytes or more keys an HMAC),
	// "tls_client_auth" or "self_signed_tls_client_auth" (RFC 8705:
	// ClientKeyFile and ClientCertificateFile).
	TokenEndpointAuthMethod string `json:"tokenEndpointAuthMethod,omitempty"`
	// ClientKeyFile is a PEM file of PKCS#8 private keys (RSA of 2048 bits
	// or more, or EC P-256) for "private_key_jwt" and mutual TLS: the
	// first signs the client's assertions (RS256, PS256 or ES256) and
	// holds the TLS client certificate; all are published at the JWKS
	// route, so a rotation adds the new key second, moves it first once
	// the provider has it, then removes the old one (docs/client-auth.md).
	// Or set ClientKey in code.
	ClientKeyFile string `json:"clientKeyFile,omitempty"`
	// ClientKeyID is the kid of the signing key in ClientKeyFile. Default:
	// its RFC 7638 thumbprint.
	ClientKeyID string `json:"clientKeyId,omitempty"`
	// ClientKey is the client's key instead of ClientKeyFile (a key in an
	// HSM or KMS: [NewClientKey]; with its certificate:
	// [NewClientCertificate]); never marshalled or printed.
	ClientKey *ClientKey `json:"-"`
	// ClientCertificateFile is a PEM file of the signing key's certificate
	// (then its intermediates, if any): required for "tls_client_auth" and
	// "self_signed_tls_client_auth" (RFC 8705), and with "private_key_jwt"
	// it puts the certificate's thumbprints in each assertion's header
	// (x5t#S256, x5t), as Microsoft Entra ID's certificate credentials want.
	ClientCertificateFile string `json:"clientCertificateFile,omitempty"`
	// PushedAuthorization is whether authorization requests are pushed to
	// the provider first (PAR, RFC 9126), so the browser's URL carries
	// only client_id and request_uri: "never" (default: the URL carries
	// the request), "auto" (push when the provider has a
	// pushed_authorization_request_endpoint) or "required" (always; a
	// provider without one fails the start and Check). A provider that
	// requires PAR is pushed to whatever this says.
	PushedAuthorization string `json:"pushedAuthorization,omitempty"`
	// RequestObject "signed" sends the authorization request as a request
	// object (RFC 9101) signed with the client key (ClientKeyFile or
	// ClientKey), by value or inside PAR. Default: plain parameters.
	RequestObject string `json:"requestObject,omitempty"`
	// RequestURI sends the request object by reference (RFC 9101 §5.2):
	// it is served once, for 5 minutes, at an unguessable URL under the
	// mount ({mount}/oidc:{name}/request/{id}) kept in the registry's
	// value store (WithValueStore, shared by instances), and the browser's
	// URL carries request_uri. Needs requestObject; not with
	// pushedAuthorization, which is itself by reference. RequestObject
	// "none" (unsigned) is allowed only with RequestURI and registration
	// "dynamic", which registers request_object_signing_alg none.
	RequestURI bool `json:"requestUri,omitempty"`
	// ResponseMode "form_post" asks the provider to answer with a POST of
	// an auto-submitted form (OAuth 2.0 Form Post Response Mode) instead
	// of a redirect whose URL carries the code: the callback then takes a
	// form-encoded POST for this provider's flows only, and their flow
	// cookie is SameSite=None and Secure so that the cross-site POST
	// carries it. Default "query". A link whose host session cookie is
	// SameSite=Lax cannot complete through form_post: the POST does not
	// carry it.
	ResponseMode string `json:"responseMode,omitempty"`
	// AggregatedClaims are the claim issuers whose aggregated claims (OpenID
	// Connect Core 1.0 §5.6.2: a signed JWT under _claim_sources) this
	// provider's ID tokens and userinfo may carry: verified with the
	// issuer's keys, they fill the claims they name. Distributed claims
	// are fetched, from a listed issuer's origin only (64 KiB, 5 s), and
	// verified the same way. Other sources are ignored.
	AggregatedClaims []ClaimIssuer `json:"aggregatedClaims,omitempty"`
	// IDTokenEncryption asks for ID tokens encrypted to the client (signed,
	// then encrypted: JWE, OpenID Connect Core 1.0 §10.2), and
	// UserinfoEncryption for userinfo; the client's registration at the
	// provider must ask the same (id_token_encrypted_response_alg and _enc,
	// userinfo_…). They need a client key of the alg's kind (ClientKeyFile:
	// RSA for RSA-OAEP, EC for ECDH-ES), published with use "enc" at the
	// JWKS route. A plaintext response is then refused (ErrNotEncrypted).
	IDTokenEncryption  *Encryption `json:"idTokenEncryption,omitempty"`
	UserinfoEncryption *Encryption `json:"userinfoEncryption,omitempty"`
	// UserinfoTokenInBody sends the access token to userinfo in a POST
	// form body (RFC 6750 §2.2) instead of the Authorization header, for a
	// provider that demands it. Not with dpop.
	UserinfoTokenInBody bool `json:"userinfoTokenInBody,omitempty"`
	// EmailDomains are the domains whose users sign in at this provider
	// (home-realm discovery): the start route GET {mount}/start?login_hint=
	// alice@company.com sends them here. A domain belongs to one provider.
	EmailDomains []string `json:"emailDomains,omitempty"`
	// DPoP binds this provider's tokens to a key (RFC 9449): each sign-in
	// gets a fresh ES256 key, sealed in the flow, the code is bound to it
	// (dpop_jkt), and token requests, userinfo and refreshes prove it.
	// Tokens.DPoP carries the key; DPoPClient calls APIs with it.
	DPoP bool `json:"dpop,omitempty"`
	// IntrospectOpaqueTokens sends bearer tokens that are not JWTs to this
	// provider's introspection_endpoint (RFC 7662), authenticated as at
	// the token endpoint; see [BearerConfig.Introspection] and
	// docs/bearer.md for what that discloses and how it is bounded.
	IntrospectOpaqueTokens bool `json:"introspectOpaqueTokens,omitempty"`
	// ClientAssertionAudience is the aud of client assertions:
	// "tokenEndpoint" (default: the URL the assertion is sent to) or
	// "issuer", which some providers want.
	ClientAssertionAudience string `json:"clientAssertionAudience,omitempty"`
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
	// ScopePrefix is stripped from bearer-token scopes before they are
	// compared, for providers whose tokens carry full scope URIs
	// ("https://api.example.com/" for "https://api.example.com/read").
	// Entra ID's scp already holds bare names and needs none.
	ScopePrefix string `json:"scopePrefix,omitempty"`
	// Claims maps User fields to claim names; default the standard claims.
	Claims claims.Mapping `json:"claims,omitempty"`
	// DiscoveryURL is the discovery document's URL when it is not
	// issuer + "/.well-known/openid-configuration" (Entra multi-tenant,
	// providers behind a gateway). Its document's issuer must still match.
	DiscoveryURL string `json:"discoveryURL,omitempty"`
	// Endpoints set endpoints by hand: each replaces the discovered one;
	// with authorization, token and jwks all set, nothing is discovered.
	Endpoints discovery.Endpoints `json:"endpoints,omitempty"`
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

	// Preset names the kind of provider ("entra", "okta", "google"…; see
	// [Presets]): it builds the issuer from the fields below and fills in
	// the provider's quirks. docs/providers has one page per preset.
	Preset string `json:"preset,omitempty"`
	// TenantID is the Microsoft Entra ID tenant ID, a UUID (not a domain
	// name: tokens carry the ID, so a domain's issuer would never match);
	// "organizations" for any work or school account or "common" for
	// those and personal Microsoft accounts, see AllowedTenants. For
	// preset ping, the PingOne environment ID.
	TenantID string `json:"tenantId,omitempty"`
	// Domain is the Okta, Auth0 or self-managed GitLab host name, or the
	// PingOne regional host (default auth.pingone.com).
	Domain string `json:"domain,omitempty"`
	// AuthorizationServerID selects an Okta custom authorization server
	// ("default" or its ID); empty means the org authorization server.
	AuthorizationServerID string `json:"authorizationServerId,omitempty"`
	// AllowedTenants restricts a multi-tenant Entra provider
	// (tenantId "organizations" or "common") to these tenant IDs, checked
	// against the token's tid. Empty: every tenant may sign in.
	AllowedTenants []string `json:"allowedTenants,omitempty"`
	// HostedDomain restricts Google sign-in to one Google Workspace
	// domain: sent as the hd parameter and enforced on the ID token's hd
	// claim, which a user cannot set.
	HostedDomain string `json:"hostedDomain,omitempty"`

	// RedirectURL overrides the callback URL computed from the handler's
	// BaseURL, for a tenant served on its own host or behind a proxy that
	// rewrites the path. Its path must still end in
	// /oidc:<name>/callback, so that it routes to the handler.
	RedirectURL string `json:"redirectURL,omitempty"`
	// FrontendURL is where the tenant's sign-ins land when the start
	// request names no redirectTo: a path on the application or an
	// absolute URL. Its origin and path are also an allowed redirectTo
	// for this provider, like an allowedRedirects entry.
	FrontendURL string `json:"frontendURL,omitempty"`
	// AuthParams are extra authorization request parameters, such as
	// prompt, acr_values, login_hint, domain_hint or Auth0's audience.
	// Parameters that oidcfed sets itself (state, nonce, PKCE, scope,
	// redirect_uri…) cannot be overridden; use MaxAge for max_age.
	AuthParams map[string]string `json:"authParams,omitempty"`
	// RequiredACR are the accepted acr values: the ID token's acr must be
	// one of them. They are requested as acr_values unless AuthParams
	// sets acr_values.
	RequiredACR []string `json:"requiredAcr,omitempty"`
	// MaxAge, in seconds, is the oldest authentication accepted: sent as
	// max_age, and the ID token's auth_time must be at most this old.
	MaxAge int `json:"maxAge,omitempty"`
	// AllowedEmailDomains restricts sign-in to users whose email is
	// verified (under EmailTrust) and in one of these domains.
	AllowedEmailDomains []string `json:"allowedEmailDomains,omitempty"`

	// credentials are the client's keys as validation read them, in the
	// effective config only: the files are read once.
	credentials []*ClientKey
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

// emailDomain is a lower-case ASCII domain name, as emailDomains holds.
var emailDomain = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)

// ConfigError is one problem with a configuration. Validate and the
// loaders return every problem at once, joined: use errors.As to get the
// first, or range over Unwrap() []error for all of them.
type ConfigError struct {
	Provider string // the provider name; "" for registry-wide fields
	Field    string // the provider's field as JSON names it ("clientId", "claims.groups")
	// Path says where the value was configured: a JSON path
	// ("providers.acme.clientId") or an environment variable
	// ("TENANT_OIDC_ACME_CLIENT_ID").
	Path string
	Err  error // the problem
}

// Error reads "federation: config: <path>: <problem>".
func (e *ConfigError) Error() string { return "federation: config: " + e.Path + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// Validate reports every problem at once, each a *[ConfigError] naming
// provider and field by JSON path. Presets are applied first, so problems
// with the fields a preset fills are reported against the preset's inputs.
func (c Config) Validate() error { return c.effective(nil) }

// effective applies each provider's preset, validates the result and
// passes each valid one to each (when not nil). Problems are reported by
// provider name, then in field order.
func (c Config) effective(each func(name string, given, eff ProviderConfig)) error {
	var perrs []*ConfigError
	owner := map[string]string{} // email domain → the first provider, by name
	for _, name := range slices.Sorted(maps.Keys(c.Providers)) {
		for _, d := range c.Providers[name].EmailDomains {
			if first, taken := owner[strings.ToLower(d)]; taken && first != name {
				perrs = append(perrs, &ConfigError{Provider: name, Field: "emailDomains",
					Path: "providers." + name + ".emailDomains",
					Err:  fmt.Errorf("%q is also provider %q's: a domain belongs to one provider", d, first)})
			} else {
				owner[strings.ToLower(d)] = name
			}
		}
	}
	for name, pc := range c.Providers {
		eff, errs := pc.effective(name)
		perrs = append(perrs, errs...)
		if len(errs) == 0 && each != nil {
			each(name, pc, eff)
		}
	}
	slices.SortStableFunc(perrs, func(a, b *ConfigError) int { return strings.Compare(a.Provider, b.Provider) })
	errs := make([]error, 0, len(perrs))
	for _, e := range perrs {
		errs = append(errs, e)
	}
	for i, a := range c.AllowedRedirects {
		if _, err := parseAllowed(a); err != nil {
			errs = append(errs,
				&ConfigError{Field: "allowedRedirects", Path: fmt.Sprintf("allowedRedirects[%d]", i), Err: err})
		}
	}
	return errors.Join(errs...)
}

// effective applies p's preset and validates the outcome.
func (p ProviderConfig) effective(name string) (ProviderConfig, []*ConfigError) {
	v := validation{name: name}
	if !providerName.MatchString(name) {
		v.fail("name", "must match [a-z0-9_-]+")
	}
	eff := p.applyPreset(&v)
	if eff.Registration == registrationDynamic && eff.TokenEndpointAuthMethod == "" {
		eff.TokenEndpointAuthMethod = authBasic
		if eff.ClientKeyFile != "" || eff.ClientKey != nil {
			eff.TokenEndpointAuthMethod = authPrivateKeyJWT
		}
	}
	eff.validate(&v)
	eff.credentials = v.credentials
	return eff, v.errs
}

// validation collects a provider's problems.
type validation struct {
	name string
	errs []*ConfigError
	// noIssuer: the preset could not build the issuer and said why.
	noIssuer bool
	// credentials are the client's keys as validation read them.
	credentials []*ClientKey
}

func (v *validation) fail(field, format string, args ...any) {
	v.errs = append(v.errs, &ConfigError{Provider: v.name, Field: field, Path: "providers." + v.name + "." + field,
		Err: fmt.Errorf(format, args...)})
}

func (p ProviderConfig) validate(v *validation) {
	fail := v.fail
	if p.Issuer == "" {
		if !v.noIssuer {
			fail("issuer", "is required")
		}
	} else if _, err := discovery.ParseIssuer(p.Issuer); err != nil {
		fail("issuer", "%v", err)
	} else {
		// Each field alone with the issuer, so the problem is named by its
		// field; with neither, ParseIssuer said all there is to say.
		if p.DiscoveryURL != "" {
			if _, err := discovery.NewSource(p.Issuer, p.DiscoveryURL, discovery.Endpoints{}); err != nil {
				fail("discoveryURL", "%v", err)
			}
		}
		if p.Endpoints != (discovery.Endpoints{}) {
			if _, err := discovery.NewSource(p.Issuer, "", p.Endpoints); err != nil {
				fail("endpoints", "%v", err)
			}
		}
	}
	dynamic := p.Registration == registrationDynamic
	switch p.Registration {
	case "", registrationStatic:
		if p.RegistrationToken != "" {
			fail("registrationToken", `is used only with registration "dynamic"`)
		}
	case registrationDynamic:
		if p.ClientID != "" {
			fail("clientId", `must be empty with registration "dynamic": the registration sets it`)
		}
		if p.ClientSecret != "" {
			fail("clientSecret", `must be empty with registration "dynamic": the registration sets it`)
		}
	default:
		fail("registration", "%q: want %q or %q", p.Registration, registrationStatic, registrationDynamic)
	}
	if p.ClientID == "" && !dynamic {
		fail("clientId", "is required when issuer is set")
	}
	switch p.TokenEndpointAuthMethod {
	case "", authBasic, authPost:
		if p.ClientSecret == "" && !dynamic {
			fail("clientSecret",
				`is required for a confidential client (a public client sets tokenEndpointAuthMethod "none")`)
		}
	case authNone:
		if p.ClientSecret != "" {
			fail("clientSecret", `must be empty for tokenEndpointAuthMethod "none"`)
		}
	case authClientSecretJWT:
		if len(p.ClientSecret) < 32 && !dynamic {
			fail("clientSecret", `must be 32 bytes or more for tokenEndpointAuthMethod "client_secret_jwt" `+
				"(it keys HS256, RFC 7518 §3.2)")
		}
	case authPrivateKeyJWT, authTLS, authSelfSignedTLS:
	default:
		fail("tokenEndpointAuthMethod", "%q: want %q, %q, %q, %q, %q, %q or %q", p.TokenEndpointAuthMethod, authBasic,
			authPost, authPrivateKeyJWT, authClientSecretJWT, authTLS, authSelfSignedTLS, authNone)
	}
	v.credentials = p.loadCredentials(fail)
	switch p.PushedAuthorization {
	case "", pushNever, pushAuto, pushRequired:
	default:
		fail("pushedAuthorization", "%q: want %q, %q or %q", p.PushedAuthorization, pushNever, pushAuto, pushRequired)
	}
	switch p.ResponseMode {
	case "", responseQuery, responseFormPost:
	default:
		fail("responseMode", "%q: want %q or %q", p.ResponseMode, responseQuery, responseFormPost)
	}
	switch p.RequestObject {
	case "", requestObjectSigned:
	case requestObjectNone:
		if !p.RequestURI || p.Registration != registrationDynamic {
			fail("requestObject", `"none" (unsigned) needs requestUri and registration "dynamic", which registers request_object_signing_alg none`)
		}
	default:
		fail("requestObject", "%q: want %q or %q (or leave it out for plain parameters)", p.RequestObject,
			requestObjectSigned, requestObjectNone)
	}
	switch {
	case !p.RequestURI:
	case p.RequestObject == "":
		fail("requestUri", `needs requestObject "signed" (or "none")`)
	case p.PushedAuthorization == pushAuto || p.PushedAuthorization == pushRequired:
		fail("requestUri", "cannot be used with pushedAuthorization %q: a pushed request is already by reference",
			p.PushedAuthorization)
	}
	switch p.ClientAssertionAudience {
	case "", "tokenEndpoint", "issuer":
	default:
		fail("clientAssertionAudience", `%q: want "tokenEndpoint" or "issuer"`, p.ClientAssertionAudience)
	}
	for _, ci := range p.AggregatedClaims {
		if _, err := discovery.ParseIssuer(ci.Issuer); err != nil {
			fail("aggregatedClaims", "issuer: %v", err)
		}
		if _, err := urlcheck.Endpoint(ci.JWKSURI); err != nil {
			fail("aggregatedClaims", "jwksUri %q: %v", ci.JWKSURI, err)
		}
	}
	if p.UserinfoTokenInBody && p.DPoP {
		fail("userinfoTokenInBody", "cannot be used with dpop: a DPoP-bound token goes in the Authorization header")
	}
	for _, d := range p.EmailDomains {
		if !emailDomain.MatchString(d) {
			fail("emailDomains", "%q is not a domain name (lower-case ASCII letters, digits, dots and hyphens)", d)
		}
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
		if pu, err := urlcheck.Endpoint(u); err != nil {
			fail("postLogoutRedirectURIs", "%v", err)
		} else if urlcheck.HasDotSegment(pu.EscapedPath()) {
			fail("postLogoutRedirectURIs", "%q has a . or .. path segment", u)
		}
	}
	if strings.ContainsFunc(p.ScopePrefix, unicode.IsSpace) {
		fail("scopePrefix", "%q contains white space", p.ScopePrefix)
	}
	if err := p.Claims.Validate(); err != nil {
		fail("claims", "%v", err)
	}
	switch p.EmailTrust {
	case "", EmailTrustFromClaim, EmailTrustNever, EmailTrustDangerousAlways:
	default:
		fail("emailTrust", "%q: want %q, %q or %q", p.EmailTrust, EmailTrustFromClaim, EmailTrustNever,
			EmailTrustDangerousAlways)
	}
	p.validateSignInOptions(v)
}

// scopes returns the scopes to request: the configured ones (or the
// defaults) with openid first.
func (p ProviderConfig) scopes() []string {
	s := p.Scopes
	if len(s) == 0 {
		if d := defaultScopes.Load(); d != nil && slices.Equal(d.from, DefaultScopes) {
			return d.scopes // shared by every provider with the default scopes; read-only
		}
		d := &scopeList{from: slices.Clone(DefaultScopes), scopes: scopeSet(DefaultScopes)}
		defaultScopes.Store(d)
		return d.scopes
	}
	return scopeSet(s)
}

// scopeList is DefaultScopes (as from) with openid first.
type scopeList struct{ from, scopes []string }

var defaultScopes atomic.Pointer[scopeList]

// scopeSet is s, duplicates dropped, with openid first.
func scopeSet(s []string) []string {
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
	if urlcheck.HasDotSegment(u.EscapedPath()) {
		return allowed{}, fmt.Errorf("%q has a . or .. path segment", s)
	}
	return allowed{origin: u.Scheme + "://" + strings.ToLower(u.Host),
		prefix: strings.TrimSuffix(u.EscapedPath(), "/")}, nil
}
