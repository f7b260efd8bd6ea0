package federation_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// TestThirdPartyInitiatedLogin: the provider's initiate_login_uri (OpenID
// Connect Core 1.0 §4) starts a sign-in with its login_hint, ending at
// target_link_uri; another iss, or a target off the site, is refused.
func TestThirdPartyInitiatedLogin(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := r.srv.URL + "/auth/oauth/oidc:acme/initiate"
	q := url.Values{"iss": {r.op.Issuer()}, "login_hint": {"alice@example.com"}, "target_link_uri": {r.srv.URL + "/next"}}
	for _, method := range []string{"GET", "POST"} {
		var resp *http.Response
		var err error
		if method == "GET" {
			resp, err = noFollow.Get(base + "?" + q.Encode())
		} else {
			resp, err = noFollow.PostForm(base, q)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode/100 != 3 || !strings.HasPrefix(loc.String(), r.op.Issuer()+"/authorize?") ||
			loc.Query().Get("login_hint") != "alice@example.com" {
			t.Fatalf("%s: %d to %s", method, resp.StatusCode, loc)
		}
	}
	// The whole sign-in, landing at target_link_uri.
	resp := newBrowser(t).get(base+"?"+q.Encode(), func(next *url.URL) bool { return next.Path == "/next" })
	if resp.Header.Get("Location") != "/next" && resp.Header.Get("Location") != r.srv.URL+"/next" || r.loginCount() != 1 {
		t.Fatalf("ended at %q after %d logins", resp.Header.Get("Location"), r.loginCount())
	}
	for name, bad := range map[string]url.Values{
		"another iss":           {"iss": {"https://evil.example"}},
		"no iss":                {},
		"a target off the site": {"iss": {r.op.Issuer()}, "target_link_uri": {"https://evil.example/"}},
	} {
		code, e := status(t, base+"?"+bad.Encode())
		if code != http.StatusBadRequest || e != "invalid_request" {
			t.Errorf("%s: %d %s, want 400 invalid_request", name, code, e)
		}
	}
}
