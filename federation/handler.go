package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
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
	Provider string
	Result   *Result
	Decision Decision
}

func (l Login) String() string {
	return fmt.Sprintf("federation.Login{Provider:%s Decision:%v Result:%v}", l.Provider, l.Decision, l.Result)
}

func (l Login) GoString() string { return l.String() }

func (l Login) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", l.Provider), slog.Any("decision", l.Decision), slog.Any("result", l.Result))
}

// HandlerConfig configures [NewHandler].
type HandlerConfig struct {
	Registry *Registry
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
	// OnLogin is called after a successful sign-in; the host sets its own
	// session here. An error fails the sign-in with server_error. Required.
	OnLogin func(w http.ResponseWriter, r *http.Request, l *Login) error
	// Logger defaults to the registry's.
	Logger *slog.Logger
}

// Handler serves the sign-in routes under the mount path:
// GET oidc:{name} (start) and GET oidc:{name}/callback.
type Handler struct {
	cfg   HandlerConfig
	base  *url.URL
	now   func() time.Time
	log   *slog.Logger
	mount string
}

// MaxRedirectTo is the longest redirectTo accepted, so the flow cookie
// stays under 1 KiB.
const MaxRedirectTo = 512

// NewHandler validates cfg and returns the handler.
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
		errs = append(errs, fmt.Errorf("federation: handler: BaseURL must be an origin such as https://app.example.com (http only on loopback): %q", cfg.BaseURL))
	}
	if sc, ok := cfg.Flows.(session.SecureCookieStore); ok && base != nil && sc.SecureCookies() != (base.Scheme == "https") {
		errs = append(errs, fmt.Errorf("federation: handler: BaseURL %q is %s but the flow store's cookies have Secure=%t; set session.CookieConfig.Secure to %t",
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
		mount: "/" + strings.Trim(cfg.MountPath, "/") + "/"}
	if h.log == nil {
		h.log = cfg.Registry.opts.logger
	}
	return h, nil
}

// RedirectURI returns the callback URL registered at the provider for key.
func (h *Handler) RedirectURI(key string) string {
	return h.base.String() + h.mount + key + "/callback"
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	rest, ok := strings.CutPrefix(r.URL.Path, h.mount)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "not_found", "no such route")
		return
	}
	if strings.HasPrefix(rest, "link/") {
		writeJSONError(w, http.StatusNotImplemented, "not_implemented", "account linking is not implemented yet")
		return
	}
	key, action, _ := strings.Cut(rest, "/")
	if !strings.HasPrefix(key, "oidc:") || (action != "" && action != "callback" && action != "backchannel-logout") {
		writeJSONError(w, http.StatusNotFound, "not_found", "no such route")
		return
	}
	if action == "backchannel-logout" {
		writeJSONError(w, http.StatusNotImplemented, "not_implemented", "back-channel logout is not implemented yet")
		return
	}
	callback := action == "callback"
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSONError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
		return
	}
	p, ok := h.cfg.Registry.Lookup(key)
	if !ok {
		writeJSONError(w, http.StatusNotFound, CodeUnknownProvider, "no identity provider is configured under this name")
		return
	}
	if callback {
		h.callback(w, r, p)
	} else {
		h.start(w, r, p)
	}
}

func writeJSONError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (h *Handler) start(w http.ResponseWriter, r *http.Request, p *Provider) {
	redirectTo, err := h.checkRedirectTo(r.URL.Query().Get("redirectTo"))
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, CodeInvalidRequest, err.Error())
		return
	}
	f := &session.FlowState{Provider: p.key, State: randid.Short(), Nonce: randid.Short(),
		Verifier: pkce.NewVerifier(), RedirectTo: redirectTo, Mode: session.SignIn, Created: h.now()}
	authURL, err := p.AuthCodeURL(r.Context(), f, h.RedirectURI(p.key))
	if err != nil {
		h.log.Warn("federation: start failed", "provider", p.key, "error", err)
		writeJSONError(w, http.StatusBadGateway, CodeProviderUnavailable, "the identity provider could not be reached")
		return
	}
	if err := h.cfg.Flows.Save(w, r, f); err != nil {
		h.log.Error("federation: saving flow failed", "provider", p.key, "error", err)
		writeJSONError(w, http.StatusInternalServerError, CodeServerError, "the sign-in could not be started")
		return
	}
	h.log.Debug("federation: sign-in started", "provider", p.key)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]string{"url": authURL})
		return
	}
	http.Redirect(w, r, authURL, http.StatusFound)
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// checkRedirectTo accepts a same-origin path, or an absolute URL under an
// allowedRedirects entry. See RFC 9700 §4.11 (open redirectors).
func (h *Handler) checkRedirectTo(s string) (string, error) {
	if s == "" {
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
	if err != nil {
		return "", bad
	}
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && u.Scheme == "" && u.Host == "" && u.User == nil {
		return s, nil
	}
	if u.Scheme == "" || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", bad
	}
	origin := strings.ToLower(u.Scheme + "://" + u.Host)
	if origin == strings.ToLower(h.base.String()) {
		return s, nil
	}
	for _, a := range h.cfg.Registry.allowed {
		if origin == a.origin && (a.prefix == "" || u.EscapedPath() == a.prefix || strings.HasPrefix(u.EscapedPath(), a.prefix+"/")) {
			return s, nil
		}
	}
	return "", bad
}

func (h *Handler) callback(w http.ResponseWriter, r *http.Request, p *Provider) {
	q := r.URL.Query()
	f, err := h.cfg.Flows.Take(w, r, q.Get("state"))
	if err == nil && f.Provider != p.key {
		err = fmt.Errorf("flow of %s completed at %s", f.Provider, p.key)
	}
	if err != nil {
		h.log.Info("federation: callback refused", "provider", p.key, "code", CodeInvalidState, "error", err)
		writeJSONError(w, http.StatusBadRequest, CodeInvalidState, "the sign-in expired or was already completed; please start again")
		return
	}
	res, dec, err := h.complete(r, p, f, q)
	if err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			fe = newError(CodeServerError, "the sign-in could not be completed", err)
		}
		h.log.Info("federation: sign-in failed", "provider", p.key, "code", fe.Code, "error", err)
		h.redirectError(w, r, f.RedirectTo, fe.Code, fe.Description)
		return
	}
	if err := h.cfg.OnLogin(w, r, &Login{Provider: p.key, Result: res, Decision: dec}); err != nil {
		h.log.Error("federation: OnLogin failed", "provider", p.key, "error", err)
		h.redirectError(w, r, f.RedirectTo, CodeServerError, "the sign-in could not be completed")
		return
	}
	h.log.Info("federation: signed in", "provider", p.key, "account", dec.Account.ID, "created", dec.Created)
	http.Redirect(w, r, f.RedirectTo, http.StatusFound)
}

func (h *Handler) complete(r *http.Request, p *Provider, f *session.FlowState, q url.Values) (*Result, Decision, error) {
	ctx := r.Context()
	if err := p.checkIssParam(ctx, q); err != nil {
		return nil, Decision{}, err
	}
	if e := q.Get("error"); e != "" {
		return nil, Decision{}, newError(safeCode(e), providerDescription(q.Get("error_description")), nil)
	}
	code := q.Get("code")
	if code == "" {
		return nil, Decision{}, newError(CodeInvalidRequest, "the identity provider sent no authorization code", nil)
	}
	res, err := p.Complete(ctx, f, code, h.RedirectURI(p.key))
	if err != nil {
		return nil, Decision{}, err
	}
	dec, err := h.cfg.Accounts.Resolve(ctx, Attempt{Mode: f.Mode, User: res.User, Provider: p.key,
		AllowSignup: p.cfg.AllowSignup == nil || *p.cfg.AllowSignup})
	if err != nil {
		return nil, Decision{}, err
	}
	return res, dec, nil
}

// isControl reports an ASCII control character (CR and LF among them).
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// providerDescription keeps a provider's error_description printable and short.
func providerDescription(s string) string {
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	if s == "" {
		return "the identity provider refused the sign-in"
	}
	return s
}

// redirectError sends the browser to the flow's redirectTo with error and
// error_description query parameters.
func (h *Handler) redirectError(w http.ResponseWriter, r *http.Request, to, code, desc string) {
	u, _ := url.Parse(to) // validated when the flow started
	q := u.Query()
	q.Set("error", code)
	q.Set("error_description", desc)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}
