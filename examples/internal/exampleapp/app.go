package exampleapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/federation"
)

// app is the host: it owns sessions and routes; the library owns sign-in
// and the accounts store.
type app struct {
	reg      *federation.Registry
	base     string
	auth     *federation.Handler
	accounts federation.FullAccountStore
	sessions *sessions
	cop      *http.CrossOriginProtection
	log      *slog.Logger
}

func (a *app) routes(ext Extensions) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	var auth http.Handler = a.auth
	if ext.WrapAuth != nil {
		auth = ext.WrapAuth(auth)
	}
	mux.Handle("/auth/oauth/", auth)
	mux.Handle("GET /readyz", federation.Readiness(a.reg))
	if ext.Routes != nil {
		ext.Routes(mux, a.reg)
	}
	mux.HandleFunc("GET /auth/oauth/status", a.status)
	mux.HandleFunc("GET /me", a.me)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /auth/anonymous", a.anonymous)
	// The API: bearer tokens of any configured provider.
	mux.Handle("GET /api/whoami", federation.RequireBearer(a.reg, federation.BearerConfig{Realm: "oidcfed-example"})(http.HandlerFunc(whoami)))

	// Every state-changing request from another origin is refused, but the
	// back-channel logout, which the provider's server calls, and the
	// callbacks, which a form_post provider's page posts to: the handler
	// takes such a POST only for a form_post provider's flow, bound to the
	// browser's flow cookie and used once.
	a.cop.AddInsecureBypassPattern("POST /auth/oauth/{provider}/backchannel-logout")
	a.cop.AddInsecureBypassPattern("POST /auth/oauth/{provider}/callback")
	a.cop.AddInsecureBypassPattern("POST /auth/oauth/link/{provider}/callback")
	// A provider may post a third-party initiated login (it only starts
	// a sign-in, as a link to the start route would).
	a.cop.AddInsecureBypassPattern("POST /auth/oauth/{provider}/initiate")
	a.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross_origin",
			"error_description": "cross-origin requests cannot change state here"})
	}))
	return a.cop.Handler(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// status answers the registry's view of every provider's discovery
// document and keys: issuers, URLs, times, key IDs, errors; no secret.
func (a *app) status(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"providers": a.reg.Status()})
}

// whoami answers {"user": User} for the token's principal.
func whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := federation.PrincipalFrom(r.Context())
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]claims.User{"user": p.User})
}

func unauthenticated(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated", "error_description": "sign in first"})
}

// onLogin is the library's OnLogin hook: the host starts its own session.
// A link (Mode Link) keeps the session that started it: the browser is
// still signed in as before, its account has one identity more. An upgrade
// of an anonymous account signs the session in as the new identity.
func (a *app) onLogin(w http.ResponseWriter, r *http.Request, l *federation.Login) error {
	if l.Mode == federation.ModeLink {
		if s := a.sessions.get(r); s != nil && s.AccountID == l.Decision.Account.ID {
			return nil
		}
	}
	return a.sessions.start(w, r, hostSession{AccountID: l.Decision.Account.ID, Provider: l.Provider,
		User: l.Result.User, IDToken: l.Result.Tokens.IDToken, SID: l.Result.SID,
		RefreshToken: l.Result.Tokens.RefreshToken})
}

// onLogout is the library's OnLogout hook for back-channel logout: the
// provider ended a session, so the host ends every session of that
// subject or provider session.
func (a *app) onLogout(ctx context.Context, e federation.LogoutEvent) error {
	n, err := a.sessions.endMatching(ctx, e.Provider, e.Subject, e.SID)
	if err != nil {
		return err // the library answers 400, and the provider may retry
	}
	a.log.Info("back-channel logout", "provider", e.Provider, "subject", e.Subject, "sid", e.SID, "sessions_ended", n)
	return nil
}

// currentAccount is the library's CurrentAccount hook: who the browser's
// session belongs to, for linking.
func (a *app) currentAccount(r *http.Request) (federation.CurrentAccount, bool) {
	s := a.sessions.get(r)
	if s == nil {
		return federation.CurrentAccount{}, false
	}
	acct, err := a.accounts.Get(r.Context(), s.AccountID)
	if err != nil {
		return federation.CurrentAccount{}, false
	}
	return federation.CurrentAccount{ID: acct.ID, Anonymous: acct.Anonymous}, true
}

// anonymous creates an anonymous account and signs the browser in to it;
// a later link upgrades it in place.
func (a *app) anonymous(w http.ResponseWriter, r *http.Request) {
	acct, err := a.accounts.CreateAnonymous(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	if err := a.sessions.start(w, r, hostSession{AccountID: acct.ID}); err != nil {
		a.log.Warn("starting a session failed", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	if federation.PrefersHTML(r) { // the home page's form
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": acct})
}

// me answers the signed-in account, its user and its identities.
func (a *app) me(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.get(r)
	if s == nil {
		unauthenticated(w)
		return
	}
	acct, err := a.accounts.Get(r.Context(), s.AccountID)
	if errors.Is(err, federation.ErrNotFound) { // the account is gone: so is the session
		a.sessions.end(w, r)
		unauthenticated(w)
		return
	} else if err != nil { // the store is down: the session stays
		a.log.Warn("account store unavailable", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable",
			"error_description": "try again in a moment"})
		return
	}
	resp := struct {
		Account    *federation.Account   `json:"account"`
		User       *claims.User          `json:"user,omitempty"`
		Identities []federation.Identity `json:"identities,omitempty"`
	}{Account: acct, Identities: acct.Identities}
	if !acct.Anonymous && s.User.Subject != "" {
		resp.User = &s.User
	}
	writeJSON(w, http.StatusOK, resp)
}

// logout ends the host session, then sends the browser to the provider's
// end_session_endpoint when it has one (RP-initiated logout), else home.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	to := "/"
	if s := a.sessions.end(w, r); s != nil {
		a.revoke(r.Context(), s)
		u, err := a.auth.LogoutURL(r.Context(), s.Provider, federation.LogoutRequest{IDTokenHint: s.IDToken.Reveal(), PostLogoutRedirectURI: "/"})
		switch {
		case err == nil:
			to = u
		case !errors.Is(err, federation.ErrNoEndSession):
			a.log.Warn("logout: the provider's logout URL is unavailable; ended the local session only", "provider", s.Provider, "error", err)
		}
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// revoke revokes the session's refresh token at its provider, when both
// exist: a sign-out should not leave a grant behind. A provider without a
// revocation endpoint is fine; a failure is logged and the sign-out goes
// on.
func (a *app) revoke(ctx context.Context, s *hostSession) {
	p, ok := a.reg.Lookup(s.Provider)
	if !ok || s.RefreshToken == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.Revoke(ctx, s.RefreshToken, federation.HintRefreshToken); err != nil &&
		!errors.Is(err, federation.ErrNoRevocation) {
		a.log.Warn("logout: the refresh token could not be revoked", "provider", s.Provider, "error", err)
	}
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>oidcfed example</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
form { display: inline-block; margin: 0 .5rem .5rem 0; }
button { font: inherit; padding: .4rem .9rem; border: 1px solid #c8ccd1; border-radius: 6px; background: #f6f8fa; cursor: pointer; }
button:hover { background: #eaeef2; }
code { background: #f3f4f6; padding: .1rem .3rem; border-radius: 4px; }
[role=alert] { background: #fff1f0; border: 1px solid #ffccc7; padding: .5rem 1rem; border-radius: 6px; }
</style></head>
<body><h1><a href="/">oidcfed example server</a></h1>
{{with .Error}}<p role="alert"><strong>Sign-in failed:</strong> {{.}}</p>{{end}}
{{with .Account}}<p id="account">Signed in to account <code>{{.ID}}</code>{{if .Anonymous}}, anonymously{{else}}{{with .Email}} ({{.}}{{if not $.Account.EmailVerified}}, not verified{{end}}){{end}}{{end}}.</p>
{{with $.Session.User.Subject}}<p>This session signed in as <strong>{{$.Session.User.Name}}</strong> via {{$.Session.Provider}}.</p>{{end}}
{{if .Identities}}<h2>Identities of this account</h2>
<ul id="identities">{{range .Identities}}<li>{{.Provider}}: <code>{{.Subject}}</code> at {{.Issuer}}</li>{{end}}</ul>{{end}}
<p><a href="/me">/me</a> (JSON)</p>
<h2>Link another identity</h2>
{{range $.Providers}}<form method="post" action="/auth/oauth/link/{{.}}?redirectTo=/"><button type="submit">Link {{.}}</button></form>{{end}}
<h2>Sign out</h2>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
{{else}}<p>Not signed in.</p>
<form method="post" action="/auth/anonymous"><button type="submit">Continue without an account (anonymous)</button></form>{{end}}
<h2>Sign in with</h2>
<ul>{{range .Providers}}<li><a href="/auth/oauth/{{.}}">{{.}}</a></li>{{end}}</ul>
</body></html>
`))

// home renders the page into a buffer first, so that a template error is
// a 500, not a page cut off under a 200.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	data := struct {
		Session   *hostSession
		Account   *federation.Account
		Providers []string
		Error     string
	}{Session: a.sessions.get(r), Providers: a.reg.Keys(), Error: r.URL.Query().Get("error_description")}
	if data.Session != nil {
		acct, err := a.accounts.Get(r.Context(), data.Session.AccountID)
		if errors.Is(err, federation.ErrNotFound) {
			a.sessions.end(w, r)
			data.Session = nil
		} else if err != nil {
			a.log.Warn("account store unavailable", "error", err)
			http.Error(w, "The account store is unavailable; try again in a moment.", http.StatusServiceUnavailable)
			return
		}
		data.Account = acct
	}
	var page bytes.Buffer
	if err := homePage.Execute(&page, data); err != nil {
		a.log.Error("home page", "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(page.Bytes())
}
