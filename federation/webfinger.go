package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
)

// WebFinger issuer discovery (OpenID Connect Discovery 1.0 §2): from a
// user's identifier to the provider that issues for them. The answer only
// ever selects a configured provider: it never makes the server fetch an
// issuer of the user's choosing.

// Bounds of a WebFinger request.
const (
	maxWebFinger     = 64 << 10 // bytes of an answer
	webFingerTimeout = 5 * time.Second
	// webFingerRel is the link relation of an OpenID issuer.
	webFingerRel = "http://openid.net/specs/connect/1.0/issuer"
)

var (
	// ErrWebFinger: the input is not an identifier WebFinger can use, or
	// its host's answer is missing, too large, redirected elsewhere or not
	// a JRD with an issuer link.
	ErrWebFinger = errors.New("federation: WebFinger issuer discovery failed")
	// ErrWebFingerIssuer: the answer names an issuer no configured
	// provider has.
	ErrWebFingerIssuer = errors.New("federation: the WebFinger answer names an issuer that is not configured")
)

// webFingerTarget normalizes input (§2.1) into the resource to ask for and
// the host to ask: acct:user@host, user@host (an acct: URI), or a URL.
func webFingerTarget(input string) (resource, host string, err error) {
	bad := func(why string) (string, string, error) { return "", "", fmt.Errorf("%w: %s", ErrWebFinger, why) }
	if input == "" || len(input) > MaxLoginHint || strings.ContainsFunc(input, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return bad("an identifier of printable ASCII, at most 256 bytes")
	}
	switch {
	case strings.HasPrefix(input, "acct:"):
		resource = input
		host = input[strings.LastIndex(input, "@")+1:]
	case strings.Contains(input, "://"):
		u, err := url.Parse(input)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return bad("not an http(s) URL")
		}
		u.Fragment, u.RawFragment = "", ""
		resource, host = u.String(), u.Host
	case strings.Contains(input, "@") && !strings.ContainsAny(input, "/?#"):
		resource = "acct:" + input
		host = input[strings.LastIndex(input, "@")+1:]
	default:
		resource = "https://" + input
		host, _, _ = strings.Cut(input, "/")
	}
	if u, err := url.Parse("https://" + host); err != nil || u.Host != host || u.Hostname() == "" || u.User != nil {
		return bad("no host in the identifier")
	}
	return resource, host, nil
}

// DiscoverIssuer asks the host of input (acct:user@host, user@host or a
// URL) which issuer serves that user, by WebFinger over https (http only
// on a loopback host), and returns the registry key of the configured
// provider with that issuer (with a [ProviderSource] that is an
// [IssuerSource], a tenant it has under that issuer is loaded). The answer
// is at most 64 KiB, within 5 s, and not redirected to another origin. An
// issuer no provider has is [ErrWebFingerIssuer]: the issuer named is
// never fetched.
func (r *Registry) DiscoverIssuer(ctx context.Context, input string) (string, error) {
	resource, host, err := webFingerTarget(input)
	if err != nil {
		return "", err
	}
	scheme := "https"
	if h, _, _ := strings.Cut(host, ":"); urlcheck.IsLoopbackHost(strings.Trim(h, "[]")) {
		scheme = "http"
	}
	origin := scheme + "://" + host
	q := url.Values{"resource": {resource}, "rel": {webFingerRel}}
	ctx, cancel := context.WithTimeout(ctx, webFingerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin+"/.well-known/webfinger?"+q.Encode(), nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrWebFinger, err)
	}
	req.Header.Set("Accept", "application/jrd+json, application/json")
	client := *r.opts.client
	client.CheckRedirect = sameOriginRedirects(fmt.Errorf("%w: redirected to another origin", ErrWebFinger))
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrWebFinger, host, redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWebFinger+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %s: %v", ErrWebFinger, host, err)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("%w: %s answered HTTP %d", ErrWebFinger, host, resp.StatusCode)
	case len(body) > maxWebFinger:
		return "", fmt.Errorf("%w: %s answered over %d bytes", ErrWebFinger, host, maxWebFinger)
	}
	issuer, err := parseJRD(body)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrWebFinger, host, err)
	}
	p := r.providerForIssuer(issuer, nil)
	if p == nil && r.source != nil {
		// A tenant not loaded yet: the provider source says whether the
		// issuer is one of its tenants (IssuerSource), never a fetch.
		if err := r.providersForIssuer(ctx, issuer); err != nil {
			return "", err
		}
		p = r.providerForIssuer(issuer, nil)
	}
	if p == nil {
		return "", fmt.Errorf("%w: %q", ErrWebFingerIssuer, issuer)
	}
	return p.key, nil
}

// parseJRD reads the issuer link of a JRD (RFC 7033 §4.4).
func parseJRD(body []byte) (string, error) {
	var jrd struct {
		Links []struct {
			Rel  string `json:"rel"`
			Href string `json:"href"`
		} `json:"links"`
	}
	if err := json.Unmarshal(body, &jrd); err != nil {
		return "", errors.New("the answer is not a JRD")
	}
	for _, l := range jrd.Links {
		if l.Rel != webFingerRel {
			continue
		}
		if _, err := discovery.ParseIssuer(l.Href); err != nil {
			return "", fmt.Errorf("the issuer link is not an issuer URL: %v", err)
		}
		return l.Href, nil
	}
	return "", errors.New("no issuer link")
}

// ProviderForEmail returns the key of the provider whose emailDomains has
// email's domain (compared in ASCII lower case).
func (r *Registry) ProviderForEmail(email string) (string, bool) {
	at := strings.LastIndex(email, "@")
	if at < 0 {
		return "", false
	}
	v, ok := r.domains.Load(strings.ToLower(email[at+1:]))
	if !ok {
		return "", false
	}
	return v.(string), true
}
