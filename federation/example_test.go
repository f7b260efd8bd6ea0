package federation_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/session"
)

// mount is the README's quick-start code, verbatim (TestDocsCode checks).

// mount:begin
// startSession is your own session: it sets your session cookie for the account.
type startSession func(w http.ResponseWriter, accountID string, u claims.User) error

func mount(mux *http.ServeMux, baseURL, issuer, clientSecret string, key []byte, start startSession) error {
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: issuer, ClientID: "my-app", ClientSecret: federation.Secret(clientSecret)},
	}})
	if err != nil {
		return err
	}
	flows, err := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{key},
		Secure: strings.HasPrefix(baseURL, "https://")}) // http only on a loopback BaseURL
	if err != nil {
		return err
	}
	h, err := federation.NewHandler(federation.HandlerConfig{
		Registry: reg, BaseURL: baseURL, Flows: flows,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
		OnLogin: func(w http.ResponseWriter, r *http.Request, l *federation.Login) error {
			return start(w, l.Decision.Account.ID, l.Result.User)
		},
	})
	if err != nil {
		return err
	}
	mux.Handle("/auth/oauth/", h) // sign in: GET /auth/oauth/oidc:acme?redirectTo=/app
	return nil
}

// mount:end

// demoSession stands in for the host's session; a real one keeps the
// account ID server-side behind a random cookie value.
func demoSession(w http.ResponseWriter, accountID string, u claims.User) error {
	http.SetCookie(w, &http.Cookie{Name: "demo-user", Value: u.Email, Path: "/", HttpOnly: true})
	return nil
}

// A server mounts the handler under /auth/oauth and sets its own session in
// OnLogin. Here the provider is the in-process test provider and the
// browser an http.Client with a cookie jar.
func ExampleNewHandler() {
	op := federationtest.New(nil, federationtest.Options{})
	defer op.Close()
	op.AddUser(federationtest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})

	mux := http.NewServeMux()
	mux.HandleFunc("/app", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("demo-user"); err == nil {
			fmt.Println("welcome,", c.Value)
		}
	})
	app := httptest.NewTLSServer(mux)
	defer app.Close()
	op.AddClient(federationtest.Client{ID: "my-app", Secret: "my-secret",
		RedirectURIs: []string{app.URL + "/auth/oauth/oidc:acme/callback"}})

	key := make([]byte, 32)
	rand.Read(key)
	if err := mount(mux, app.URL, op.Issuer(), "my-secret", key, demoSession); err != nil {
		log.Fatal(err)
	}

	browser := app.Client()
	browser.Jar, _ = cookiejar.New(nil)
	resp, err := browser.Get(app.URL + "/auth/oauth/oidc:acme?redirectTo=/app")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	// Output: welcome, alice@example.com
}

// demoProvider is the README's "try it" code, verbatim (TestDocsCode checks).

// demoProvider:begin
// demoProvider starts an OpenID Provider on a loopback port with a page to
// pick a user, and registers your app's callback: pass op.Issuer() and
// "my-secret" to mount. Stop it with op.Close().
func demoProvider(baseURL string) (*federationtest.Provider, error) {
	op, err := federationtest.Start(federationtest.Options{LoginPage: true})
	if err != nil {
		return nil, err
	}
	op.AddUser(federationtest.User{Subject: "ada", Name: "Ada Lovelace", Email: "ada@example.com", EmailVerified: true})
	op.AddClient(federationtest.Client{ID: "my-app", Secret: "my-secret",
		RedirectURIs: []string{baseURL + "/auth/oauth/oidc:acme/callback"}})
	return op, nil
}

// demoProvider:end

// Over plain http on a loopback host, against the demo provider's login
// page: mount derives Secure=false from the http BaseURL, so the browser
// sends the flow cookie back.
func Example_demoProvider() {
	mux := http.NewServeMux()
	mux.HandleFunc("/app", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("demo-user"); err == nil {
			fmt.Println("welcome,", c.Value)
		}
	})
	app := httptest.NewServer(mux) // http://127.0.0.1:port
	defer app.Close()
	op, err := demoProvider(app.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	key := make([]byte, 32)
	rand.Read(key)
	if err := mount(mux, app.URL, op.Issuer(), "my-secret", key, demoSession); err != nil {
		log.Fatal(err)
	}

	browser := &http.Client{}
	browser.Jar, _ = cookiejar.New(nil)
	page, err := browser.Get(app.URL + "/auth/oauth/oidc:acme?redirectTo=/app") // the login page
	if err != nil {
		log.Fatal(err)
	}
	page.Body.Close()
	// The page's form posts the chosen user back to /authorize with the same query.
	resp, err := browser.PostForm(op.Issuer()+"/authorize?"+page.Request.URL.RawQuery, url.Values{"user": {"ada"}})
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	// Output: welcome, ada@example.com
}

// protect is the README's bearer-token code, verbatim (TestDocsCode checks).

// protect:begin
func protect(mux *http.ServeMux, reg *federation.Registry) {
	notes := federation.RequireBearer(reg, federation.BearerConfig{Realm: "notes", Scopes: []string{"notes:read"}})
	mux.Handle("GET /api/notes", notes(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := federation.PrincipalFrom(r.Context()) // p.User, p.Scopes, p.Roles, p.Expiry
		fmt.Fprintln(w, "notes of", p.User.Subject)
	})))
}

// protect:end

// An API accepts the providers' access tokens in the Authorization header.
// Here the token is signed by the in-process test provider.
func ExampleRequireBearer() {
	op := federationtest.New(nil, federationtest.Options{})
	defer op.Close()
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: op.Issuer(), ClientID: "my-cli", TokenEndpointAuthMethod: "none", Audiences: []string{"https://notes.example"}},
	}})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	protect(mux, reg)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	now := time.Now()
	for _, scope := range []string{"notes:read", "profile"} {
		token := op.SignJWT("at+jwt", map[string]any{"iss": op.Issuer(), "sub": "alice", "aud": "https://notes.example",
			"scope": scope, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/notes", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s: %d %s", scope, resp.StatusCode, body)
	}
	// Output:
	// notes:read: 200 notes of alice
	// profile: 403 {"error":"insufficient_scope","error_description":"the token lacks a required scope"}
}
