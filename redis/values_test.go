package oidcfedredis_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	oidcfedredis "github.com/oidcfed/oidcfed/redis"
	"github.com/oidcfed/oidcfed/redis/redistest"
	"github.com/oidcfed/oidcfed/session"
)

// TestDynamicRegistrationSharedInRedis: two instances (registries and
// handlers on one base URL) over one Redis register their client once;
// Redis holds the registration sealed, and its client_id serves both.
func TestDynamicRegistrationSharedInRedis(t *testing.T) {
	srv := redistest.Start(t)
	op := federationtest.New(t, federationtest.Options{Registration: true})
	keys := [][]byte{bytes.Repeat([]byte{5}, 32)}
	const base = "http://127.0.0.1:8080"
	var ids []string
	for range 2 {
		reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
			"acme": {Issuer: op.Issuer(), Registration: "dynamic"}}},
			federation.WithValueStore(oidcfedredis.NewValueStore(srv.Client(), oidcfedredis.Config{}), keys...))
		if err != nil {
			t.Fatal(err)
		}
		flows, _ := session.NewCookieStore(session.CookieConfig{Keys: keys})
		if _, err := federation.NewHandler(federation.HandlerConfig{Registry: reg, BaseURL: base, Flows: flows,
			Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
			OnLogin:  func(http.ResponseWriter, *http.Request, *federation.Login) error { return nil }}); err != nil {
			t.Fatal(err)
		}
		p, _ := reg.Lookup("oidc:acme")
		u, err := p.AuthCodeURL(t.Context(), &session.FlowState{State: "s", Nonce: "n"}, base+"/auth/oauth/oidc:acme/callback")
		if err != nil {
			t.Fatal(err)
		}
		pu, _ := url.Parse(u)
		ids = append(ids, pu.Query().Get("client_id"))
	}
	if ids[0] == "" || ids[0] != ids[1] || op.Registrations() != 1 {
		t.Fatalf("client IDs %q and %d registrations, want one client for both", ids, op.Registrations())
	}
	rdb := srv.Client()
	ks, _ := rdb.Keys(context.Background(), "*").Result()
	if len(ks) != 1 || !strings.HasPrefix(ks[0], "oidcfed:value:") {
		t.Fatalf("Redis keys %q, want one value", ks)
	}
	raw, _ := rdb.Get(context.Background(), ks[0]).Bytes()
	if secret := op.Client(ids[0]).Secret; secret == "" || bytes.Contains(raw, []byte(secret)) ||
		bytes.Contains(raw, []byte(ids[0])) {
		t.Fatal("the registration in Redis is not sealed")
	}
}
