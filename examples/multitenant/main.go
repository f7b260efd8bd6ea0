// Command multitenant serves sign-in for many tenants, each with its own
// identity provider, configured from environment variables:
//
//	TENANT_OIDC_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET (or
//	_CLIENT_SECRET_FILE), _SCOPES, _REDIRECT_URL, _FRONTEND_URL, _PRESET,
//	_TENANT_ID, _ALLOWED_TENANTS, _HOSTED_DOMAIN, _ALLOWED_EMAIL_DOMAINS,
//	_TOKEN_ENDPOINT_AUTH_METHOD, _CLIENT_KEY_FILE, _CLIENT_KEY_ID,
//	_EMAIL_DOMAINS, _CLIENT_CERTIFICATE_FILE, _CLIENT_ASSERTION_AUDIENCE
//
// so TENANT_OIDC_ACME_ISSUER=https://acme.okta.com configures oidc:acme
// (see federation.ConfigFromEnv), and, for thousands of tenants, from a
// JSON file:
//
//	TENANTS_FILE=tenants.json   {"providers": {"<name>": {"issuer": ..., "clientId": ...}, ...}}
//
// in federation.LoadConfig's format, whose tenants are loaded on first use
// (federation.ProviderSource), not at start-up; edits to the file reach a
// loaded tenant within 5 minutes, and a new tenant within the 1 minute that
// an unknown name is remembered. OIDCFED_ADDR (default 127.0.0.1:8082) and
// OIDCFED_BASE_URL work as in examples/server; OIDCFED_LOG_LEVEL=debug logs
// every step of every sign-in.
//
// Without TENANT_OIDC_* variables or TENANTS_FILE it starts two demo OpenID Providers as
// the tenants acme and globex.
//
//	GET /                    the tenants and who is signed in
//	GET /auth/oauth/...      oidcfed's routes (sign-in at /auth/oauth/oidc:<name>)
//	GET /auth/oauth/status   every tenant's discovery and key status (JSON)
//	GET /me                  {"user": ...} of this browser's session, or 401
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/examples/internal/serve"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/session"
)

// EnvPrefix starts every tenant variable.
const EnvPrefix = "TENANT_OIDC"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "multitenant:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	log, err := serve.Logger(getenv, stderr)
	if err != nil {
		return err
	}
	cfg, err := federation.ConfigFromEnv(EnvPrefix)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cmp.Or(getenv("OIDCFED_ADDR"), "127.0.0.1:8082"))
	if err != nil {
		return err
	}
	defer ln.Close()
	base := strings.TrimSuffix(cmp.Or(getenv("OIDCFED_BASE_URL"), "http://"+ln.Addr().String()), "/")
	var opts []federation.Option
	if path := getenv("TENANTS_FILE"); path != "" {
		src, err := newFileSource(path)
		if err != nil {
			return err
		}
		opts = append(opts, federation.WithProviderSource(federation.SourceConfig{Source: src, TTL: 5 * time.Minute}))
		log.Info("tenants load on first use", "file", path, "tenants", src.Len())
	} else if len(cfg.Providers) == 0 {
		for _, name := range []string{"acme", "globex"} {
			op, pc, err := demoTenant(base, name)
			if err != nil {
				return err
			}
			defer op.Close()
			cfg.Providers[name] = pc
		}
		log.Info("demo mode: no "+EnvPrefix+"_* variables, so two demo tenants run", "open", base+"/")
	}
	h, err := newHost(cfg, base, log, opts...)
	if err != nil {
		return err
	}
	return serve.Run(ctx, ln, h.routes(), log, stderr)
}

// demoTenant starts a demo provider for the tenant name, whose sign-ins
// land on the tenant's page.
func demoTenant(base, name string) (*federationtest.Provider, federation.ProviderConfig, error) {
	op, err := federationtest.Start(federationtest.Options{})
	if err != nil {
		return nil, federation.ProviderConfig{}, err
	}
	op.SetUsers(federationtest.User{Subject: "ada-" + name, Email: "ada@" + name + ".example", EmailVerified: true, Name: "Ada of " + name})
	secret := rand.Text()
	op.AddClient(federationtest.Client{ID: name + "-app", Secret: secret, RedirectURIs: []string{base + "/auth/oauth/oidc:" + name + "/callback"}})
	return op, federation.ProviderConfig{Issuer: op.Issuer(), ClientID: name + "-app", ClientSecret: federation.Secret(secret),
		FrontendURL: "/?tenant=" + name}, nil
}

// host is the application: tenants sign in through oidcfed, and a session
// cookie names the signed-in user.
type host struct {
	reg    *federation.Registry
	auth   *federation.Handler
	log    *slog.Logger
	secure bool // cookies over https only

	mu       sync.Mutex
	sessions map[string]claims.User // by session cookie
}

const sessionCookie = "mt_session"

func newHost(cfg federation.Config, base string, log *slog.Logger, opts ...federation.Option) (*host, error) {
	reg, err := federation.NewRegistry(cfg, append([]federation.Option{federation.WithLogger(log)}, opts...)...)
	if err != nil {
		return nil, err
	}
	secure := strings.HasPrefix(base, "https://")
	key := make([]byte, 32) // per process: a restart abandons sign-ins in flight
	rand.Read(key)
	flows, err := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{key}, Secure: secure})
	if err != nil {
		return nil, err
	}
	h := &host{reg: reg, log: log, secure: secure, sessions: map[string]claims.User{}}
	h.auth, err = federation.NewHandler(federation.HandlerConfig{Registry: reg, BaseURL: base, Flows: flows,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()}, OnLogin: h.onLogin, Logger: log})
	if err != nil {
		return nil, err
	}
	for _, k := range reg.Keys() {
		log.Info("tenant", "provider", k, "redirect_uri", h.auth.RedirectURI(k))
	}
	return h, nil
}

func (h *host) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/auth/oauth/", h.auth)
	mux.HandleFunc("GET /auth/oauth/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"providers": h.reg.Status()})
	})
	mux.HandleFunc("GET /me", h.me)
	mux.HandleFunc("GET /{$}", h.home)
	return mux
}

func (h *host) onLogin(w http.ResponseWriter, r *http.Request, l *federation.Login) error {
	id := rand.Text()
	h.mu.Lock()
	h.sessions[id] = l.Result.User
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: h.secure})
	return nil
}

// user returns the session's user, or nil.
func (h *host) user(r *http.Request) *claims.User {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if u, ok := h.sessions[c.Value]; ok {
		return &u
	}
	return nil
}

func (h *host) me(w http.ResponseWriter, r *http.Request) {
	u := h.user(r)
	if u == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]*claims.User{"user": u})
}

var page = template.Must(template.New("home").Parse(`<!doctype html>
<title>oidcfed multi-tenant example</title>
{{if .User}}<p>Signed in as {{.User.Name}} ({{.User.Email}}) through {{.User.Provider}}.</p>{{end}}
{{if .Tenant}}<p>Welcome to the {{.Tenant}} tenant.</p>{{end}}
<p>Tenants loaded:</p>
<ul>{{range .Keys}}<li><a href="/auth/oauth/{{.}}">Sign in with {{.}}</a></li>{{end}}</ul>
<p><a href="/auth/oauth/status">Provider status</a></p>`))

func (h *host) home(w http.ResponseWriter, r *http.Request) {
	u := h.user(r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	page.Execute(w, map[string]any{"User": u, "Tenant": r.URL.Query().Get("tenant"), "Keys": h.reg.Keys()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
