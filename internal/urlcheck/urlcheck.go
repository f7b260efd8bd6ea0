// Package urlcheck holds the URL rules that apply everywhere in oidcfed:
// issuers and endpoints use https, except on loopback hosts where http is
// accepted for development and tests.
package urlcheck

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrInsecureURL is matched by errors for http URLs on non-loopback hosts.
var ErrInsecureURL = errors.New("url must use https (http only for loopback hosts)")

// IsLoopbackHost reports whether host (a hostname or IP, without port or
// brackets) is localhost, in 127.0.0.0/8, or ::1.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Endpoint parses raw and checks that it is an absolute https URL, or http on
// a loopback host, with a host, no user info and no fragment.
func Endpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", raw)
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q is not an absolute URL with a host", raw)
	case u.User != nil:
		return nil, fmt.Errorf("%q must not contain user info", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("%q must not contain a fragment", raw)
	case u.Scheme == "https":
		return u, nil
	case u.Scheme == "http" && IsLoopbackHost(u.Hostname()):
		return u, nil
	case u.Scheme == "http":
		return nil, fmt.Errorf("%q: %w", raw, ErrInsecureURL)
	default:
		return nil, fmt.Errorf("%q: scheme must be https", raw)
	}
}

// IsLoopbackURL reports whether u's host is a loopback host.
func IsLoopbackURL(u *url.URL) bool { return IsLoopbackHost(u.Hostname()) }

// HasDotSegment reports whether the escaped path p has a "." or ".."
// segment in any encoding a browser decodes ("%2e", "%2E", ".%2e", …).
// A browser resolves such segments before it requests the URL (WHATWG URL
// Standard, single-dot and double-dot path segments), so a prefix check on
// the raw path would let "/app/%2e%2e/admin" leave "/app/".
func HasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if len(seg) > len("%2e%2e") {
			continue
		}
		if d := strings.ReplaceAll(strings.ReplaceAll(seg, "%2e", "."), "%2E", "."); d == "." || d == ".." {
			return true
		}
	}
	return false
}
