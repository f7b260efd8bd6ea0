package federation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/internal/urlcheck"
	"github.com/oidcfed/oidcfed/session"
)

// toCallback runs a sign-in up to the provider's redirect back to the
// callback and returns that callback URL, not yet visited.
func (r *rp) toCallback(b *browser) string {
	b.t.Helper()
	var callback string
	b.get(r.srv.URL+"/auth/oauth/oidc:acme?redirectTo=/next", func(next *url.URL) bool {
		if strings.HasSuffix(next.Path, "/callback") {
			callback = next.String()
			return true
		}
		return false
	})
	if callback == "" {
		b.t.Fatal("the provider did not redirect to the callback")
	}
	return callback
}

// flowCookie returns the browser's flow cookie at the relying party.
func (r *rp) flowCookie(b *browser) *http.Cookie {
	b.t.Helper()
	u, _ := url.Parse(r.srv.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "oidcfed-") {
			return c
		}
	}
	b.t.Fatal("no flow cookie in the browser")
	return nil
}

func TestFlowCookieRejections(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(r *rp, b *browser, fake *clock.Fake)
		cause error
	}{
		{"a tampered flow cookie", func(r *rp, b *browser, _ *clock.Fake) {
			c := r.flowCookie(b)
			v := []byte(c.Value)
			v[len(v)/2] ^= 'A' ^ 'B' // flips one base64 character between A and B, or two others
			if bytes.Equal(v, []byte(c.Value)) {
				t.Fatal("tampering did not change the cookie")
			}
			r.setCookie(b, c.Name, string(v))
		}, session.ErrNoFlow},
		{"a truncated flow cookie", func(r *rp, b *browser, _ *clock.Fake) {
			c := r.flowCookie(b)
			r.setCookie(b, c.Name, c.Value[:len(c.Value)-8])
		}, session.ErrNoFlow},
		{"a flow cookie of another state", func(r *rp, b *browser, _ *clock.Fake) {
			other := newBrowser(t)
			r.toCallback(other)
			c := r.flowCookie(b)
			r.setCookie(b, c.Name, r.flowCookie(other).Value)
		}, session.ErrNoFlow},
		{"a flow cookie sealed with a rotated-out key", func(r *rp, b *browser, _ *clock.Fake) {
			c := r.flowCookie(b)
			current, _ := session.NewCodec(bytes.Repeat([]byte{7}, 32))
			plain, err := current.Open(c.Value, c.Name)
			if err != nil {
				t.Fatal(err)
			}
			retired, _ := session.NewCodec(bytes.Repeat([]byte{9}, 32))
			r.setCookie(b, c.Name, retired.Seal(plain, c.Name))
		}, session.ErrNoFlow},
		{"an expired flow (the clock moved 10 minutes)", func(_ *rp, _ *browser, fake *clock.Fake) {
			fake.Advance(session.MaxAge)
		}, session.ErrFlowExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := clock.NewFake(time.Now())
			r := newRPWith(t, rpOptions{now: fake.Now})
			b := newBrowser(t)
			callback := r.toCallback(b)
			tt.spoil(r, b, fake)
			resp, err := b.client.Get(callback)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error string }
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != http.StatusBadRequest || federation.Code(body.Error) != federation.CodeInvalidState ||
				resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("callback: %d %q %+v, want 400 application/json invalid_state", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if r.errs.count(tt.cause) == 0 {
				t.Fatalf("no logged error matches %q:\n%s", tt.cause, r.logs)
			}
			if r.loginCount() != 0 {
				t.Fatal("OnLogin was called")
			}
		})
	}
}

func (r *rp) setCookie(b *browser, name, value string) {
	u, _ := url.Parse(r.srv.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

func TestSignupDisabled(t *testing.T) {
	r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) {
		no := false
		pc.AllowSignup = &no
	}})
	resp := r.signIn(newBrowser(t), "/next")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Path != "/next" || federation.Code(loc.Query().Get("error")) != federation.CodeSignupDisabled {
		t.Fatalf("response %d to %q, want 302 to /next with error=signup_disabled", resp.StatusCode, loc)
	}
	if r.loginCount() != 0 {
		t.Fatal("OnLogin was called")
	}
}

func TestFlowCookieAttributes(t *testing.T) {
	op := federationtest.New(t, federationtest.Options{})
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: op.Issuer(), ClientID: "client-1", ClientSecret: "s3cret-value"}}})
	if err != nil {
		t.Fatal(err)
	}
	key := [][]byte{bytes.Repeat([]byte{7}, 32)}
	newHandler := func(base string, secure bool) (*federation.Handler, error) {
		store, _ := session.NewCookieStore(session.CookieConfig{Keys: key, Secure: secure})
		return federation.NewHandler(federation.HandlerConfig{Registry: reg, BaseURL: base, Flows: store,
			Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
			OnLogin:  func(http.ResponseWriter, *http.Request, *federation.Login) error { return nil }})
	}
	for _, tc := range []struct {
		base   string
		secure bool
		prefix string
	}{{"https://app.example.com", true, "__Host-oidcfed-"}, {"http://127.0.0.1:8080", false, "oidcfed-"}} {
		h, err := newHandler(tc.base, tc.secure)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/oauth/oidc:acme", nil))
		cookies := rec.Result().Cookies()
		if rec.Code != http.StatusFound || len(cookies) != 1 {
			t.Fatalf("%s: start answered %d with %d cookies", tc.base, rec.Code, len(cookies))
		}
		c := cookies[0]
		if !strings.HasPrefix(c.Name, tc.prefix) || c.Secure != tc.secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
			c.Path != "/" || c.Domain != "" || c.MaxAge != 600 || len(c.String()) > 1024 {
			t.Fatalf("%s: flow cookie %s", tc.base, c)
		}
	}
	// A store whose Secure setting contradicts the base URL is refused.
	if _, err := newHandler("https://app.example.com", false); err == nil || !strings.Contains(err.Error(), "set session.CookieConfig.Secure to true") {
		t.Fatalf("https base URL with a non-Secure store: %v", err)
	}
	if _, err := newHandler("http://127.0.0.1:8080", true); err == nil || !strings.Contains(err.Error(), "set session.CookieConfig.Secure to false") {
		t.Fatalf("http base URL with a Secure store: %v", err)
	}
}

func TestNewHandlerRejectsBadConfig(t *testing.T) {
	reg, _ := federation.NewRegistry(federation.Config{})
	store := session.NewMemoryStore(session.MemoryConfig{})
	ok := federation.HandlerConfig{Registry: reg, BaseURL: "http://localhost:8080", Flows: store,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
		OnLogin:  func(http.ResponseWriter, *http.Request, *federation.Login) error { return nil }}
	if _, err := federation.NewHandler(ok); err != nil {
		t.Fatalf("a valid config: %v", err)
	}
	tests := []struct {
		name string
		edit func(*federation.HandlerConfig)
		want string
	}{
		{"no registry", func(c *federation.HandlerConfig) { c.Registry = nil }, "Registry is required"},
		{"no flow store", func(c *federation.HandlerConfig) { c.Flows = nil }, "Flows is required"},
		{"no accounts", func(c *federation.HandlerConfig) { c.Accounts = nil }, "Accounts is required"},
		{"no OnLogin", func(c *federation.HandlerConfig) { c.OnLogin = nil }, "OnLogin is required"},
		{"a base URL with a path", func(c *federation.HandlerConfig) { c.BaseURL = "http://localhost:8080/app" }, "BaseURL must be an origin"},
		{"a base URL with a query", func(c *federation.HandlerConfig) { c.BaseURL = "http://localhost:8080?x=1" }, "BaseURL must be an origin"},
		{"an http base URL off loopback", func(c *federation.HandlerConfig) { c.BaseURL = "http://app.example.com" }, "BaseURL must be an origin"},
		{"no base URL", func(c *federation.HandlerConfig) { c.BaseURL = "" }, "BaseURL must be an origin"},
	}
	for _, tt := range tests {
		c := ok
		tt.edit(&c)
		h, err := federation.NewHandler(c)
		if h != nil || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewHandler = %v, %v; want an error containing %q", tt.name, h, err, tt.want)
		}
	}
}

// TestNothingSecretLeaks runs a sign-in, a failed sign-in and a replayed
// callback, then searches every response header and body of the relying
// party and every log line for the codes, the tokens and the client secret.
func TestNothingSecretLeaks(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	b := newBrowser(t)
	good := r.toCallback(b)
	if resp := b.get(good, func(*url.URL) bool { return true }); resp.StatusCode != http.StatusFound || r.loginCount() != 1 {
		t.Fatalf("sign-in failed: %d; logs:\n%s", resp.StatusCode, r.logs)
	}
	b.get(good, nil) // replayed: 400
	r.op.Misbehave(federationtest.Misbehavior{IDTokenClaims: func(c map[string]any) { c["nonce"] = "forged" }})
	bad := r.toCallback(b)
	if resp := b.get(bad, func(*url.URL) bool { return true }); !strings.Contains(resp.Header.Get("Location"), "error=invalid_token") {
		t.Fatalf("the failed sign-in answered %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	secrets := map[string]string{"client secret": "s3cret-value"}
	for i, cb := range []string{good, bad} {
		u, _ := url.Parse(cb)
		secrets[fmt.Sprintf("code %d", i)] = u.Query().Get("code")
	}
	tok := r.logins[0].Result.Tokens
	secrets["access token"], secrets["ID token"] = tok.AccessToken.Reveal(), tok.IDToken.Reveal()
	login := r.logins[0]
	var printed bytes.Buffer
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		fmt.Fprintf(&printed, format+"\n", *login)
		fmt.Fprintf(&printed, format+"\n", *login.Result)
		fmt.Fprintf(&printed, format+"\n", tok)
	}
	slog.New(slog.NewJSONHandler(&printed, nil)).Info("login", "login", login, "result", login.Result, "tokens", tok)
	slog.New(slog.NewTextHandler(&printed, nil)).Info("login", "login", login, "result", login.Result, "tokens", tok)
	if j, err := json.Marshal(tok); err != nil || !strings.Contains(string(j), "[redacted]") {
		t.Fatalf("tokens as JSON: %s %v", j, err)
	}
	if !strings.Contains(printed.String(), "[redacted]") {
		t.Fatal("the printed tokens are not marked [redacted]")
	}
	for name, s := range secrets {
		if len(s) < 8 {
			t.Fatalf("%s %q was not captured", name, s)
		}
		for where, text := range map[string]string{"logs": r.logs.String(), "responses": r.wire.String(), "printed values": printed.String()} {
			if strings.Contains(text, s) {
				t.Errorf("the %s appears in the %s", name, where)
			}
		}
	}
}

func TestProviderConfigRedaction(t *testing.T) {
	cfg := federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: "https://idp.example.com", ClientID: "client-1", ClientSecret: "s3cret-value"}}}
	var out bytes.Buffer
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		fmt.Fprintf(&out, format+"\n", cfg)
		fmt.Fprintf(&out, format+"\n", cfg.Providers["acme"])
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("config", "config", cfg)
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "config", cfg, "provider", cfg.Providers["acme"])
	j, _ := json.Marshal(cfg)
	out.Write(j)
	if strings.Contains(out.String(), "s3cret-value") || !strings.Contains(out.String(), "[redacted]") {
		t.Fatalf("the client secret is not redacted:\n%s", out.String())
	}
	if cfg.Providers["acme"].ClientSecret.Reveal() != "s3cret-value" {
		t.Fatal("Reveal does not return the secret")
	}
}

func TestLogoutURL(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	r.signIn(newBrowser(t), "/")
	idToken := r.logins[0].Result.Tokens.IDToken.Reveal()
	reg, err := federation.NewRegistry(federation.Config{
		AllowedRedirects: []string{"https://app.example/after"},
		Providers: map[string]federation.ProviderConfig{
			"acme": {Issuer: r.op.Issuer(), ClientID: "client-1", ClientSecret: "s3cret-value",
				PostLogoutRedirectURIs: []string{r.srv.URL + "/bye"}},
			"static": {Issuer: r.op.Issuer(), ClientID: "client-1", ClientSecret: "s3cret-value", Endpoints: discovery.Endpoints{
				Authorization: r.op.Issuer() + "/authorize", Token: r.op.Issuer() + "/token", JWKS: r.op.Issuer() + "/jwks"}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Lookup("oidc:acme")
	ctx := context.Background()

	got, err := p.LogoutURL(ctx, federation.LogoutRequest{IDTokenHint: idToken, PostLogoutRedirectURI: r.srv.URL + "/bye",
		State: "st-1", UILocales: []string{"fr-CA", "en"}, LogoutHint: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(got)
	want := url.Values{"client_id": {"client-1"}, "id_token_hint": {idToken}, "post_logout_redirect_uri": {r.srv.URL + "/bye"},
		"state": {"st-1"}, "ui_locales": {"fr-CA en"}, "logout_hint": {"alice@example.com"}}
	if u.Scheme+"://"+u.Host+u.Path != r.op.Issuer()+"/end_session" || !reflect.DeepEqual(u.Query(), want) {
		t.Fatalf("LogoutURL = %s\nwant the end_session endpoint with %v", got, want)
	}
	// The provider sends the browser back to the post-logout redirect.
	resp := newBrowser(t).get(got, func(*url.URL) bool { return true })
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != r.srv.URL+"/bye?state=st-1" {
		t.Fatalf("end_session answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got, err := p.LogoutURL(ctx, federation.LogoutRequest{}); err != nil || got != r.op.Issuer()+"/end_session?client_id=client-1" {
		t.Fatalf("LogoutURL without parameters = %q, %v", got, err)
	}
	if _, err := p.LogoutURL(ctx, federation.LogoutRequest{PostLogoutRedirectURI: "https://app.example/after/x"}); err != nil {
		t.Errorf("a URL under allowedRedirects: %v", err)
	}

	for _, tc := range []struct {
		name, to string
		want     error
	}{
		{"http off loopback", "http://evil.example/", urlcheck.ErrInsecureURL},
		{"another origin", "https://evil.example/bye", federation.ErrPostLogoutRedirect},
		{"the registered URL with another path", r.srv.URL + "/bye/more", federation.ErrPostLogoutRedirect},
		{"outside the allowed prefix", "https://app.example/afterwards", federation.ErrPostLogoutRedirect},
		{"the application's origin, which only the Handler knows", r.srv.URL + "/", federation.ErrPostLogoutRedirect},
	} {
		if _, err := p.LogoutURL(ctx, federation.LogoutRequest{PostLogoutRedirectURI: tc.to}); !errors.Is(err, tc.want) ||
			!errors.Is(err, &federation.Error{Code: federation.CodeInvalidRequest}) {
			t.Errorf("%s (%s): %v, want %v", tc.name, tc.to, err, tc.want)
		}
	}
	if _, err := p.LogoutURL(ctx, federation.LogoutRequest{PostLogoutRedirectURI: "/relative"}); err == nil {
		t.Error("Provider.LogoutURL accepted a relative post-logout redirect")
	}
	if _, err := p.LogoutURL(ctx, federation.LogoutRequest{UILocales: []string{"en us"}}); err == nil {
		t.Error("a ui_locales tag with a space was accepted")
	}
	static, _ := reg.Lookup("oidc:static")
	if got, err := static.LogoutURL(ctx, federation.LogoutRequest{IDTokenHint: idToken}); !errors.Is(err, federation.ErrNoEndSession) ||
		!errors.Is(err, &federation.Error{Code: federation.CodeUnsupported}) || got != "" ||
		strings.Contains(err.Error(), idToken) {
		t.Fatalf("a provider without end_session_endpoint: %q, %v; want ErrNoEndSession", got, err)
	}
}

// TestHandlerLogoutURL: through the Handler, a path on the application
// and its origin are allowed as the post-logout redirect.
func TestHandlerLogoutURL(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	ctx := context.Background()
	for _, tc := range []struct{ to, want string }{
		{"/", r.srv.URL + "/"},
		{"/signed-out?x=1", r.srv.URL + "/signed-out?x=1"},
		{r.srv.URL + "/bye", r.srv.URL + "/bye"},
	} {
		got, err := r.h.LogoutURL(ctx, "oidc:acme", federation.LogoutRequest{PostLogoutRedirectURI: tc.to})
		if err != nil {
			t.Fatalf("%s: %v", tc.to, err)
		}
		u, _ := url.Parse(got)
		if u.Query().Get("post_logout_redirect_uri") != tc.want {
			t.Errorf("%s: post_logout_redirect_uri %q, want %q", tc.to, u.Query().Get("post_logout_redirect_uri"), tc.want)
		}
	}
	for _, to := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		if _, err := r.h.LogoutURL(ctx, "oidc:acme", federation.LogoutRequest{PostLogoutRedirectURI: to}); err == nil {
			t.Errorf("%q was accepted", to)
		}
	}
	_, err := r.h.LogoutURL(ctx, "oidc:nope", federation.LogoutRequest{})
	wantCode(t, err, federation.CodeUnknownProvider)
}

func TestRouteTable(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	for _, tc := range []struct {
		method, path string
		status       int
		code         federation.Code
	}{
		{"GET", "/auth/oauth/oidc:acme/other", http.StatusNotFound, "not_found"},
		{"GET", "/auth/oauth/acme", http.StatusNotFound, "not_found"},
		{"GET", "/auth/oauth/oidc:acme/callback/x", http.StatusNotFound, "not_found"},
		{"GET", "/auth/oauth/oidc:nobody/callback", http.StatusNotFound, federation.CodeUnknownProvider},
		{"DELETE", "/auth/oauth/oidc:acme", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"POST", "/auth/oauth/oidc:acme/backchannel-logout", http.StatusNotImplemented, "not_implemented"},
		{"POST", "/auth/oauth/link/oidc:acme", http.StatusNotImplemented, "not_implemented"},
		{"GET", "/auth/oauth/link/oidc:acme/callback", http.StatusNotImplemented, "not_implemented"},
	} {
		req, _ := http.NewRequest(tc.method, r.srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if tc.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q, want GET, HEAD", tc.method, tc.path, resp.Header.Get("Allow"))
		}
		if resp.StatusCode != tc.status || federation.Code(body.Error) != tc.code || resp.Header.Get("Cache-Control") != "no-store" ||
			resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %q %v, want %d %q with no-store and no-referrer", tc.method, tc.path, resp.StatusCode, body.Error, resp.Header, tc.status, tc.code)
		}
	}
}
