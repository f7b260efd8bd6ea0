package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/oidcfed/oidcfed/session"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/claims"
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

// MaxLoginHint is the longest login_hint the start route passes through.
const MaxLoginHint = 256

// checkLoginHint accepts a login_hint to pass through.
func checkLoginHint(s string) error {
	if len(s) > MaxLoginHint || strings.ContainsFunc(s, isControl) {
		return fmt.Errorf("login_hint must be at most %d bytes without control characters", MaxLoginHint)
	}
	return nil
}

// checkAuthentication applies requiredAcr and maxAge, and what the
// flow's start asked (step-up: acr_values, max_age, prompt=login), to a
// verified ID token. Both apply: the acr must be in each list given, the
// auth_time within the smaller max age.
func (p *Provider) checkAuthentication(c map[string]any, f *session.FlowState) error {
	acr, _ := c["acr"].(string)
	for _, want := range [][]string{p.cfg.RequiredACR, f.ACRValues} {
		if len(want) > 0 && !slices.Contains(want, acr) {
			return newError(CodeAccessDenied, "the sign-in did not use the required authentication method",
				fmt.Errorf("%w: acr %q, want one of %q", ErrACR, acr, want))
		}
	}
	maxAge := time.Duration(p.cfg.MaxAge) * time.Second
	if f.MaxAge > 0 && (maxAge == 0 || f.MaxAge < maxAge) {
		maxAge = f.MaxAge
	}
	if maxAge == 0 && !f.FreshLogin {
		return nil
	}
	// OpenID Connect Core 1.0 §3.1.2.1: with max_age, auth_time is required.
	n, ok := c["auth_time"].(json.Number)
	sec, err := n.Int64()
	if !ok || err != nil {
		return newError(CodeLoginRequired,
			"sign in again: the identity provider did not say when you authenticated",
			fmt.Errorf("%w: auth_time is missing or not a number", ErrAuthTooOld))
	}
	authTime, now, leeway := time.Unix(sec, 0), p.reg.opts.now(), p.reg.leeway()
	if age := now.Sub(authTime); maxAge > 0 && age > maxAge+leeway {
		return newError(CodeLoginRequired, "sign in again: your sign-in at the identity provider is too old",
			fmt.Errorf("%w: auth_time %s is %s old, max age %s", ErrAuthTooOld,
				authTime.UTC().Format(time.RFC3339), age.Round(time.Second), maxAge))
	}
	if f.FreshLogin && authTime.Before(f.Created.Add(-leeway)) {
		return newError(CodeLoginRequired, "sign in again: the identity provider did not ask you to sign in",
			fmt.Errorf("%w: prompt=login, but auth_time %s is before the sign-in began (%s)", ErrAuthTooOld,
				authTime.UTC().Format(time.RFC3339), f.Created.UTC().Format(time.RFC3339)))
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
