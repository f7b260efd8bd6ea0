package browser

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/session"
)

// formPostApp is an application on 127.0.0.1 whose provider, on
// localhost (another site), answers with response_mode=form_post. Like the
// example server it refuses cross-origin state-changing requests but the
// callback. /done shows who signed in.
func formPostApp(t *testing.T) (*server, *federationtest.Provider) {
	t.Helper()
	op := federationtest.New(t, federationtest.Options{Addr: "localhost:0"})
	op.AddUser(federationtest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	srv := &server{issuer: op.Issuer()}
	logs := &lockedWriter{srv: srv}
	app := httptest.NewUnstartedServer(nil)
	srv.base = "http://" + app.Listener.Addr().String()
	op.AddClient(federationtest.Client{ID: "app", Secret: "s3cret-value",
		RedirectURIs: []string{srv.base + "/auth/oauth/oidc:acme/callback"}})
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{"acme": {
		Issuer: op.Issuer(), ClientID: "app", ClientSecret: "s3cret-value", ResponseMode: "form_post"}}},
		federation.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	flows, _ := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{bytes.Repeat([]byte{9}, 32)}})
	var mu sync.Mutex
	var who string
	h, err := federation.NewHandler(federation.HandlerConfig{Registry: reg, BaseURL: srv.base, Flows: flows,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()}, Logger: logger,
		OnLogin: func(_ http.ResponseWriter, _ *http.Request, l *federation.Login) error {
			mu.Lock()
			defer mu.Unlock()
			who = l.Result.User.Subject
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/oauth/", h)
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "<!doctype html><p>signed in as %s</p><p>error: %s</p>", html.EscapeString(who),
			html.EscapeString(cmp.Or(r.URL.Query().Get("error"), "none")))
	})
	cop := http.NewCrossOriginProtection()
	cop.AddInsecureBypassPattern("POST /auth/oauth/{provider}/callback")
	app.Config.Handler = cop.Handler(mux)
	app.Start()
	t.Cleanup(app.Close)
	return srv, op
}

// lockedWriter appends a handler's log to the server's, for failures.
type lockedWriter struct{ srv *server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.srv.mu.Lock()
	defer w.srv.mu.Unlock()
	return w.srv.out.Write(p)
}

// waitFor waits until the tab's location starts with prefix.
func (b *tab) waitFor(prefix string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.HasPrefix(b.location(), prefix) {
		if time.Now().After(deadline) {
			b.t.Fatalf("the tab is at %s, not %s…", b.location(), prefix)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFormPostSignIn: the provider's page posts the code cross-site (from
// localhost to 127.0.0.1) by script; Chromium sends the flow cookie with
// that POST only because it is SameSite=None and Secure (kept on
// http://127.0.0.1, a secure context), and the sign-in completes.
func TestFormPostSignIn(t *testing.T) {
	srv, _ := formPostApp(t)
	b := newTab(t, srv)
	b.open(srv.base + "/auth/oauth/oidc:acme?redirectTo=/done")
	b.waitFor(srv.base + "/done")
	// The location changes before the page has loaded: wait for its end.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.text(), "error: none") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	b.wantText("signed in as alice", "error: none")
	if !strings.Contains(srv.logs(), `msg="federation: signed in"`) {
		t.Fatalf("no sign-in in the log:\n%s", srv.logs())
	}
	// The flow cookie was consumed.
	for _, c := range b.cookies(srv.base + "/") {
		if strings.HasPrefix(c.Name, "oidcfed-") {
			t.Fatalf("flow cookie %s left behind", c.Name)
		}
	}
}
