package federation

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/oidcfed/oidcfed/internal/urlcheck"
)

// Validation of the per-provider sign-in options (redirectURL,
// frontendURL, authParams, requiredAcr, maxAge, allowedEmailDomains…), run
// with the rest of Config.Validate. policy.go applies them at run time.

// reservedParams are set by oidcfed on every authorization request.
var reservedParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "response_mode", "request", "request_uri", "max_age", "dpop_jkt"}

var (
	paramName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	prompts   = []string{"none", "login", "consent", "select_account", "create"}
)

// validateSignInOptions checks the fields that shape authorization requests
// and sign-in policy.
func (p ProviderConfig) validateSignInOptions(v *validation) {
	if p.RedirectURL != "" {
		u, err := urlcheck.Endpoint(p.RedirectURL)
		switch {
		case err != nil:
			v.fail("redirectURL", "%v", err)
		case u.RawQuery != "" || u.Fragment != "":
			v.fail("redirectURL", "%q must not have a query or fragment", p.RedirectURL)
		case !routesToCallback(u, Key(v.name)):
			v.fail("redirectURL", "%q does not route to the handler: its path must end in /%s/callback",
				p.RedirectURL, Key(v.name))
		}
	}
	if p.FrontendURL != "" {
		if _, err := parseFrontend(p.FrontendURL); err != nil {
			v.fail("frontendURL", "%v", err)
		}
	}
	for _, name := range sortedKeys(p.AuthParams) {
		val := p.AuthParams[name]
		switch {
		case slices.Contains(reservedParams, name) && name == "max_age":
			v.fail("authParams."+name, "set maxAge instead, so that auth_time is checked")
		case slices.Contains(reservedParams, name):
			v.fail("authParams."+name, "is set by oidcfed and cannot be overridden")
		case !paramName.MatchString(name):
			v.fail("authParams", "%q is not a parameter name", name)
		case val == "" || strings.ContainsFunc(val, isControl):
			v.fail("authParams."+name, "must be a non-empty value without control characters")
		case name == "prompt":
			vals := strings.Fields(val)
			for _, pv := range vals {
				if !slices.Contains(prompts, pv) {
					v.fail("authParams.prompt", "%q: want %s", pv, strings.Join(prompts, ", "))
				}
			}
			if slices.Contains(vals, "none") && len(vals) > 1 {
				v.fail("authParams.prompt", "none cannot be combined with other values")
			}
		}
	}
	for _, acr := range p.RequiredACR {
		if acr == "" || strings.ContainsFunc(acr, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			v.fail("requiredAcr", "%q is not an acr value", acr)
		}
	}
	if p.MaxAge < 0 {
		v.fail("maxAge", "%d: want seconds > 0 (for a fresh login every time, set authParams.prompt to login)",
			p.MaxAge)
	}
	for _, d := range p.AllowedEmailDomains {
		if !hostName.MatchString(d) {
			v.fail("allowedEmailDomains", "%q is not a lower-case domain name", d)
		}
	}
	if len(p.AllowedEmailDomains) > 0 && p.EmailTrust == EmailTrustNever {
		v.fail("allowedEmailDomains", "needs a trusted email, but emailTrust is %q", EmailTrustNever)
	}
}

// routesToCallback reports whether u's path ends in the sign-in callback
// route of key, so that it reaches the handler whatever the prefix.
func routesToCallback(u *url.URL, key string) bool {
	return strings.HasSuffix(u.Path, "/"+key+"/callback")
}

// parseFrontend parses a frontendURL: a path on the application or an
// absolute https URL (http on loopback), without a fragment.
func parseFrontend(s string) (*url.URL, error) {
	u, err := parseFrontendURL(s)
	if err == nil && urlcheck.HasDotSegment(u.EscapedPath()) {
		return nil, fmt.Errorf("%q has a . or .. path segment", s)
	}
	return u, err
}

func parseFrontendURL(s string) (*url.URL, error) {
	if strings.HasPrefix(s, "/") {
		u, err := url.Parse(s)
		if err != nil || strings.HasPrefix(s, "//") || strings.ContainsRune(s, '\\') || u.Fragment != "" {
			return nil, fmt.Errorf("%q is not a path on the application", s)
		}
		return u, nil
	}
	u, err := urlcheck.Endpoint(s)
	if err != nil {
		return nil, err
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%q must not have a fragment", s)
	}
	return u, nil
}
