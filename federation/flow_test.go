package federation_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/session"
)

func TestSignInHappyPaths(t *testing.T) {
	tests := []struct {
		name string
		opts federationtest.Options
	}{
		{"RS256 sign-in lands at redirectTo with the user", federationtest.Options{Algorithm: "RS256"}},
		{"ES256 sign-in lands at redirectTo with the user", federationtest.Options{Algorithm: "ES256"}},
		{"claims come from userinfo when the ID token lacks them", federationtest.Options{ProfileInUserinfoOnly: true}},
		{"client_secret_post is used when it is the only method", federationtest.Options{TokenAuthMethods: []string{"client_secret_post"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRP(t, tt.opts)
			resp := r.signIn(newBrowser(t), "/welcome?x=1")
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/welcome?x=1" {
				t.Fatalf("final response %d to %q, want 302 to /welcome?x=1; logs:\n%s", resp.StatusCode, resp.Header.Get("Location"), r.logs)
			}
			if r.loginCount() != 1 {
				t.Fatalf("OnLogin called %d times", r.loginCount())
			}
			u := r.logins[0].Result.User
			if u.Provider != "oidc:acme" || u.Issuer != r.op.Issuer() || u.Subject != "alice" || u.Email != "alice@example.com" ||
				!u.EmailVerified || u.Name != "Alice A" || u.GivenName != "Alice" || u.FamilyName != "A" {
				t.Fatalf("user = %+v", u)
			}
			if r.logins[0].Decision.Outcome != federation.Created || r.logins[0].Decision.Account.ID == "" {
				t.Fatalf("decision = %+v, want a created account", r.logins[0].Decision)
			}
			want := "client_secret_basic"
			if len(tt.opts.TokenAuthMethods) > 0 {
				want = tt.opts.TokenAuthMethods[0]
			}
			if seen := r.op.TokenAuthMethodsSeen(); len(seen) != 1 || seen[0] != want {
				t.Fatalf("the OP received auth methods %v, want [%s]", seen, want)
			}
		})
	}
}

func TestPublicClientSignIn(t *testing.T) {
	r := newRPWith(t, rpOptions{op: federationtest.Options{TokenAuthMethods: []string{"none", "client_secret_basic"}}, public: true})
	resp := r.signIn(newBrowser(t), "/welcome")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/welcome" || r.loginCount() != 1 {
		t.Fatalf("final response %d to %q; logs:\n%s", resp.StatusCode, resp.Header.Get("Location"), r.logs)
	}
	if seen := r.op.TokenAuthMethodsSeen(); len(seen) != 1 || seen[0] != "none" {
		t.Fatalf("the OP received auth methods %v, want [none]", seen)
	}
	t.Run("a method the provider does not list fails before the provider is asked", func(t *testing.T) {
		r := newRPWith(t, rpOptions{public: true}) // the OP lists client_secret_basic only
		resp := r.signIn(newBrowser(t), "/welcome")
		if resp.StatusCode == http.StatusFound || r.errs.count(federation.ErrTokenEndpointAuth) == 0 {
			t.Fatalf("%d; logs:\n%s", resp.StatusCode, r.logs)
		}
	})
}

func TestParallelFlowsInOneBrowser(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	b := newBrowser(t)
	stopAtOP := func(next *url.URL) bool { return strings.HasSuffix(next.Path, "/authorize") }
	first := b.get(r.srv.URL+"/auth/oauth/oidc:acme?redirectTo=/one", stopAtOP)
	second := b.get(r.srv.URL+"/auth/oauth/oidc:acme?redirectTo=/two", stopAtOP)
	for _, tc := range []struct {
		resp *http.Response
		want string
	}{{second, "/two"}, {first, "/one"}} {
		final := b.get(tc.resp.Header.Get("Location"), func(next *url.URL) bool {
			return !strings.HasPrefix(next.Path, "/auth/oauth/") && next.Path != "/authorize"
		})
		if final.Header.Get("Location") != tc.want {
			t.Fatalf("flow landed at %q, want %q; logs:\n%s", final.Header.Get("Location"), tc.want, r.logs)
		}
	}
	if r.loginCount() != 2 {
		t.Fatalf("%d logins, want 2", r.loginCount())
	}
}

// otherKey signs tokens the provider never published.
var otherKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func TestStateRejections(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	r.signIn(newBrowser(t), "/") // a first, complete sign-in
	b2 := newBrowser(t)
	callback := r.toCallback(b2)
	check := func(name string, b *browser, u string, method string) {
		t.Helper()
		req, _ := http.NewRequest(method, u, nil)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusBadRequest
		if method != http.MethodGet {
			want = http.StatusMethodNotAllowed
		}
		if resp.StatusCode != want || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: %d %v, want %d with no-store and no-referrer", name, resp.StatusCode, resp.Header, want)
		}
	}
	cu, _ := url.Parse(callback)
	wrong := *cu
	q := wrong.Query()
	q.Set("state", "AAAAAAAAAAAAAAAAAAAAAA")
	wrong.RawQuery = q.Encode()
	missing := *cu
	q = missing.Query()
	q.Del("state")
	missing.RawQuery = q.Encode()
	check("a callback by POST", b2, callback, http.MethodPost)
	check("a wrong state", b2, wrong.String(), http.MethodGet)
	check("a missing state", b2, missing.String(), http.MethodGet)
	check("the callback in another browser", newBrowser(t), callback, http.MethodGet)
	// An attacker who copied the flow cookie before the legitimate callback.
	stolen := r.flowCookie(b2)
	b3 := newBrowser(t)
	r.setCookie(b3, stolen.Name, stolen.Value)
	before := r.loginCount()
	if resp := b2.get(callback, func(*url.URL) bool { return true }); resp.StatusCode != http.StatusFound {
		t.Fatalf("the legitimate callback: %d", resp.StatusCode)
	}
	if r.loginCount() != before+1 {
		t.Fatal("the legitimate callback did not sign in")
	}
	check("a replayed callback", b2, callback, http.MethodGet)
	r.setCookie(b2, stolen.Name, stolen.Value)
	check("a replayed callback with the flow cookie put back", b2, callback, http.MethodGet)
	check("a replayed callback with the flow cookie copied to another browser", b3, callback, http.MethodGet)
	if n := r.errs.count(session.ErrReplayed); n != 2 {
		t.Fatalf("%d replays logged, want 2:\n%s", n, r.logs)
	}
	if r.loginCount() != before+1 {
		t.Fatal("a replay signed in")
	}
}

func TestOpenRedirectsAreRefused(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	host := strings.TrimPrefix(r.srv.URL, "http://")
	checkRedirectTos(t, r, []string{"https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)",
		"http://" + host + ".evil.example", "http://" + host + "@evil.example", "\\\\evil.example",
		"http:evil.example", "/" + strings.Repeat("a", 512), "///evil.example", "/\t/evil.example", "\t//evil.example",
		"HTTPS://EVIL.EXAMPLE/", "data:text/html,<script>alert(1)</script>", "ftp://evil.example/", "http://[::1]:1/",
		"https:/evil.example", "//evil.example/%2e%2e", "http://" + host + "%2F@evil.example"},
		// Percent-encoded, these stay one path on this site (no header
		// injection: the Location keeps the encoding).
		[]string{"/app", "/app?x=1#y", "/%2F%2Fevil.example", "/%0d%0aSet-Cookie:x", r.srv.URL + "/back"})
}

// checkRedirectTos starts a sign-in with each redirectTo: bad ones must be
// refused 400 invalid_request, good ones answered 302 to the provider (not
// followed, so that an accepted bad value cannot pass as a later 400).
func checkRedirectTos(t *testing.T, r *rp, bad, good []string) {
	t.Helper()
	start := func(to string) *http.Response {
		resp, err := noRedirects.Get(r.srv.URL + "/auth/oauth/oidc:acme?redirectTo=" + url.QueryEscape(to))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, to := range bad {
		resp := start(to)
		var body struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || federation.Code(body.Error) != federation.CodeInvalidRequest {
			t.Errorf("redirectTo %q: %d %q, want 400 invalid_request", to, resp.StatusCode, body.Error)
		}
	}
	for _, to := range good {
		resp := start(to)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Errorf("redirectTo %q: %d, want 302 to the provider", to, resp.StatusCode)
		}
	}
}

// TestDotSegmentRedirectsAreRefused: a browser resolves "." and ".."
// segments, "%2e" being a dot, before it follows a Location; a prefix
// check on the raw path would let /app/../admin leave /app/. Refused in
// every encoding, for same-origin paths, allowedRedirects and frontendURL
// prefixes alike.
func TestDotSegmentRedirectsAreRefused(t *testing.T) {
	r := newRPWith(t, rpOptions{allowed: []string{"http://localhost:3000/app/"},
		provider: func(pc *federation.ProviderConfig) { pc.FrontendURL = "http://localhost:4000/spa/" }})
	var bad []string
	for _, prefix := range []string{"http://localhost:3000/app/", "http://localhost:4000/spa/", r.srv.URL + "/", "/app/", "/"} {
		for _, dots := range []string{"../admin", "%2e%2e/admin", "%2E%2E/admin", ".%2E/x", "%2e./x", "./x", "%2e/x", "..", "x/.%2e"} {
			bad = append(bad, prefix+dots)
		}
	}
	checkRedirectTos(t, r, bad, []string{"http://localhost:3000/app/admin", "http://localhost:4000/spa/...", "/app/..x", "/.well-known/x"})
	ctx := context.Background()
	for _, to := range []string{"/../admin", "/%2e%2e/admin", r.srv.URL + "/x/.%2E/y", "http://localhost:3000/app/../admin", "http://localhost:3000/app/%2e%2e/admin"} {
		if _, err := r.h.LogoutURL(ctx, "oidc:acme", federation.LogoutRequest{PostLogoutRedirectURI: to}); !errors.Is(err, federation.ErrPostLogoutRedirect) {
			t.Errorf("post-logout redirect %q: %v, want ErrPostLogoutRedirect", to, err)
		}
	}
}

// TestFullFlowStoreAnswers503: a start that the flow store refuses as full
// is 503 temporarily_unavailable with Retry-After, and sets no cookie.
func TestFullFlowStoreAnswers503(t *testing.T) {
	r := newRPWith(t, rpOptions{flows: session.NewMemoryStore(session.MemoryConfig{MaxFlows: 1})})
	start := func() *http.Response {
		resp, err := noRedirects.Get(r.srv.URL + "/auth/oauth/oidc:acme")
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := start(); resp.StatusCode != http.StatusFound {
		t.Fatalf("first start: %d", resp.StatusCode)
	}
	resp := start()
	var body struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusServiceUnavailable || federation.Code(body.Error) != federation.CodeTemporarilyUnavailable ||
		resp.Header.Get("Retry-After") == "" || len(resp.Cookies()) != 0 {
		t.Fatalf("start into a full store: %d %q, Retry-After %q, %d cookies", resp.StatusCode, body.Error, resp.Header.Get("Retry-After"), len(resp.Cookies()))
	}
}

func TestUnknownProviderAndJSONStart(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	resp, _ := http.Get(r.srv.URL + "/auth/oauth/oidc:nobody")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown provider: %d, want 404", resp.StatusCode)
	}
	if q := startQuery(t, r, ""); q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" || q.Get("scope") != "openid email profile" {
		t.Fatalf("authorization URL query = %v", q)
	}
}
