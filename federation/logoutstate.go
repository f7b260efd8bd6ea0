package federation

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/oidcfed/oidcfed/internal/randid"
)

// RP-initiated logout with its state checked (OpenID Connect RP-Initiated
// Logout 1.0 §3): Handler.Logout sends the browser to the provider with a
// fresh state, remembered in a short-lived cookie, and the provider's
// answer comes back to {mount}/logged-out, which goes on to the host's
// page only when the state is the one sent.

// logoutCookie holds the state and the destination of a logout in
// progress, for logoutLifetime.
const (
	logoutCookie   = "oidcfed-logout"
	logoutLifetime = 10 * time.Minute
)

// ErrLogoutState: the provider's post-logout redirect has no state, or
// not the one this browser's logout sent.
var ErrLogoutState = errors.New("federation: the post-logout redirect's state is missing or not this logout's")

// LoggedOutPath is the route, under the mount, that Handler.Logout asks
// providers to return to: register BaseURL + mount + LoggedOutPath as a
// post-logout redirect URI at the provider.
const LoggedOutPath = "logged-out"

// Logout is [Handler.LogoutURL] with the state checked on the way back:
// it returns the provider's end_session URL with a fresh state and
// post_logout_redirect_uri {BaseURL}{mount}logged-out, and sets a cookie
// (HttpOnly, SameSite=Lax, 10 minutes) with that state and req's
// PostLogoutRedirectURI (a path on the site or an allowed URL; default
// "/"). The logged-out route sends the browser there when the provider
// returns the state, and answers 400 invalid_state otherwise. req.State is
// ignored: the handler makes its own.
func (h *Handler) Logout(ctx context.Context, w http.ResponseWriter, key string, req LogoutRequest) (string, error) {
	p, err := h.cfg.Registry.provider(ctx, key)
	if err != nil {
		return "", err
	}
	dest, err := h.checkRedirectTo(p, req.PostLogoutRedirectURI)
	if err != nil {
		return "", newError(CodeInvalidRequest, "the post-logout redirect is not allowed", err)
	}
	req.State = randid.Short()
	req.PostLogoutRedirectURI = h.base.String() + h.mount + LoggedOutPath
	u, err := p.logoutURL(ctx, req, h.sameOrigin)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: logoutCookie, Value: url.Values{"s": {req.State}, "d": {dest}, "k": {key}}.Encode(),
		Path: h.mount, MaxAge: int(logoutLifetime / time.Second), HttpOnly: true, Secure: h.base.Scheme == "https",
		SameSite: http.SameSiteLaxMode})
	return u, nil
}

// loggedOut serves GET {mount}/logged-out?state=: the provider's return
// from a Handler.Logout.
func (h *Handler) loggedOut(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r, func(w http.ResponseWriter, status int, code Code, desc string) { h.fail(w, r, status, code, desc) }) {
		return
	}
	ck, err := r.Cookie(logoutCookie)
	var want url.Values
	if err == nil {
		want, err = url.ParseQuery(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: logoutCookie, Path: h.mount, MaxAge: -1, HttpOnly: true,
		Secure: h.base.Scheme == "https", SameSite: http.SameSiteLaxMode})
	got := r.URL.Query().Get("state")
	if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want.Get("s"))) != 1 {
		h.log.Info("federation: post-logout redirect refused", "error", ErrLogoutState)
		h.fail(w, r, http.StatusBadRequest, CodeInvalidState,
			"the sign-out could not be confirmed; you may still be signed in at the identity provider")
		return
	}
	// The destination is checked again: a cookie is not proof of who set it.
	dest := "/"
	if p, ok := h.cfg.Registry.Lookup(want.Get("k")); ok {
		if d, err := h.checkRedirectTo(p, want.Get("d")); err == nil {
			dest = d
		}
	}
	http.Redirect(w, r, dest, http.StatusFound)
}
