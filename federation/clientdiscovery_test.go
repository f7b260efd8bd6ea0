package federation_test

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// TestClientDiscovery: GET /auth/oauth/discovery lists each provider's
// public facts, the public client ID only where there is one, an error for
// an unreachable provider, and never a secret.
func TestClientDiscovery(t *testing.T) {
	r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) { pc.PublicClientID = "acme-cli" }})
	resp, err := http.Get(r.srv.URL + "/auth/oauth/discovery")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got federation.ClientDiscovery
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	want := federation.ClientDiscovery{Providers: []federation.ClientProvider{{
		Key: "oidc:acme", Issuer: r.op.Issuer(), ClientID: "acme-cli",
		AuthorizationEndpoint: r.op.Issuer() + "/authorize", TokenEndpoint: r.op.Issuer() + "/token",
		DeviceAuthorizationEndpoint: r.op.Issuer() + "/device_authorization",
		Scopes:                      []string{"openid", "email", "profile"},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("discovery:\n got %+v\nwant %+v", got, want)
	}
	if strings.Contains(string(body), "s3cret-value") || strings.Contains(string(body), "client-1") {
		t.Errorf("the document names the confidential client or its secret: %s", body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", resp.Header)
	}
}

func TestClientDiscoveryProviders(t *testing.T) {
	op := federationtest.New(t, federationtest.Options{TokenAuthMethods: []string{"none"}})
	down := federationtest.New(t, federationtest.Options{})
	downIssuer := down.Issuer()
	down.Close()
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"cli":  {Issuer: op.Issuer(), ClientID: "public-1", TokenEndpointAuthMethod: "none", Scopes: []string{"openid", "offline_access"}},
		"down": {Issuer: downIssuer, ClientID: "web", ClientSecret: "s3cret-value"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := reg.ClientDiscovery(t.Context())
	want := []federation.ClientProvider{
		{Key: "oidc:cli", Issuer: op.Issuer(), ClientID: "public-1", AuthorizationEndpoint: op.Issuer() + "/authorize",
			TokenEndpoint: op.Issuer() + "/token", DeviceAuthorizationEndpoint: op.Issuer() + "/device_authorization",
			Scopes: []string{"openid", "offline_access"}},
		{Key: "oidc:down", Issuer: downIssuer, Scopes: []string{"openid", "email", "profile"},
			Error: "the provider's metadata could not be fetched"},
	}
	if !reflect.DeepEqual(got.Providers, want) {
		t.Errorf("providers:\n got %+v\nwant %+v", got.Providers, want)
	}
}
