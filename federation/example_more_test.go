package federation_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// A misspelled field is reported with its JSON path and the name it
// probably meant. Every shape problem is reported at once; the validation
// (here: an http issuer off loopback) runs once the shape is right.
func ExampleLoadConfig() {
	_, err := federation.LoadConfig(strings.NewReader(`{"providers": {"acme": {
		"issuer": "http://idp.example.com", "clientID": "app", "clientSecret": "s"}}}`))
	var ce *federation.ConfigError
	fmt.Println(errors.As(err, &ce), ce.Path)
	fmt.Println(err)
	// Output:
	// true providers.acme.clientID
	// federation: config: providers.acme.clientID: unknown field "clientID" (did you mean "clientId"?)
}

// Refresh renews a session's tokens and checks the new ID token against
// the one from sign-in. Here the sign-in is the test provider's password
// grant, which a real application would not use.
func ExampleProvider_Refresh() {
	op, err := federationtest.Start(federationtest.Options{PasswordGrant: true})
	if err != nil {
		panic(err)
	}
	defer op.Close()
	op.AddUser(federationtest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Password: "pw"})
	op.AddClient(federationtest.Client{ID: "app", Secret: "s3cret"})
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: op.Issuer(), ClientID: "app", ClientSecret: "s3cret", DangerousAllowPasswordGrant: true}}})
	if err != nil {
		panic(err)
	}
	p, _ := reg.Lookup("oidc:acme")
	ctx := context.Background()
	res, err := p.PasswordGrant(ctx, "alice", "pw")
	if err != nil {
		panic(err)
	}

	tokens, err := p.Refresh(ctx, res.Tokens)
	fmt.Println(err, tokens.RefreshToken != res.Tokens.RefreshToken) // the provider rotates refresh tokens
	_, err = p.Refresh(ctx, res.Tokens)                              // the old refresh token is spent
	var fe *federation.Error
	fmt.Println(errors.As(err, &fe), fe.Code)
	// Output:
	// <nil> true
	// true login_required
}

// A command-line tool signs in through the user's browser and a redirect
// to 127.0.0.1 (RFC 8252). Here Open plays the browser: it follows the
// redirects, and the test provider approves at once.
func ExampleProvider_LoopbackLogin() {
	op, err := federationtest.Start(federationtest.Options{TokenAuthMethods: []string{"none"}})
	if err != nil {
		panic(err)
	}
	defer op.Close()
	op.AddUser(federationtest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true})
	op.AddClient(federationtest.Client{ID: "my-cli", RedirectURIs: []string{"http://127.0.0.1/callback"}})
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: op.Issuer(), ClientID: "my-cli", TokenEndpointAuthMethod: "none"}}})
	if err != nil {
		panic(err)
	}
	p, _ := reg.Lookup("oidc:acme")
	res, err := p.LoopbackLogin(context.Background(), federation.LoopbackConfig{
		Open: func(u string) error {
			go func() {
				if resp, err := http.Get(u); err == nil {
					resp.Body.Close()
				}
			}()
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.User.Subject, res.User.Email)
	// Output: alice alice@example.com
}
