package browser

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
)

const (
	signInLink = `a[href="/auth/oauth/oidc:demo"]`
	linkButton = `//button[text()="Link oidc:demo"]`
	signOut    = `//button[text()="Sign out"]`
	anonymous  = `//button[contains(., "anonymous")]`
)

// pick chooses a user on the demo provider's login page, which must be on
// the provider's own site, and returns the app's final answer.
func (b *tab) pick(name string) *network.Response {
	b.t.Helper()
	if loc := b.location(); !strings.HasPrefix(loc, b.srv.issuer+"/authorize?") {
		b.t.Fatalf("expected the demo provider's login page at %s, at %s", b.srv.issuer, loc)
	}
	return b.click(fmt.Sprintf(`//button[contains(., %q)]`, name))
}

// signIn signs in from the home page as the demo user name.
func (b *tab) signIn(name string) {
	b.t.Helper()
	b.open(b.srv.base + "/")
	b.click(signInLink)
	if resp := b.pick(name); resp.Status != http.StatusOK || b.location() != b.srv.base+"/" {
		b.t.Fatalf("signing in as %s ended at %s with %d", name, b.location(), resp.Status)
	}
}

// TestSignInLinkSignOut: sign in as ada, the home page shows the account
// with Sign out and Link; link bob; the account has both identities and
// the browser is still ada's; sign out through the provider.
func TestSignInLinkSignOut(t *testing.T) {
	srv := startServer(t)
	b := newTab(t, srv)
	b.signIn("Ada Lovelace")
	b.wantText("signed in as Ada Lovelace via oidc:demo", "(ada@example.com)", "Link oidc:demo", "Sign out", "oidc:demo: ada at "+srv.issuer)

	b.click(linkButton)
	if resp := b.pick("Bob Unverified"); resp.Status != http.StatusOK || b.location() != srv.base+"/" {
		t.Fatalf("the link ended at %s with %d", b.location(), resp.Status)
	}
	b.wantText("(ada@example.com)", "signed in as Ada Lovelace", "oidc:demo: ada at", "oidc:demo: bob at")
	if strings.Contains(b.text(), "Bob Unverified via") {
		t.Fatal("the page says the browser is signed in as bob")
	}

	// Sign out: the provider's end_session, then back home.
	if resp := b.click(signOut); resp.Status != http.StatusOK || b.location() != srv.base+"/" {
		t.Fatalf("sign-out ended at %s with %d", b.location(), resp.Status)
	}
	b.wantText("Not signed in.")
	for _, c := range b.cookies(srv.base) {
		if c.Name == "session" {
			t.Fatalf("the session cookie outlived sign-out: %+v", c)
		}
	}
}

// TestAnonymousThenLink: continue anonymously from the home page's form
// (303 home), then link ada: the same account is upgraded in place.
func TestAnonymousThenLink(t *testing.T) {
	srv := startServer(t)
	b := newTab(t, srv)
	b.open(srv.base + "/")
	if resp := b.click(anonymous); resp.Status != http.StatusOK || b.location() != srv.base+"/" {
		t.Fatalf("the anonymous form ended at %s with %d, want the home page", b.location(), resp.Status)
	}
	b.wantText(", anonymously.", "Link oidc:demo")
	before := accountID(t, b.text())

	b.click(linkButton)
	if resp := b.pick("Ada Lovelace"); resp.Status != http.StatusOK || b.location() != srv.base+"/" {
		t.Fatalf("the upgrade ended at %s with %d", b.location(), resp.Status)
	}
	b.wantText("(ada@example.com)", "signed in as Ada Lovelace", "oidc:demo: ada at")
	if after := accountID(t, b.text()); after != before {
		t.Fatalf("the upgrade changed the account from %s to %s", before, after)
	}
}

// accountID reads the account ID from the home page's text.
func accountID(t *testing.T, text string) string {
	t.Helper()
	_, rest, ok := strings.Cut(text, "Signed in to account ")
	id, _, _ := strings.Cut(rest, ",")
	id, _, _ = strings.Cut(id, " ")
	if !ok || id == "" {
		t.Fatalf("no account ID on the page:\n%s", text)
	}
	return strings.TrimSuffix(id, ".")
}

// TestFlowCookieCap: a signed-in browser starts sign-in 40 times and
// abandons each at the provider. It keeps at most 5 flow cookies, its
// session cookie survives, and a sign-in still completes.
func TestFlowCookieCap(t *testing.T) {
	srv := startServer(t)
	b := newTab(t, srv)
	b.signIn("Ada Lovelace")
	for range 40 {
		b.open(srv.base + "/auth/oauth/oidc:demo?redirectTo=/")
	}
	var flows, header int
	var session bool
	for _, c := range b.cookies(srv.base) {
		header += len(c.Name) + 1 + len(c.Value) + 2
		switch {
		case strings.HasPrefix(c.Name, "oidcfed-"):
			flows++
		case c.Name == "session":
			session = true
		}
	}
	t.Logf("after 40 abandoned starts: %d flow cookies, Cookie header about %d bytes", flows, header)
	if flows != 5 || !session {
		t.Fatalf("%d flow cookies and session cookie %t, want 5 and true", flows, session)
	}
	if resp := b.pick("Ada Lovelace"); resp.Status != http.StatusOK || b.location() != srv.base+"/" {
		t.Fatalf("the last started sign-in ended at %s with %d", b.location(), resp.Status)
	}
	b.wantText("signed in as Ada Lovelace")
}

// TestCrossSitePostsAreRefused: a page on another site (localhost, as
// the provider is) posts forms at the app's state-changing routes; each is
// refused 403 cross_origin, and the session is untouched.
func TestCrossSitePostsAreRefused(t *testing.T) {
	srv := startServer(t)
	b := newTab(t, srv)
	b.signIn("Ada Lovelace")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s%s"><button type="submit">Win a prize</button></form>`,
			srv.base, r.URL.Query().Get("to"))
	}))
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1) // another site than the app
	for _, route := range []string{"/logout", "/auth/anonymous", "/auth/oauth/link/oidc:demo"} {
		b.open(evilURL + "/?to=" + route)
		resp := b.click(`//button[text()="Win a prize"]`)
		if resp.Status != http.StatusForbidden || !strings.Contains(b.text(), `"error":"cross_origin"`) {
			t.Fatalf("a cross-site POST %s: %d at %s\n%s", route, resp.Status, b.location(), b.text())
		}
	}
	b.open(srv.base + "/")
	b.wantText("signed in as Ada Lovelace")
}

// TestErrorPageForBadState: a stale callback link in a browser is an
// HTML page (400, the code, a link home), and the link leads home.
func TestErrorPageForBadState(t *testing.T) {
	srv := startServer(t)
	b := newTab(t, srv)
	resp := b.open(srv.base + "/auth/oauth/oidc:demo/callback?state=stale-state-value-0123&code=x")
	if resp.Status != http.StatusBadRequest || !strings.HasPrefix(resp.MimeType, "text/html") {
		t.Fatalf("a bad state: %d %s", resp.Status, resp.MimeType)
	}
	b.wantText("Bad Request", "invalid_state", "please start again", "Back to the home page")
	if resp := b.click(`//a[text()="Back to the home page"]`); resp.Status != http.StatusOK || b.location() != srv.base+"/" {
		t.Fatalf("the link home led to %s with %d", b.location(), resp.Status)
	}
	b.wantText("Not signed in.")
}
