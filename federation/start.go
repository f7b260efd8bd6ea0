package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/session"
)

// StartOptions are what one sign-in asks of the provider (OpenID Connect
// Core 1.0 §3.1.2.1, §5.5), beyond the provider's config: a host that
// wants a second factor or a fresh sign-in before one action starts a
// sign-in with them. What the start asked is sealed in the flow and
// checked on the ID token at the callback, so the answer cannot be a
// weaker authentication than the one asked for.
type StartOptions struct {
	// RedirectTo is where the browser goes after the callback, checked as
	// the start route's redirectTo is. Default: "/".
	RedirectTo string
	// ACRValues are sent as acr_values; the ID token's acr must be one of
	// them (access_denied otherwise), besides the provider's requiredAcr.
	ACRValues []string
	// MaxAge is sent as max_age, in whole seconds; the ID token's
	// auth_time must be at most this old (login_required otherwise). 0:
	// not sent (the provider's maxAge, if any, applies); for a sign-in
	// right now, use Prompt "login".
	MaxAge time.Duration
	// Prompt is "login" (authenticate again: sent with max_age=0, so that
	// the ID token carries auth_time, which must then be after this
	// start), "consent", "select_account",
	// "none" (no page at all: an error unless already signed in), or
	// several of the first three separated by spaces.
	Prompt string
	// LoginHint tells the provider who is signing in (an email address).
	LoginHint string
	// UILocales are the preferred languages of the provider's pages, BCP
	// 47 tags, most preferred first.
	UILocales []string
	// Claims is the claims request parameter (§5.5), a JSON object: for
	// example {"id_token":{"acr":{"essential":true,"values":["urn:mfa"]}}}.
	Claims json.RawMessage
	// DPoPKey binds this sign-in's tokens to the host's own key (RFC
	// 9449), for a provider with or without dpop set; with dpop and no
	// DPoPKey, a fresh key is generated.
	DPoPKey *DPoPKey
}

// Bounds of StartOptions: the flow cookie seals the ACR values, and the
// authorization URL carries all of them.
const (
	maxStartValues = 8    // ACRValues, UILocales
	maxStartValue  = 128  // bytes of one of them
	maxClaimsParam = 2048 // bytes of Claims
)

// ErrStartOptions: a StartOptions value is not usable.
var ErrStartOptions = errors.New("federation: invalid start options")

// params checks o and returns its authorization request parameters.
func (o StartOptions) params(cfgMaxAge int) (url.Values, error) {
	q := url.Values{}
	bad := func(format string, args ...any) (url.Values, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrStartOptions}, args...)...)
	}
	token := func(s string) bool {
		return s != "" && len(s) <= maxStartValue && !strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' })
	}
	if len(o.ACRValues) > maxStartValues || slices.ContainsFunc(o.ACRValues, func(s string) bool { return !token(s) }) {
		return bad("ACRValues: at most %d values of at most %d printable bytes, without spaces", maxStartValues, maxStartValue)
	}
	if len(o.ACRValues) > 0 {
		q.Set("acr_values", strings.Join(o.ACRValues, " "))
	}
	switch {
	case o.MaxAge < 0 || o.MaxAge%time.Second != 0:
		return bad("MaxAge %s: want whole seconds, 0 or more", o.MaxAge)
	case o.MaxAge > 0:
		sec := int(o.MaxAge / time.Second)
		if cfgMaxAge > 0 && cfgMaxAge < sec {
			sec = cfgMaxAge // the provider's maxAge is checked too: ask for the stricter
		}
		q.Set("max_age", strconv.Itoa(sec))
	}
	if o.Prompt != "" {
		vals := strings.Fields(o.Prompt)
		for _, v := range vals {
			if !slices.Contains(prompts, v) {
				return bad("Prompt %q: want %s", v, strings.Join(prompts, ", "))
			}
		}
		if slices.Contains(vals, "none") && len(vals) > 1 {
			return bad("Prompt: none cannot be combined with other values")
		}
		q.Set("prompt", strings.Join(vals, " "))
		if slices.Contains(vals, "login") && o.MaxAge == 0 {
			// max_age=0 means prompt=login too, and makes auth_time
			// required (OpenID Connect Core 1.0 §3.1.2.1), which the
			// callback needs to see that the sign-in is new.
			q.Set("max_age", "0")
		}
	}
	if o.LoginHint != "" {
		if err := checkLoginHint(o.LoginHint); err != nil {
			return bad("%v", err)
		}
		q.Set("login_hint", o.LoginHint)
	}
	if len(o.UILocales) > maxStartValues || slices.ContainsFunc(o.UILocales, func(s string) bool { return !token(s) }) {
		return bad("UILocales: at most %d language tags", maxStartValues)
	}
	if len(o.UILocales) > 0 {
		q.Set("ui_locales", strings.Join(o.UILocales, " "))
	}
	if len(o.Claims) > 0 {
		var obj map[string]json.RawMessage
		if len(o.Claims) > maxClaimsParam || json.Unmarshal(o.Claims, &obj) != nil || obj == nil {
			return bad("Claims: want a JSON object of at most %d bytes", maxClaimsParam)
		}
		q.Set("claims", string(o.Claims))
	}
	return q, nil
}

// Start begins a sign-in with provider key ("oidc:acme") as the start
// route does, with what o asks: a host's handler calls it to require a
// second factor (ACRValues) or a fresh sign-in (Prompt "login", MaxAge)
// before one action, and reads Login.Result.Authentication in OnLogin.
// It writes the response: 302 to the provider (200 {"url"} with Accept:
// application/json), or an error page; StartOptions problems are 400
// invalid_request.
func (h *Handler) Start(w http.ResponseWriter, r *http.Request, key string, o StartOptions) {
	if p, ok := h.lookup(w, r, key); ok {
		h.start(w, r, p, session.SignIn, "", o)
	}
}

// startOptions reads the start route's query: redirectTo and login_hint.
func startOptions(r *http.Request) StartOptions {
	q := r.URL.Query()
	return StartOptions{RedirectTo: q.Get("redirectTo"), LoginHint: q.Get("login_hint")}
}
