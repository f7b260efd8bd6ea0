package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
)

// Sentinels for the per-provider sign-in policies. Each comes wrapped in an
// *Error: access_denied, or login_required for ErrAuthTooOld.
var (
	// ErrTenantNotAllowed: a multi-tenant Entra token's tid is not in
	// allowedTenants.
	ErrTenantNotAllowed = errors.New("federation: the token's tenant is not allowed")
	// ErrHostedDomain: a Google ID token's hd is not hostedDomain (or is
	// missing: a consumer account).
	ErrHostedDomain = errors.New("federation: the account is not in the required Google Workspace domain")
	// ErrEmailDomain: the user's email is unverified or outside
	// allowedEmailDomains.
	ErrEmailDomain = errors.New("federation: the email address is not verified in an allowed domain")
	// ErrACR: the ID token's acr is missing or not one of requiredAcr.
	ErrACR = errors.New("federation: the authentication context (acr) is not one of the required values")
	// ErrAuthTooOld: the ID token's auth_time is missing or older than
	// maxAge allows.
	ErrAuthTooOld = errors.New("federation: the authentication is older than maxAge allows")
)

// reservedParams are set by oidcfed on every authorization request.
var reservedParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "response_mode", "request", "request_uri", "max_age"}

var (
	paramName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	prompts   = []string{"none", "login", "consent", "select_account", "create"}
)

// MaxLoginHint is the longest login_hint the start route passes through.
const MaxLoginHint = 256

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
			v.fail("redirectURL", "%q does not route to the handler: its path must end in /%s/callback", p.RedirectURL, Key(v.name))
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
		v.fail("maxAge", "%d: want seconds > 0 (for a fresh login every time, set authParams.prompt to login)", p.MaxAge)
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

// authParams returns the extra authorization request parameters: the
// configured ones, acr_values from requiredAcr, max_age, and extra (from
// the request: login_hint).
func (p *Provider) authParams(extra url.Values) url.Values {
	q := url.Values{}
	for k, v := range p.cfg.AuthParams {
		q.Set(k, v)
	}
	if len(p.cfg.RequiredACR) > 0 && !q.Has("acr_values") {
		q.Set("acr_values", strings.Join(p.cfg.RequiredACR, " "))
	}
	if p.cfg.MaxAge > 0 {
		q.Set("max_age", strconv.Itoa(p.cfg.MaxAge))
	}
	for k, v := range extra {
		q[k] = v
	}
	return q
}

// checkLoginHint accepts a login_hint to pass through.
func checkLoginHint(s string) error {
	if len(s) > MaxLoginHint || strings.ContainsFunc(s, isControl) {
		return fmt.Errorf("login_hint must be at most %d bytes without control characters", MaxLoginHint)
	}
	return nil
}

// checkAuthentication applies requiredAcr and maxAge to a verified ID
// token from an authorization request that asked for them.
func (p *Provider) checkAuthentication(c map[string]any) error {
	if len(p.cfg.RequiredACR) > 0 {
		acr, _ := c["acr"].(string)
		if !slices.Contains(p.cfg.RequiredACR, acr) {
			return newError(CodeAccessDenied, "the sign-in did not use the required authentication method",
				fmt.Errorf("%w: acr %q, want one of %q", ErrACR, acr, p.cfg.RequiredACR))
		}
	}
	if p.cfg.MaxAge > 0 {
		// OpenID Connect Core 1.0 §3.1.2.1: with max_age, auth_time is required.
		n, ok := c["auth_time"].(json.Number)
		sec, err := n.Int64()
		if !ok || err != nil {
			return newError(CodeLoginRequired, "sign in again: the identity provider did not say when you authenticated",
				fmt.Errorf("%w: auth_time is missing or not a number", ErrAuthTooOld))
		}
		authTime := time.Unix(sec, 0)
		if age := p.reg.opts.now().Sub(authTime); age > time.Duration(p.cfg.MaxAge)*time.Second+p.reg.leeway() {
			return newError(CodeLoginRequired, "sign in again: your sign-in at the identity provider is too old",
				fmt.Errorf("%w: auth_time %s is %s old, maxAge %ds", ErrAuthTooOld, authTime.UTC().Format(time.RFC3339), age.Round(time.Second), p.cfg.MaxAge))
		}
	}
	return nil
}

// checkIdentity applies the identity policies of every sign-in: allowed
// tenants, Google's hosted domain, allowed email domains.
func (p *Provider) checkIdentity(c map[string]any, u claims.User) error {
	if err := p.checkTenant(c); err != nil {
		return err
	}
	return p.checkDomains(c, u)
}

// checkDomains applies hostedDomain and allowedEmailDomains.
func (p *Provider) checkDomains(c map[string]any, u claims.User) error {
	if hd := p.cfg.HostedDomain; hd != "" {
		if got, _ := c["hd"].(string); got != hd {
			return newError(CodeAccessDenied, "this account is not in the organization's Google Workspace domain",
				fmt.Errorf("%w: hd %q, want %q", ErrHostedDomain, got, hd))
		}
	}
	if len(p.cfg.AllowedEmailDomains) > 0 {
		_, domain, _ := strings.Cut(EmailKey(u.Email), "@")
		trusted := u.EmailVerified || p.cfg.EmailTrust == EmailTrustDangerousAlways
		if !trusted || !slices.Contains(p.cfg.AllowedEmailDomains, domain) {
			return newError(CodeAccessDenied, "sign in with a verified email address of an allowed domain",
				fmt.Errorf("%w: domain %q, verified %t", ErrEmailDomain, domain, trusted))
		}
	}
	return nil
}

// tenantIssuer reports whether iss may be a tenant's issuer of this
// multi-tenant provider: its configured issuer with a tenant ID in place
// of organizations or common. The verifier checks it against the tid.
func (p *Provider) tenantIssuer(iss string) bool {
	pre, suf, _ := strings.Cut(p.cfg.Issuer, "/"+p.cfg.TenantID+"/")
	mid, ok := strings.CutPrefix(iss, pre+"/")
	if ok {
		mid, ok = strings.CutSuffix(mid, "/"+suf)
	}
	return ok && guid.MatchString(mid)
}

// checkTenant applies allowedTenants to a token the verifier has
// checked: its iss is the issuer template with its own tid.
func (p *Provider) checkTenant(c map[string]any) *Error {
	if len(p.cfg.AllowedTenants) == 0 {
		return nil
	}
	tid, _ := c["tid"].(string)
	if !slices.ContainsFunc(p.cfg.AllowedTenants, func(t string) bool { return strings.EqualFold(t, tid) }) {
		return newError(CodeAccessDenied, "your organization is not allowed to sign in here",
			fmt.Errorf("%w: tid %q", ErrTenantNotAllowed, tid))
	}
	return nil
}
