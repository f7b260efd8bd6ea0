package federation_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// newLoopbackProvider is a public CLI client whose registered redirect URI
// is the port-less loopback one.
func newLoopbackProvider(t *testing.T) (*federationtest.Provider, *federation.Provider) {
	t.Helper()
	op := federationtest.New(t, federationtest.Options{TokenAuthMethods: []string{"none"}})
	op.AddUser(alice)
	op.AddClient(federationtest.Client{ID: "cli", RedirectURIs: []string{"http://127.0.0.1/callback"}})
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: op.Issuer(), ClientID: "cli", TokenEndpointAuthMethod: "none"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Lookup("oidc:acme")
	return op, p
}

// visit is the user's browser: it follows the authorization URL through
// the provider to the loopback callback and returns the final page.
func visit(t *testing.T, u string) (int, string) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLoopbackLogin(t *testing.T) {
	_, p := newLoopbackProvider(t)
	var authURL string
	pages := make(chan string, 1)
	res, err := p.LoopbackLogin(context.Background(), federation.LoopbackConfig{Open: func(u string) error {
		authURL = u
		go func() { _, b := visit(t, u); pages <- b }()
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.User.Subject != "alice" || res.User.Email != "alice@example.com" || res.Tokens.IDToken == "" {
		t.Errorf("result %v", res)
	}
	q, _ := url.Parse(authURL)
	v := q.Query()
	redirect, _ := url.Parse(v.Get("redirect_uri"))
	if v.Get("code_challenge_method") != "S256" || v.Get("code_challenge") == "" || v.Get("state") == "" || v.Get("nonce") == "" ||
		redirect.Scheme != "http" || redirect.Hostname() != "127.0.0.1" || redirect.Port() == "" || redirect.Path != "/callback" {
		t.Errorf("authorization URL %s", authURL)
	}
	// The listener is closed once the login returns.
	if _, err := net.DialTimeout("tcp", redirect.Host, time.Second); err == nil {
		t.Error("the loopback listener is still open")
	}
	if b := <-pages; !strings.Contains(b, "Signed in. You can close this window") {
		t.Errorf("the browser was shown %q", b)
	}
}

func TestLoopbackLoginFixedPort(t *testing.T) {
	_, p := newLoopbackProvider(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	pages := make(chan string, 1)
	_, err := p.LoopbackLogin(context.Background(), federation.LoopbackConfig{Port: port, Open: func(u string) error {
		if !strings.Contains(u, url.QueryEscape(fmt.Sprintf("http://127.0.0.1:%d/callback", port))) {
			t.Errorf("redirect_uri is not on port %d: %s", port, u)
		}
		go func() { _, b := visit(t, u); pages <- b }()
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if b := <-pages; !strings.Contains(b, "Signed in. You can close this window") {
		t.Errorf("the browser was shown %q", b)
	}
}

// TestLoopbackLoginIgnoresForeignCallbacks: a request with another state
// (another program, a stale tab) is answered 400 and the login goes on.
func TestLoopbackLoginIgnoresForeignCallbacks(t *testing.T) {
	_, p := newLoopbackProvider(t)
	foreign := make(chan int, 1)
	_, err := p.LoopbackLogin(context.Background(), federation.LoopbackConfig{Open: func(u string) error {
		au, _ := url.Parse(u)
		cb := au.Query().Get("redirect_uri")
		go func() {
			status, _ := visit(t, cb+"?state=forged&code=stolen")
			foreign <- status
			visit(t, u)
		}()
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if status := <-foreign; status != http.StatusBadRequest {
		t.Errorf("a foreign callback: %d, want 400", status)
	}
}

func TestLoopbackLoginFailures(t *testing.T) {
	t.Run("the provider answers access_denied", func(t *testing.T) {
		op, p := newLoopbackProvider(t)
		op.Misbehave(federationtest.Misbehavior{AuthorizationResponse: func(q url.Values) {
			q.Del("code")
			q.Set("error", "access_denied")
		}})
		_, err := p.LoopbackLogin(context.Background(), federation.LoopbackConfig{Open: func(u string) error {
			go visit(t, u)
			return nil
		}})
		wantCode(t, err, federation.CodeAccessDenied)
	})
	t.Run("the browser never comes back", func(t *testing.T) {
		_, p := newLoopbackProvider(t)
		_, err := p.LoopbackLogin(context.Background(), federation.LoopbackConfig{Timeout: 50 * time.Millisecond,
			Open: func(string) error { return nil }})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("no Open", func(t *testing.T) {
		_, p := newLoopbackProvider(t)
		if _, err := p.LoopbackLogin(context.Background(), federation.LoopbackConfig{}); err == nil {
			t.Fatal("accepted a config without Open")
		}
	})
}
