package federation_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// dpopRP signs in with DPoP at a provider with opts.
func dpopRP(t *testing.T, opts federationtest.Options) (*rp, *http.Response) {
	t.Helper()
	r := newRPWith(t, rpOptions{op: opts, provider: func(pc *federation.ProviderConfig) { pc.DPoP = true }})
	return r, r.signIn(newBrowser(t), "/next")
}

// claimsOf decodes a JWT's payload.
func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	json.Unmarshal(b, &c)
	return c
}

// TestDPoPSignIn: the code, the tokens and userinfo are bound to a fresh
// key, through the provider's nonce; a refresh proves the same key; the
// tokens call a DPoP-protected API.
func TestDPoPSignIn(t *testing.T) {
	r, resp := dpopRP(t, federationtest.Options{DPoP: true, DPoPNonce: true, ProfileInUserinfoOnly: true})
	if loc := resp.Header.Get("Location"); loc != "/next" || r.loginCount() != 1 {
		t.Fatalf("sign-in ended at %q; logs:\n%s", loc, r.logs)
	}
	r.mu.Lock()
	res := r.logins[0].Result
	r.mu.Unlock()
	key := res.Tokens.DPoP
	if key == nil || res.User.Email != "alice@example.com" { // the email came from userinfo, over DPoP
		t.Fatalf("tokens %v, user %+v", res.Tokens, res.User)
	}
	cnf, _ := claimsOf(t, res.Tokens.AccessToken.Reveal())["cnf"].(map[string]any)
	if cnf["jkt"] != key.Thumbprint() {
		t.Fatalf("access token cnf %v, want jkt %s", cnf, key.Thumbprint())
	}
	if s := fmt.Sprintf("%v %+v %#v", res.Tokens, res.Tokens, res.Tokens); !strings.Contains(s, "[dpop key "+key.Thumbprint()+"]") ||
		strings.Contains(s, "D:") {
		t.Fatalf("tokens print as %s", s)
	}
	p, _ := r.reg.Lookup("oidc:acme")
	refreshed, err := p.Refresh(t.Context(), res.Tokens)
	if err != nil || refreshed.DPoP != key {
		t.Fatalf("refresh: %v %v", refreshed, err)
	}
	if cnf, _ := claimsOf(t, refreshed.AccessToken.Reveal())["cnf"].(map[string]any); cnf["jkt"] != key.Thumbprint() {
		t.Fatalf("refreshed cnf %v", cnf)
	}
	// An API that requires DPoP, called with Tokens.Client.
	api := httptest.NewServer(federation.RequireBearer(r.reg, federation.BearerConfig{DPoP: federation.DPoPRequired})(
		http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			pr, _ := federation.PrincipalFrom(req.Context())
			fmt.Fprint(w, pr.KeyThumbprint)
		})))
	defer api.Close()
	got, err := refreshed.Client(nil).Get(api.URL + "/orders?page=2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if got.StatusCode != http.StatusOK || string(body) != key.Thumbprint() {
		t.Fatalf("the API answered %d %s", got.StatusCode, body)
	}
	// The bound key round-trips for a host that stores it sealed.
	der, _ := key.MarshalBinary()
	if back, err := federation.ParseDPoPKey(der); err != nil || back.Thumbprint() != key.Thumbprint() {
		t.Fatalf("ParseDPoPKey: %v", err)
	}
}

// TestDPoPStartBindsTheCode: the authorization request carries dpop_jkt.
func TestDPoPStartBindsTheCode(t *testing.T) {
	r := newRPWith(t, rpOptions{op: federationtest.Options{DPoP: true},
		provider: func(pc *federation.ProviderConfig) { pc.DPoP = true }})
	u := authURL(t, r, newBrowser(t))
	if jkt := u.Query().Get("dpop_jkt"); len(jkt) != 43 {
		t.Fatalf("authorization URL %s: dpop_jkt %q", u, jkt)
	}
}

// TestDPoPProviderIgnoresProofs: a provider that answers a DPoP token
// request with a Bearer token leaves it unbound: refused.
func TestDPoPProviderIgnoresProofs(t *testing.T) {
	r, resp := dpopRP(t, federationtest.Options{})
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("error") != "invalid_token" || r.loginCount() != 0 ||
		!strings.Contains(r.logs.String(), `token_type \"Bearer\", want DPoP`) {
		t.Fatalf("ended at %s; logs:\n%s", loc, r.logs)
	}
}

// TestDPoPHostKeyAndPAR: a host's own key (StartOptions.DPoPKey) binds
// the sign-in, and a pushed request proves it at the PAR endpoint too.
func TestDPoPHostKeyAndPAR(t *testing.T) {
	key, _ := federation.NewDPoPKey()
	r := newRPWith(t, rpOptions{op: federationtest.Options{DPoP: true, DPoPNonce: true, PushedAuthorization: "supported"},
		provider: func(pc *federation.ProviderConfig) { pc.PushedAuthorization = "required" },
		routes: func(mux *http.ServeMux, h *federation.Handler) {
			mux.HandleFunc("GET /bound", func(w http.ResponseWriter, req *http.Request) {
				h.Start(w, req, "oidc:acme", federation.StartOptions{RedirectTo: "/next", DPoPKey: key})
			})
		}})
	b := newBrowser(t)
	resp := b.get(r.srv.URL+"/bound", func(next *url.URL) bool {
		return next.Host == strings.TrimPrefix(r.srv.URL, "http://") && !strings.HasPrefix(next.Path, "/auth/oauth/") &&
			next.Path != "/bound"
	})
	if resp.Header.Get("Location") != "/next" || r.loginCount() != 1 {
		t.Fatalf("ended at %q; logs:\n%s", resp.Header.Get("Location"), r.logs)
	}
	r.mu.Lock()
	got := r.logins[0].Result.Tokens.DPoP
	r.mu.Unlock()
	if got == nil || got.Thumbprint() != key.Thumbprint() {
		t.Fatalf("tokens bound to %v, want the host's %v", got, key)
	}
	if seen := r.op.AuthorizationsSeen(); seen[len(seen)-1] != "par+dpop" {
		t.Fatalf("the provider saw %v, want a pushed request with a DPoP proof", seen)
	}
}

// TestDPoPAPINonce: an API with DPoPNonceKey answers a proof without its
// nonce 401 use_dpop_nonce with a DPoP-Nonce header; Tokens.Client
// retries once with it and gets through.
func TestDPoPAPINonce(t *testing.T) {
	r, _ := dpopRP(t, federationtest.Options{DPoP: true})
	r.mu.Lock()
	tokens := r.logins[0].Result.Tokens
	r.mu.Unlock()
	var first []string
	api := httptest.NewServer(federation.RequireBearer(r.reg, federation.BearerConfig{DPoP: federation.DPoPRequired,
		DPoPNonceKey: []byte(strings.Repeat("k", 32))})(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "ok")
	})))
	defer api.Close()
	// By hand: no nonce, then the one given.
	send := func(nonce string) *http.Response {
		req, _ := http.NewRequest("GET", api.URL+"/x", nil)
		proof, _ := tokens.DPoP.Proof("GET", api.URL+"/x", tokens.AccessToken, nonce)
		req.Header.Set("Authorization", "DPoP "+tokens.AccessToken.Reveal())
		req.Header.Set("DPoP", proof)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := send("")
	first = resp.Header.Values("WWW-Authenticate")
	nonce := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != http.StatusUnauthorized || nonce == "" || len(first) != 1 ||
		!strings.HasPrefix(first[0], "DPoP ") || !strings.Contains(first[0], `error="use_dpop_nonce"`) {
		t.Fatalf("without a nonce: %d %q nonce %q", resp.StatusCode, first, nonce)
	}
	if resp := send("stale-nonce"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong nonce: %d", resp.StatusCode)
	}
	if resp := send(nonce); resp.StatusCode != http.StatusOK || resp.Header.Get("DPoP-Nonce") != nonce {
		t.Fatalf("with the nonce: %d, next nonce %q", resp.StatusCode, resp.Header.Get("DPoP-Nonce"))
	}
	if resp, err := tokens.Client(nil).Get(api.URL + "/x"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("Tokens.Client: %v %v", resp, err)
	}
	if _, err := federation.NewBearer(r.reg, federation.BearerConfig{DPoPNonceKey: []byte("short")}); err == nil {
		t.Fatal("a 5-byte DPoPNonceKey was accepted")
	}
}

// TestDPoPDeviceFlow: with dpop, the device flow's polls prove a key and
// its tokens come bound to it.
func TestDPoPDeviceFlow(t *testing.T) {
	op := federationtest.New(t, federationtest.Options{TokenAuthMethods: []string{"none"}, DPoP: true, DPoPNonce: true})
	op.AddUser(alice)
	op.AddClient(federationtest.Client{ID: "cli"})
	res := deviceSignIn(t, op, federation.ProviderConfig{Issuer: op.Issuer(), ClientID: "cli",
		TokenEndpointAuthMethod: "none", DPoP: true})
	cnf, _ := claimsOf(t, res.Tokens.AccessToken.Reveal())["cnf"].(map[string]any)
	if res.Tokens.DPoP == nil || cnf["jkt"] != res.Tokens.DPoP.Thumbprint() {
		t.Fatalf("tokens %v, cnf %v", res.Tokens, cnf)
	}
}

// TestTokensClientRedirects: Tokens.Client sends the token again on a
// redirect on its origin, and never to another origin: that redirect is
// the response.
func TestTokensClientRedirects(t *testing.T) {
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		leaked = append(leaked, req.Header.Get("Authorization"))
	}))
	defer other.Close()
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		seen = append(seen, req.URL.Path+" "+req.Header.Get("Authorization"))
		switch req.URL.Path {
		case "/moved":
			http.Redirect(w, req, "/here", http.StatusFound)
		case "/away":
			http.Redirect(w, req, other.URL+"/steal", http.StatusFound)
		}
	}))
	defer api.Close()
	c := federation.Tokens{AccessToken: federation.Secret("at-1")}.Client(nil)
	for _, path := range []string{"/moved", "/away"} {
		resp, err := c.Get(api.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if path == "/away" && resp.StatusCode != http.StatusFound {
			t.Fatalf("GET /away = %d; want the 302 itself", resp.StatusCode)
		}
	}
	if want := []string{"/moved Bearer at-1", "/here Bearer at-1", "/away Bearer at-1"}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("api saw %q; want %q", seen, want)
	}
	if len(leaked) != 0 {
		t.Fatalf("another origin got %q", leaked)
	}
}
