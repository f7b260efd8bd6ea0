package federation_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/session"
)

// webFingerModules mirrors the RP modules
// oidcc-client-test-discovery-webfinger-acct and -url (TestConformance):
// the user's identifier leads, through the host's WebFinger, to the
// configured provider with that issuer.
func webFingerModules(t *testing.T, module string, input func(issuer string) []string) {
	t.Run(module, func(t *testing.T) {
		r := newRP(t, federationtest.Options{})
		for _, in := range input(r.op.Issuer()) {
			key, err := r.reg.DiscoverIssuer(t.Context(), in)
			if err != nil || key != "oidc:acme" {
				t.Fatalf("DiscoverIssuer(%q) = %q, %v", in, key, err)
			}
		}
	})
}

// TestWebFingerRejections: what WebFinger must not be made to do.
func TestWebFingerRejections(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	host := strings.TrimPrefix(r.op.Issuer(), "http://")
	for _, tc := range []struct {
		name  string
		input string
		bad   http.HandlerFunc
		want  error
	}{
		{"an issuer no provider has", "alice@" + host, func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"links":[{"rel":"http://openid.net/specs/connect/1.0/issuer","href":"https://evil.example"}]}`))
		}, federation.ErrWebFingerIssuer},
		{"no issuer link", "alice@" + host, func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"links":[{"rel":"self","href":"https://x.example"}]}`))
		}, federation.ErrWebFinger},
		{"not JSON", "alice@" + host, func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`<html>`)) },
			federation.ErrWebFinger},
		{"over 64 KiB", "alice@" + host, func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"x":"` + strings.Repeat("a", 70<<10) + `"}`))
		}, federation.ErrWebFinger},
		{"a redirect to another origin", "alice@" + host, func(w http.ResponseWriter, req *http.Request) {
			http.Redirect(w, req, "http://localhost:1/.well-known/webfinger", http.StatusFound)
		}, federation.ErrWebFinger},
		{"a 404", "alice@" + host, http.NotFound, federation.ErrWebFinger},
		{"an identifier with spaces", "alice smith@" + host, nil, federation.ErrWebFinger},
		{"no host", "acct:alice@", nil, federation.ErrWebFinger},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.op.Misbehave(federationtest.Misbehavior{WebFinger: tc.bad})
			key, err := r.reg.DiscoverIssuer(t.Context(), tc.input)
			if !errors.Is(err, tc.want) || key != "" {
				t.Fatalf("DiscoverIssuer = %q, %v; want %v", key, err, tc.want)
			}
		})
	}
}

// TestStartByEmail: GET {mount}/start?login_hint= sends the browser to the
// start route of the provider that lists the email's domain, or that the
// domain's WebFinger names; an unknown domain is 404 unknown_provider.
func TestStartByEmail(t *testing.T) {
	r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) {
		pc.EmailDomains = []string{"company.example"}
	}})
	for _, tc := range []struct {
		hint, redirectTo string
		status           int
		location, code   string
	}{
		{"alice@Company.Example", "/next", http.StatusFound,
			"/auth/oauth/oidc:acme?login_hint=alice%40Company.Example&redirectTo=%2Fnext", ""},
		{"bob@other.example", "", http.StatusNotFound, "", "unknown_provider"},
		{"not-an-email", "", http.StatusBadRequest, "", "invalid_request"},
	} {
		u := r.srv.URL + "/auth/oauth/start?login_hint=" + url.QueryEscape(tc.hint)
		if tc.redirectTo != "" {
			u += "&redirectTo=" + url.QueryEscape(tc.redirectTo)
		}
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location ||
			tc.code != "" && !strings.Contains(body, `"error":"`+tc.code+`"`) {
			t.Errorf("%s: %d %q %s", tc.hint, resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	// The whole sign-in from the email.
	resp := newBrowser(t).get(r.srv.URL+"/auth/oauth/start?login_hint=alice%40company.example&redirectTo=%2Fnext",
		func(next *url.URL) bool { return next.Path == "/next" })
	if resp.Header.Get("Location") != "/next" || r.loginCount() != 1 {
		t.Fatalf("sign-in by email ended at %q", resp.Header.Get("Location"))
	}

	// With WebFinger, a domain no provider lists is asked.
	w := newRPWith(t, rpOptions{})
	flows, _ := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)}})
	h, err := federation.NewHandler(federation.HandlerConfig{Registry: w.reg, BaseURL: w.srv.URL, Flows: flows,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()}, WebFinger: true,
		OnLogin: func(http.ResponseWriter, *http.Request, *federation.Login) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(w.op.Issuer(), "http://")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/oauth/start?login_hint="+url.QueryEscape("alice@"+host), nil))
	if rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), "/auth/oauth/oidc:acme?") {
		t.Fatalf("by WebFinger: %d %q", rec.Code, rec.Header().Get("Location"))
	}
}

// TestEmailDomainRules: domains are validated and belong to one provider.
func TestEmailDomainRules(t *testing.T) {
	pc := func(d ...string) federation.ProviderConfig {
		return federation.ProviderConfig{Issuer: "https://idp.example.com", ClientID: "c", ClientSecret: "s", EmailDomains: d}
	}
	err := federation.Config{Providers: map[string]federation.ProviderConfig{"a": pc("Company.example")}}.Validate()
	if ce, ok := errors.AsType[*federation.ConfigError](err); !ok || ce.Field != "emailDomains" {
		t.Fatalf("an upper-case domain: %v", err)
	}
	err = federation.Config{Providers: map[string]federation.ProviderConfig{"a": pc("company.example"), "b": pc("company.example")}}.Validate()
	if ce, ok := errors.AsType[*federation.ConfigError](err); !ok || ce.Provider != "b" ||
		!strings.Contains(err.Error(), `"company.example" is also provider "a"'s`) {
		t.Fatalf("a domain of two providers: %v", err)
	}
}

// TestWebFingerLoadsATenant: with an IssuerSource, WebFinger's issuer
// loads the tenant that has it; without one (or another issuer) it stays
// ErrWebFingerIssuer, and nothing is loaded.
func TestWebFingerLoadsATenant(t *testing.T) {
	for _, byIssuer := range []bool{true, false} {
		a, _ := sourcedAPI(t, byIssuer)
		host := strings.TrimPrefix(a.op.Issuer(), "http://")
		key, err := a.reg.DiscoverIssuer(t.Context(), "alice@"+host)
		switch {
		case byIssuer && (err != nil || key != "oidc:t1"):
			t.Fatalf("with an IssuerSource: %q, %v", key, err)
		case !byIssuer && !errors.Is(err, federation.ErrWebFingerIssuer):
			t.Fatalf("without one: %q, %v", key, err)
		}
	}
}
