package discovery

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oidcfed/oidcfed/internal/urlcheck"
)

// Metadata is the part of a provider's discovery document oidcfed uses
// (OpenID Connect Discovery 1.0 §3, RFC 8414 §2, RFC 9207 §3, RFC 8628 §4,
// OpenID RP-Initiated Logout 1.0 §2.1). Values returned by this package are
// shared and must not be modified.
type Metadata struct {
	// Issuer is the issuer identifier; tokens' iss must equal it.
	Issuer string `json:"issuer"`
	// AuthorizationEndpoint starts the code flow.
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	// TokenEndpoint redeems codes and refresh tokens.
	TokenEndpoint string `json:"token_endpoint"`
	// UserinfoEndpoint serves claims for an access token (optional).
	UserinfoEndpoint string `json:"userinfo_endpoint,omitempty"`
	// JWKSURI serves the signing keys.
	JWKSURI string `json:"jwks_uri"`
	// EndSessionEndpoint is RP-initiated logout (optional).
	EndSessionEndpoint string `json:"end_session_endpoint,omitempty"`
	// DeviceAuthorizationEndpoint starts the device flow (optional).
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint,omitempty"`
	// ScopesSupported lists the scopes the provider knows.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// ResponseTypesSupported must include "code".
	ResponseTypesSupported []string `json:"response_types_supported,omitempty"`
	// CodeChallengeMethodsSupported should list "S256".
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported,omitempty"`
	// TokenEndpointAuthMethodsSupported picks the client authentication.
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// TokenEndpointAuthSigningAlgValuesSupported are the algorithms the
	// provider accepts for client assertions (private_key_jwt,
	// client_secret_jwt).
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	// IDTokenSigningAlgValuesSupported are the ID-token algorithms (see Algorithms).
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported,omitempty"`
	// UserinfoSigningAlgValuesSupported are the userinfo signing
	// algorithms; a signed answer is verified with Algorithms().
	UserinfoSigningAlgValuesSupported []string `json:"userinfo_signing_alg_values_supported,omitempty"`
	// IDTokenEncryptionAlgValuesSupported and the others are the
	// algorithms the provider encrypts ID tokens and userinfo with.
	IDTokenEncryptionAlgValuesSupported  []string `json:"id_token_encryption_alg_values_supported,omitempty"`
	IDTokenEncryptionEncValuesSupported  []string `json:"id_token_encryption_enc_values_supported,omitempty"`
	UserinfoEncryptionAlgValuesSupported []string `json:"userinfo_encryption_alg_values_supported,omitempty"`
	UserinfoEncryptionEncValuesSupported []string `json:"userinfo_encryption_enc_values_supported,omitempty"`
	// ClaimsSupported lists the claims the provider may send.
	ClaimsSupported []string `json:"claims_supported,omitempty"`
	// AuthorizationResponseISSParameterSupported: the callback carries iss (RFC 9207).
	AuthorizationResponseISSParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
	// BackchannelLogoutSupported: the provider sends logout tokens.
	BackchannelLogoutSupported bool `json:"backchannel_logout_supported,omitempty"`
	// RevocationEndpoint revokes tokens (RFC 7009).
	RevocationEndpoint string `json:"revocation_endpoint,omitempty"`
	// RegistrationEndpoint registers clients (RFC 7591, OpenID Connect
	// Dynamic Client Registration 1.0).
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`
	// IntrospectionEndpoint says whether a token is active (RFC 7662).
	IntrospectionEndpoint string `json:"introspection_endpoint,omitempty"`
	// PushedAuthorizationRequestEndpoint takes pushed authorization
	// requests (RFC 9126 §5).
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint,omitempty"`
	// RequirePushedAuthorizationRequests: the provider takes authorization
	// requests only through PAR.
	RequirePushedAuthorizationRequests bool `json:"require_pushed_authorization_requests,omitempty"`
	// RequestObjectSigningAlgValuesSupported are the algorithms the
	// provider accepts for signed request objects (RFC 9101).
	RequestObjectSigningAlgValuesSupported []string `json:"request_object_signing_alg_values_supported,omitempty"`
	// RequestParameterSupported: the provider takes a request object by
	// value in the request parameter (default false).
	RequestParameterSupported bool `json:"request_parameter_supported,omitempty"`
	// RequestURIParameterSupported: the provider fetches a request object
	// by reference (request_uri); nil means the default, true.
	RequestURIParameterSupported *bool `json:"request_uri_parameter_supported,omitempty"`
	// RequireRequestURIRegistration: a request_uri must have been
	// registered (request_uris) before use.
	RequireRequestURIRegistration bool `json:"require_request_uri_registration,omitempty"`
	// ResponseModesSupported are the response modes (default query and
	// fragment).
	ResponseModesSupported []string `json:"response_modes_supported,omitempty"`
	// MTLSEndpointAliases are the endpoints a client authenticating with
	// a TLS client certificate uses instead (RFC 8705 §5); https only.
	MTLSEndpointAliases MTLSEndpointAliases `json:"mtls_endpoint_aliases,omitzero"`
}

// MTLSEndpointAliases are a provider's mutual-TLS endpoints (RFC 8705 §5).
// Each empty one means the regular endpoint serves mutual TLS too.
type MTLSEndpointAliases struct {
	TokenEndpoint                      string `json:"token_endpoint,omitempty"`
	UserinfoEndpoint                   string `json:"userinfo_endpoint,omitempty"`
	DeviceAuthorizationEndpoint        string `json:"device_authorization_endpoint,omitempty"`
	RevocationEndpoint                 string `json:"revocation_endpoint,omitempty"`
	IntrospectionEndpoint              string `json:"introspection_endpoint,omitempty"`
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint,omitempty"`
}

// Endpoints are set by hand in configuration. Each non-empty field replaces
// the discovered one; when Authorization, Token and JWKS are all set, no
// discovery document is fetched at all.
type Endpoints struct {
	// Authorization replaces authorization_endpoint.
	Authorization string `json:"authorization,omitempty"`
	// Token replaces token_endpoint.
	Token string `json:"token,omitempty"`
	// Userinfo replaces userinfo_endpoint.
	Userinfo string `json:"userinfo,omitempty"`
	// JWKS replaces jwks_uri.
	JWKS string `json:"jwks,omitempty"`
	// EndSession replaces end_session_endpoint.
	EndSession string `json:"endSession,omitempty"`
}

func (e Endpoints) complete() bool {
	return e.Authorization != "" && e.Token != "" && e.JWKS != ""
}

// SigningAlgorithms are the ID-token signing algorithms oidcfed accepts:
// asymmetric only. "none" is never accepted, and neither is HMAC: with a
// shared client secret anyone holding it could mint tokens, and HMAC invites
// key confusion with a public key.
var SigningAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
	"EdDSA"}

// Algorithms returns the provider's advertised ID-token signing algorithms
// that oidcfed accepts, RS256 when it advertises none (OpenID Connect
// Discovery 1.0 §3 makes RS256 mandatory to support).
func (m *Metadata) Algorithms() []string {
	if len(m.IDTokenSigningAlgValuesSupported) == 0 {
		return []string{"RS256"}
	}
	var algs []string
	for _, a := range m.IDTokenSigningAlgValuesSupported {
		if slices.Contains(SigningAlgorithms, a) && !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	return algs
}

// validate checks m as fetched from docURL for the configured issuer and
// pins the issuer; tenants accepts a {tenantid} template (see
// [NewTenantSource]). It returns the first problem found.
func (m *Metadata) validate(docURL string, iss Issuer, tenants bool) error {
	fail := func(field string, err error) error { return &MetadataError{URL: docURL, Field: field, Err: err} }
	if m.Issuer == "" {
		return fail("issuer", ErrMissingField)
	}
	if m.TenantTemplate() {
		if !tenants || !templateMatches(m.Issuer, iss.url) {
			return fail("issuer",
				fmt.Errorf("%w: configured %q, document says %q (a multi-tenant template)", ErrIssuerMismatch,
					iss.String(), m.Issuer))
		}
	} else if !iss.Matches(m.Issuer) {
		return fail("issuer",
			fmt.Errorf("%w: configured %q, document says %q", ErrIssuerMismatch, iss.String(), m.Issuer))
	}
	return m.validateEndpoints(docURL, iss.loopback())
}

// validateEndpoints checks the endpoints oidcfed needs and those it may use.
func (m *Metadata) validateEndpoints(docURL string, loopbackIssuer bool) error {
	fail := func(field string, err error) error { return &MetadataError{URL: docURL, Field: field, Err: err} }
	endpoints := []struct {
		field    string
		value    string
		required bool
	}{
		{"authorization_endpoint", m.AuthorizationEndpoint, true},
		{"token_endpoint", m.TokenEndpoint, true},
		{"jwks_uri", m.JWKSURI, true},
		{"userinfo_endpoint", m.UserinfoEndpoint, false},
		{"end_session_endpoint", m.EndSessionEndpoint, false},
		{"device_authorization_endpoint", m.DeviceAuthorizationEndpoint, false},
		{"pushed_authorization_request_endpoint", m.PushedAuthorizationRequestEndpoint,
			m.RequirePushedAuthorizationRequests},
		{"revocation_endpoint", m.RevocationEndpoint, false},
		{"registration_endpoint", m.RegistrationEndpoint, false},
		{"introspection_endpoint", m.IntrospectionEndpoint, false},
	}
	for _, e := range endpoints {
		if e.value == "" {
			if e.required {
				return fail(e.field, ErrMissingField)
			}
			continue
		}
		if err := checkEndpoint(e.value, loopbackIssuer); err != nil {
			return fail(e.field, err)
		}
	}
	a := m.MTLSEndpointAliases
	for _, e := range []struct{ field, value string }{
		{"token_endpoint", a.TokenEndpoint}, {"userinfo_endpoint", a.UserinfoEndpoint},
		{"device_authorization_endpoint", a.DeviceAuthorizationEndpoint}, {"revocation_endpoint", a.RevocationEndpoint},
		{"introspection_endpoint", a.IntrospectionEndpoint},
		{"pushed_authorization_request_endpoint", a.PushedAuthorizationRequestEndpoint},
	} {
		// Mutual TLS needs TLS: no http alias, not even on loopback.
		if e.value != "" {
			if err := checkEndpoint(e.value, false); err != nil {
				return fail("mtls_endpoint_aliases."+e.field, err)
			}
		}
	}
	if len(m.ResponseTypesSupported) > 0 && !slices.Contains(m.ResponseTypesSupported, "code") {
		return fail("response_types_supported",
			fmt.Errorf("%w: the authorization code flow (\"code\") is not listed", ErrUnsupported))
	}
	if len(m.CodeChallengeMethodsSupported) > 0 && !slices.Contains(m.CodeChallengeMethodsSupported, "S256") {
		return fail("code_challenge_methods_supported", fmt.Errorf("%w: PKCE S256 is not listed", ErrUnsupported))
	}
	if len(m.Algorithms()) == 0 {
		return fail("id_token_signing_alg_values_supported",
			fmt.Errorf("%w: none of %v is an accepted asymmetric algorithm", ErrUnsupported,
				m.IDTokenSigningAlgValuesSupported))
	}
	return nil
}

// TenantPlaceholder stands for the tenant in a multi-tenant issuer
// template.
const TenantPlaceholder = "{tenantid}"

// TenantTemplate reports whether the issuer is a multi-tenant template,
// with [TenantPlaceholder] in place of the tenant.
func (m *Metadata) TenantTemplate() bool { return strings.Count(m.Issuer, TenantPlaceholder) == 1 }

// IssuerMatches reports whether iss is the provider's issuer: equal to it,
// or for a template, the template with a tenant ID in place of the
// placeholder. Only a verified token's tid says which tenant is right.
func (m *Metadata) IssuerMatches(iss string) bool {
	if !m.TenantTemplate() {
		return iss == m.Issuer
	}
	pre, suf, _ := strings.Cut(m.Issuer, TenantPlaceholder)
	mid, ok := strings.CutPrefix(iss, pre)
	if ok {
		mid, ok = strings.CutSuffix(mid, suf)
	}
	return ok && tenantID.MatchString(mid)
}

// templateMatches reports whether issuer is template with one path
// segment in place of the placeholder.
func templateMatches(template, issuer string) bool {
	pre, suf, _ := strings.Cut(template, TenantPlaceholder)
	mid, ok := strings.CutPrefix(issuer, pre)
	if !ok {
		return false
	}
	mid, ok = strings.CutSuffix(mid, suf)
	return ok && mid != "" && !strings.ContainsAny(mid, "/?#")
}

// checkEndpoint accepts https URLs, and http ones only when both the
// endpoint and the issuer are on loopback hosts.
func checkEndpoint(raw string, loopbackIssuer bool) error {
	u, err := urlcheck.Endpoint(raw)
	if errors.Is(err, urlcheck.ErrInsecureURL) {
		return fmt.Errorf("%w: %q", ErrInsecureEndpoint, raw)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidEndpoint, err)
	}
	if u.Scheme == "http" && !loopbackIssuer {
		return fmt.Errorf("%w: %q", ErrInsecureEndpoint, raw)
	}
	return nil
}

// validate checks every endpoint that is set.
func (e Endpoints) validate(loopbackIssuer bool) error {
	for _, f := range []struct{ name, v string }{
		{"authorization", e.Authorization}, {"token", e.Token}, {"userinfo", e.Userinfo},
		{"jwks", e.JWKS}, {"endSession", e.EndSession},
	} {
		if f.v == "" {
			continue
		}
		if err := checkEndpoint(f.v, loopbackIssuer); err != nil {
			return &MetadataError{URL: "configuration", Field: "endpoints." + f.name, Err: err}
		}
	}
	return nil
}

// withOverrides returns a copy of m with the non-empty manual endpoints.
func (m *Metadata) withOverrides(e Endpoints) *Metadata {
	cp := *m
	for _, o := range []struct {
		dst *string
		v   string
	}{
		{&cp.AuthorizationEndpoint, e.Authorization},
		{&cp.TokenEndpoint, e.Token},
		{&cp.UserinfoEndpoint, e.Userinfo},
		{&cp.JWKSURI, e.JWKS},
		{&cp.EndSessionEndpoint, e.EndSession},
	} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	return &cp
}
