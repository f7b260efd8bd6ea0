package federation_test

import (
	"crypto/rand"
	"fmt"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/session"
)

// A server mounts the handler under /auth/oauth and sets its own session in
// OnLogin. Here the provider is the in-process test provider and the
// browser is an http.Client with a cookie jar.
func Example() {
	op := federationtest.New(nil, federationtest.Options{})
	defer op.Close()
	op.AddUser(federationtest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})

	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	defer app.Close()
	op.AddClient(federationtest.Client{ID: "app", Secret: "app-secret",
		RedirectURIs: []string{app.URL + "/auth/oauth/oidc:demo/callback"}})

	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"demo": {Issuer: op.Issuer(), ClientID: "app", ClientSecret: "app-secret"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	flows, err := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{key}}) // Secure: true on https
	if err != nil {
		log.Fatal(err)
	}
	h, err := federation.NewHandler(federation.HandlerConfig{
		Registry: reg,
		BaseURL:  app.URL,
		Flows:    flows,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
		OnLogin: func(w http.ResponseWriter, r *http.Request, l *federation.Login) error {
			fmt.Printf("%s signed in with %s (new account: %t)\n", l.Result.User.Email, l.Provider, l.Decision.Created)
			// Set the application's own session cookie for l.Decision.Account.ID here.
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("/auth/oauth/", h)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(app.URL + "/auth/oauth/oidc:demo?redirectTo=/welcome")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("landed at", resp.Request.URL.Path)
	// Output:
	// alice@example.com signed in with oidc:demo (new account: true)
	// landed at /welcome
}
