package federation_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// addBeta registers oidc:beta at r's OP under client ID id.
func addBeta(t *testing.T, r *rp, id string) federation.ProviderConfig {
	t.Helper()
	r.op.AddClient(federationtest.Client{ID: id, Secret: "s-" + id, RedirectURIs: []string{r.srv.URL + "/auth/oauth/oidc:beta/callback"}})
	pc := federation.ProviderConfig{Issuer: r.op.Issuer(), ClientID: id, ClientSecret: federation.Secret("s-" + id)}
	if err := r.reg.Set("beta", pc); err != nil {
		t.Fatal(err)
	}
	return pc
}

// halfFlow starts a sign-in at key and stops at the callback, returning
// the browser and the callback URL.
func halfFlow(t *testing.T, r *rp, key string) (*browser, string) {
	t.Helper()
	b := newBrowser(t)
	var callback string
	b.get(r.srv.URL+"/auth/oauth/"+key+"?redirectTo=/done", func(u *url.URL) bool {
		if u.Path == "/auth/oauth/"+key+"/callback" {
			callback = u.String()
			return true
		}
		return false
	})
	if callback == "" {
		t.Fatalf("no callback; visited %q", b.seen)
	}
	return b, callback
}

func finish(t *testing.T, b *browser, callback string) *url.URL {
	t.Helper()
	resp := b.get(callback, func(*url.URL) bool { return true })
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("callback answered %d", resp.StatusCode)
	}
	return loc
}

func TestProvidersChangeWhileServing(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	pc := addBeta(t, r, "client-b")
	if got := r.reg.Keys(); fmt.Sprint(got) != "[oidc:acme oidc:beta]" {
		t.Fatalf("keys %v", got)
	}

	t.Run("a flow survives setting an equal config", func(t *testing.T) {
		b, cb := halfFlow(t, r, "oidc:beta")
		if err := r.reg.Set("beta", pc); err != nil {
			t.Fatal(err)
		}
		if loc := finish(t, b, cb); loc.String() != "/done" {
			t.Fatalf("landed at %q; logs:\n%s", loc, r.logs)
		}
	})
	t.Run("a flow of a replaced provider fails with provider_changed", func(t *testing.T) {
		b, cb := halfFlow(t, r, "oidc:beta")
		pc = addBeta(t, r, "client-b2")
		loc := finish(t, b, cb)
		if loc.Path != "/done" || federation.Code(loc.Query().Get("error")) != federation.CodeProviderChanged {
			t.Fatalf("landed at %q", loc)
		}
		// A new flow at the replacement works.
		b, cb = halfFlow(t, r, "oidc:beta")
		if loc := finish(t, b, cb); loc.String() != "/done" {
			t.Fatalf("a new flow landed at %q; logs:\n%s", loc, r.logs)
		}
	})
	t.Run("a flow of a removed provider fails with provider_removed", func(t *testing.T) {
		b, cb := halfFlow(t, r, "oidc:beta")
		if !r.reg.Remove("beta") || r.reg.Remove("beta") {
			t.Fatal("Remove did not report the provider once")
		}
		loc := finish(t, b, cb)
		if loc.Path != "/done" || federation.Code(loc.Query().Get("error")) != federation.CodeProviderRemoved {
			t.Fatalf("landed at %q", loc)
		}
		resp, _ := http.Get(r.srv.URL + "/auth/oauth/oidc:beta")
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("start at a removed provider: %d", resp.StatusCode)
		}
		resp, _ = http.Get(r.srv.URL + "/auth/oauth/oidc:beta/callback?state=AAAAAAAAAAAAAAAAAAAAAA&code=x")
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("a callback without a flow at a removed provider: %d", resp.StatusCode)
		}
	})
	t.Run("an invalid config is refused with every problem", func(t *testing.T) {
		err := r.reg.Set("Beta", federation.ProviderConfig{Issuer: "http://idp.example.com"})
		var ce *federation.ConfigError
		if !errors.As(err, &ce) || ce.Path != "providers.Beta.name" || len(err.(interface{ Unwrap() []error }).Unwrap()) != 4 {
			t.Fatalf("Set = %v", err)
		}
		if _, ok := r.reg.Lookup("oidc:Beta"); ok {
			t.Fatal("the invalid provider was registered")
		}
	})
}

func TestRemovedProviderBearerTokensAreRefused(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	b, _ := federation.NewBearer(r.reg, federation.BearerConfig{})
	now := time.Now()
	tok := r.op.SignJWT("at+jwt", map[string]any{"iss": r.op.Issuer(), "sub": "alice", "aud": "client-1", "client_id": "client-1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "j1"})
	if _, err := b.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	r.reg.Remove("acme")
	if _, err := b.Verify(context.Background(), tok); !errors.Is(err, federation.ErrUnknownIssuer) {
		t.Fatalf("after removal: %v, want ErrUnknownIssuer (the cached verification is gone)", err)
	}
}

// Sign-ins run in parallel at two providers while one is removed, added
// back and replaced, and the other is set to its own config again. Every
// sign-in at the stable provider succeeds; every one at the changing
// provider succeeds or ends with one of the documented outcomes.
func TestLiveProviderChangesUnderConcurrentSignIns(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	addBeta(t, r, "client-b")
	r.op.AddClient(federationtest.Client{ID: "client-b2", Secret: "s-client-b2", RedirectURIs: []string{r.srv.URL + "/auth/oauth/oidc:beta/callback"}})
	betaConfigs := []federation.ProviderConfig{
		{Issuer: r.op.Issuer(), ClientID: "client-b", ClientSecret: "s-client-b"},
		{Issuer: r.op.Issuer(), ClientID: "client-b2", ClientSecret: "s-client-b2"},
	}
	acmeConfig := federation.ProviderConfig{Issuer: r.op.Issuer(), ClientID: "client-1", ClientSecret: "s3cret-value"}

	stop := make(chan struct{})
	var changes sync.WaitGroup
	changes.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%3 == 2 {
				r.reg.Remove("beta")
			} else if err := r.reg.Set("beta", betaConfigs[i%2]); err != nil {
				t.Error(err)
			}
			if err := r.reg.Set("acme", acmeConfig); err != nil {
				t.Error(err)
			}
			time.Sleep(time.Millisecond)
		}
	})
	var outcomes sync.Map // outcome → *atomic.Int64
	count := func(o string) {
		v, _ := outcomes.LoadOrStore(o, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	var logins sync.WaitGroup
	for g := range 8 {
		logins.Go(func() {
			for i := range 6 {
				key := "oidc:acme"
				if (g+i)%2 == 1 {
					key = "oidc:beta"
				}
				b := newBrowser(t)
				resp := b.get(r.srv.URL+"/auth/oauth/"+key+"?redirectTo=/done", func(u *url.URL) bool { return u.Path == "/done" })
				loc, _ := url.Parse(resp.Header.Get("Location"))
				switch {
				case resp.StatusCode == http.StatusNotFound && key == "oidc:beta":
					count("beta: not configured at start")
				case resp.StatusCode != http.StatusFound || loc.Path != "/done":
					t.Errorf("%s: %d to %q", key, resp.StatusCode, loc)
				case loc.RawQuery == "":
					count(key + ": signed in")
				case key == "oidc:beta" && (federation.Code(loc.Query().Get("error")) == federation.CodeProviderRemoved ||
					federation.Code(loc.Query().Get("error")) == federation.CodeProviderChanged):
					count("beta: " + loc.Query().Get("error"))
				default:
					t.Errorf("%s: ended with %q", key, loc.RawQuery)
				}
			}
		})
	}
	logins.Wait()
	close(stop)
	changes.Wait()
	outcomes.Range(func(k, v any) bool {
		t.Logf("%s: %d", k, v.(*atomic.Int64).Load())
		return true
	})
	if v, ok := outcomes.Load("oidc:acme: signed in"); !ok || v.(*atomic.Int64).Load() != 24 {
		t.Fatal("not every sign-in at the stable provider succeeded")
	}
}
