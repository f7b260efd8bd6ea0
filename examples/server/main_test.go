package main

// These tests build the example server and drive the binary as a user and
// an outside test suite would: over loopback HTTP with a cookie jar.

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/federation/federationtest"

	"github.com/oidcfed/oidcfed/examples/internal/servetest"
)

var binary string

func TestMain(m *testing.M) { servetest.WithBinary(m, ".", &binary) }

// server is a running example binary.
type server struct {
	base string
	logs func() string // what it printed so far
}

// start runs the binary with env and waits for its "listening on" line. At
// the end of the test it sends SIGTERM and requires a clean exit.
func start(t *testing.T, env ...string) *server {
	t.Helper()
	s := &server{}
	s.base, s.logs = servetest.StartBinary(t, binary, append([]string{"OIDCFED_ADDR=127.0.0.1:0"}, env...)...)
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(s.base) {
		t.Fatalf("listening line names %q", s.base)
	}
	return s
}

// browser is a cookie-jar client that does not follow redirects by itself.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and returns the response with its body read.
func (b *browser) do(method, u string, body url.Values, header ...string) (*http.Response, string) {
	b.t.Helper()
	var r io.Reader
	if body != nil {
		r = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// follow GETs u and follows redirects while they stay off the app's own
// pages, returning the last response and every URL visited.
func (b *browser) follow(u string, stop func(*url.URL) bool) (*http.Response, string, []string) {
	b.t.Helper()
	var seen []string
	for range 10 {
		seen = append(seen, u)
		resp, body := b.do("GET", u, nil)
		loc := resp.Header.Get("Location")
		if resp.StatusCode/100 != 3 || loc == "" {
			return resp, body, seen
		}
		next, _ := resp.Request.URL.Parse(loc)
		if stop(next) {
			return resp, body, append(seen, next.String())
		}
		u = next.String()
	}
	b.t.Fatal("too many redirects")
	return nil, "", nil
}

type meResponse struct {
	Account struct {
		ID            string `json:"id"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"emailVerified"`
		Anonymous     bool   `json:"anonymous"`
	} `json:"account"`
	User struct {
		Provider, Issuer, Subject, Email, Name string
		EmailVerified                          bool
		Groups                                 []string
	} `json:"user"`
	Identities []struct{ Provider, Issuer, Subject string } `json:"identities"`
}

func (b *browser) me(s *server) (int, meResponse, string) {
	b.t.Helper()
	resp, body := b.do("GET", s.base+"/me", nil)
	var m meResponse
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			b.t.Fatalf("/me: %v: %s", err, body)
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		b.t.Fatalf("/me Content-Type %q", ct)
	}
	return resp.StatusCode, m, body
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	signInLink = regexp.MustCompile(`href="(/auth/oauth/oidc:[a-z0-9_-]+)"`)
)

// demoSignIn signs in at the demo provider's login page as subject and
// returns the URLs visited.
func demoSignIn(t *testing.T, s *server, b *browser, subject string) []string {
	t.Helper()
	resp, home := b.do("GET", s.base+"/", nil)
	m := signInLink.FindStringSubmatch(home)
	if resp.StatusCode != http.StatusOK || m == nil || m[1] != "/auth/oauth/oidc:demo" {
		t.Fatalf("GET /: %d, sign-in link %q\n%s", resp.StatusCode, m, home)
	}
	final, seen := pickAtDemo(t, s, b, s.base+m[1], subject)
	if final.StatusCode != http.StatusFound || final.Header.Get("Location") != "/" {
		t.Fatalf("the callback answered %d to %q\n%s", final.StatusCode, final.Header.Get("Location"), s.logs())
	}
	return seen
}

// pickAtDemo follows u to the demo provider's login page, picks subject,
// and follows the redirects back to the app; it returns the app's last
// answer and the URLs visited.
func pickAtDemo(t *testing.T, s *server, b *browser, u, subject string) (*http.Response, []string) {
	t.Helper()
	resp, page, seen := b.follow(u, func(*url.URL) bool { return false })
	action := formAction.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || action == nil || !strings.Contains(page, `value="`+subject+`"`) {
		t.Fatalf("the demo provider's login page: %d\n%s", resp.StatusCode, page)
	}
	form, _ := resp.Request.URL.Parse(html.UnescapeString(action[1]))
	resp, _ = b.do("POST", form.String(), url.Values{"user": {subject}})
	seen = append(seen, form.String())
	next, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	final, _, more := b.follow(next.String(), func(u *url.URL) bool { return !strings.HasPrefix(u.Path, "/auth/oauth/") })
	return final, append(seen, more...)
}

// linkDemo links the demo provider's subject to the browser's account.
func linkDemo(t *testing.T, s *server, b *browser, subject string) *url.URL {
	t.Helper()
	resp, body := b.do("POST", s.base+"/auth/oauth/link/oidc:demo?redirectTo=/linked", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("link start: %d %s", resp.StatusCode, body)
	}
	final, _ := pickAtDemo(t, s, b, resp.Header.Get("Location"), subject)
	loc, _ := url.Parse(final.Header.Get("Location"))
	if final.StatusCode != http.StatusFound || loc.Path != "/linked" {
		t.Fatalf("the link callback answered %d to %q\n%s", final.StatusCode, loc, s.logs())
	}
	return loc
}

func TestAnonymousUpgradeKeepsTheAccount(t *testing.T) {
	s := start(t)
	b := newBrowser(t)
	resp, body := b.do("POST", s.base+"/auth/anonymous", nil)
	var created struct {
		Account struct {
			ID        string `json:"id"`
			Anonymous bool   `json:"anonymous"`
		} `json:"account"`
	}
	json.Unmarshal([]byte(body), &created)
	if resp.StatusCode != http.StatusOK || !created.Account.Anonymous || created.Account.ID == "" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("POST /auth/anonymous: %d %s", resp.StatusCode, body)
	}
	status, _, body := b.me(s)
	if status != http.StatusOK || !strings.Contains(body, `"anonymous":true`) || strings.Contains(body, `"user"`) || strings.Contains(body, `"identities"`) {
		t.Fatalf("/me of an anonymous account: %d %s", status, body)
	}
	if loc := linkDemo(t, s, b, "ada"); loc.Query().Has("error") {
		t.Fatalf("the upgrade failed: %s", loc)
	}
	status, me, body := b.me(s)
	if status != http.StatusOK || me.Account.ID != created.Account.ID || me.Account.Anonymous || me.Account.Email != "ada@example.com" ||
		!me.Account.EmailVerified || me.User.Subject != "ada" || len(me.Identities) != 1 {
		t.Fatalf("/me after the upgrade: %d %s", status, body)
	}
}

// home gets the home page and checks that it rendered whole: the account,
// the link form per provider and the sign-out form, each of want, and no
// template error in the log.
func home(t *testing.T, s *server, b *browser, want ...string) string {
	t.Helper()
	resp, page := b.do("GET", s.base+"/", nil)
	var forms []string
	for _, m := range formAction.FindAllStringSubmatch(page, -1) {
		forms = append(forms, html.UnescapeString(m[1]))
	}
	if resp.StatusCode != http.StatusOK || !strings.HasSuffix(strings.TrimSpace(page), "</html>") ||
		!slices.Equal(forms, []string{"/auth/oauth/link/oidc:demo?redirectTo=/", "/logout"}) || strings.Contains(s.logs(), "home page") {
		t.Fatalf("GET /: %d, forms %q\n%s\n%s", resp.StatusCode, forms, page, s.logs())
	}
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Fatalf("the home page lacks %q:\n%s", w, page)
		}
	}
	return page
}

// TestLinkedAccountHomePage: after bob is linked into ada's account, the
// page shows ada's account with both identities, still signed in as ada.
func TestLinkedAccountHomePage(t *testing.T) {
	s := start(t)
	b := newBrowser(t)
	demoSignIn(t, s, b, "ada")
	if loc := linkDemo(t, s, b, "bob"); loc.Query().Has("error") {
		t.Fatalf("linking bob failed: %s", loc)
	}
	page := home(t, s, b, "(ada@example.com)", "signed in as <strong>Ada Lovelace</strong>", "<li>oidc:demo: <code>ada</code>", "<li>oidc:demo: <code>bob</code>")
	if strings.Contains(page, "Bob") {
		t.Fatalf("the page names bob as the signed-in user:\n%s", page)
	}
	_, me, body := b.me(s)
	if me.User.Subject != "ada" || len(me.Identities) != 2 {
		t.Fatalf("/me after linking bob: %s", body)
	}
}

// TestBrowserForms: the anonymous form answers 303 home, and a bad state
// reached by a browser's navigation is an HTML page with a link home.
func TestBrowserForms(t *testing.T) {
	s := start(t)
	b := newBrowser(t)
	const accept = "text/html,application/xhtml+xml,*/*;q=0.8"
	resp, _ := b.do("POST", s.base+"/auth/anonymous", url.Values{}, "Accept", accept)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("POST /auth/anonymous from a form: %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	home(t, s, b, ", anonymously")

	resp, body := b.do("GET", s.base+"/auth/oauth/oidc:demo/callback?state=nope&code=x", nil, "Accept", accept)
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "<code>invalid_state</code>") || !strings.Contains(body, `<a href="/">`) {
		t.Fatalf("a bad state in a browser: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestLinkingAnIdentityOfAnotherAccount(t *testing.T) {
	s := start(t)
	owner, other := newBrowser(t), newBrowser(t)
	demoSignIn(t, s, owner, "ada")
	other.do("POST", s.base+"/auth/anonymous", nil)
	loc := linkDemo(t, s, other, "ada")
	if loc.Query().Get("error") != "identity_already_linked" {
		t.Fatalf("linking ada's identity to another account ended at %s", loc)
	}
	_, me, _ := other.me(s)
	if !me.Account.Anonymous || len(me.Identities) != 0 {
		t.Fatalf("the anonymous account changed: %+v", me)
	}
	_, me, _ = owner.me(s)
	if len(me.Identities) != 1 {
		t.Fatalf("the owner's account changed: %+v", me)
	}
}

func TestDemoModeSignInMeLogout(t *testing.T) {
	s := start(t)
	if !strings.Contains(s.logs(), "OIDCFED_SESSION_KEY is not set") {
		t.Error("no warning about the random session key")
	}
	b := newBrowser(t)
	if status, _, body := b.me(s); status != http.StatusUnauthorized || !strings.Contains(body, `"error":"unauthenticated"`) {
		t.Fatalf("/me before sign-in: %d %s", status, body)
	}
	if resp, body := b.do("GET", s.base+"/readyz", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"ready":true`) {
		t.Fatalf("/readyz before any provider was used: %d %s", resp.StatusCode, body)
	}
	seen := demoSignIn(t, s, b, "ada")
	status, me, body := b.me(s)
	if status != http.StatusOK || me.Account.Email != "ada@example.com" || !me.Account.EmailVerified || me.Account.Anonymous ||
		me.User.Provider != "oidc:demo" || me.User.Subject != "ada" || me.User.Name != "Ada Lovelace" || !me.User.EmailVerified ||
		len(me.Identities) != 1 || me.Identities[0].Provider != "oidc:demo" || me.Identities[0].Subject != "ada" ||
		me.Identities[0].Issuer != me.User.Issuer || !strings.HasPrefix(me.User.Issuer, "http://localhost:") {
		t.Fatalf("/me: %d %s", status, body)
	}
	home(t, s, b, "signed in as <strong>Ada Lovelace</strong> via oidc:demo", "(ada@example.com)", "<li>oidc:demo: <code>ada</code>")

	// Logout: 303 to the provider's end_session_endpoint with the ID token
	// as hint and the base URL to come back to.
	resp, _ := b.do("POST", s.base+"/logout", nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if resp.StatusCode != http.StatusSeeOther || loc.Scheme+"://"+loc.Host != me.User.Issuer || loc.Path != "/end_session" ||
		q.Get("post_logout_redirect_uri") != s.base+"/" || strings.Count(q.Get("id_token_hint"), ".") != 2 || q.Get("client_id") == "" {
		t.Fatalf("/logout: %d to %s", resp.StatusCode, loc)
	}
	if back, _, _ := b.follow(loc.String(), func(u *url.URL) bool { return true }); back.Header.Get("Location") != s.base+"/" {
		t.Fatalf("the provider sent the browser to %q", back.Header.Get("Location"))
	}
	if status, _, _ := b.me(s); status != http.StatusUnauthorized {
		t.Fatalf("/me after logout: %d", status)
	}
	if resp, _ := b.do("POST", s.base+"/logout", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("/logout without a session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Nothing secret in the server's output: the code and the ID token.
	var code string
	for _, u := range seen {
		if pu, _ := url.Parse(u); pu.Query().Get("code") != "" {
			code = pu.Query().Get("code")
		}
	}
	if code == "" {
		t.Fatalf("no authorization code seen in %q", seen)
	}
	for name, secret := range map[string]string{"code": code, "ID token": q.Get("id_token_hint")} {
		if strings.Contains(s.logs(), secret) {
			t.Errorf("the server logged the %s", name)
		}
	}
}

func TestDemoUserWithUnverifiedEmail(t *testing.T) {
	s := start(t)
	b := newBrowser(t)
	demoSignIn(t, s, b, "bob")
	status, me, body := b.me(s)
	if status != http.StatusOK || me.Account.Email != "bob@example.com" || me.Account.EmailVerified || me.User.EmailVerified ||
		!strings.Contains(body, `"emailVerified":false`) {
		t.Fatalf("/me: %d %s", status, body)
	}
}

func TestContractStatusCodes(t *testing.T) {
	s := start(t)
	b := newBrowser(t)
	tests := []struct {
		method, path string
		header       []string
		status       int
		error        string
	}{
		{"POST", "/logout", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, "cross_origin"},
		{"POST", "/logout", []string{"Origin", "https://evil.example"}, http.StatusForbidden, "cross_origin"},
		{"POST", "/auth/anonymous", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, "cross_origin"},
		{"POST", "/auth/oauth/link/oidc:demo", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, "cross_origin"},
		{"POST", "/auth/oauth/link/oidc:demo", []string{"Origin", "https://evil.example"}, http.StatusForbidden, "cross_origin"},
		{"POST", "/auth/oauth/link/oidc:demo", nil, http.StatusUnauthorized, "unauthenticated"},
		{"POST", "/auth/oauth/link/oidc:nobody", nil, http.StatusNotFound, "unknown_provider"},
		{"GET", "/auth/oauth/link/oidc:demo/callback?state=x", nil, http.StatusBadRequest, "invalid_state"},
		{"POST", "/auth/oauth/oidc:demo/backchannel-logout", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusBadRequest, "invalid_request"},
		// Exempt from the cross-origin rule, and 405: the demo provider
		// answers with a redirect, not form_post.
		{"POST", "/auth/oauth/oidc:demo/callback", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"GET", "/api/whoami", nil, http.StatusUnauthorized, "unauthenticated"},
		{"GET", "/api/whoami", []string{"Authorization", "Bearer a.b.c"}, http.StatusUnauthorized, "invalid_token"},
		{"GET", "/auth/oauth/oidc:nobody", nil, http.StatusNotFound, "unknown_provider"},
		{"GET", "/auth/oauth/oidc:demo?redirectTo=https://evil.example", nil, http.StatusBadRequest, "invalid_request"},
		{"GET", "/auth/oauth/oidc:demo/callback?state=AAAAAAAAAAAAAAAAAAAAAA&code=x", nil, http.StatusBadRequest, "invalid_state"},
		{"POST", "/auth/oauth/oidc:demo/callback", nil, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"GET", "/me", nil, http.StatusUnauthorized, "unauthenticated"},
	}
	for _, tt := range tests {
		resp, body := b.do(tt.method, s.base+tt.path, nil, tt.header...)
		var e struct{ Error string }
		json.Unmarshal([]byte(body), &e)
		if resp.StatusCode != tt.status || e.Error != tt.error || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s %v: %d %s, want %d with error %q", tt.method, tt.path, tt.header, resp.StatusCode, body, tt.status, tt.error)
		}
		if strings.HasPrefix(tt.path, "/auth/oauth/") && (resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer") {
			t.Errorf("%s %s: Cache-Control %q, Referrer-Policy %q", tt.method, tt.path, resp.Header.Get("Cache-Control"), resp.Header.Get("Referrer-Policy"))
		}
	}
	// JSON start mode.
	resp, body := b.do("GET", s.base+"/auth/oauth/oidc:demo", nil, "Accept", "application/json")
	var start struct{ URL string }
	json.Unmarshal([]byte(body), &start)
	if resp.StatusCode != http.StatusOK || !strings.Contains(start.URL, "/authorize?") || !strings.Contains(start.URL, "code_challenge_method=S256") {
		t.Fatalf("JSON start: %d %s", resp.StatusCode, body)
	}
}

func writeConfig(t *testing.T, cfg string) string {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigFileMode(t *testing.T) {
	op := federationtest.New(t, federationtest.Options{})
	op.AddUser(federationtest.User{Subject: "carol", Email: "carol@example.com", EmailVerified: true, Name: "Carol"})
	path := writeConfig(t, `{"providers": {"acme": {"issuer": "`+op.Issuer()+`", "clientId": "client-1", "clientSecret": "s3cret-value",
		"claims": {"groups": "groups"}}}, "allowedRedirects": ["http://localhost:3000"]}`)
	s := start(t, "OIDCFED_CONFIG="+path, "OIDCFED_SESSION_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	op.AddClient(federationtest.Client{ID: "client-1", Secret: "s3cret-value",
		RedirectURIs: []string{s.base + "/auth/oauth/oidc:acme/callback"}})
	if strings.Contains(s.logs(), "OIDCFED_SESSION_KEY is not set") || strings.Contains(s.logs(), "demo mode") {
		t.Fatalf("config mode logged demo-mode lines:\n%s", s.logs())
	}
	b := newBrowser(t)
	final, _, _ := b.follow(s.base+"/auth/oauth/oidc:acme?redirectTo="+url.QueryEscape("http://localhost:3000/app"),
		func(u *url.URL) bool { return !strings.HasPrefix(u.Path, "/auth/oauth/") && u.Path != "/authorize" })
	if final.StatusCode != http.StatusFound || final.Header.Get("Location") != "http://localhost:3000/app" {
		t.Fatalf("sign-in ended %d at %q\n%s", final.StatusCode, final.Header.Get("Location"), s.logs())
	}
	status, me, body := b.me(s)
	if status != http.StatusOK || me.User.Provider != "oidc:acme" || me.User.Subject != "carol" || me.User.Issuer != op.Issuer() ||
		me.Account.Email != "carol@example.com" {
		t.Fatalf("/me: %d %s", status, body)
	}
	if strings.Contains(s.logs(), "s3cret-value") {
		t.Fatal("the server logged the client secret")
	}
	resp, _ := b.do("POST", s.base+"/logout", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, op.Issuer()+"/end_session?") {
		t.Fatalf("/logout: %d to %q", resp.StatusCode, loc)
	}
	// The sign-out revoked the session's refresh token at the provider.
	if revoked := op.Revoked(); len(revoked) != 1 || len(revoked[0]) < 20 {
		t.Fatalf("the provider revoked %d tokens at sign-out, want the refresh token\n%s", len(revoked), s.logs())
	}
	testWhoami(t, s, op)
}

// TestBackchannelLogoutEndsSessions: the provider's logout token ends
// every host session of the subject, and nothing else does.
func TestBackchannelLogoutEndsSessions(t *testing.T) {
	op := federationtest.New(t, federationtest.Options{})
	op.AddUser(federationtest.User{Subject: "carol", Email: "carol@example.com", EmailVerified: true, Name: "Carol"})
	path := writeConfig(t, `{"providers": {"acme": {"issuer": "`+op.Issuer()+`", "clientId": "client-1", "clientSecret": "s3cret-value"}}}`)
	s := start(t, "OIDCFED_CONFIG="+path, "OIDCFED_SESSION_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	op.AddClient(federationtest.Client{ID: "client-1", Secret: "s3cret-value",
		RedirectURIs:         []string{s.base + "/auth/oauth/oidc:acme/callback"},
		BackchannelLogoutURI: s.base + "/auth/oauth/oidc:acme/backchannel-logout"})
	browsers := []*browser{newBrowser(t), newBrowser(t)}
	for _, b := range browsers {
		b.follow(s.base+"/auth/oauth/oidc:acme", func(u *url.URL) bool { return !strings.HasPrefix(u.Path, "/auth/oauth/") && u.Path != "/authorize" })
		if status, _, body := b.me(s); status != http.StatusOK {
			t.Fatalf("/me after sign-in: %d %s\n%s", status, body, s.logs())
		}
	}
	signedIn := func(want int) {
		t.Helper()
		for i, b := range browsers {
			if status, _, body := b.me(s); status != want {
				t.Fatalf("browser %d: /me %d %s, want %d", i, status, body, want)
			}
		}
	}
	bad := op.LogoutToken("client-1", "carol", "", func(c map[string]any) { c["aud"] = "someone-else" })
	if status, err := op.SendLogoutToken("client-1", bad); err != nil || status != http.StatusBadRequest {
		t.Fatalf("a logout token for another client: %d %v, want 400", status, err)
	}
	if status, err := op.BackchannelLogout("client-1", "", "another-session"); err != nil || status != http.StatusOK {
		t.Fatalf("a logout of an unknown session: %d %v", status, err)
	}
	signedIn(http.StatusOK)
	if status, err := op.BackchannelLogout("client-1", "carol", ""); err != nil || status != http.StatusOK {
		t.Fatalf("back-channel logout: %d %v\n%s", status, err, s.logs())
	}
	signedIn(http.StatusUnauthorized)
	if !strings.Contains(s.logs(), "sessions_ended=2") {
		t.Errorf("the server did not log the two sessions it ended:\n%s", s.logs())
	}
}

// testWhoami drives GET /api/whoami with tokens of the configured provider.
func testWhoami(t *testing.T, s *server, op *federationtest.Provider) {
	now := time.Now()
	token := func(edit func(map[string]any)) string {
		c := map[string]any{"iss": op.Issuer(), "sub": "carol", "aud": "client-1", "iat": now.Unix(),
			"exp": now.Add(5 * time.Minute).Unix(), "email": "carol@example.com", "email_verified": true, "groups": []string{"ops"}}
		if edit != nil {
			edit(c)
		}
		return op.SignJWT("at+jwt", c)
	}
	b := newBrowser(t)
	resp, body := b.do("GET", s.base+"/api/whoami", nil, "Authorization", "Bearer "+token(nil))
	var got struct{ User claims.User }
	json.Unmarshal([]byte(body), &got)
	if resp.StatusCode != http.StatusOK || got.User.Provider != "oidc:acme" || got.User.Subject != "carol" || got.User.Issuer != op.Issuer() ||
		!got.User.EmailVerified || len(got.User.Groups) != 1 || !strings.HasPrefix(body, `{"user":{"provider":"oidc:acme"`) {
		t.Fatalf("whoami: %d %s", resp.StatusCode, body)
	}
	for name, edit := range map[string]func(map[string]any){
		"expired":          func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() },
		"another audience": func(c map[string]any) { c["aud"] = "someone-else" },
		"another issuer":   func(c map[string]any) { c["iss"] = "https://evil.example" },
	} {
		resp, body := b.do("GET", s.base+"/api/whoami", nil, "Authorization", "Bearer "+token(edit))
		if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(ch, "Bearer ") ||
			!strings.Contains(ch, `error="invalid_token"`) {
			t.Errorf("whoami with an %s token: %d %q %s", name, resp.StatusCode, ch, body)
		}
	}
	resp, _ = b.do("GET", s.base+"/api/whoami", nil)
	if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(ch, "Bearer") {
		t.Errorf("whoami without a token: %d %q", resp.StatusCode, ch)
	}
}

func TestConfigErrorsExitBeforeListening(t *testing.T) {
	tests := []struct {
		name   string
		config string // "" for a missing file
		env    []string
		want   []string
	}{
		{"missing fields", `{"providers": {"acme": {"issuer": "https://idp.example.com"}}}`, nil,
			[]string{`providers.acme.clientId: is required`, `providers.acme.clientSecret: is required`}},
		{"an http issuer off loopback", `{"providers": {"acme": {"issuer": "http://idp.example.com", "clientId": "c", "clientSecret": "s"}}}`, nil,
			[]string{`providers.acme.issuer:`, "https"}},
		{"a bad provider name", `{"providers": {"Acme": {"issuer": "https://idp.example.com", "clientId": "c", "clientSecret": "s"}}}`, nil,
			[]string{`providers.Acme.name: must match [a-z0-9_-]+`}},
		{"an unknown field", `{"providers": {"acme": {"issuer": "https://idp.example.com", "clientId": "c", "clientSecret": "s", "tenant": "x"}}}`, nil,
			[]string{`unknown field "tenant"`}},
		{"a missing file", "", nil, []string{"OIDCFED_CONFIG"}},
		{"a short session key", `{"providers": {}}`, []string{"OIDCFED_SESSION_KEY=c2hvcnQ="}, []string{"OIDCFED_SESSION_KEY must be the base64 of 32 random bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "missing.json")
			if tt.config != "" {
				path = writeConfig(t, tt.config)
			}
			cmd := exec.Command(binary)
			cmd.Env = append(os.Environ(), append([]string{"OIDCFED_ADDR=127.0.0.1:0", "OIDCFED_CONFIG=" + path}, tt.env...)...)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
				t.Fatalf("exit: %v\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not contain %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "listening on") {
				t.Errorf("the server listened despite the error:\n%s", out)
			}
		})
	}
}
