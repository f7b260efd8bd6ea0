package oidcfedredis_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	oidcfedredis "github.com/oidcfed/oidcfed/redis"
	"github.com/oidcfed/oidcfed/session"
)

// TestTwoInstancesShareFlowsSessionsAndLogout runs two instances behind a
// round-robin balancer over one Redis: a sign-in started on one completes
// on the other, and a back-channel logout received by either ends the
// session everywhere.
func TestTwoInstancesShareFlowsSessionsAndLogout(t *testing.T) {
	srv := startRedis(t)
	op := federationtest.New(t, federationtest.Options{})
	op.AddUser(federationtest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	var balancer *httptest.Server
	var instances [2]http.Handler
	var served [2]atomic.Int32
	var next atomic.Int32
	balancer = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := next.Add(1) % 2
		served[i].Add(1)
		instances[i].ServeHTTP(w, r)
	}))
	t.Cleanup(balancer.Close)
	op.AddClient(federationtest.Client{ID: "app", Secret: "s3cret-value",
		RedirectURIs:         []string{balancer.URL + "/auth/oauth/oidc:acme/callback"},
		BackchannelLogoutURI: balancer.URL + "/auth/oauth/oidc:acme/backchannel-logout"})
	keys := [][]byte{bytes.Repeat([]byte{9}, 32)}
	for i := range instances {
		rdb := srv.client() // each instance its own pool
		guard := oidcfedredis.NewReplayGuard(rdb, oidcfedredis.Config{})
		flows, err := oidcfedredis.NewFlowStore(guard, session.CookieConfig{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := session.NewSessions(session.SessionsConfig{Keys: keys,
			Store: oidcfedredis.NewHostStore(rdb, oidcfedredis.Config{})})
		if err != nil {
			t.Fatal(err)
		}
		reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
			"acme": {Issuer: op.Issuer(), ClientID: "app", ClientSecret: "s3cret-value"}}},
			federation.WithReplayGuard(guard))
		if err != nil {
			t.Fatal(err)
		}
		h, err := federation.NewHandler(federation.HandlerConfig{Registry: reg, BaseURL: balancer.URL, Flows: flows,
			Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
			OnLogin: func(w http.ResponseWriter, r *http.Request, l *federation.Login) error {
				return sessions.Start(w, r, session.Host{AccountID: l.Decision.Account.ID, Provider: l.Provider,
					Subject: l.Result.User.Subject, SID: l.Result.SID, IDToken: l.Result.Tokens.IDToken.Reveal()})
			},
			OnLogout: func(ctx context.Context, e federation.LogoutEvent) error {
				_, err := sessions.EndMatching(ctx, e.Provider, e.Subject, e.SID)
				return err
			}})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/auth/oauth/", h)
		mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
			if _, err := sessions.Get(r); err != nil {
				http.Error(w, "unauthenticated", http.StatusUnauthorized)
			}
		})
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {})
		instances[i] = mux
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(balancer.URL + "/auth/oauth/oidc:acme")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("sign-in through the balancer ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	me := func() int {
		t.Helper()
		resp, err := browser.Get(balancer.URL + "/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 2 { // one request to each instance
		if code := me(); code != http.StatusOK {
			t.Fatalf("/me answered %d on one of the instances, want 200 on both", code)
		}
	}
	if code, err := op.BackchannelLogout("app", "alice", ""); err != nil || code != http.StatusOK {
		t.Fatalf("back-channel logout: %d, %v", code, err)
	}
	for range 2 {
		if code := me(); code != http.StatusUnauthorized {
			t.Fatalf("/me answered %d after the logout, want 401 on both instances", code)
		}
	}
	if served[0].Load() == 0 || served[1].Load() == 0 {
		t.Fatalf("requests per instance %d and %d: both must have served", served[0].Load(), served[1].Load())
	}
}
