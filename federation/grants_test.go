package federation_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// grantProvider is a confidential client of a provider with the password
// grant on and alice's password "correct horse".
func grantProvider(t *testing.T, edit func(*federation.ProviderConfig)) (*federationtest.Provider, *federation.Provider) {
	t.Helper()
	op := federationtest.New(t, federationtest.Options{PasswordGrant: true})
	u := alice
	u.Password = "correct horse"
	op.AddUser(u)
	op.AddClient(federationtest.Client{ID: "ci", Secret: "ci-secret"})
	pc := federation.ProviderConfig{Issuer: op.Issuer(), ClientID: "ci", ClientSecret: "ci-secret"}
	if edit != nil {
		edit(&pc)
	}
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{"acme": pc}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Lookup("oidc:acme")
	return op, p
}

func TestClientCredentials(t *testing.T) {
	op, p := grantProvider(t, nil)
	tok, err := p.ClientCredentials(context.Background(), "deploy:write")
	if err != nil {
		t.Fatal(err)
	}
	c := decodePayload(t, tok.AccessToken.Reveal())
	if c["sub"] != "ci" || c["client_id"] != "ci" || c["scope"] != "deploy:write" || tok.Expiry.IsZero() || tok.IDToken != "" || tok.RefreshToken != "" {
		t.Errorf("tokens %v, claims %v", tok, c)
	}
	if got := op.TokenAuthMethodsSeen(); len(got) != 1 || got[0] != "client_secret_basic" {
		t.Errorf("client authentication %v, want the client's secret (basic)", got)
	}
}

// TestClientCredentialsWithKeys: a client that authenticates with its key
// (private_key_jwt) has no secret and is confidential all the same.
func TestClientCredentialsWithKeys(t *testing.T) {
	key, _ := federation.NewClientKey(jweEC, "k1")
	op := federationtest.New(t, federationtest.Options{TokenAuthMethods: []string{"private_key_jwt"}})
	op.AddClient(federationtest.Client{ID: "ci", Keys: []jose.JSONWebKey{key.Public()}})
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{"acme": {
		Issuer: op.Issuer(), ClientID: "ci", TokenEndpointAuthMethod: "private_key_jwt", ClientKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Lookup("oidc:acme")
	if _, err := p.ClientCredentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := op.TokenAuthMethodsSeen(); len(got) != 1 || got[0] != "private_key_jwt" {
		t.Errorf("client authentication %v, want private_key_jwt", got)
	}
}

func TestClientCredentialsNeedsAConfidentialClient(t *testing.T) {
	op, p := grantProvider(t, func(pc *federation.ProviderConfig) { pc.ClientSecret, pc.TokenEndpointAuthMethod = "", "none" })
	if _, err := p.ClientCredentials(context.Background()); !errors.Is(err, federation.ErrPublicClient) || !errors.Is(err, &federation.Error{Code: federation.CodeUnsupported}) {
		t.Fatalf("%v, want ErrPublicClient", err)
	}
	if n := len(op.TokenAuthMethodsSeen()); n != 0 {
		t.Errorf("%d token requests were sent", n)
	}
}

func TestPasswordGrantRefusesWithoutTheOptIn(t *testing.T) {
	op, p := grantProvider(t, nil)
	_, err := p.PasswordGrant(context.Background(), "alice", "correct horse")
	if !errors.Is(err, federation.ErrPasswordGrantDisabled) || !errors.Is(err, &federation.Error{Code: federation.CodeUnsupported}) ||
		!strings.Contains(err.Error(), "dangerousAllowPasswordGrant") {
		t.Fatalf("%v, want ErrPasswordGrantDisabled naming the option", err)
	}
	if n := len(op.TokenAuthMethodsSeen()); n != 0 {
		t.Errorf("%d token requests were sent; the password must not leave the process", n)
	}
}

func TestPasswordGrant(t *testing.T) {
	optIn := func(pc *federation.ProviderConfig) { pc.DangerousAllowPasswordGrant = true }
	t.Run("the user with the ID token verified and mapped", func(t *testing.T) {
		_, p := grantProvider(t, optIn)
		res, err := p.PasswordGrant(context.Background(), "alice", "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		if res.User.Subject != "alice" || res.User.Email != "alice@example.com" || res.User.Provider != "oidc:acme" || res.Tokens.IDToken == "" {
			t.Errorf("result %v", res)
		}
	})
	t.Run("a wrong password", func(t *testing.T) {
		_, p := grantProvider(t, optIn)
		_, err := p.PasswordGrant(context.Background(), "alice", "wrong")
		wantCode(t, err, federation.CodeInvalidGrant)
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("the error repeats the password: %v", err)
		}
	})
	t.Run("an ID token for another audience", func(t *testing.T) {
		op, p := grantProvider(t, optIn)
		op.Misbehave(federationtest.Misbehavior{IDTokenClaims: func(c map[string]any) { c["aud"] = "someone-else" }})
		_, err := p.PasswordGrant(context.Background(), "alice", "correct horse")
		wantCode(t, err, federation.CodeInvalidToken)
		if !errors.Is(err, discovery.ErrTokenAudience) {
			t.Errorf("%v, want ErrTokenAudience", err)
		}
	})
	t.Run("no ID token: tokens only", func(t *testing.T) {
		op, p := grantProvider(t, optIn)
		op.Misbehave(federationtest.Misbehavior{TokenResponse: func(b map[string]any) { delete(b, "id_token") }})
		res, err := p.PasswordGrant(context.Background(), "alice", "correct horse")
		if err != nil || res.User.Subject != "" || res.Tokens.AccessToken == "" {
			t.Fatalf("%v %v", res, err)
		}
	})
}
