package federation_test

// The relying party, browser and rule helpers that the federation tests share.

import (
	"bytes"
	"context"
	"crypto/tls"
	"html"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
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
	// source, when set, serves "acme" (its Source a *testSource, given
	// acme's config) instead of the registry's Config.
	source *federation.SourceConfig
	// routes adds the host's own routes beside the handler.
	routes func(mux *http.ServeMux, h *federation.Handler)
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
	providers := map[string]federation.ProviderConfig{"acme": pc}
	if o.op.MutualTLS { // trust the provider's TLS port
		o.opts = append([]federation.Option{federation.WithHTTPClient(&http.Client{Timeout: 10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: op.MutualTLSRoots()}}})}, o.opts...)
	}
	if o.source != nil {
		o.source.Source.(*testSource).put("acme", pc)
		providers = nil
		o.opts = append(o.opts, federation.WithProviderSource(*o.source))
	}
	reg, err := federation.NewRegistry(federation.Config{Providers: providers, AllowedRedirects: o.allowed},
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
	if o.routes != nil {
		o.routes(mux, h)
	}
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
	return &browser{t: t, client: &http.Client{Jar: loopbackJar{jar}, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// loopbackJar treats http://127.0.0.1 and localhost as secure, as
// browsers do: Secure cookies (a form_post flow's) are kept and sent
// there. Go's jar sends them over https only.
type loopbackJar struct{ jar *cookiejar.Jar }

func secureLoopback(u *url.URL) *url.URL {
	if h := u.Hostname(); u.Scheme == "http" && (h == "127.0.0.1" || h == "localhost" || h == "::1") {
		c := *u
		c.Scheme = "https"
		return &c
	}
	return u
}

func (j loopbackJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.jar.SetCookies(secureLoopback(u), cookies)
}

func (j loopbackJar) Cookies(u *url.URL) []*http.Cookie { return j.jar.Cookies(secureLoopback(u)) }

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
		resp = b.autoSubmit(resp)
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

var (
	autoSubmitted = regexp.MustCompile(`<body onload="document.forms\[0\].submit\(\)"><form method="post" action="([^"]+)">`)
	hiddenField   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// autoSubmit does what a browser's script does with a form_post page
// (federationtest's, which submits itself on load): it posts the form and
// returns that answer. Any other response is returned as it is.
func (b *browser) autoSubmit(resp *http.Response) *http.Response {
	b.t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return resp
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	m := autoSubmitted.FindSubmatch(body)
	if m == nil {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp
	}
	form := url.Values{}
	for _, f := range hiddenField.FindAllSubmatch(body, -1) {
		form.Set(string(f[1]), html.UnescapeString(string(f[2])))
	}
	action := html.UnescapeString(string(m[1]))
	b.seen = append(b.seen, action)
	next, err := b.client.PostForm(action, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return next
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

// rule is one relying-party rule as a sign-in against a misbehaving
// provider: the sign-in must end at redirectTo with error=want (and the log
// must name cause), or, with want "", succeed.
type rule struct {
	name string
	// modules are the RP conformance modules the rule mirrors: it runs as
	// TestConformance/<module> (docs/conformance.md) instead of under its
	// own table's test.
	modules []string
	rp      rpOptions
	setup   func(r *rp) // runs before the sign-in
	bad     federationtest.Misbehavior
	want    string
	cause   error // nil: the provider's own error, nothing to log
}

// untagged are the rules that mirror no conformance module.
func untagged(rules []rule) []rule {
	var out []rule
	for _, r := range rules {
		if len(r.modules) == 0 {
			out = append(out, r)
		}
	}
	return out
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

// noRedirects is a client that returns redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
