// Command api is an API-only server: no browser sign-in, just
// "Authorization: Bearer" access tokens of the configured providers,
// verified by oidcfed's middleware.
//
//	GET /api/whoami  any valid token: {"user", "scopes", "roles", "clientId", "expiresAt"}
//	GET /api/notes   a token with the scope notes:read
//
// Configuration, from the environment:
//
//	OIDCFED_CONFIG  a config file (the format of federation.LoadConfig). An
//	                API needs no client secret: set "tokenEndpointAuthMethod":
//	                "none" and list the accepted token audiences in "audiences".
//	OIDCFED_ADDR    listen address; default 127.0.0.1:8081
//
// Without OIDCFED_CONFIG it starts a demo OpenID Provider and prints a
// token to try with curl.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oidcfed/oidcfed/examples/internal/serve"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, demo, err := config(getenv)
	if err != nil {
		return err
	}
	if demo != nil {
		defer demo.Close()
	}
	reg, err := federation.NewRegistry(cfg, federation.WithLogger(log))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/whoami", federation.RequireBearer(reg, federation.BearerConfig{Realm: "oidcfed-api"})(http.HandlerFunc(whoami)))
	mux.Handle("GET /api/notes", federation.RequireBearer(reg, federation.BearerConfig{Realm: "oidcfed-api",
		Scopes: []string{"notes:read"}})(http.HandlerFunc(notes)))

	addr := getenv("OIDCFED_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8081"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if demo != nil {
		printDemoToken(stderr, demo, ln.Addr().String())
	}
	return serve.Run(ctx, ln, mux, log, stderr)
}

// config reads OIDCFED_CONFIG, or starts the demo provider (returned, for
// the caller to close).
func config(getenv func(string) string) (federation.Config, *federationtest.Provider, error) {
	if path := getenv("OIDCFED_CONFIG"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return federation.Config{}, nil, fmt.Errorf("OIDCFED_CONFIG: %w", err)
		}
		defer f.Close()
		cfg, err := federation.LoadConfig(f)
		if err != nil {
			return federation.Config{}, nil, fmt.Errorf("OIDCFED_CONFIG %s:\n%w", path, err)
		}
		return cfg, nil, nil
	}
	op, err := federationtest.Start(federationtest.Options{})
	if err != nil {
		return federation.Config{}, nil, err
	}
	return federation.Config{Providers: map[string]federation.ProviderConfig{"demo": {Issuer: op.Issuer(),
		ClientID: "oidcfed-demo-cli", TokenEndpointAuthMethod: "none", Audiences: []string{"oidcfed-demo-api"}}}}, op, nil
}

// printDemoToken shows a one-hour token of the demo provider and how to use it.
func printDemoToken(w io.Writer, op *federationtest.Provider, addr string) {
	now := time.Now()
	tok := op.SignJWT("at+jwt", map[string]any{"iss": op.Issuer(), "sub": "ada", "aud": "oidcfed-demo-api",
		"client_id": "oidcfed-demo-cli", "scope": "notes:read", "email": "ada@example.com", "email_verified": true,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	fmt.Fprintf(w, "demo mode: a demo OpenID Provider runs at %s. Try, for the next hour:\n  curl -H 'Authorization: Bearer %s' http://%s/api/whoami\n", op.Issuer(), tok, addr)
}

func whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := federation.PrincipalFrom(r.Context())
	writeJSON(w, map[string]any{"user": p.User, "scopes": p.Scopes, "roles": p.Roles, "clientId": p.ClientID, "expiresAt": p.Expiry})
}

func notes(w http.ResponseWriter, r *http.Request) {
	p, _ := federation.PrincipalFrom(r.Context())
	writeJSON(w, map[string]any{"owner": p.User.Subject, "notes": []string{"buy milk", "ship oidcfed"}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}
