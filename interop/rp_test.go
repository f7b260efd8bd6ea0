package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/session"
)

// relyingParty is an application using oidcfed as documented: the
// library's handler under /auth/oauth, a bearer-protected /api/me, a home
// page at /. It listens before the provider starts, so the provider can be
// given its redirect URIs.
type relyingParty struct {
	t       *testing.T
	base    string
	ln      net.Listener
	reg     *federation.Registry
	handler *federation.Handler

	mu      sync.Mutex
	logins  []*federation.Login
	logouts []federation.LogoutEvent
	sent    []sentRequest // requests the library sent to the provider
	logs    bytes.Buffer
	// client, when set, is the registry's HTTP client instead of one that
	// records requests (mutual TLS needs an *http.Transport).
	client *http.Client
	// options are further registry options.
	options []federation.Option
}

// sentRequest is one request the library made, with its form body.
type sentRequest struct {
	method string
	url    *url.URL
	form   url.Values
}

func newRP(t *testing.T) *relyingParty {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rp := &relyingParty{t: t, ln: ln, base: "http://" + ln.Addr().String()}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("relying party log:\n%s", rp.logOutput())
		}
	})
	return rp
}

func (rp *relyingParty) logOutput() string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.logs.String()
}

// Write lets the RP's slog handler write into the log kept for failures.
func (rp *relyingParty) Write(p []byte) (int, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.logs.Write(p)
}

// RoundTrip records each request the library sends, then sends it.
func (rp *relyingParty) RoundTrip(req *http.Request) (*http.Response, error) {
	s := sentRequest{method: req.Method, url: req.URL}
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		s.form, _ = url.ParseQuery(string(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	rp.mu.Lock()
	rp.sent = append(rp.sent, s)
	rp.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// requests returns what the library sent to the given endpoint URL.
func (rp *relyingParty) requests(endpoint string) []sentRequest {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	var out []sentRequest
	for _, s := range rp.sent {
		u := *s.url
		u.RawQuery = ""
		if u.String() == endpoint {
			out = append(out, s)
		}
	}
	return out
}

// serve builds the registry and handler for providers and starts serving.
// bearer configures /api/me.
func (rp *relyingParty) serve(providers map[string]federation.ProviderConfig, bearer federation.BearerConfig) {
	t := rp.t
	logger := slog.New(slog.NewTextHandler(rp, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client := rp.client
	if client == nil {
		client = &http.Client{Transport: rp, Timeout: 10 * time.Second}
	}
	reg, err := federation.NewRegistry(federation.Config{Providers: providers},
		append([]federation.Option{federation.WithHTTPClient(client), federation.WithLogger(logger)}, rp.options...)...)
	if err != nil {
		t.Fatal(err)
	}
	rp.reg = reg
	key := make([]byte, 32)
	rand.Read(key)
	flows, err := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := federation.NewHandler(federation.HandlerConfig{
		Registry: reg, BaseURL: rp.base, Flows: flows,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
		OnLogin: func(w http.ResponseWriter, r *http.Request, l *federation.Login) error {
			rp.mu.Lock()
			rp.logins = append(rp.logins, l)
			rp.mu.Unlock()
			return nil
		},
		OnLogout: func(_ context.Context, e federation.LogoutEvent) error {
			rp.mu.Lock()
			rp.logouts = append(rp.logouts, e)
			rp.mu.Unlock()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rp.handler = h
	mux := http.NewServeMux()
	mux.Handle("/auth/oauth/", h)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "home") })
	// A host's step-up: GET /step-up/{key}?prompt=login&max_age=N starts a
	// sign-in with those options.
	mux.HandleFunc("GET /step-up/{key}", func(w http.ResponseWriter, r *http.Request) {
		maxAge, _ := strconv.Atoi(r.URL.Query().Get("max_age"))
		h.Start(w, r, r.PathValue("key"), federation.StartOptions{RedirectTo: "/",
			Prompt: r.URL.Query().Get("prompt"), MaxAge: time.Duration(maxAge) * time.Second})
	})
	bearer.Realm = "interop"
	mux.Handle("GET /api/me", federation.RequireBearer(reg, bearer)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := federation.PrincipalFrom(r.Context())
		json.NewEncoder(w).Encode(map[string]any{"provider": p.Provider, "subject": p.User.Subject, "scopes": p.Scopes})
	})))
	srv := &http.Server{Handler: mux, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError)}
	go srv.Serve(rp.ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		srv.Shutdown(ctx)
	})
}

// signIn runs a sign-in with provider key in b, submitting every form the
// provider shows with fill, until the browser is back at the RP. It returns
// the login and the paths of the forms submitted.
func (rp *relyingParty) signIn(b *browser, key string, fill map[string]string) (*federation.Login, []string) {
	return rp.signInAt(b, rp.base+"/auth/oauth/"+key+"?redirectTo=/", key, fill)
}

// signInAt is signIn from the start URL start.
func (rp *relyingParty) signInAt(b *browser, start, key string, fill map[string]string) (*federation.Login, []string) {
	t := rp.t
	t.Helper()
	before := len(rp.loginsSoFar())
	p := b.get(start)
	var forms []string
	for !p.on(rp.base) {
		f := p.firstForm()
		if f == nil {
			t.Fatalf("signing in with %s: stuck at %s (HTTP %d): %s", key, p.url.Redacted(), p.status, p.snippet())
		}
		if len(forms) == 5 {
			t.Fatalf("signing in with %s: more than 5 forms; last at %s", key, p.url.Redacted())
		}
		forms = append(forms, f.action.Path)
		p = b.submit(f, fill)
	}
	if p.status != http.StatusOK || p.url.Path != "/" || p.url.Query().Get("error") != "" {
		t.Fatalf("signing in with %s ended at %s (HTTP %d): %s", key, p.url.Redacted(), p.status, p.snippet())
	}
	logins := rp.loginsSoFar()
	if len(logins) != before+1 {
		t.Fatalf("signing in with %s: %d logins, want %d", key, len(logins), before+1)
	}
	return logins[len(logins)-1], forms
}

func (rp *relyingParty) logoutsSoFar() []federation.LogoutEvent {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return slices.Clone(rp.logouts)
}

func (rp *relyingParty) loginsSoFar() []*federation.Login {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return slices.Clone(rp.logins)
}

// callAPI calls /api/me with token and returns the status, the
// WWW-Authenticate header and the body.
func (rp *relyingParty) callAPI(token string) (int, string, string) {
	req, _ := http.NewRequest(http.MethodGet, rp.base+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rp.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), strings.TrimSpace(string(body))
}

// provider returns the registered provider for key.
func (rp *relyingParty) provider(key string) *federation.Provider {
	p, ok := rp.reg.Lookup(key)
	if !ok {
		rp.t.Fatalf("no provider %s", key)
	}
	return p
}
