package federation_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// stepUpRP serves GET /step-up, which starts a sign-in with opts, the way
// a host asks for a second factor before one action.
func stepUpRP(t *testing.T, opts federation.StartOptions, edit func(pc *federation.ProviderConfig)) *rp {
	t.Helper()
	return newRPWith(t, rpOptions{provider: edit, routes: func(mux *http.ServeMux, h *federation.Handler) {
		mux.HandleFunc("GET /step-up", func(w http.ResponseWriter, r *http.Request) {
			h.Start(w, r, "oidc:acme", opts)
		})
	}})
}

// stepUp runs the step-up sign-in and returns the authorization URL's
// query and where the browser ended.
func stepUp(t *testing.T, r *rp) (url.Values, *url.URL) {
	t.Helper()
	b := newBrowser(t)
	resp := b.get(r.srv.URL+"/step-up", func(*url.URL) bool { return true })
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("start answered %d; logs:\n%s", resp.StatusCode, r.logs)
	}
	authz, _ := url.Parse(resp.Header.Get("Location"))
	end := b.get(authz.String(), func(next *url.URL) bool {
		return next.Host == strings.TrimPrefix(r.srv.URL, "http://") && !strings.HasPrefix(next.Path, "/auth/oauth/")
	})
	loc, _ := url.Parse(end.Header.Get("Location"))
	return authz.Query(), loc
}

// idTokenClaims makes the provider's ID tokens carry claims.
func idTokenClaims(r *rp, set map[string]any) {
	r.op.Misbehave(federationtest.Misbehavior{IDTokenClaims: func(c map[string]any) {
		for k, v := range set {
			c[k] = v
		}
	}})
}

// TestStepUp: what a start asks (acr_values, max_age, prompt=login) is
// sent, sealed in the flow, and checked on the ID token; Login reports the
// authentication.
func TestStepUp(t *testing.T) {
	now := time.Now().Unix()
	for _, tc := range []struct {
		name   string
		opts   federation.StartOptions
		edit   func(pc *federation.ProviderConfig)
		claims map[string]any // in the ID token
		params map[string]string
		code   string // at redirectTo; "" for a sign-in
	}{
		{"acr asked and given", federation.StartOptions{RedirectTo: "/pay", ACRValues: []string{"urn:mfa"}}, nil,
			map[string]any{"acr": "urn:mfa", "amr": []string{"pwd", "otp"}}, map[string]string{"acr_values": "urn:mfa"}, ""},
		{"acr asked, none given", federation.StartOptions{RedirectTo: "/pay", ACRValues: []string{"urn:mfa"}}, nil,
			nil, map[string]string{"acr_values": "urn:mfa"}, "access_denied"},
		{"acr asked, another given", federation.StartOptions{RedirectTo: "/pay", ACRValues: []string{"urn:mfa"}}, nil,
			map[string]any{"acr": "urn:pwd"}, nil, "access_denied"},
		{"max_age met", federation.StartOptions{RedirectTo: "/pay", MaxAge: time.Minute}, nil,
			nil, map[string]string{"max_age": "60"}, ""},
		{"max_age exceeded", federation.StartOptions{RedirectTo: "/pay", MaxAge: time.Minute}, nil,
			map[string]any{"auth_time": now - 600}, nil, "login_required"},
		{"the provider's stricter maxAge is sent", federation.StartOptions{RedirectTo: "/pay", MaxAge: 5 * time.Minute},
			func(pc *federation.ProviderConfig) { pc.MaxAge = 30 }, nil, map[string]string{"max_age": "30"}, ""},
		{"prompt=login and a fresh authentication", federation.StartOptions{RedirectTo: "/pay", Prompt: "login"}, nil,
			nil, map[string]string{"prompt": "login", "max_age": "0"}, ""},
		{"prompt=login answered with an old authentication", federation.StartOptions{RedirectTo: "/pay", Prompt: "login"}, nil,
			map[string]any{"auth_time": now - 600}, nil, "login_required"},
		{"prompt=login without auth_time", federation.StartOptions{RedirectTo: "/pay", Prompt: "login"}, nil,
			map[string]any{"auth_time": nil}, nil, "login_required"},
		{"the rest is passed on", federation.StartOptions{RedirectTo: "/pay", Prompt: "select_account consent",
			LoginHint: "alice@example.com", UILocales: []string{"fr-CA", "en"},
			Claims: json.RawMessage(`{"id_token":{"acr":{"essential":true}}}`)}, nil, nil,
			map[string]string{"prompt": "select_account consent", "login_hint": "alice@example.com",
				"ui_locales": "fr-CA en", "claims": `{"id_token":{"acr":{"essential":true}}}`}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stepUpRP(t, tc.opts, tc.edit)
			if tc.claims != nil {
				idTokenClaims(r, tc.claims)
			}
			q, end := stepUp(t, r)
			for k, v := range tc.params {
				if q.Get(k) != v {
					t.Errorf("authorization %s = %q, want %q", k, q.Get(k), v)
				}
			}
			if tc.code != "" {
				if end.Path != "/pay" || end.Query().Get("error") != tc.code || r.loginCount() != 0 {
					t.Fatalf("ended at %s, want /pay with %s", end, tc.code)
				}
				return
			}
			if end.String() != "/pay" || r.loginCount() != 1 {
				t.Fatalf("ended at %s; logs:\n%s", end, r.logs)
			}
			r.mu.Lock()
			a := r.logins[0].Result.Authentication
			r.mu.Unlock()
			if a.AuthTime.IsZero() || time.Since(a.AuthTime) > time.Minute {
				t.Errorf("auth_time %s", a.AuthTime)
			}
			if acr, ok := tc.claims["acr"]; ok && (a.ACR != acr || !slices.Equal(a.AMR, []string{"pwd", "otp"})) {
				t.Errorf("authentication %+v", a)
			}
		})
	}
}

// TestStartOptionsRules: options the start cannot send are 400
// invalid_request, before anything is sent or saved.
func TestStartOptionsRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts federation.StartOptions
	}{
		{"an acr value with a space", federation.StartOptions{ACRValues: []string{"urn:a b"}}},
		{"too many acr values", federation.StartOptions{ACRValues: slices.Repeat([]string{"a"}, 9)}},
		{"prompt none with another", federation.StartOptions{Prompt: "none login"}},
		{"an unknown prompt", federation.StartOptions{Prompt: "always"}},
		{"claims that are not an object", federation.StartOptions{Claims: json.RawMessage(`["acr"]`)}},
		{"a fraction of a second", federation.StartOptions{MaxAge: 1500 * time.Millisecond}},
		{"a login hint with a line break", federation.StartOptions{LoginHint: "a\nb"}},
		{"a redirect elsewhere", federation.StartOptions{RedirectTo: "https://evil.example/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stepUpRP(t, tc.opts, nil)
			code, e := status(t, r.srv.URL+"/step-up")
			if code != http.StatusBadRequest || e != "invalid_request" || len(r.op.AuthorizationsSeen()) != 0 {
				t.Fatalf("start answered %d %s, want 400 invalid_request", code, e)
			}
		})
	}
}
