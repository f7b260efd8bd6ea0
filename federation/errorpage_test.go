package federation_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

func TestPrefersHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		"": false,
		"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8": true, // Chromium's navigation
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8":                       true, // Firefox's
		"*/*":                                        false,
		"application/json":                           false,
		"text/html, application/json":                false, // a tie is JSON
		"application/json;q=0.5, text/html":          true,
		"text/html;q=0.4, application/json;q=0.5":    false,
		"text/html;q=0.9, application/*;q=1":         false,
		"text/html;q=0.9, */*;q=0.95":                false,
		"text/html;q=2":                              false, // an invalid q is ignored
		"text/*":                                     false, // text/html must be named
		"TEXT/HTML":                                  true,
		"application/json, text/html;q=1, */*;q=0.1": false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if got := federation.PrefersHTML(r); got != want {
			t.Errorf("PrefersHTML(Accept: %q) = %t, want %t", accept, got, want)
		}
	}
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// TestErrorPages: the errors the handler answers itself are JSON for
// clients and an HTML page with the same status, code and description for
// a browser's navigation; a host's OnError replaces both.
func TestErrorPages(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	cases := []struct {
		name, path string
		status     int
		code       federation.Code
	}{
		{"a bad state", "/auth/oauth/oidc:acme/callback?state=nope&code=x", http.StatusBadRequest, federation.CodeInvalidState},
		{"an unknown provider", "/auth/oauth/oidc:nobody", http.StatusNotFound, federation.CodeUnknownProvider},
		{"a refused redirectTo", "/auth/oauth/oidc:acme?redirectTo=" + url.QueryEscape("https://evil.example/<b>x</b>"), http.StatusBadRequest, federation.CodeInvalidRequest},
		{"an unknown route", "/auth/oauth/nothing", http.StatusNotFound, "not_found"},
	}
	get := func(path, accept string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", r.srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, accept := range []string{"", "application/json", "*/*"} {
				resp, body := get(tc.path, accept)
				var e struct {
					Error            string `json:"error"`
					ErrorDescription string `json:"error_description"`
				}
				json.Unmarshal([]byte(body), &e)
				if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" || federation.Code(e.Error) != tc.code || e.ErrorDescription == "" {
					t.Fatalf("Accept %q: %d %s %q, want %d JSON %s", accept, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.code)
				}
			}
			resp, body := get(tc.path, browserAccept)
			if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
				!strings.Contains(body, "<code>"+string(tc.code)+"</code>") || !strings.Contains(body, `<a href="/">`) ||
				resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("a browser: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if strings.Contains(body, "<b>") {
				t.Fatal("the page is not escaped")
			}
		})
	}

	t.Run("OnError renders the host's page", func(t *testing.T) {
		var got []federation.Code
		r := newRPWith(t, rpOptions{onError: func(w http.ResponseWriter, req *http.Request, status int, e *federation.Error) {
			got = append(got, e.Code)
			w.WriteHeader(status)
			io.WriteString(w, "host page: "+e.Description)
		}})
		for _, tc := range cases {
			resp, err := noRedirects.Get(r.srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.HasPrefix(string(b), "host page: ") {
				t.Errorf("%s: %d %q, want the host's page with %d", tc.name, resp.StatusCode, b, tc.status)
			}
		}
		if len(got) != len(cases) || got[0] != federation.CodeInvalidState {
			t.Fatalf("OnError saw %q", got)
		}
	})
}
