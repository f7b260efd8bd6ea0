package federation_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/pkce"
	"github.com/oidcfed/oidcfed/session"
)

// TestReadiness: providers fresh, not fetched yet, or served stale while
// down keep the registry ready; one that failed with nothing to serve
// makes it 503, listed alone.
func TestReadiness(t *testing.T) {
	clk := clock.NewFake(time.Now())
	up := federationtest.New(t, federationtest.Options{})
	goingDown := federationtest.New(t, federationtest.Options{})
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"up":        {Issuer: up.Issuer(), ClientID: "c", ClientSecret: "s"},
		"stale":     {Issuer: goingDown.Issuer(), ClientID: "c", ClientSecret: "s"},
		"untouched": {Issuer: "https://idp.example.com", ClientID: "c", ClientSecret: "s"},
		"dead":      {Issuer: dead.URL, ClientID: "c", ClientSecret: "s"},
	}}, federation.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	ready := func() (int, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		federation.Readiness(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		var body map[string]any
		json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	use := func(key string) {
		p, _ := reg.Lookup(key)
		p.AuthCodeURL(context.Background(), newFlowState(key), "http://127.0.0.1/cb")
	}
	if code, body := ready(); code != http.StatusOK || body["ready"] != true {
		t.Fatalf("nothing fetched yet: %d %v", code, body)
	}
	use("oidc:up")
	use("oidc:stale")
	if code, body := ready(); code != http.StatusOK {
		t.Fatalf("two fresh providers: %d %v", code, body)
	}
	goingDown.Close()
	clk.Advance(2 * time.Hour) // past the TTL: the refetch fails, the old document is served
	use("oidc:stale")
	if code, body := ready(); code != http.StatusOK {
		t.Fatalf("a provider served stale: %d %v", code, body)
	}
	use("oidc:dead")
	code, body := ready()
	failing, _ := body["failing"].([]any)
	if code != http.StatusServiceUnavailable || body["ready"] != false || len(failing) != 1 ||
		failing[0].(map[string]any)["provider"] != "oidc:dead" {
		t.Fatalf("a provider failing with nothing to serve: %d %v", code, body)
	}
}

// newFlowState is a flow for AuthCodeURL, which resolves the provider.
func newFlowState(key string) *session.FlowState {
	return &session.FlowState{Provider: key, State: "state-0123456789abcdef", Nonce: "nonce-0123456789",
		Verifier: pkce.NewVerifier(), RedirectTo: "/", Created: time.Now()}
}
