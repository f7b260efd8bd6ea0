package discovery

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/oidcfed/oidcfed/internal/urlcheck"
)

// wellKnown is appended to the issuer, without its trailing slash
// (OpenID Connect Discovery 1.0 §4).
const wellKnown = "/.well-known/openid-configuration"

// Issuer is a configured issuer: either a full URL, which the discovery
// document's issuer must equal exactly, or a bare domain such as
// "example.okta.com", which means https://example.okta.com and matches a
// document issuer with or without a trailing slash.
type Issuer struct {
	url   string // https://host for a bare domain, the URL otherwise
	bare  bool
	local bool // on a loopback host
}

// ParseIssuer parses a configured issuer. A full URL must be https, or http
// on a loopback host, with no query or fragment (OpenID Connect Discovery 1.0
// §3). A bare domain is a host name with an optional port.
func ParseIssuer(s string) (Issuer, error) {
	if s == "" {
		return Issuer{}, fmt.Errorf("issuer is empty")
	}
	if !strings.Contains(s, "://") {
		if strings.ContainsAny(s, "/?#@\\ ") {
			return Issuer{}, fmt.Errorf("issuer %q is neither a URL nor a bare domain", s)
		}
		u, err := url.Parse("https://" + s)
		if err != nil || u.Hostname() == "" {
			return Issuer{}, fmt.Errorf("issuer %q is neither a URL nor a bare domain", s)
		}
		return Issuer{url: "https://" + s, bare: true, local: urlcheck.IsLoopbackURL(u)}, nil
	}
	u, err := urlcheck.Endpoint(s)
	if err != nil {
		return Issuer{}, fmt.Errorf("issuer: %w", err)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return Issuer{}, fmt.Errorf("issuer %q must not contain a query", s)
	}
	return Issuer{url: s, local: urlcheck.IsLoopbackURL(u)}, nil
}

// String returns the issuer URL (https://host for a bare domain).
func (i Issuer) String() string { return i.url }

// Bare reports whether the issuer was configured as a bare domain.
func (i Issuer) Bare() bool { return i.bare }

// DiscoveryURL returns the issuer's well-known discovery URL.
func (i Issuer) DiscoveryURL() string { return strings.TrimSuffix(i.url, "/") + wellKnown }

// Matches reports whether a discovery document's issuer is this issuer:
// exactly equal for a full URL; https://host or https://host/ for a bare
// domain.
func (i Issuer) Matches(docIssuer string) bool {
	if docIssuer == i.url {
		return true
	}
	return i.bare && docIssuer == i.url+"/"
}

func (i Issuer) loopback() bool { return i.local }
