package federationtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const redirect = "http://127.0.0.1:9/cb"

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func newTestOP(t *testing.T) *Provider {
	p := New(t, Options{})
	p.AddClient(Client{ID: "c", Secret: "s", RedirectURIs: []string{redirect}})
	p.AddUser(User{Subject: "alice", Email: "alice@example.com", EmailVerified: true})
	return p
}

// authorize runs the authorization request and returns the redirect's query.
func authorize(t *testing.T, p *Provider, q url.Values) (int, url.Values) {
	t.Helper()
	resp, err := noFollow.Get(p.Issuer() + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, loc.Query()
}

func goodAuthorization() url.Values {
	return url.Values{"client_id": {"c"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email"},
		"state": {"st"}, "nonce": {"n"}, "code_challenge_method": {"S256"}, "code_challenge": {s256("verifier-verifier-verifier-verifier-verifier")}}
}

func exchange(t *testing.T, p *Provider, form url.Values, basic bool) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", p.Issuer()+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth("c", "s")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestAuthorizeRules(t *testing.T) {
	p := newTestOP(t)
	status, q := authorize(t, p, goodAuthorization())
	if status != http.StatusFound || q.Get("code") == "" || q.Get("state") != "st" || q.Get("iss") != p.Issuer() {
		t.Fatalf("a good request: %d %v", status, q)
	}
	for _, tc := range []struct {
		name string
		edit func(url.Values)
		want string // error code in the redirect; "" for a 400 shown to the user
	}{
		{"an unregistered redirect_uri", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9/other") }, ""},
		{"an unknown client", func(q url.Values) { q.Set("client_id", "x") }, ""},
		{"no PKCE", func(q url.Values) { q.Del("code_challenge") }, "invalid_request"},
		{"PKCE plain", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"no openid scope", func(q url.Values) { q.Set("scope", "email") }, "invalid_scope"},
		{"an implicit flow", func(q url.Values) { q.Set("response_type", "id_token") }, "unsupported_response_type"},
	} {
		q := goodAuthorization()
		tc.edit(q)
		status, got := authorize(t, p, q)
		if tc.want == "" && status != http.StatusBadRequest || tc.want != "" && (status != http.StatusFound || got.Get("error") != tc.want || got.Has("code")) {
			t.Errorf("%s: %d %v, want %q", tc.name, status, got, tc.want)
		}
	}
}

func TestTokenRules(t *testing.T) {
	p := newTestOP(t)
	code := func() string {
		_, q := authorize(t, p, goodAuthorization())
		return q.Get("code")
	}
	good := func(c string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect},
			"code_verifier": {"verifier-verifier-verifier-verifier-verifier"}}
	}
	c := code()
	if status, body := exchange(t, p, good(c), true); status != http.StatusOK || body["id_token"] == nil || body["token_type"] != "Bearer" {
		t.Fatalf("a good exchange: %d %v", status, body)
	}
	if status, body := exchange(t, p, good(c), true); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("a reused code: %d %v", status, body)
	}
	for _, tc := range []struct {
		name  string
		edit  func(url.Values)
		basic bool
		want  string
	}{
		{"a wrong code_verifier", func(f url.Values) { f.Set("code_verifier", "other-other-other-other-other-other-other") }, true, "invalid_grant"},
		{"a different redirect_uri", func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:9/other") }, true, "invalid_grant"},
		{"client_secret_post when only basic is allowed", func(f url.Values) { f.Set("client_id", "c"); f.Set("client_secret", "s") }, false, "invalid_client"},
		{"a wrong grant type", func(f url.Values) { f.Set("grant_type", "password") }, true, "unsupported_grant_type"},
	} {
		f := good(code())
		tc.edit(f)
		if _, body := exchange(t, p, f, tc.basic); body["error"] != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, body, tc.want)
		}
	}
	if seen := p.TokenAuthMethodsSeen(); seen[0] != "client_secret_basic" || !strings.Contains(strings.Join(seen, " "), "client_secret_post") {
		t.Fatalf("auth methods seen: %v", seen)
	}
}

func TestEndSessionIsNotAnOpenRedirector(t *testing.T) {
	p := newTestOP(t)
	for u, want := range map[string]int{"http://127.0.0.1:9/": http.StatusFound, "https://evil.example/": http.StatusBadRequest, "": http.StatusOK} {
		resp, err := noFollow.Get(p.Issuer() + "/end_session?post_logout_redirect_uri=" + url.QueryEscape(u))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("post_logout_redirect_uri %q: %d, want %d", u, resp.StatusCode, want)
		}
	}
}

func TestLocalhostIssuer(t *testing.T) {
	op := New(t, Options{Addr: "localhost:0"})
	resp, err := http.Get(op.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct{ Issuer string }
	json.NewDecoder(resp.Body).Decode(&doc)
	if !strings.HasPrefix(op.Issuer(), "http://localhost:") || doc.Issuer != op.Issuer() {
		t.Fatalf("issuer %q, document %q; want http://localhost:PORT in both", op.Issuer(), doc.Issuer)
	}
}
