package federation_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/session"
)

var alice = federationtest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice A",
	GivenName: "Alice", FamilyName: "A", Groups: []string{"admins"}}

// rp is a relying party: the library mounted in a real server.
type rp struct {
	srv    *httptest.Server
	op     *federationtest.Provider
	reg    *federation.Registry
	h      *federation.Handler
	logs   *bytes.Buffer // every log line, debug included
	errs   *loggedErrors // every error value logged
	mu     sync.Mutex
	wire   bytes.Buffer // every response's headers and body
	logins []*federation.Login
}

// rpOptions vary the relying party of a test.
type rpOptions struct {
	op       federationtest.Options
	now      func() time.Time                 // the registry's and the flow store's clock
	provider func(*federation.ProviderConfig) // edits the provider's config
	public   bool                             // a public client: no secret, token endpoint auth "none"
	opts     []federation.Option              // more registry options
	allowed  []string                         // Config.AllowedRedirects
	flows    session.FlowStore                // default: a CookieStore
	onError  func(http.ResponseWriter, *http.Request, int, *federation.Error)
	onLogout func(context.Context, federation.LogoutEvent) error
}

func newRP(t *testing.T, opts federationtest.Options) *rp {
	return newRPWith(t, rpOptions{op: opts})
}

func newRPWith(t *testing.T, o rpOptions) *rp {
	t.Helper()
	op := federationtest.New(t, o.op)
	op.AddUser(alice)
	r := &rp{op: op, logs: &bytes.Buffer{}, errs: &loggedErrors{}}
	mux := http.NewServeMux()
	r.srv = httptest.NewServer(r.record(mux))
	t.Cleanup(r.srv.Close)
	pc := federation.ProviderConfig{Issuer: op.Issuer(), ClientID: "client-1", ClientSecret: "s3cret-value"}
	if o.public {
		pc.ClientSecret, pc.TokenEndpointAuthMethod = "", "none"
	}
	op.AddClient(federationtest.Client{ID: "client-1", Secret: pc.ClientSecret.Reveal(),
		RedirectURIs:         []string{r.srv.URL + "/auth/oauth/oidc:acme/callback"},
		BackchannelLogoutURI: r.srv.URL + "/auth/oauth/oidc:acme/backchannel-logout"})
	if o.provider != nil {
		o.provider(&pc)
	}
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{"acme": pc}, AllowedRedirects: o.allowed},
		append([]federation.Option{federation.WithClock(o.now),
			federation.WithLogger(slog.New(errorLog{next: slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}), errs: r.errs}))},
			o.opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	r.reg = reg
	var store session.FlowStore = o.flows
	if store == nil {
		store, _ = session.NewCookieStore(session.CookieConfig{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)}, Now: o.now})
	}
	h, err := federation.NewHandler(federation.HandlerConfig{Registry: reg, BaseURL: r.srv.URL, Flows: store,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
		OnLogin: func(w http.ResponseWriter, req *http.Request, l *federation.Login) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.logins = append(r.logins, l)
			return nil
		},
		OnLogout: o.onLogout, OnError: o.onError})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/auth/oauth/", h)
	r.h = h
	return r
}

// record keeps every response's headers and body in r.wire.
func (r *rp) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, req)
		r.mu.Lock()
		rec.Result().Header.Write(&r.wire)
		r.wire.Write(rec.Body.Bytes())
		r.mu.Unlock()
		maps.Copy(w.Header(), rec.Result().Header)
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

func (r *rp) loginCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.logins)
}

// browser follows redirects by hand with a cookie jar.
type browser struct {
	t      *testing.T
	client *http.Client
	seen   []string // every URL visited
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// get fetches u and follows redirects until stop reports true or a
// non-redirect answer; it returns the last response.
func (b *browser) get(u string, stop func(*url.URL) bool) *http.Response {
	b.t.Helper()
	for range 10 {
		b.seen = append(b.seen, u)
		resp, err := b.client.Get(u)
		if err != nil {
			b.t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode/100 != 3 || loc == "" {
			return resp
		}
		next, _ := resp.Request.URL.Parse(loc)
		if stop != nil && stop(next) {
			return resp
		}
		u = next.String()
	}
	b.t.Fatal("too many redirects")
	return nil
}

// signIn runs a sign-in from the start route and returns the final response.
func (r *rp) signIn(b *browser, redirectTo string) *http.Response {
	u := r.srv.URL + "/auth/oauth/oidc:acme"
	if redirectTo != "" {
		u += "?redirectTo=" + url.QueryEscape(redirectTo)
	}
	return b.get(u, func(next *url.URL) bool {
		return next.Host == strings.TrimPrefix(r.srv.URL, "http://") && !strings.HasPrefix(next.Path, "/auth/oauth/")
	})
}

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

// rule is one relying-party rule as a sign-in against a misbehaving
// provider: the sign-in must end at redirectTo with error=want (and the log
// must name cause), or, with want "", succeed.
type rule struct {
	name  string
	rp    rpOptions
	setup func(r *rp) // runs before the sign-in
	bad   federationtest.Misbehavior
	want  string
	cause error // nil: the provider's own error, nothing to log
}

func checkRules(t *testing.T, rules []rule) {
	for _, tt := range rules {
		t.Run(tt.name, func(t *testing.T) {
			r := newRPWith(t, tt.rp)
			if tt.setup != nil {
				tt.setup(r)
			}
			r.op.Misbehave(tt.bad)
			resp := r.signIn(newBrowser(t), "/next")
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if tt.want == "" {
				if resp.StatusCode != http.StatusFound || loc.String() != "/next" || r.loginCount() != 1 {
					t.Fatalf("response %d to %q, want a sign-in landing at /next; logs:\n%s", resp.StatusCode, loc, r.logs)
				}
				return
			}
			if resp.StatusCode != http.StatusFound || loc.Path != "/next" || loc.Query().Get("error") != tt.want {
				t.Fatalf("response %d to %q, want 302 to /next with error=%s; logs:\n%s", resp.StatusCode, loc, tt.want, r.logs)
			}
			if tt.cause != nil && r.errs.count(tt.cause) == 0 {
				t.Fatalf("no logged error matches the cause %q:\n%s", tt.cause, r.logs)
			}
			if r.loginCount() != 0 {
				t.Fatal("OnLogin was called: something was created")
			}
			if strings.Contains(r.logs.String(), "s3cret-value") || strings.Contains(loc.String(), "s3cret-value") {
				t.Fatal("the client secret leaked")
			}
		})
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

// noRedirects is a client that returns redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

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
