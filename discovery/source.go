package discovery

import (
	"fmt"
)

// Source says where a provider's metadata comes from: its issuer, an
// optional explicit discovery URL, and optional manual endpoints. Build it
// once per provider with [NewSource]; it is immutable and safe to share.
type Source struct {
	issuer       Issuer
	discoveryURL string
	endpoints    Endpoints
	static       *Metadata // set when the manual endpoints make discovery unnecessary
	tenants      bool      // the document's issuer may be a {tenantid} template
}

// NewSource validates a provider's metadata source. issuer is required (a
// full URL or a bare domain, see [ParseIssuer]); discoveryURL defaults to the
// issuer's well-known URL; endpoints override discovered ones, and when
// authorization, token and JWKS endpoints are all given, nothing is fetched.
func NewSource(issuer, discoveryURL string, endpoints Endpoints) (*Source, error) {
	iss, err := ParseIssuer(issuer)
	if err != nil {
		return nil, err
	}
	s := &Source{issuer: iss, discoveryURL: discoveryURL, endpoints: endpoints}
	if s.discoveryURL == "" {
		s.discoveryURL = iss.DiscoveryURL()
	} else if err := checkEndpoint(discoveryURL, iss.loopback()); err != nil {
		return nil, fmt.Errorf("discoveryURL: %w", err)
	}
	if err := endpoints.validate(iss.loopback()); err != nil {
		return nil, err
	}
	if endpoints.complete() {
		if iss.bare {
			return nil, fmt.Errorf("issuer %q: a bare domain needs discovery to learn the exact issuer; give the full issuer URL with manual endpoints", issuer)
		}
		s.static = (&Metadata{Issuer: iss.url}).withOverrides(endpoints)
	}
	return s, nil
}

// NewTenantSource is [NewSource] for a multi-tenant endpoint such as
// Microsoft Entra ID's https://login.microsoftonline.com/organizations/v2.0,
// whose discovery document names the issuer as a template,
// https://login.microsoftonline.com/{tenantid}/v2.0. The document matches
// when the template, with the configured issuer's segment in place of
// {tenantid}, is the configured issuer. Verify its tokens with the
// template as [VerifierConfig.Issuer].
func NewTenantSource(issuer, discoveryURL string, endpoints Endpoints) (*Source, error) {
	s, err := NewSource(issuer, discoveryURL, endpoints)
	if err != nil {
		return nil, err
	}
	if s.static != nil || s.issuer.bare {
		return nil, fmt.Errorf("issuer %q: a multi-tenant issuer is learned from discovery and must be a full URL",
			issuer)
	}
	s.tenants = true
	return s, nil
}

// Issuer returns the configured issuer.
func (s *Source) Issuer() Issuer { return s.issuer }

// Manual reports whether the manual endpoints make discovery unnecessary:
// nothing is fetched for this source.
func (s *Source) Manual() bool { return s.static != nil }

// DiscoveryURL returns the URL the discovery document is fetched from.
func (s *Source) DiscoveryURL() string { return s.discoveryURL }

// key identifies what a Source fetches; sources with equal keys share a
// cache entry.
type key struct {
	url       string
	issuer    Issuer
	endpoints Endpoints
	tenants   bool
}

func (s *Source) key() key { return key{s.discoveryURL, s.issuer, s.endpoints, s.tenants} }
