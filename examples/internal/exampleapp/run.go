// Package exampleapp is the example server's application: its routes,
// sessions and accounts, its demo provider and its configuration from the
// environment (docs/example-server.md). examples/server runs it as it is;
// the nested-module examples run it with extensions (metrics), so that every
// example serves the same contract from one copy of the code.
package exampleapp

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/oidcfed/oidcfed/examples/internal/serve"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/session"
)

// Extensions add to the application without changing its contract.
type Extensions struct {
	// RegistryOptions are added to the registry's (an Observer, an
	// instrumented HTTP client).
	RegistryOptions []federation.Option
	// WrapAuth, when set, wraps the handler mounted under /auth/oauth/.
	WrapAuth func(http.Handler) http.Handler
	// Routes, when set, adds routes to the application's mux.
	Routes func(mux *http.ServeMux, reg *federation.Registry)
	// Sessions, Replay and Accounts, when set, are stores that several
	// instances share: host sessions, the guard that makes flows and
	// logout tokens single use, and the accounts. Default: in memory. With
	// any of them, demo mode is refused: it would start a provider per
	// instance.
	Sessions session.HostStore
	Replay   session.ReplayGuard
	Accounts federation.FullAccountStore
	// Values keeps dynamically registered clients (sealed with the session
	// key) and request objects served by reference for every instance.
	Values session.ValueStore
}

// shared reports whether any store is shared between instances.
func (e Extensions) shared() bool {
	return e.Sessions != nil || e.Replay != nil || e.Accounts != nil || e.Values != nil
}

// ErrDemoShared refuses demo mode with shared stores.
var ErrDemoShared = errors.New("demo mode starts its own OpenID Provider in every instance, so it cannot run with " +
	"shared stores (Redis, a database): set OIDCFED_CONFIG to one provider that every instance uses")

// demoUsers are the demo provider's accounts: one with a verified email,
// one without.
var demoUsers = []federationtest.User{
	{Subject: "ada", Email: "ada@example.com", EmailVerified: true, Name: "Ada Lovelace", GivenName: "Ada",
		FamilyName: "Lovelace", PreferredUsername: "ada", Groups: []string{"admins"}},
	{Subject: "bob", Email: "bob@example.com", EmailVerified: false, Name: "Bob Unverified", GivenName: "Bob",
		FamilyName: "Unverified", PreferredUsername: "bob"},
}

// ErrCheckFailed is -check's verdict when a provider has problems.
var ErrCheckFailed = errors.New("check: some providers have problems (see above)")

// Run starts the server and blocks until ctx is done; then it shuts down
// gracefully. Configuration errors return before anything listens. With
// -check it checks every provider instead, and returns ErrCheckFailed when
// one has problems.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ext Extensions) error {
	flags := flag.NewFlagSet("server", flag.ContinueOnError)
	flags.SetOutput(stderr)
	check := flags.Bool("check", false, "check every configured provider (discovery, keys, config against its metadata), print the reports and exit: non-zero on problems")
	if err := flags.Parse(args); err != nil {
		return err
	}
	log, err := serve.Logger(getenv, stderr)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	key, err := sessionKey(getenv, log)
	if err != nil {
		return err
	}
	addr := cmp.Or(getenv("OIDCFED_ADDR"), "127.0.0.1:8080")
	var ln net.Listener
	if !*check {
		if ln, err = net.Listen("tcp", addr); err != nil {
			return err
		}
		defer ln.Close()
		addr = ln.Addr().String()
	}
	base := strings.TrimSuffix(cmp.Or(getenv("OIDCFED_BASE_URL"), "http://"+addr), "/")

	if cfg == nil && ext.shared() {
		return ErrDemoShared
	}
	if cfg == nil { // demo mode
		op, demo, err := startDemo(base)
		if err != nil {
			return err
		}
		defer op.Close()
		cfg = demo
		if !*check {
			log.Info("demo mode: no OIDCFED_CONFIG, so a demo OpenID Provider runs at "+op.Issuer(), "open", base+"/")
		}
	}

	app, err := newApp(*cfg, base, key, log, ext)
	if err != nil {
		return err
	}
	if *check {
		ok := true
		for _, rep := range app.auth.Check(ctx) {
			fmt.Fprint(stdout, rep)
			ok = ok && rep.OK
		}
		if !ok {
			return ErrCheckFailed
		}
		return nil
	}
	return serve.Run(ctx, ln, app.routes(ext), log, stderr)
}

// startDemo starts the demo OpenID Provider with its users and clients,
// and returns the config that registers it as oidc:demo.
func startDemo(base string) (*federationtest.Provider, *federation.Config, error) {
	// On localhost, another site than the app on 127.0.0.1: the flow
	// cookie's SameSite rule is then exercised as with a real provider.
	op, err := federationtest.Start(federationtest.Options{LoginPage: true, Addr: "localhost:0",
		TokenAuthMethods: []string{"client_secret_basic", "none"}})
	if err != nil {
		return nil, nil, err
	}
	op.SetUsers(demoUsers...)
	secret := rand.Text()
	op.AddClient(federationtest.Client{ID: "oidcfed-demo", Secret: secret, RedirectURIs: []string{
		base + "/auth/oauth/oidc:demo/callback", base + "/auth/oauth/link/oidc:demo/callback"},
		BackchannelLogoutURI: base + "/auth/oauth/oidc:demo/backchannel-logout"})
	// examples/cli signs in as this public client, on a loopback
	// redirect (any port) or with the device flow.
	op.AddClient(federationtest.Client{ID: "oidcfed-cli", RedirectURIs: []string{"http://127.0.0.1/callback"}})
	return op, &federation.Config{Providers: map[string]federation.ProviderConfig{
		"demo": {Issuer: op.Issuer(), ClientID: "oidcfed-demo", ClientSecret: federation.Secret(secret),
			TokenEndpointAuthMethod: "client_secret_basic", PublicClientID: "oidcfed-cli"}}}, nil
}

// loadConfig reads OIDCFED_CONFIG; nil means demo mode.
func loadConfig(getenv func(string) string) (*federation.Config, error) {
	path := getenv("OIDCFED_CONFIG")
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("OIDCFED_CONFIG: %w", err)
	}
	defer f.Close()
	cfg, err := federation.LoadConfig(f)
	if err != nil {
		return nil, fmt.Errorf("OIDCFED_CONFIG %s:\n%w", path, err)
	}
	return &cfg, nil
}

// sessionKey decodes OIDCFED_SESSION_KEY, or makes a random key that lives
// as long as the process.
func sessionKey(getenv func(string) string, log *slog.Logger) ([]byte, error) {
	s := getenv("OIDCFED_SESSION_KEY")
	if s == "" {
		log.Warn("OIDCFED_SESSION_KEY is not set: using a random key, so sign-ins in progress do not survive a restart")
		key := make([]byte, 32)
		rand.Read(key)
		return key, nil
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		key, err = base64.RawURLEncoding.DecodeString(s)
	}
	if err != nil || len(key) != 32 {
		return nil, errors.New("OIDCFED_SESSION_KEY must be the base64 of 32 random bytes (for example: openssl rand -base64 32)")
	}
	return key, nil
}

// newApp builds the library's registry and handler and the host's sessions.
func newApp(cfg federation.Config, base string, key []byte, log *slog.Logger, ext Extensions) (*app, error) {
	opts := append([]federation.Option{federation.WithLogger(log)}, ext.RegistryOptions...)
	if ext.Replay != nil {
		opts = append(opts, federation.WithReplayGuard(ext.Replay))
	}
	if ext.Values != nil {
		opts = append(opts, federation.WithValueStore(ext.Values, key))
	}
	reg, err := federation.NewRegistry(cfg, opts...)
	if err != nil {
		return nil, err
	}
	secure := strings.HasPrefix(base, "https://")
	flows, err := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{key}, Secure: secure, Replay: ext.Replay})
	if err != nil {
		return nil, err
	}
	sess, err := newSessions(key, secure, ext.Sessions, log)
	if err != nil {
		return nil, err
	}
	var accounts federation.FullAccountStore = federation.NewMemoryAccounts()
	if ext.Accounts != nil {
		accounts = ext.Accounts
	}
	a := &app{reg: reg, base: base, accounts: accounts, sessions: sess, log: log}
	a.auth, err = federation.NewHandler(federation.HandlerConfig{Registry: reg, BaseURL: base, Flows: flows,
		Accounts: federation.LinkByVerifiedEmail{Store: a.accounts}, OnLogin: a.onLogin, CurrentAccount: a.currentAccount,
		OnLogout: a.onLogout, Logger: log})
	if err != nil {
		return nil, err
	}
	a.cop = http.NewCrossOriginProtection()
	if err := a.cop.AddTrustedOrigin(base); err != nil {
		return nil, fmt.Errorf("OIDCFED_BASE_URL: %w", err)
	}
	return a, nil
}
