package oidcfedredis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	oidcfedredis "github.com/oidcfed/oidcfed/redis"
	"github.com/oidcfed/oidcfed/redis/redistest"
	"github.com/oidcfed/oidcfed/session"
)

// cluster is two instances of one application behind a round-robin
// balancer, sharing one Redis (flows, logout jtis, host sessions) and one
// account store.
type cluster struct {
	url        string
	roundTrips counter // Redis commands sent by both instances
	served     [2]atomic.Int32
	logins     atomic.Int32
	mu         sync.Mutex
	ids        map[string]string // subject → account ID, of every login
}

func newCluster(t testing.TB, srv *redistest.Server, op *federationtest.Provider, accounts federation.AccountStore) *cluster {
	t.Helper()
	c := &cluster{ids: map[string]string{}}
	var instances [2]http.Handler
	var next atomic.Int32
	balancer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := next.Add(1) % 2
		c.served[i].Add(1)
		instances[i].ServeHTTP(w, r)
	}))
	t.Cleanup(balancer.Close)
	c.url = balancer.URL
	op.AddClient(federationtest.Client{ID: "app", Secret: "s3cret-value",
		RedirectURIs:         []string{balancer.URL + "/auth/oauth/oidc:acme/callback"},
		BackchannelLogoutURI: balancer.URL + "/auth/oauth/oidc:acme/backchannel-logout"})
	keys := [][]byte{bytes.Repeat([]byte{9}, 32)}
	memory := srv == nil // one instance, everything in its memory: the baseline
	for i := range instances {
		if memory && i > 0 {
			instances[i] = instances[0]
			continue
		}
		var guard session.ReplayGuard = session.NewMemoryReplayGuard(session.ReplayConfig{})
		var hosts session.HostStore = session.NewMemoryHostStore(nil)
		if !memory {
			rdb := srv.Client() // each instance its own pool
			rdb.AddHook(&c.roundTrips)
			guard = oidcfedredis.NewReplayGuard(rdb, oidcfedredis.Config{})
			hosts = oidcfedredis.NewHostStore(rdb, oidcfedredis.Config{})
		}
		flows, err := session.NewCookieStore(session.CookieConfig{Keys: keys, Replay: guard})
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := session.NewSessions(session.SessionsConfig{Keys: keys, Store: hosts})
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
			Accounts: federation.SignInOrCreate{Store: accounts},
			OnLogin: func(w http.ResponseWriter, r *http.Request, l *federation.Login) error {
				c.logins.Add(1)
				c.mu.Lock()
				c.ids[l.Result.User.Subject+" "+l.Decision.Account.ID] = l.Decision.Account.ID
				c.mu.Unlock()
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
	return c
}

// TestTwoInstancesShareFlowsSessionsAndLogout: a sign-in started on one
// instance completes on the other, and a back-channel logout received by
// either ends the session everywhere.
func TestTwoInstancesShareFlowsSessionsAndLogout(t *testing.T) {
	srv := redistest.Start(t)
	op := federationtest.New(t, federationtest.Options{})
	op.AddUser(federationtest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	c := newCluster(t, srv, op, federation.NewMemoryAccounts())
	balancer := c.url
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(balancer + "/auth/oauth/oidc:acme")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("sign-in through the balancer ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	me := func() int {
		t.Helper()
		resp, err := browser.Get(balancer + "/me")
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
	// Redis keys are hashes (no subject, no session ID), and no value
	// holds a session ID or an unsealed token.
	u, _ := url.Parse(balancer)
	var sessionID string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "session" {
			sessionID = ck.Value
		}
	}
	rdb := srv.Client()
	keys, _ := rdb.Keys(context.Background(), "*").Result()
	if sessionID == "" || len(keys) == 0 {
		t.Fatalf("session cookie %q, Redis keys %q", sessionID, keys)
	}
	for _, k := range keys {
		dump := k
		if typ := rdb.Type(context.Background(), k).Val(); typ == "hash" {
			dump += fmt.Sprint(rdb.HGetAll(context.Background(), k).Val())
		} else if typ == "set" {
			dump += fmt.Sprint(rdb.SMembers(context.Background(), k).Val())
		}
		// The session ID, and a raw JWT: its header starts {"alg", {"typ" or
		// {"kid". Not "eyJ" alone: 3 characters turn up by chance in a
		// kilobyte of sealed (random-looking) base64 about once in 250 runs.
		for _, secret := range []string{sessionID, "eyJhbGci", "eyJ0eXAi", "eyJraWQi"} {
			if strings.Contains(dump, secret) {
				t.Fatalf("Redis key %s holds %q: %s", k, secret, dump)
			}
		}
		if strings.Contains(k, "alice") {
			t.Fatalf("Redis key %s names the subject", k)
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
	if c.served[0].Load() == 0 || c.served[1].Load() == 0 {
		t.Fatalf("requests per instance %d and %d: both must have served", c.served[0].Load(), c.served[1].Load())
	}
}

// TestConcurrentSignInsMakeOneAccountPerIdentity: 200 sign-ins of 20
// identities at once, spread over both instances, create exactly 20
// accounts.
func TestConcurrentSignInsMakeOneAccountPerIdentity(t *testing.T) {
	srv := redistest.Start(t)
	op := federationtest.New(t, federationtest.Options{LoginPage: true})
	var users []federationtest.User
	for i := range 20 {
		users = append(users, federationtest.User{Subject: fmt.Sprintf("user-%02d", i),
			Email: fmt.Sprintf("user-%02d@example.com", i), EmailVerified: true})
	}
	op.SetUsers(users...)
	c := newCluster(t, srv, op, federation.NewMemoryAccounts())
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := signInAs(c.url, users[i%20].Subject); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := c.logins.Load(); n != 200 {
		t.Fatalf("%d sign-ins completed, want 200", n)
	}
	accounts := map[string]bool{}
	subjects := map[string]string{}
	c.mu.Lock()
	for k, acct := range c.ids {
		sub, _, _ := strings.Cut(k, " ")
		if prev, ok := subjects[sub]; ok && prev != acct {
			t.Errorf("%s signed in to two accounts: %s and %s", sub, prev, acct)
		}
		subjects[sub] = acct
		accounts[acct] = true
	}
	c.mu.Unlock()
	if len(accounts) != 20 {
		t.Fatalf("%d accounts for 20 identities, want 20", len(accounts))
	}
}

// signInAs signs a new browser in at base as the demo user subject
// (the provider's login page posts the chosen user).
func signInAs(base, subject string) error {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Get(base + "/auth/oauth/oidc:acme")
	if err != nil {
		return err
	}
	resp.Body.Close()
	authorize := resp.Header.Get("Location")
	resp, err = client.PostForm(authorize, url.Values{"user": {subject}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, base+"/auth/oauth/oidc:acme/callback") {
		return fmt.Errorf("the provider answered %d to %q", resp.StatusCode, callback)
	}
	resp, err = client.Get(callback)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
		return fmt.Errorf("callback answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return nil
}

// BenchmarkSignIn is a returning user's whole sign-in over loopback HTTP
// (start, the provider, callback with code exchange and ID token check,
// account lookup, session start) with flows, logout jtis and sessions in
// one process's memory and in Redis behind two instances.
// round-trips/op counts the Redis commands per sign-in.
func BenchmarkSignIn(b *testing.B) {
	op := federationtest.New(b, federationtest.Options{LoginPage: true})
	op.SetUsers(federationtest.User{Subject: "ada", Email: "ada@example.com", EmailVerified: true})
	srv := redistest.Start(b)
	for _, tc := range []struct {
		name string
		srv  *redistest.Server
	}{{"memory", nil}, {"redis", srv}} {
		b.Run(tc.name, func(b *testing.B) {
			c := newCluster(b, tc.srv, op, federation.NewMemoryAccounts())
			if err := signInAs(c.url, "ada"); err != nil { // the account exists from now on
				b.Fatal(err)
			}
			b.ReportAllocs()
			before := c.roundTrips.n.Load()
			for b.Loop() {
				if err := signInAs(c.url, "ada"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.roundTrips.n.Load()-before)/float64(b.N), "round-trips/op")
		})
	}
}

// TestRedisDownMidSignIn: a callback while Redis is down answers 503
// temporarily_unavailable (not invalid_state) and creates nothing; after
// a restart the next sign-in completes.
func TestRedisDownMidSignIn(t *testing.T) {
	srv := redistest.Start(t)
	op := federationtest.New(t, federationtest.Options{LoginPage: true})
	op.SetUsers(federationtest.User{Subject: "ada", Email: "ada@example.com", EmailVerified: true})
	c := newCluster(t, srv, op, federation.NewMemoryAccounts())
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Get(c.url + "/auth/oauth/oidc:acme")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = client.PostForm(resp.Header.Get("Location"), url.Values{"user": {"ada"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	srv.Stop()
	req, _ := http.NewRequest(http.MethodGet, callback, nil)
	req.Header.Set("Accept", "application/json")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || body.Error != "temporarily_unavailable" || c.logins.Load() != 0 {
		t.Fatalf("callback with Redis down: %d %q after %d logins, want 503 temporarily_unavailable and none",
			resp.StatusCode, body.Error, c.logins.Load())
	}
	srv.Start()
	if err := signInAs(c.url, "ada"); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}
