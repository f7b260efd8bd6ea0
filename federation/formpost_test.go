package federation_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// formPostRP is a relying party whose provider answers with form_post.
func formPostRP(t *testing.T) *rp {
	t.Helper()
	return newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) { pc.ResponseMode = "form_post" }})
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// providerForm starts a sign-in in b and returns the provider's
// auto-submitting form: where it posts and what.
func providerForm(t *testing.T, r *rp, b *browser) (string, url.Values) {
	t.Helper()
	resp := b.get(r.srv.URL+"/auth/oauth/oidc:acme?redirectTo=/next", func(*url.URL) bool { return true })
	if set := resp.Header.Get("Set-Cookie"); !strings.Contains(set, "SameSite=None") || !strings.Contains(set, "Secure") {
		t.Fatalf("the flow cookie is %q, want SameSite=None; Secure", set)
	}
	authz := resp.Header.Get("Location")
	if u, _ := url.Parse(authz); u.Query().Get("response_mode") != "form_post" {
		t.Fatalf("authorization URL %s without response_mode=form_post", authz)
	}
	page, err := b.client.Get(authz)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	action := regexp.MustCompile(`<form method="post" action="([^"]+)">`).FindStringSubmatch(string(body))
	if action == nil {
		t.Fatalf("no form in the provider's answer:\n%s", body)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(body), -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	return strings.ReplaceAll(action[1], "&amp;", "&"), form
}

// post submits form to action in b, as the provider's page does.
func (b *browser) post(action string, form url.Values) *http.Response {
	b.t.Helper()
	resp, err := b.client.PostForm(action, form)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestFormPost: the provider's POST completes the sign-in; the flow
// cookie was SameSite=None; Secure, so that a browser sends it with a
// cross-site POST.
func TestFormPost(t *testing.T) {
	r := formPostRP(t)
	b := newBrowser(t)
	action, form := providerForm(t, r, b)
	if action != r.srv.URL+"/auth/oauth/oidc:acme/callback" || form.Get("code") == "" || form.Get("state") == "" ||
		form.Get("iss") != r.op.Issuer() {
		t.Fatalf("form to %s: %v", action, form)
	}
	resp := b.post(action, form)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/next" || r.loginCount() != 1 {
		t.Fatalf("the POST answered %d to %q; logs:\n%s", resp.StatusCode, resp.Header.Get("Location"), r.logs)
	}
	// The same POST again: the flow is spent.
	if resp := b.post(action, form); resp.StatusCode != http.StatusBadRequest || r.loginCount() != 1 {
		t.Fatalf("a replayed POST answered %d", resp.StatusCode)
	}
}

// TestFormPostRejections: each way the provider's answer can arrive other
// than as the POST of the browser that started the flow is refused.
func TestFormPostRejections(t *testing.T) {
	t.Run("sent as GET", func(t *testing.T) {
		r := formPostRP(t)
		b := newBrowser(t)
		action, form := providerForm(t, r, b)
		resp := b.get(action+"?"+form.Encode(), func(*url.URL) bool { return true })
		if resp.StatusCode != http.StatusBadRequest || r.loginCount() != 0 ||
			!strings.Contains(r.logs.String(), "a form_post=true flow completed by GET") {
			t.Fatalf("GET answered %d; logs:\n%s", resp.StatusCode, r.logs)
		}
	})
	t.Run("without the flow cookie", func(t *testing.T) {
		r := formPostRP(t)
		action, form := providerForm(t, r, newBrowser(t))
		if resp := newBrowser(t).post(action, form); resp.StatusCode != http.StatusBadRequest || r.loginCount() != 0 {
			t.Fatalf("a POST from another browser answered %d", resp.StatusCode)
		}
	})
	t.Run("at a provider without form_post", func(t *testing.T) {
		r := newRP(t, federationtest.Options{})
		resp := newBrowser(t).post(r.srv.URL+"/auth/oauth/oidc:acme/callback", url.Values{"code": {"c"}, "state": {"s"}})
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Fatalf("POST answered %d (Allow %q), want 405", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	t.Run("not form-encoded", func(t *testing.T) {
		r := formPostRP(t)
		resp, err := http.Post(r.srv.URL+"/auth/oauth/oidc:acme/callback", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("a JSON POST answered %d, want 415", resp.StatusCode)
		}
	})
	t.Run("a provider that does not offer form_post", func(t *testing.T) {
		r := formPostRP(t)
		r.op.Misbehave(federationtest.Misbehavior{Discovery: func(doc map[string]any) {
			doc["response_modes_supported"] = []string{"query", "fragment"}
		}})
		if code, _ := status(t, r.srv.URL+"/auth/oauth/oidc:acme"); code != http.StatusBadGateway ||
			r.errs.count(federation.ErrResponseMode) == 0 {
			t.Fatalf("start answered %d, want 502 with ErrResponseMode logged", code)
		}
		if c := checkNamed(t, r, "response_mode"); c.Status != federation.CheckFail {
			t.Fatalf("Check said %+v", c)
		}
	})
}

// TestFormPostError: an error the provider posts (oidcc-client-test-form-post-error)
// ends at redirectTo with its code.
func TestFormPostError(t *testing.T) {
	r := formPostRP(t)
	r.op.Misbehave(federationtest.Misbehavior{AuthorizationResponse: func(q url.Values) {
		q.Del("code")
		q.Set("error", "access_denied")
		q.Set("error_description", "the user said no")
	}})
	b := newBrowser(t)
	action, form := providerForm(t, r, b)
	resp := b.post(action, form)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Path != "/next" || loc.Query().Get("error") != "access_denied" || r.loginCount() != 0 {
		t.Fatalf("ended at %s, want /next with access_denied", loc)
	}
}
