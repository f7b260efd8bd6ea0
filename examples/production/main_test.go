package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oidcfed/oidcfed/examples/internal/exampleapp"
	"github.com/oidcfed/oidcfed/examples/internal/servetest"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/redis/redistest"
	"github.com/oidcfed/oidcfed/sqlstore/pgtest"
)

// binary is the production example, built once: each instance of a
// pair is a process of its own.
var binary string

func TestMain(m *testing.M) {
	redistest.Quiet()
	servetest.WithBinary(m, ".", &binary)
}

// pair is two processes of the production example behind a round-robin
// proxy, sharing one Redis and one PostgreSQL, with one provider.
type pair struct {
	url    string
	pg     *pgtest.Postgres
	op     *federationtest.Provider
	served [2]atomic.Int32
}

func newPair(t *testing.T, users ...federationtest.User) *pair {
	t.Helper()
	rds, pg := redistest.Start(t), pgtest.Start(t)
	p := &pair{op: federationtest.New(t, federationtest.Options{LoginPage: true}), pg: pg}
	p.op.SetUsers(users...)
	var backends [2]*url.URL
	var next atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := next.Add(1) % 2
		p.served[i].Add(1)
		httputilProxy(backends[i]).ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	p.url = proxy.URL
	p.op.AddClient(federationtest.Client{ID: "app", Secret: "s3cret-value", RedirectURIs: []string{
		p.url + "/auth/oauth/oidc:acme/callback", p.url + "/auth/oauth/link/oidc:acme/callback"},
		BackchannelLogoutURI: p.url + "/auth/oauth/oidc:acme/backchannel-logout"})
	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, fmt.Appendf(nil, `{"providers": {"acme": {"issuer": %q, "clientId": "app", "clientSecret": "s3cret-value"}}}`,
		p.op.Issuer()), 0o600)
	env := []string{"OIDCFED_ADDR=127.0.0.1:0", "OIDCFED_BASE_URL=" + p.url, "OIDCFED_CONFIG=" + cfg,
		"OIDCFED_SESSION_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)),
		"OIDCFED_REDIS_URL=redis://" + rds.Addr() + "/0", "OIDCFED_DATABASE_URL=" + pg.DSN()}
	for i := range backends {
		base, _ := servetest.StartBinary(t, binary, env...)
		backends[i], _ = url.Parse(base)
	}
	return p
}

// browser is a user agent that does not follow redirects by itself.
type browser struct {
	jar    *cookiejar.Jar
	client *http.Client
}

func newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{jar: jar, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) get(u string) (*http.Response, error) {
	resp, err := b.client.Get(u)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

// signIn signs in as subject from the start route and returns the
// callback URL it completed (for a replay).
func (b *browser) signIn(p *pair, subject string) (string, error) {
	resp, err := b.get(p.url + "/auth/oauth/oidc:acme")
	if err != nil {
		return "", err
	}
	resp, err = b.client.PostForm(resp.Header.Get("Location"), url.Values{"user": {subject}})
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	if resp, err = b.get(callback); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
		return "", fmt.Errorf("callback answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return callback, nil
}

// me is /me's status and account ID.
func (b *browser) me(p *pair) (int, string) {
	resp, err := b.client.Get(p.url + "/me")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var body struct{ Account struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Account.ID
}

var ada = federationtest.User{Subject: "ada", Email: "ada@example.com", EmailVerified: true, Name: "Ada"}

func TestTwoInstancesBehaveAsOne(t *testing.T) {
	p := newPair(t, ada)
	b := newBrowser()
	// The proxy alternates: the start is served by one instance, the
	// callback (the next request to it) by the other.
	callback, err := b.signIn(p, "ada")
	if err != nil {
		t.Fatal(err)
	}
	var account string
	for range 2 {
		code, id := b.me(p)
		if code != http.StatusOK || account != "" && id != account {
			t.Fatalf("/me answered %d for account %q (before: %q), want 200 and one account on both instances", code, id,
				account)
		}
		account = id
	}
	// The callback replayed, with its flow cookie, on either instance.
	for range 2 {
		resp, err := b.get(callback)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a replayed callback answered %d, want 400 invalid_state", resp.StatusCode)
		}
	}
	// A back-channel logout reaches one instance and ends the session on both.
	if code, err := p.op.BackchannelLogout("app", "ada", ""); err != nil || code != http.StatusOK {
		t.Fatalf("back-channel logout: %d, %v", code, err)
	}
	for range 2 {
		if code, _ := b.me(p); code != http.StatusUnauthorized {
			t.Fatalf("/me after the logout answered %d, want 401 on both instances", code)
		}
	}
	// Signing in again finds the same account in the shared database.
	if _, err := b.signIn(p, "ada"); err != nil {
		t.Fatal(err)
	}
	if _, id := b.me(p); id != account {
		t.Fatalf("signed in again to account %q, want %q", id, account)
	}
	if p.served[0].Load() == 0 || p.served[1].Load() == 0 {
		t.Fatalf("requests per instance: %d and %d", p.served[0].Load(), p.served[1].Load())
	}
}

func TestConcurrentSignInsAcrossInstances(t *testing.T) {
	var users []federationtest.User
	for i := range 20 {
		users = append(users, federationtest.User{Subject: fmt.Sprintf("user-%02d", i),
			Email: fmt.Sprintf("user-%02d@example.com", i), EmailVerified: true})
	}
	p := newPair(t, users...)
	accounts := map[string]map[string]bool{} // subject → accounts
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			b, sub := newBrowser(), users[i%20].Subject
			if _, err := b.signIn(p, sub); err != nil {
				t.Error(err)
				return
			}
			_, id := b.me(p)
			mu.Lock()
			if accounts[sub] == nil {
				accounts[sub] = map[string]bool{}
			}
			accounts[sub][id] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(accounts) != 20 {
		t.Fatalf("%d identities signed in, want 20", len(accounts))
	}
	for sub, ids := range accounts {
		if len(ids) != 1 {
			t.Fatalf("%s has %d accounts, want 1", sub, len(ids))
		}
	}
}

func TestDemoModeIsRefusedWithSharedStores(t *testing.T) {
	rds := redistest.Start(t)
	env := map[string]string{"OIDCFED_ADDR": "127.0.0.1:0", "OIDCFED_REDIS_URL": "redis://" + rds.Addr() + "/0"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if !errors.Is(err, exampleapp.ErrDemoShared) {
		t.Fatalf("demo mode with Redis: %v, want ErrDemoShared", err)
	}
}

func TestBadDatabaseURL(t *testing.T) {
	for _, u := range []string{"mysql://x", "sqlite://relative.db"} {
		env := map[string]string{"OIDCFED_DATABASE_URL": u}
		err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "OIDCFED_DATABASE_URL") {
			t.Fatalf("%s: %v, want an OIDCFED_DATABASE_URL error", u, err)
		}
	}
}

// link links subject to the browser's account, from the link route.
func (b *browser) link(p *pair, subject string) error {
	resp, err := b.client.Post(p.url+"/auth/oauth/link/oidc:acme?redirectTo=/", "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("link start answered %d", resp.StatusCode)
	}
	resp, err = b.client.PostForm(resp.Header.Get("Location"), url.Values{"user": {subject}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp, err = b.get(resp.Header.Get("Location")); err != nil {
		return err
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/" {
		return fmt.Errorf("link callback answered %d to %q", resp.StatusCode, loc)
	}
	return nil
}

// identities is /me's account: its ID, whether anonymous, its subjects.
func (b *browser) identities(p *pair) (string, bool, []string) {
	resp, err := b.client.Get(p.url + "/me")
	if err != nil {
		return "", false, nil
	}
	defer resp.Body.Close()
	var body struct {
		Account struct {
			ID        string
			Anonymous bool
		}
		Identities []struct{ Subject string }
	}
	json.NewDecoder(resp.Body).Decode(&body)
	var subs []string
	for _, id := range body.Identities {
		subs = append(subs, id.Subject)
	}
	return body.Account.ID, body.Account.Anonymous, subs
}

func TestLinkAndUpgradeAcrossInstances(t *testing.T) {
	p := newPair(t, ada, federationtest.User{Subject: "bob", Email: "bob@example.com"},
		federationtest.User{Subject: "carol", Email: "carol@example.com", EmailVerified: true})
	b := newBrowser()
	if _, err := b.signIn(p, "ada"); err != nil {
		t.Fatal(err)
	}
	account, _, _ := b.identities(p)
	if err := b.link(p, "bob"); err != nil {
		t.Fatal(err)
	}
	if id, _, subs := b.identities(p); id != account || len(subs) != 2 {
		t.Fatalf("after the link: account %q with %v, want %q with ada and bob", id, subs, account)
	}
	// An anonymous account, upgraded in place by a link.
	guest := newBrowser()
	req, _ := http.NewRequest(http.MethodPost, p.url+"/auth/anonymous", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := guest.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	anon, anonymous, _ := guest.identities(p)
	if anon == "" || !anonymous {
		t.Fatalf("anonymous account %q (anonymous %v)", anon, anonymous)
	}
	if err := guest.link(p, "carol"); err != nil {
		t.Fatal(err)
	}
	if id, anonymous, subs := guest.identities(p); id != anon || anonymous || len(subs) != 1 || subs[0] != "carol" {
		t.Fatalf("after the upgrade: account %q anonymous %v with %v, want %q upgraded with carol", id, anonymous, subs,
			anon)
	}
}

// TestDatabaseDownMidTraffic: with PostgreSQL stopped, a sign-in ends at
// its redirectTo with an error and creates nothing; after a restart the
// next sign-in finds the same account.
func TestDatabaseDownMidTraffic(t *testing.T) {
	p := newPair(t, ada)
	b := newBrowser()
	if _, err := b.signIn(p, "ada"); err != nil {
		t.Fatal(err)
	}
	_, account := b.me(p)
	p.pg.Stop()
	_, err := newBrowser().signIn(p, "ada")
	if err == nil || !strings.Contains(err.Error(), "error=server_error") {
		t.Fatalf("sign-in with the database down: %v, want a redirect with error=server_error", err)
	}
	p.pg.Start()
	again := newBrowser()
	if _, err := again.signIn(p, "ada"); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	// Connections the restart broke may fail a request each (503, the
	// session kept); a retry gets a fresh one.
	var code int
	var id string
	for range 5 {
		if code, id = again.me(p); code != http.StatusServiceUnavailable {
			break
		}
	}
	if code != http.StatusOK || id != account {
		t.Fatalf("after the restart /me answered %d for %q, want 200 for %q", code, id, account)
	}
}
