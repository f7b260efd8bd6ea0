package federation_test

// Authorization-response rules: RFC 6749 §4.1.2, RFC 9207 (iss), RFC 9700
// §4.4 (mix-up), and error responses.

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/session"
)

func TestAuthorizationResponseRules(t *testing.T) {
	authz := func(edit func(q url.Values)) federationtest.Misbehavior {
		return federationtest.Misbehavior{AuthorizationResponse: edit}
	}
	providerError := func(code, desc string) federationtest.Misbehavior {
		return authz(func(q url.Values) {
			q.Del("code")
			q.Set("error", code)
			if desc != "" {
				q.Set("error_description", desc)
			}
		})
	}
	notAdvertised := func(d map[string]any) { delete(d, "authorization_response_iss_parameter_supported") }
	checkRules(t, []rule{
		{name: "an RFC 9207 iss that is missing when advertised is rejected", bad: authz(func(q url.Values) { q.Del("iss") }), want: "invalid_request", cause: federation.ErrIssMismatch},
		{name: "an RFC 9207 iss of another provider is rejected (mix-up)", bad: authz(func(q url.Values) { q.Set("iss", "https://evil.example") }), want: "invalid_request", cause: federation.ErrIssMismatch},
		{name: "an iss present but not advertised is still checked (RFC 9207 §2.4)",
			bad:  federationtest.Misbehavior{Discovery: notAdvertised, AuthorizationResponse: func(q url.Values) { q.Set("iss", "https://evil.example") }},
			want: "invalid_request", cause: federation.ErrIssMismatch},
		{name: "an iss absent and not advertised is accepted",
			bad: federationtest.Misbehavior{Discovery: notAdvertised, AuthorizationResponse: func(q url.Values) { q.Del("iss") }}},
		{name: "error access_denied is surfaced", bad: providerError("access_denied", ""), want: "access_denied"},
		{name: "error login_required is surfaced", bad: providerError("login_required", ""), want: "login_required"},
		{name: "error invalid_scope is surfaced", bad: providerError("invalid_scope", ""), want: "invalid_scope"},
		{name: "an error code outside the safe alphabet becomes server_error", bad: providerError("evil\"code", ""), want: "server_error"},
	})
	t.Run("error_description is stripped of control characters and capped at 200 bytes", func(t *testing.T) {
		r := newRP(t, federationtest.Options{})
		r.op.Misbehave(providerError("access_denied", "line1\r\nSet-Cookie: x=1\x00"+strings.Repeat("é", 200)))
		resp := r.signIn(newBrowser(t), "/next")
		loc, _ := url.Parse(resp.Header.Get("Location"))
		d := loc.Query().Get("error_description")
		if !strings.HasPrefix(d, "line1Set-Cookie: x=1é") || len(d) > 200 || strings.ContainsAny(d, "\r\n\x00") {
			t.Fatalf("error_description %q (%d bytes)", d, len(d))
		}
	})
}

// TestMixUpWithTwoProviders: a flow started at one provider cannot be
// completed at another provider's callback (RFC 9700 §4.4), whatever the
// response carries.
func TestMixUpWithTwoProviders(t *testing.T) {
	honest, evil := federationtest.New(t, federationtest.Options{}), federationtest.New(t, federationtest.Options{})
	honest.AddUser(alice)
	evil.AddUser(alice)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	logs := &bytes.Buffer{}
	for name, op := range map[string]*federationtest.Provider{"honest": honest, "evil": evil} {
		op.AddClient(federationtest.Client{ID: "client-1", Secret: "s3cret-value", RedirectURIs: []string{srv.URL + "/auth/oauth/oidc:" + name + "/callback"}})
	}
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"honest": {Issuer: honest.Issuer(), ClientID: "client-1", ClientSecret: "s3cret-value"},
		"evil":   {Issuer: evil.Issuer(), ClientID: "client-1", ClientSecret: "s3cret-value"},
	}}, federation.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	store, _ := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)}})
	signedIn := 0
	h, _ := federation.NewHandler(federation.HandlerConfig{Registry: reg, BaseURL: srv.URL, Flows: store,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
		OnLogin:  func(http.ResponseWriter, *http.Request, *federation.Login) error { signedIn++; return nil }})
	mux.Handle("/auth/oauth/", h)

	// The user starts at the honest provider; the evil provider's response
	// (its code, its iss) is delivered to the honest callback, and the
	// honest response to the evil callback.
	b := newBrowser(t)
	toHonest := b.get(srv.URL+"/auth/oauth/oidc:honest", func(u *url.URL) bool { return u.Path == "/auth/oauth/oidc:honest/callback" })
	honestCB, _ := url.Parse(toHonest.Header.Get("Location"))
	for _, tt := range []struct{ name, u string }{
		{"the honest response at the evil provider's callback", srv.URL + "/auth/oauth/oidc:evil/callback?" + honestCB.RawQuery},
		{"a response carrying the evil iss at the honest callback", srv.URL + "/auth/oauth/oidc:honest/callback?" + withParam(honestCB.Query(), "iss", evil.Issuer())},
	} {
		resp := b.get(tt.u, func(*url.URL) bool { return true })
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusFound && !strings.Contains(resp.Header.Get("Location"), "error=") {
			t.Errorf("%s: %d to %q, want a refusal", tt.name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if signedIn != 0 {
		t.Fatalf("a mixed-up response signed in; logs:\n%s", logs)
	}
}

func withParam(q url.Values, k, v string) string {
	q.Set(k, v)
	return q.Encode()
}
