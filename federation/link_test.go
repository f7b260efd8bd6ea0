package federation_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/session"
)

// linkRP is a relying party with two providers, acme and beta, the linking
// policy, and a host session: a random "sid" cookie naming an account.
type linkRP struct {
	t     *testing.T
	srv   *httptest.Server
	ops   map[string]*federationtest.Provider
	store *federation.MemoryAccounts
	logs  bytes.Buffer

	mu       sync.Mutex
	sessions map[string]string // sid → account ID
	logins   []*federation.Login
}

func newLinkRP(t *testing.T) *linkRP {
	r := &linkRP{t: t, ops: map[string]*federationtest.Provider{}, store: federation.NewMemoryAccounts(), sessions: map[string]string{}}
	mux := http.NewServeMux()
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	cfg := federation.Config{Providers: map[string]federation.ProviderConfig{}}
	for _, name := range []string{"acme", "beta"} {
		op := federationtest.New(t, federationtest.Options{})
		op.AddClient(federationtest.Client{ID: "client-" + name, Secret: "secret-" + name, RedirectURIs: []string{
			r.srv.URL + "/auth/oauth/oidc:" + name + "/callback", r.srv.URL + "/auth/oauth/link/oidc:" + name + "/callback"}})
		r.ops[name] = op
		cfg.Providers[name] = federation.ProviderConfig{Issuer: op.Issuer(), ClientID: "client-" + name, ClientSecret: federation.Secret("secret-" + name)}
	}
	reg, err := federation.NewRegistry(cfg, federation.WithLogger(slog.New(slog.NewTextHandler(&r.logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	flows, _ := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{bytes.Repeat([]byte{9}, 32)}})
	h, err := federation.NewHandler(federation.HandlerConfig{Registry: reg, BaseURL: r.srv.URL, Flows: flows,
		Accounts: federation.LinkByVerifiedEmail{Store: r.store},
		OnLogin: func(w http.ResponseWriter, req *http.Request, l *federation.Login) error {
			r.mu.Lock()
			r.logins = append(r.logins, l)
			r.mu.Unlock()
			r.startSession(w, l.Decision.Account.ID)
			return nil
		},
		CurrentAccount: func(req *http.Request) (federation.CurrentAccount, bool) {
			c, err := req.Cookie("sid")
			if err != nil {
				return federation.CurrentAccount{}, false
			}
			r.mu.Lock()
			id, ok := r.sessions[c.Value]
			r.mu.Unlock()
			if !ok {
				return federation.CurrentAccount{}, false
			}
			a, err := r.store.Get(req.Context(), id)
			if err != nil {
				return federation.CurrentAccount{}, false
			}
			return federation.CurrentAccount{ID: a.ID, Anonymous: a.Anonymous}, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/auth/oauth/", h)
	return r
}

func (r *linkRP) startSession(w http.ResponseWriter, accountID string) string {
	sid := rand.Text()
	r.mu.Lock()
	r.sessions[sid] = accountID
	r.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid, Path: "/", HttpOnly: true})
	return sid
}

// setSession puts the browser in a session of accountID.
func (r *linkRP) setSession(b *browser, accountID string) {
	rec := httptest.NewRecorder()
	sid := r.startSession(rec, accountID)
	u, _ := url.Parse(r.srv.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "sid", Value: sid, Path: "/"}})
}

// current returns the account the browser is signed in to, or "".
func (r *linkRP) current(b *browser) string {
	u, _ := url.Parse(r.srv.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "sid" {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.sessions[c.Value]
		}
	}
	return ""
}

func (r *linkRP) account(id string) *federation.Account {
	return mustAccount(r.t, r.store, id)
}

// atApp reports a URL back on the app, off the library's routes.
func (r *linkRP) atApp(u *url.URL) bool {
	return "http://"+u.Host == r.srv.URL && !strings.HasPrefix(u.Path, "/auth/oauth/")
}

// signIn signs the browser in with provider name and returns the final
// redirect's Location.
func (r *linkRP) signIn(b *browser, name string) string {
	r.t.Helper()
	resp := b.get(r.srv.URL+"/auth/oauth/oidc:"+name+"?redirectTo=/home", r.atApp)
	return resp.Header.Get("Location")
}

// postLink starts a link with headers and returns the response.
func (r *linkRP) postLink(b *browser, name string, header ...string) (*http.Response, string) {
	r.t.Helper()
	req, _ := http.NewRequest("POST", r.srv.URL+"/auth/oauth/link/oidc:"+name+"?redirectTo=/settings", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&body)
	return resp, body.Error
}

// link runs a whole link flow and returns the final redirect's Location.
func (r *linkRP) link(b *browser, name string) string {
	r.t.Helper()
	resp, e := r.postLink(b, name)
	if resp.StatusCode != http.StatusSeeOther {
		r.t.Fatalf("link start: %d %s\n%s", resp.StatusCode, e, &r.logs)
	}
	return b.get(resp.Header.Get("Location"), r.atApp).Header.Get("Location")
}

func TestSecondProviderWithTheSameVerifiedEmail(t *testing.T) {
	r := newLinkRP(t)
	r.ops["acme"].SetUsers(federationtest.User{Subject: "alice-acme", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	r.ops["beta"].SetUsers(federationtest.User{Subject: "alice-beta", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	b1, b2 := newBrowser(t), newBrowser(t)
	if loc := r.signIn(b1, "acme"); loc != "/home" {
		t.Fatalf("acme sign-in ended at %q\n%s", loc, &r.logs)
	}
	if loc := r.signIn(b2, "beta"); loc != "/home" {
		t.Fatalf("beta sign-in ended at %q\n%s", loc, &r.logs)
	}
	if r.current(b1) == "" || r.current(b1) != r.current(b2) {
		t.Fatalf("two accounts: %q and %q", r.current(b1), r.current(b2))
	}
	if a := r.account(r.current(b1)); len(a.Identities) != 2 || r.logins[1].Decision.Outcome != federation.Linked {
		t.Fatalf("account %+v, second decision %v", a, r.logins[1].Decision)
	}
}

func TestSecondProviderWithAnUnverifiedEmail(t *testing.T) {
	r := newLinkRP(t)
	r.ops["acme"].SetUsers(federationtest.User{Subject: "alice-acme", Email: "alice@example.com", EmailVerified: true})
	r.ops["beta"].SetUsers(federationtest.User{Subject: "mallory-beta", Email: "alice@example.com", EmailVerified: false})
	b1, b2 := newBrowser(t), newBrowser(t)
	r.signIn(b1, "acme")
	r.signIn(b2, "beta")
	if r.current(b1) == r.current(b2) || len(r.account(r.current(b1)).Identities) != 1 {
		t.Fatal("an unverified email from the second provider reached the existing account")
	}
}

func TestLinkFlowAddsAnIdentity(t *testing.T) {
	r := newLinkRP(t)
	r.ops["acme"].SetUsers(federationtest.User{Subject: "alice-acme", Email: "alice@example.com", EmailVerified: true})
	r.ops["beta"].SetUsers(federationtest.User{Subject: "alice-work", Email: "alice@corp.example", EmailVerified: true})
	b := newBrowser(t)
	r.signIn(b, "acme")
	x := r.current(b)
	if loc := r.link(b, "beta"); loc != "/settings" {
		t.Fatalf("link ended at %q\n%s", loc, &r.logs)
	}
	a := r.account(x)
	if r.current(b) != x || len(a.Identities) != 2 || a.Identities[1].Subject != "alice-work" || a.Email != "alice@example.com" {
		t.Fatalf("after the link: session %s, account %+v", r.current(b), a)
	}
	if l := r.logins[1]; l.Mode != session.Link || l.Decision.Outcome != federation.Linked || l.Provider != "oidc:beta" {
		t.Fatalf("OnLogin got %v", l)
	}
	// Linking it again is a no-op success.
	if loc := r.link(b, "beta"); loc != "/settings" || len(r.account(x).Identities) != 2 {
		t.Fatalf("linking again ended at %q with %+v", loc, r.account(x))
	}
}

func TestLinkStartRefusals(t *testing.T) {
	r := newLinkRP(t)
	r.ops["acme"].SetUsers(federationtest.User{Subject: "alice-acme", Email: "alice@example.com", EmailVerified: true})
	b := newBrowser(t)
	if resp, e := r.postLink(b, "beta"); resp.StatusCode != http.StatusUnauthorized || e != "unauthenticated" {
		t.Fatalf("link without a session: %d %q, want 401 unauthenticated", resp.StatusCode, e)
	}
	r.signIn(b, "acme")
	for _, h := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}, {"Origin", "http://localhost:1"}} {
		if resp, e := r.postLink(b, "beta", h...); resp.StatusCode != http.StatusForbidden || e != "cross_origin" {
			t.Errorf("link with %s: %d %q, want 403 cross_origin", h, resp.StatusCode, e)
		}
	}
	if resp, _ := r.postLink(b, "beta", "Origin", r.srv.URL, "Sec-Fetch-Site", "same-origin"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a same-origin link: %d, want 303", resp.StatusCode)
	}
	if resp, e := r.postLink(b, "nobody"); resp.StatusCode != http.StatusNotFound || federation.Code(e) != federation.CodeUnknownProvider {
		t.Errorf("link to an unknown provider: %d %q", resp.StatusCode, e)
	}
	resp, _ := b.client.Get(r.srv.URL + "/auth/oauth/link/oidc:beta")
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET link start: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// A sign-in flow's state is refused at the link callback.
	callback := ""
	b.get(r.srv.URL+"/auth/oauth/oidc:beta", func(u *url.URL) bool {
		callback = u.String()
		return strings.HasSuffix(u.Path, "/callback")
	})
	resp, _ = b.client.Get(strings.Replace(callback, "/oidc:beta/callback", "/link/oidc:beta/callback", 1))
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a sign-in flow completed at the link callback: %d", resp.StatusCode)
	}
}

func TestLinkCallbackNeedsTheSameSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(r *linkRP, b *browser, other string)
	}{
		{"the session switched to another account", func(r *linkRP, b *browser, other string) { r.setSession(b, other) }},
		{"the session ended", func(r *linkRP, b *browser, _ string) {
			u, _ := url.Parse(r.srv.URL)
			b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "sid", Value: "", Path: "/", MaxAge: -1}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newLinkRP(t)
			r.ops["acme"].SetUsers(federationtest.User{Subject: "alice-acme", Email: "alice@example.com", EmailVerified: true})
			r.ops["beta"].SetUsers(federationtest.User{Subject: "alice-work", Email: "alice@corp.example", EmailVerified: true})
			y, _ := r.store.CreateWithIdentity(context.Background(), federation.Account{Email: "y@example.com"},
				federation.Identity{Provider: "oidc:acme", Issuer: r.ops["acme"].Issuer(), Subject: "y"})
			b := newBrowser(t)
			r.signIn(b, "acme")
			x := r.current(b)
			resp, _ := r.postLink(b, "beta")
			stopAtCallback := func(u *url.URL) bool { return strings.HasSuffix(u.Path, "/callback") }
			var callback string
			b.get(resp.Header.Get("Location"), func(u *url.URL) bool { callback = u.String(); return stopAtCallback(u) })
			tc.change(r, b, y.ID)
			final := b.get(callback, r.atApp)
			loc, _ := url.Parse(final.Header.Get("Location"))
			if loc.Path != "/settings" || federation.Code(loc.Query().Get("error")) != federation.CodeLoginRequired {
				t.Fatalf("link callback ended at %q, want /settings with error=login_required\n%s", loc, &r.logs)
			}
			if len(r.account(x).Identities) != 1 || len(r.account(y.ID).Identities) != 1 || len(r.logins) != 1 {
				t.Fatalf("something changed: %+v %+v, %d logins", r.account(x), r.account(y.ID), len(r.logins))
			}
		})
	}
}

func TestLinkIdentityOfAnotherAccount(t *testing.T) {
	r := newLinkRP(t)
	r.ops["acme"].SetUsers(federationtest.User{Subject: "alice-acme", Email: "alice@example.com", EmailVerified: true})
	r.ops["beta"].SetUsers(federationtest.User{Subject: "shared-beta", Email: "shared@example.com", EmailVerified: true})
	owner, other := newBrowser(t), newBrowser(t)
	r.signIn(owner, "beta") // the beta identity's account
	r.signIn(other, "acme")
	y, x := r.current(owner), r.current(other)
	loc, _ := url.Parse(r.link(other, "beta"))
	if loc.Path != "/settings" || federation.Code(loc.Query().Get("error")) != federation.CodeIdentityAlreadyLinked {
		t.Fatalf("link ended at %q, want error=identity_already_linked", loc)
	}
	if len(r.account(x).Identities) != 1 || len(r.account(y).Identities) != 1 || r.current(other) != x {
		t.Fatalf("the accounts changed: %+v %+v", r.account(x), r.account(y))
	}
}

func TestAnonymousUpgradeKeepsTheID(t *testing.T) {
	r := newLinkRP(t)
	r.ops["acme"].SetUsers(federationtest.User{Subject: "new-acme", Email: "new@example.com", EmailVerified: true})
	anon, _ := r.store.CreateAnonymous(context.Background())
	b := newBrowser(t)
	r.setSession(b, anon.ID)
	if loc := r.link(b, "acme"); loc != "/settings" {
		t.Fatalf("upgrade ended at %q\n%s", loc, &r.logs)
	}
	a := r.account(anon.ID)
	if a.Anonymous || len(a.Identities) != 1 || a.Email != "new@example.com" || !a.EmailVerified || r.current(b) != anon.ID {
		t.Fatalf("after the upgrade: %+v, session %s", a, r.current(b))
	}
	if l := r.logins[0]; l.Mode != session.Upgrade || l.Decision.Account.ID != anon.ID {
		t.Fatalf("OnLogin got %v", l)
	}
}
