package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/internal/randid"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
	"github.com/oidcfed/oidcfed/pkce"
	"github.com/oidcfed/oidcfed/session"
)

// Login is a completed sign-in, handed to [HandlerConfig.OnLogin]. Its
// tokens print as [redacted].
type Login struct {
	Provider string   // registry key, "oidc:<name>"
	Mode     Mode     // ModeSignIn, or ModeLink/ModeUpgrade for a link flow
	Result   *Result  // the verified user and the tokens
	Decision Decision // what Accounts decided
}

// String prints the login without its tokens.
func (l Login) String() string {
	return fmt.Sprintf("federation.Login{Provider:%s Mode:%s Decision:%v Result:%v}", l.Provider, l.Mode, l.Decision,
		l.Result)
}

// GoString is String.
func (l Login) GoString() string { return l.String() }

// LogValue logs the login without its tokens.
func (l Login) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", l.Provider), slog.String("mode", l.Mode.String()),
		slog.Any("decision", l.Decision), slog.Any("result", l.Result))
}

// HandlerConfig configures [NewHandler].
type HandlerConfig struct {
	Registry *Registry // the providers. Required.
	// BaseURL is the application's external origin, e.g.
	// https://app.example.com. Redirect URIs are
	// BaseURL+MountPath+"/oidc:<name>/callback".
	BaseURL string
	// MountPath is where the handler is mounted. Default: /auth/oauth.
	MountPath string
	// Flows stores flow state between redirect and callback. Required.
	Flows session.FlowStore
	// Accounts decides what a sign-in means for the host's accounts. Required.
	Accounts Accounts
	// OnLogin is called after a successful sign-in or link; the host sets
	// its own session here. An error fails the sign-in with server_error.
	// Required.
	OnLogin func(w http.ResponseWriter, r *http.Request, l *Login) error
	// CurrentAccount returns the browser's signed-in account from the
	// host's session. The link routes need it; without it they answer 501.
	CurrentAccount func(r *http.Request) (CurrentAccount, bool)
	// WebFinger lets the start route by email (GET {mount}/start?
	// login_hint=…) ask the email's host which issuer serves it when no
	// provider lists the domain in emailDomains (Registry.DiscoverIssuer):
	// only a configured provider's issuer is used.
	WebFinger bool
	// OnLogout is called for each verified back-channel logout (POST
	// oidc:{name}/backchannel-logout): end the host's sessions that match
	// the event's subject or SID. An error answers the provider 400, and it
	// may retry. Without OnLogout the route answers 501.
	OnLogout func(ctx context.Context, e LogoutEvent) error
	// OnError answers the errors the handler decides itself, before or
	// instead of a flow: a missing, expired or replayed state
	// (invalid_state), an unknown provider, a refused redirectTo, a
	// cross-origin link start, a provider unreachable at the start, a
	// full flow store, an unknown route or method. e.Description is safe
	// to show. Set it to render the host's own error page with status.
	// Default: [WriteError], JSON or, for a browser's navigation, a small
	// HTML page. Errors after a valid state still go to the flow's
	// redirectTo with error and error_description query parameters; the
	// back-channel logout route (but for an unknown provider) and the
	// discovery route, which servers and CLIs call, always answer JSON.
	OnError func(w http.ResponseWriter, r *http.Request, status int, e *Error)
	// Logger defaults to the registry's.
	Logger *slog.Logger
}

// CurrentAccount is the signed-in account, as the host's session knows it.
type CurrentAccount struct {
	ID        string // the account ID
	Anonymous bool   // a link then upgrades the account in place
}

// Handler serves the sign-in and link routes under the mount path:
// GET oidc:{name} (start), GET oidc:{name}/callback, POST link/oidc:{name},
// GET link/oidc:{name}/callback, POST oidc:{name}/backchannel-logout and
// GET discovery (public facts for CLIs, see [ClientDiscovery]).
type Handler struct {
	cfg   HandlerConfig
	base  *url.URL
	now   func() time.Time
	log   *slog.Logger
	mount string
	cop   *http.CrossOriginProtection
}

// MaxRedirectTo is the longest redirectTo accepted, so the flow cookie
// stays under 1 KiB.
const MaxRedirectTo = 512

// NewHandler validates cfg and returns the handler, or every problem with
// cfg at once (errors.Join of plain errors naming the field): a
// configuration error, not an *Error.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	var errs []error
	if cfg.Registry == nil {
		errs = append(errs, errors.New("federation: handler: Registry is required"))
	}
	if cfg.Flows == nil {
		errs = append(errs, errors.New("federation: handler: Flows is required"))
	}
	if cfg.Accounts == nil {
		errs = append(errs, errors.New("federation: handler: Accounts is required"))
	}
	if cfg.OnLogin == nil {
		errs = append(errs, errors.New("federation: handler: OnLogin is required"))
	}
	base, err := urlcheck.Endpoint(cfg.BaseURL)
	if err != nil || (base.Path != "" && base.Path != "/") || base.RawQuery != "" {
		errs = append(errs,
			fmt.Errorf("federation: handler: BaseURL must be an origin such as https://app.example.com (http only on loopback): %q", cfg.BaseURL))
	}
	if sc, ok := cfg.Flows.(session.SecureCookieStore); ok && base != nil && sc.SecureCookies() != (base.Scheme == "https") {
		errs = append(errs,
			fmt.Errorf("federation: handler: BaseURL %q is %s but the flow store's cookies have Secure=%t; set session.CookieConfig.Secure to %t",
				cfg.BaseURL, base.Scheme, sc.SecureCookies(), base.Scheme == "https"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.MountPath == "" {
		cfg.MountPath = "/auth/oauth"
	}
	base.Path = ""
	h := &Handler{cfg: cfg, base: base, now: clock.Or(cfg.Registry.opts.now), log: cfg.Logger,
		mount: "/" + strings.Trim(cfg.MountPath, "/") + "/", cop: http.NewCrossOriginProtection()}
	if err := h.cop.AddTrustedOrigin(base.String()); err != nil {
		return nil, fmt.Errorf("federation: handler: BaseURL: %w", err)
	}
	if h.log == nil {
		h.log = cfg.Registry.opts.logger
	}
	cfg.Registry.handler.Store(h)
	return h, nil
}

// JWKSURI returns the URL of the client's public keys for key, the
// jwks_uri to register at the provider (private_key_jwt, encryption).
func (h *Handler) JWKSURI(key string) string {
	return h.base.String() + h.mount + key + "/jwks"
}

// RedirectURI returns the sign-in callback URL to register at the
// provider for key: its redirectURL when configured, else computed from
// BaseURL and the mount path.
func (h *Handler) RedirectURI(key string) string {
	if p, ok := h.cfg.Registry.Lookup(key); ok && p.cfg.RedirectURL != "" {
		return p.cfg.RedirectURL
	}
	return h.base.String() + h.mount + key + "/callback"
}

// LinkRedirectURI returns the link callback URL to register at the
// provider for key.
func (h *Handler) LinkRedirectURI(key string) string {
	return h.base.String() + h.mount + "link/" + key + "/callback"
}

func (h *Handler) redirectURI(p *Provider, link bool) string {
	switch {
	case link:
		return h.LinkRedirectURI(p.key)
	case p.cfg.RedirectURL != "":
		return p.cfg.RedirectURL
	}
	return h.base.String() + h.mount + p.key + "/callback"
}

// route is a request's place in the route table under the mount path.
type route int

const (
	routeNotFound     route = iota
	routeDiscovery          // GET discovery
	routeEmailStart         // GET start?login_hint=: the provider of the email's domain
	routeStart              // GET oidc:{name}
	routeCallback           // GET oidc:{name}/callback
	routeLinkStart          // POST link/oidc:{name}
	routeLinkCallback       // GET link/oidc:{name}/callback
	routeBackchannel        // POST oidc:{name}/backchannel-logout
	routeJWKS               // GET oidc:{name}/jwks
	routeRequestURI         // GET oidc:{name}/request/{id}: a request object by reference
	routeInitiate           // GET or POST oidc:{name}/initiate: third-party initiated login
	routeLoggedOut          // GET logged-out: the provider's return from Handler.Logout
)

// parseRoute places path in the route table, with the provider key of the
// routes that name one. ServeMux cannot express "oidc:{name}" inside a
// segment, so the mount is served by this small parser.
func (h *Handler) parseRoute(path string) (route, string) {
	rest, ok := strings.CutPrefix(path, h.mount)
	if !ok {
		return routeNotFound, ""
	}
	if rest == "discovery" {
		return routeDiscovery, ""
	}
	if rest == "start" {
		return routeEmailStart, ""
	}
	if rest == LoggedOutPath {
		return routeLoggedOut, ""
	}
	rest, link := strings.CutPrefix(rest, "link/")
	key, action, _ := strings.Cut(rest, "/")
	if !strings.HasPrefix(key, "oidc:") {
		return routeNotFound, ""
	}
	if id, ok := strings.CutPrefix(action, requestURIPath+"/"); ok && !link {
		return routeRequestURI, key + "/" + id
	}
	switch {
	case action == "" && !link:
		return routeStart, key
	case action == "" && link:
		return routeLinkStart, key
	case action == "callback" && !link:
		return routeCallback, key
	case action == "callback" && link:
		return routeLinkCallback, key
	case action == "backchannel-logout" && !link:
		return routeBackchannel, key
	case action == "jwks" && !link:
		return routeJWKS, key
	case action == "initiate" && !link:
		return routeInitiate, key
	}
	return routeNotFound, ""
}

// ServeHTTP serves the routes under the mount path (see [Handler]).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	rt, key := h.parseRoute(r.URL.Path)
	switch rt {
	case routeNotFound:
		h.fail(w, r, http.StatusNotFound, CodeNotFound, "no such route")
		return
	case routeDiscovery:
		h.serveDiscovery(w, r)
		return
	case routeEmailStart:
		h.startByEmail(w, r)
		return
	case routeInitiate:
		h.initiate(w, r, key)
		return
	case routeLoggedOut:
		h.loggedOut(w, r)
		return
	case routeBackchannel:
		h.serveBackchannel(w, r, key)
		return
	case routeJWKS:
		h.serveJWKS(w, r, key)
		return
	case routeRequestURI:
		key, id, _ := strings.Cut(key, "/")
		h.serveRequestURI(w, r, key, id)
		return
	}
	want := http.MethodGet
	if rt == routeLinkStart {
		want = http.MethodPost
	}
	formPost := r.Method == http.MethodPost && (rt == routeCallback || rt == routeLinkCallback)
	if !formPost && r.Method != want && (want != http.MethodGet || r.Method != http.MethodHead) {
		allow := want
		if want == http.MethodGet {
			allow = "GET, HEAD"
		}
		w.Header().Set("Allow", allow)
		h.fail(w, r, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use "+want)
		return
	}
	if obs := h.cfg.Registry.opts.observer; obs != nil && obs.Flow != nil {
		fw := &flowWriter{ResponseWriter: w, began: time.Now(), mode: ModeSignIn}
		if rt == routeLinkStart || rt == routeLinkCallback {
			fw.mode = ModeLink // until the flow says Upgrade
		}
		w = fw
		defer h.reportFlow(r.Context(), obs, fw, rt, key)
	}
	link := rt == routeLinkStart || rt == routeLinkCallback
	if link && h.cfg.CurrentAccount == nil {
		h.fail(w, r, http.StatusNotImplemented, CodeNotImplemented, "account linking is not configured")
		return
	}
	switch rt {
	case routeCallback, routeLinkCallback:
		h.callback(w, r, key, link)
	case routeStart:
		if p, ok := h.lookup(w, r, key); ok {
			h.start(w, r, p, session.SignIn, "", startOptions(r))
		}
	case routeLinkStart:
		h.startLink(w, r, key)
	}
}

// startByEmail serves GET start?login_hint=alice@company.com: 302 into the
// start route of the provider whose emailDomains has the email's domain
// (or, with WebFinger, the one its host names), login_hint and redirectTo
// passed on; 404 unknown_provider for a domain no provider serves.
func (h *Handler) startByEmail(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r, func(w http.ResponseWriter, status int, code Code, desc string) { h.fail(w, r, status, code, desc) }) {
		return
	}
	q := r.URL.Query()
	hint := q.Get("login_hint")
	at := strings.LastIndex(hint, "@")
	if err := checkLoginHint(hint); err != nil || at <= 0 || at == len(hint)-1 {
		h.fail(w, r, http.StatusBadRequest, CodeInvalidRequest, "login_hint must be an email address")
		return
	}
	key, ok := h.cfg.Registry.ProviderForEmail(hint)
	if !ok && h.cfg.WebFinger {
		var err error
		if key, err = h.cfg.Registry.DiscoverIssuer(r.Context(), hint); err != nil {
			h.log.Info("federation: no provider for an email domain", "domain", hint[at+1:], "error", err)
		}
		ok = err == nil
	}
	if !ok {
		h.fail(w, r, http.StatusNotFound, CodeUnknownProvider, "no identity provider signs in this email domain")
		return
	}
	next := url.Values{"login_hint": {hint}}
	if to := q.Get("redirectTo"); to != "" {
		next.Set("redirectTo", to) // checked by the start route
	}
	http.Redirect(w, r, h.mount+key+"?"+next.Encode(), http.StatusFound)
}

// initiate serves a provider's initiate_login_uri (OpenID Connect Core
// 1.0 §4): GET or form POST with iss, which must be the provider's issuer,
// and optionally login_hint and target_link_uri (where the browser goes
// afterwards, checked as redirectTo is). It starts a sign-in as the start
// route does.
func (h *Handler) initiate(w http.ResponseWriter, r *http.Request, key string) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		h.fail(w, r, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use GET or POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCallbackForm)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, CodeInvalidRequest, "the login initiation could not be read")
		return
	}
	p, ok := h.lookup(w, r, key)
	if !ok {
		return
	}
	st, err := p.resolve(r.Context())
	if err != nil {
		h.failLookup(w, r, key, err)
		return
	}
	if iss := r.Form.Get("iss"); iss == "" || !st.md.IssuerMatches(iss) {
		h.fail(w, r, http.StatusBadRequest, CodeInvalidRequest, "iss is not this identity provider's issuer")
		return
	}
	h.start(w, r, p, session.SignIn, "", StartOptions{RedirectTo: r.Form.Get("target_link_uri"),
		LoginHint: r.Form.Get("login_hint")})
}

// startLink starts a link flow for the signed-in account: same-origin
// requests only, then the provider and the session.
func (h *Handler) startLink(w http.ResponseWriter, r *http.Request, key string) {
	if err := h.cop.Check(r); err != nil {
		h.fail(w, r, http.StatusForbidden, CodeCrossOrigin, "a link must be started from this site")
		return
	}
	p, ok := h.lookup(w, r, key)
	if !ok {
		return
	}
	cur, ok := h.cfg.CurrentAccount(r)
	if !ok || cur.ID == "" {
		h.fail(w, r, http.StatusUnauthorized, CodeUnauthenticated, "sign in before linking an identity")
		return
	}
	mode := session.Link
	if cur.Anonymous {
		mode = session.Upgrade
	}
	h.start(w, r, p, mode, cur.ID, StartOptions{RedirectTo: r.URL.Query().Get("redirectTo")})
}

// serveBackchannel checks method and configuration, then serves the
// back-channel logout route.
func (h *Handler) serveBackchannel(w http.ResponseWriter, r *http.Request, key string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use POST")
		return
	}
	if h.cfg.OnLogout == nil {
		writeJSONError(w, http.StatusNotImplemented, CodeNotImplemented,
			"back-channel logout is not configured (HandlerConfig.OnLogout)")
		return
	}
	if p, ok := h.lookup(w, r, key); ok {
		h.backchannelLogout(w, r, p)
	}
}

// lookup returns the provider for key, loading it from the registry's
// source if need be, or answers 404 unknown_provider or, when the source
// cannot answer, 502 provider_unavailable.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request, key string) (*Provider, bool) {
	p, err := h.cfg.Registry.provider(r.Context(), key)
	if err != nil {
		h.failLookup(w, r, key, err)
		return nil, false
	}
	return p, true
}

// failLookup answers a failed provider lookup.
func (h *Handler) failLookup(w http.ResponseWriter, r *http.Request, key string, err error) {
	if errors.Is(err, ErrNoProvider) {
		h.fail(w, r, http.StatusNotFound, CodeUnknownProvider, "no identity provider is configured under this name")
		return
	}
	h.log.Warn("federation: provider lookup failed", "provider", key, "error", err)
	h.fail(w, r, http.StatusBadGateway, CodeProviderUnavailable,
		"the identity provider's configuration could not be loaded; try again later")
}

func writeJSONError(w http.ResponseWriter, status int, code Code, desc string) {
	writeJSON(w, status, map[string]string{"error": string(code), "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// start begins a flow: sign-in (GET, answered 302) or link (POST,
// answered 303); with Accept: application/json, 200 {"url"} instead.
func (h *Handler) start(w http.ResponseWriter, r *http.Request, p *Provider, mode session.Mode, accountID string,
	o StartOptions) {
	began := time.Now()
	if fw, ok := w.(*flowWriter); ok {
		fw.mode = mode
	}
	redirectTo, err := h.checkRedirectTo(p, o.RedirectTo)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, CodeInvalidRequest, err.Error())
		return
	}
	extra, err := o.params(p.cfg.MaxAge)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, CodeInvalidRequest, err.Error())
		return
	}
	f := &session.FlowState{Provider: p.key, State: randid.Short(), Nonce: randid.Short(),
		Verifier: pkce.NewVerifier(), RedirectTo: redirectTo, Mode: mode, AccountID: accountID, Created: h.now(),
		ProviderVersion: p.configVersion(), ACRValues: o.ACRValues, MaxAge: o.MaxAge,
		FreshLogin: slices.Contains(strings.Fields(o.Prompt), "login"), FormPost: p.formPost()}
	if key := o.DPoPKey; key != nil || p.cfg.DPoP {
		// RFC 9449 §10: the code is bound to the key (dpop_jkt, set with
		// the request's parameters); the flow carries it to the callback.
		var err error
		if key == nil {
			key, err = NewDPoPKey()
		}
		if err == nil {
			f.DPoPKey, err = key.MarshalBinary()
		}
		if err != nil {
			h.log.Error("federation: start failed", "provider", p.key, "error", err)
			h.fail(w, r, http.StatusInternalServerError, CodeServerError, "the sign-in could not be started")
			return
		}
	}
	authURL, err := p.authCodeURL(r.Context(), f, h.redirectURI(p, mode != session.SignIn), extra)
	if err != nil {
		h.log.Warn("federation: start failed", "provider", p.key, "error", err)
		// A refused pushed request keeps the provider's code
		// (invalid_request, invalid_client…); anything else is the
		// provider being unreachable or misconfigured.
		code, desc := CodeProviderUnavailable, "the identity provider could not be reached"
		if fe, ok := errors.AsType[*Error](err); ok && fe.Code != CodeProviderUnavailable {
			code, desc = fe.Code, fe.Description
		}
		h.fail(w, r, http.StatusBadGateway, code, desc)
		return
	}
	if err := h.cfg.Flows.Save(w, r, f); errors.Is(err, session.ErrUnavailable) {
		h.log.Warn("federation: flow store unreachable", "provider", p.key, "error", err)
		h.fail(w, r, http.StatusServiceUnavailable, CodeTemporarilyUnavailable,
			"sign-in is temporarily unavailable; try again in a moment")
		return
	} else if errors.Is(err, session.ErrFull) {
		h.log.Warn("federation: flow store full", "provider", p.key, "error", err)
		w.Header().Set("Retry-After", "60")
		h.fail(w, r, http.StatusServiceUnavailable, CodeTemporarilyUnavailable,
			"too many sign-ins are in progress; try again in a minute")
		return
	} else if err != nil {
		h.log.Error("federation: saving flow failed", "provider", p.key, "error", err)
		h.fail(w, r, http.StatusInternalServerError, CodeServerError, "the sign-in could not be started")
		return
	}
	h.log.Debug("federation: flow step", "provider", p.key, "step", "start", "mode", mode,
		"duration", time.Since(began))
	switch {
	case wantsJSON(r):
		writeJSON(w, http.StatusOK, map[string]string{"url": authURL})
	case r.Method == http.MethodPost:
		http.Redirect(w, r, authURL, http.StatusSeeOther)
	default:
		http.Redirect(w, r, authURL, http.StatusFound)
	}
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// checkRedirectTo accepts a same-origin path, or an absolute URL under an
// allowedRedirects entry or p's frontendURL. See RFC 9700 §4.11 (open
// redirectors). An empty one is p's frontendURL, else "/".
func (h *Handler) checkRedirectTo(p *Provider, s string) (string, error) {
	if s == "" {
		if p.cfg.FrontendURL != "" {
			return p.cfg.FrontendURL, nil
		}
		return "/", nil
	}
	bad := errors.New("redirectTo must be a path on this site or an allowed URL")
	if len(s) > MaxRedirectTo {
		return "", fmt.Errorf("redirectTo is longer than %d bytes", MaxRedirectTo)
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, '\\') || strings.ContainsFunc(s, isControl) {
		return "", bad
	}
	u, err := url.Parse(s)
	if err != nil || urlcheck.HasDotSegment(u.EscapedPath()) {
		return "", bad
	}
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && u.Scheme == "" && u.Host == "" && u.User == nil {
		return s, nil
	}
	if u.Scheme == "" || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", bad
	}
	if h.sameOrigin(u) || h.cfg.Registry.allows(u) || p.frontend != nil && p.frontend.allows(u) {
		return s, nil
	}
	return "", bad
}

// sameOrigin reports whether u is on the application's origin.
func (h *Handler) sameOrigin(u *url.URL) bool {
	return strings.EqualFold(u.Scheme+"://"+u.Host, h.base.String())
}

// LogoutURL is [Provider.LogoutURL] for the provider key, where the
// post-logout redirect may also be a path on the application ("/" for its
// home page) or any URL on its origin.
func (h *Handler) LogoutURL(ctx context.Context, key string, req LogoutRequest) (string, error) {
	p, err := h.cfg.Registry.provider(ctx, key)
	if err != nil {
		return "", err
	}
	if to := req.PostLogoutRedirectURI; strings.HasPrefix(to, "/") && !strings.HasPrefix(to, "//") && !strings.ContainsRune(to, '\\') {
		req.PostLogoutRedirectURI = h.base.String() + to
	}
	return p.logoutURL(ctx, req, h.sameOrigin)
}

// callback completes a flow. A flow whose provider was removed, or
// replaced after the flow began, ends at its redirectTo with
// provider_removed or provider_changed.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request, key string, link bool) {
	began := time.Now()
	p, err := h.cfg.Registry.provider(r.Context(), key)
	if err != nil && !errors.Is(err, ErrNoProvider) {
		h.failLookup(w, r, key, err) // the flow stays: the user may retry
		return
	}
	known := err == nil
	q, ok := h.callbackParams(w, r, p)
	if !ok {
		return
	}
	f, err := h.cfg.Flows.Take(w, r, q.Get("state"))
	if fw, ok := w.(*flowWriter); ok && f != nil {
		fw.mode = f.Mode
	}
	switch {
	case err != nil:
	case f.FormPost != (r.Method == http.MethodPost):
		// The provider answers a form_post flow with a POST only, and a
		// query flow with a redirect only: anything else is not its answer.
		err = fmt.Errorf("a form_post=%t flow completed by %s", f.FormPost, r.Method)
	case f.Provider != key:
		err = fmt.Errorf("flow of %s completed at %s", f.Provider, key)
	case (f.Mode != session.SignIn) != link:
		err = fmt.Errorf("a %s flow completed at the wrong callback", f.Mode)
	case !known:
		h.log.Info("federation: sign-in failed", "provider", key, "code", CodeProviderRemoved)
		h.redirectError(w, r, f.RedirectTo, CodeProviderRemoved,
			"this sign-in's identity provider is no longer configured; choose another way to sign in")
		return
	case f.ProviderVersion != "" && f.ProviderVersion != p.configVersion():
		h.log.Info("federation: sign-in failed", "provider", key, "code", CodeProviderChanged)
		h.redirectError(w, r, f.RedirectTo, CodeProviderChanged,
			"this identity provider's configuration changed during the sign-in; please start again")
		return
	}
	if err != nil {
		if errors.Is(err, session.ErrUnavailable) {
			// Not known to be absent: the store could not say.
			h.log.Warn("federation: flow store unreachable", "provider", key, "error", err)
			h.fail(w, r, http.StatusServiceUnavailable, CodeTemporarilyUnavailable,
				"sign-in is temporarily unavailable; please start again in a moment")
			return
		}
		if !known && errors.Is(err, session.ErrNoFlow) {
			h.fail(w, r, http.StatusNotFound, CodeUnknownProvider, "no identity provider is configured under this name")
			return
		}
		h.log.Info("federation: callback refused", "provider", key, "code", CodeInvalidState, "error", err)
		h.fail(w, r, http.StatusBadRequest, CodeInvalidState,
			"the sign-in expired or was already completed; please start again")
		return
	}
	h.log.Debug("federation: flow step", "provider", key, "step", "callback", "mode", f.Mode,
		"duration", time.Since(began))
	res, dec, err := h.complete(r, p, f, q)
	if err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			fe = newError(CodeServerError, "the sign-in could not be completed", err)
		}
		h.log.Info("federation: sign-in failed", "provider", p.key, "mode", f.Mode, "code", fe.Code, "error", err)
		h.redirectError(w, r, f.RedirectTo, fe.Code, fe.Description)
		return
	}
	began = time.Now()
	err = h.cfg.OnLogin(w, r, &Login{Provider: p.key, Mode: f.Mode, Result: res, Decision: dec})
	if p.step(r.Context(), StepOnLogin, began, err); err != nil {
		h.log.Error("federation: OnLogin failed", "provider", p.key, "error", err)
		h.redirectError(w, r, f.RedirectTo, CodeServerError, "the sign-in could not be completed")
		return
	}
	h.log.Info("federation: signed in", "provider", p.key, "mode", f.Mode, "account", dec.Account.ID,
		"outcome", dec.Outcome, "duration", time.Since(began))
	if fw, ok := w.(*flowWriter); ok {
		fw.outcome, fw.subject = dec.Outcome, res.User.Subject
	}
	http.Redirect(w, r, f.RedirectTo, http.StatusFound)
}

// maxCallbackForm bounds a form_post callback's body: a code, a state,
// an iss and an error description fit many times over.
const maxCallbackForm = 64 << 10

// callbackParams are the authorization response: the query of a GET, or
// the form of a POST, which only a form_post provider's callback takes
// (405 otherwise, as before form_post).
func (h *Handler) callbackParams(w http.ResponseWriter, r *http.Request, p *Provider) (url.Values, bool) {
	if r.Method != http.MethodPost {
		return r.URL.Query(), true
	}
	if p == nil || !p.formPost() {
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(w, r, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use GET")
		return nil, false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		h.fail(w, r, http.StatusUnsupportedMediaType, CodeInvalidRequest,
			"the authorization response must be form-encoded")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCallbackForm)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, CodeInvalidRequest, "the authorization response could not be read")
		return nil, false
	}
	return r.PostForm, true
}

func (h *Handler) complete(r *http.Request, p *Provider, f *session.FlowState,
	q url.Values) (*Result, Decision, error) {
	ctx := r.Context()
	if f.Mode != session.SignIn {
		// The browser must still be signed in to the account that started
		// the link; checked before the code is spent, and nothing changes.
		if cur, ok := h.cfg.CurrentAccount(r); !ok || cur.ID != f.AccountID {
			return nil, Decision{}, newError(CodeLoginRequired,
				"sign in again to the account you were linking, then retry", nil)
		}
	}
	res, err := p.completeRedirect(ctx, f, q, h.redirectURI(p, f.Mode != session.SignIn))
	if err != nil {
		return nil, Decision{}, err
	}
	began := time.Now()
	dec, err := h.cfg.Accounts.Resolve(ctx,
		Attempt{Mode: f.Mode, User: res.User, Provider: p.key, AccountID: f.AccountID,
			AllowSignup: p.cfg.AllowSignup == nil || *p.cfg.AllowSignup, EmailTrust: p.cfg.EmailTrust})
	if p.step(ctx, StepAccounts, began, err); err != nil {
		return nil, Decision{}, err
	}
	return res, dec, nil
}

// isControl reports an ASCII control character (CR and LF among them).
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// redirectError sends the browser to the flow's redirectTo with error and
// error_description query parameters.
func (h *Handler) redirectError(w http.ResponseWriter, r *http.Request, to string, code Code, desc string) {
	if fw, ok := w.(*flowWriter); ok {
		fw.code = code
	}
	u, _ := url.Parse(to) // validated when the flow started
	q := u.Query()
	q.Set("error", string(code))
	q.Set("error_description", desc)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// getOnly answers a request that is neither GET nor HEAD 405 with Allow
// (through fail) and reports whether r may go on.
func getOnly(w http.ResponseWriter, r *http.Request, fail func(http.ResponseWriter, int, Code, string)) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	fail(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use GET")
	return false
}
