package federation

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
)

// ProviderStatus is what the registry knows of a provider's metadata and
// keys right now, for an operator's status page. It holds no secret.
type ProviderStatus struct {
	Provider     string          `json:"provider"`               // registry key
	Issuer       string          `json:"issuer"`                 // as configured
	DiscoveryURL string          `json:"discoveryURL,omitempty"` // empty with manual endpoints
	Discovery    DiscoveryStatus `json:"discovery"`              // the cached discovery document
	// Keys is nil until the provider is first used.
	Keys *KeysStatus `json:"keys,omitempty"`
}

// DiscoveryStatus is the cached discovery document's state.
type DiscoveryStatus struct {
	FetchedAt time.Time `json:"fetchedAt,omitzero"`  // zero: never fetched successfully
	ExpiresAt time.Time `json:"expiresAt,omitzero"`  // when it is refetched
	Stale     bool      `json:"stale,omitempty"`     // served past ExpiresAt because refetches fail
	LastError string    `json:"lastError,omitempty"` // the last fetch's error, if it failed
	Failing   bool      `json:"failing,omitempty"`   // the last fetch failed and no document can be served
}

// KeysStatus is the provider's JWKS state.
type KeysStatus struct {
	URI         string    `json:"uri"`                  // the jwks_uri
	FetchedAt   time.Time `json:"fetchedAt,omitzero"`   // the last successful fetch
	NextRefresh time.Time `json:"nextRefresh,omitzero"` // when the keys pass their TTL; an unknown kid refetches sooner
	KeyCount    int       `json:"keyCount"`             // usable signing keys
	KeyIDs      []string  `json:"keyIDs"`               // their kids
	LastError   string    `json:"lastError,omitempty"`  // the last fetch's error, if it failed
}

// Status returns every provider's status, sorted by key. It fetches
// nothing.
func (r *Registry) Status() []ProviderStatus {
	var out []ProviderStatus
	for _, k := range r.Keys() {
		p, ok := r.Lookup(k)
		if ok {
			out = append(out, p.Status())
		}
	}
	return out
}

// Status returns the provider's status. It fetches nothing.
func (p *Provider) Status() ProviderStatus {
	s := ProviderStatus{Provider: p.key, Issuer: p.src.Issuer().String()}
	if !p.src.Manual() {
		s.DiscoveryURL = p.src.DiscoveryURL()
		ds := p.reg.cache.Status(p.src)
		s.Discovery = DiscoveryStatus{FetchedAt: ds.FetchedAt, ExpiresAt: ds.ExpiresAt, Stale: ds.Stale,
			LastError: ds.LastError, Failing: ds.Failing}
	}
	p.mu.Lock()
	cur := p.cur
	p.mu.Unlock()
	if cur != nil {
		ks := cur.keys.Status()
		s.Keys = &KeysStatus{URI: ks.URI, FetchedAt: ks.FetchedAt, NextRefresh: ks.NextRefresh,
			KeyCount: len(ks.KeyIDs), KeyIDs: ks.KeyIDs, LastError: ks.LastError}
		if s.Keys.KeyIDs == nil {
			s.Keys.KeyIDs = []string{}
		}
	}
	return s
}

// Check outcomes.
const (
	CheckOK   = "ok"
	CheckWarn = "warn" // works, but worth a look
	CheckFail = "fail" // sign-in will not work
	CheckSkip = "skip" // could not be checked
)

// CheckReport is the outcome of [Provider.Check]. It holds no secret.
type CheckReport struct {
	Provider string        `json:"provider"` // registry key
	Issuer   string        `json:"issuer"`   // as configured
	OK       bool          `json:"ok"`       // no check failed
	Checks   []CheckResult `json:"checks"`   // in a fixed order
}

// CheckResult is one check.
type CheckResult struct {
	Name   string `json:"name"`   // discovery, jwks, scopes, pkce, registration, token_endpoint_auth, signing_algorithms, pushed_authorization, response_mode, request_uri, request_object, encryption, client_certificate, redirect_uri
	Status string `json:"status"` // ok, warn, fail or skip
	Detail string `json:"detail"` // what was found, and what to do
}

// Problems returns the failed checks.
func (c *CheckReport) Problems() []CheckResult {
	var out []CheckResult
	for _, r := range c.Checks {
		if r.Status == CheckFail {
			out = append(out, r)
		}
	}
	return out
}

// String prints one line per check, as examples/server -check does.
func (c *CheckReport) String() string {
	var b strings.Builder
	verdict := "ok"
	if !c.OK {
		verdict = "PROBLEMS"
	}
	fmt.Fprintf(&b, "%s (%s): %s\n", c.Provider, c.Issuer, verdict)
	for _, r := range c.Checks {
		fmt.Fprintf(&b, "  %-4s %-19s %s\n", r.Status, r.Name, r.Detail)
	}
	return b.String()
}

// Check fetches the provider's discovery document and JWKS afresh (the
// registry's caches are neither used nor changed) and checks the
// configuration against them: scopes supported, PKCE S256 advertised,
// token endpoint auth method supported, usable signing keys, and the shape
// of redirectURL when configured. [Handler.Check] also checks the
// redirect URI the handler computes.
func (p *Provider) Check(ctx context.Context) *CheckReport {
	return p.check(ctx, p.cfg.RedirectURL)
}

// Check runs [Provider.Check] for every provider, with the redirect URI
// the handler uses for each.
func (h *Handler) Check(ctx context.Context) []*CheckReport {
	var out []*CheckReport
	for _, k := range h.cfg.Registry.Keys() {
		if p, ok := h.cfg.Registry.Lookup(k); ok {
			out = append(out, p.check(ctx, h.redirectURI(p, false)))
		}
	}
	return out
}

func (p *Provider) check(ctx context.Context, redirectURI string) *CheckReport {
	began := time.Now()
	rep := &CheckReport{Provider: p.key, Issuer: p.src.Issuer().String()}
	add := func(name, status, format string, args ...any) {
		rep.Checks = append(rep.Checks, CheckResult{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)})
	}
	md, err := discovery.Fetch(ctx, p.reg.opts.client, p.src)
	switch {
	case err != nil:
		add("discovery", CheckFail, "%v", err)
	case p.src.Manual():
		add("discovery", CheckOK, "manual endpoints, nothing fetched")
	default:
		add("discovery", CheckOK, "%s: issuer %s", p.src.DiscoveryURL(), md.Issuer)
	}
	if md != nil {
		p.checkMetadata(ctx, md, add)
	} else {
		for _, name := range []string{"jwks", "scopes", "pkce", "token_endpoint_auth", "signing_algorithms", "pushed_authorization"} {
			add(name, CheckSkip, "needs the discovery document")
		}
	}
	if k := p.clientKey(); k != nil && k.Certificate() != nil {
		checkCertificate(k.Certificate(), p.reg.opts.now(), add)
	}
	p.checkRedirectURI(redirectURI, add)
	rep.OK = len(rep.Problems()) == 0
	p.reg.opts.logger.Debug("federation: flow step", "provider", p.key, "step", "check", "ok", rep.OK,
		"duration", time.Since(began))
	return rep
}

func (p *Provider) checkMetadata(ctx context.Context, md *discovery.Metadata,
	add func(name, status, format string, args ...any)) {
	ks, err := discovery.NewKeySet(discovery.KeySetConfig{URI: md.JWKSURI, Client: p.reg.opts.client,
		Algorithms: md.Algorithms(), Logger: p.reg.opts.logger})
	if err == nil {
		err = ks.Refresh(ctx)
	}
	if err != nil {
		add("jwks", CheckFail, "%v", err)
	} else {
		ids := ks.Status().KeyIDs
		add("jwks", CheckOK, "%s: %d usable key(s) %q", md.JWKSURI, len(ids), ids)
	}
	var unlisted []string
	for _, s := range p.scopes {
		if len(md.ScopesSupported) > 0 && !slices.Contains(md.ScopesSupported, s) {
			unlisted = append(unlisted, s)
		}
	}
	switch {
	case len(md.ScopesSupported) == 0:
		add("scopes", CheckOK, "%q requested; the provider lists no scopes_supported", p.scopes)
	case len(unlisted) > 0:
		add("scopes", CheckWarn, "%q not in scopes_supported %q: the provider may refuse or ignore them", unlisted,
			md.ScopesSupported)
	default:
		add("scopes", CheckOK, "%q all supported", p.scopes)
	}
	switch {
	case slices.Contains(md.CodeChallengeMethodsSupported, "S256"):
		add("pkce", CheckOK, "S256 advertised")
	default:
		add("pkce", CheckWarn,
			"code_challenge_methods_supported does not list S256; oidcfed sends it anyway, so make sure the provider accepts it")
	}
	if p.cfg.Registration == registrationDynamic {
		switch c := p.registered.Load(); {
		case md.RegistrationEndpoint == "":
			add("registration", CheckFail, "registration is dynamic, and the provider has no registration_endpoint")
		case c != nil:
			add("registration", CheckOK, "registered as client_id %q", c.id)
		default:
			add("registration", CheckOK, "registers at %s on first use", md.RegistrationEndpoint)
		}
	}
	client := p.static
	if c := p.registered.Load(); c != nil {
		client = c
	}
	if _, err := p.clientAuthFor(md, client); err != nil {
		add("token_endpoint_auth", CheckFail, "%v", err)
	} else {
		method := p.cfg.TokenEndpointAuthMethod
		if method == "" {
			method = "chosen from " + fmt.Sprint(md.TokenEndpointAuthMethodsSupported)
		}
		add("token_endpoint_auth", CheckOK, "%s", method)
	}
	add("signing_algorithms", CheckOK, "%q accepted", md.Algorithms())
	p.checkEncryption(md, add)
	p.checkAuthorizationRequest(md, add)
}

// checkAuthorizationRequest reports how authorization requests travel:
// pushed or not (PAR), and whether the provider takes the request objects
// this client would send.
func (p *Provider) checkAuthorizationRequest(md *discovery.Metadata, add func(name, status, format string, args ...any)) {
	push, err := p.pushes(md)
	switch {
	case err != nil:
		add("pushed_authorization", CheckFail, "%v", err)
	case push && md.RequirePushedAuthorizationRequests:
		add("pushed_authorization", CheckOK, "pushed to %s (the provider requires it)", md.PushedAuthorizationRequestEndpoint)
	case push:
		add("pushed_authorization", CheckOK, "pushed to %s", md.PushedAuthorizationRequestEndpoint)
	case md.PushedAuthorizationRequestEndpoint != "":
		add("pushed_authorization", CheckOK,
			"in the browser's URL; the provider offers PAR (pushedAuthorization \"auto\" would use it)")
	default:
		add("pushed_authorization", CheckOK, "in the browser's URL")
	}
	if p.formPost() {
		if err := p.checkResponseMode(md); err != nil {
			add("response_mode", CheckFail, "%v", err)
		} else {
			add("response_mode", CheckOK, "form_post")
		}
	}
	if p.cfg.RequestURI {
		if err := p.checkRequestURI(md); err != nil {
			add("request_uri", CheckFail, "%v", err)
		} else {
			add("request_uri", CheckOK, "request objects by reference, served at {mount}/%s/request/{id}", p.key)
		}
	}
	if p.cfg.RequestObject != requestObjectSigned {
		return
	}
	switch _, err := p.requestSigner(md); {
	case err != nil:
		add("request_object", CheckFail, "%v", err)
	case !push && !md.RequestParameterSupported:
		add("request_object", CheckWarn,
			"the provider does not say it takes request objects by value (request_parameter_supported); it may refuse them")
	default:
		add("request_object", CheckOK, "signed %s", p.clientKey().algFor(md.RequestObjectSigningAlgValuesSupported))
	}
}

// certificateRenewal is how long before its expiry a client certificate
// makes Check warn.
const certificateRenewal = 30 * 24 * time.Hour

// checkCertificate warns of a client certificate that is not valid now or
// expires within certificateRenewal: the provider will refuse it, and a
// replacement takes a registration at the provider.
func checkCertificate(c *x509.Certificate, now time.Time, add func(name, status, format string, args ...any)) {
	switch problem, left := certificateStatus(c, now), c.NotAfter.Sub(now); {
	case problem != "":
		add("client_certificate", CheckWarn, "%s: replace it and register the new one at the provider", problem)
	case left < certificateRenewal:
		add("client_certificate", CheckWarn, "the client certificate %q expires in %d days (%s): renew it",
			c.Subject, int(left.Hours()/24), c.NotAfter.UTC().Format(time.RFC3339))
	default:
		add("client_certificate", CheckOK, "%q valid until %s", c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
	}
}

// checkRedirectURI checks the shape of the sign-in redirect URI.
func (p *Provider) checkRedirectURI(redirectURI string, add func(name, status, format string, args ...any)) {
	if redirectURI == "" {
		add("redirect_uri", CheckSkip, "computed by the handler from its BaseURL: use Handler.Check")
		return
	}
	u, err := urlcheck.Endpoint(redirectURI)
	switch {
	case err != nil:
		add("redirect_uri", CheckFail, "%v", err)
	case u.RawQuery != "" || u.Fragment != "":
		add("redirect_uri", CheckFail, "%s has a query or fragment", redirectURI)
	case !routesToCallback(u, p.key):
		add("redirect_uri", CheckFail, "%s does not end in /%s/callback", redirectURI, p.key)
	case u.Scheme == "http":
		add("redirect_uri", CheckWarn, "%s is http: fine on loopback for development; production needs https",
			redirectURI)
	default:
		add("redirect_uri", CheckOK, "%s: register it at the provider", redirectURI)
	}
}

// maxReadinessBody caps the readiness answer: with thousands of providers
// it lists the failing ones only, up to this size.
const maxReadinessBody = 64 << 10

// Readiness is an http.Handler for a load balancer's readiness probe. It
// answers 200 when no provider is failing, 503 when one is, with JSON
// {"ready": bool, "failing": [ProviderStatus]} (no secret; the failing
// providers only, capped at 64 KiB). A provider is failing when its last
// discovery or JWKS fetch failed and it has nothing to serve; one that is
// fresh, served stale while its provider is down, or not fetched yet (it
// is loaded on first use) does not hold readiness back. It fetches
// nothing.
func Readiness(reg *Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var failing []ProviderStatus
		size := 0
		for _, s := range reg.Status() {
			if !s.Failing() {
				continue
			}
			b, _ := json.Marshal(s)
			if size += len(b); size > maxReadinessBody {
				break
			}
			failing = append(failing, s)
		}
		w.Header().Set("Cache-Control", "no-store")
		status := http.StatusOK
		if len(failing) > 0 {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"ready": len(failing) == 0, "failing": failing})
	})
}

// Failing reports whether the provider cannot be used now: its last
// discovery fetch failed with no document to serve, or its last JWKS
// fetch failed with no keys.
func (s ProviderStatus) Failing() bool {
	return s.Discovery.Failing || s.Keys != nil && s.Keys.LastError != "" && s.Keys.KeyCount == 0
}
