// Command cli signs a command-line user in through an oidcfed server's
// providers, knowing only the server's URL.
//
//	go run ./examples/server          # in one terminal: the demo IdP
//	go run ./examples/cli -server http://127.0.0.1:8080            # browser, loopback redirect
//	go run ./examples/cli -server http://127.0.0.1:8080 -device    # device code, no browser here
//
// It reads GET /auth/oauth/discovery for the provider's issuer and public
// client ID, then runs either the loopback-redirect login (RFC 8252) or the
// device authorization grant (RFC 8628) as that public client, and prints
// the verified user as JSON.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/federation"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "cli:", err)
		os.Exit(1)
	}
}

// run is the command; tests call it with their own arguments and output.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cli", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://127.0.0.1:8080", "the oidcfed server's URL")
	mount := fs.String("mount", "/auth/oauth", "where the server mounts oidcfed")
	key := fs.String("provider", "", "provider key, e.g. oidc:demo (default: the first with a public client)")
	device := fs.Bool("device", false, "use the device flow instead of a browser on this machine")
	port := fs.Int("port", 0, "loopback port for the browser login (0: any free port)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cp, err := pickProvider(ctx, strings.TrimSuffix(*server, "/")+*mount+"/discovery", *key)
	if err != nil {
		return err
	}
	reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		strings.TrimPrefix(cp.Key, "oidc:"): {Issuer: cp.Issuer, ClientID: cp.ClientID, TokenEndpointAuthMethod: "none", Scopes: cp.Scopes},
	}})
	if err != nil {
		return err
	}
	p, _ := reg.Lookup(cp.Key)

	var res *federation.Result
	if *device {
		d, err := p.StartDevice(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "To sign in, open %s and enter the code %s\n", d.VerificationURI, d.UserCode)
		if d.VerificationURIComplete != "" {
			fmt.Fprintf(stderr, "or open %s\n", d.VerificationURIComplete)
		}
		fmt.Fprintf(stderr, "Waiting (the code expires at %s)...\n", d.ExpiresAt.Local().Format(time.Kitchen))
		res, err = p.PollDevice(ctx, d)
		if err != nil {
			return err
		}
	} else {
		res, err = p.LoopbackLogin(ctx, federation.LoopbackConfig{Port: *port, Open: func(u string) error {
			_, err := fmt.Fprintf(stderr, "Open this URL in your browser to sign in:\n%s\n", u)
			return err
		}})
		if err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"user": res.User, "accessTokenExpiry": res.Tokens.Expiry})
}

// pickProvider reads the server's discovery document and returns the
// provider named key, or the first one a CLI can use.
func pickProvider(ctx context.Context, url, key string) (federation.ClientProvider, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return federation.ClientProvider{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return federation.ClientProvider{}, fmt.Errorf("reading the server's discovery document: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return federation.ClientProvider{}, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	var doc federation.ClientDiscovery
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return federation.ClientProvider{}, fmt.Errorf("GET %s: %w", url, err)
	}
	var usable []string
	for _, cp := range doc.Providers {
		if cp.ClientID == "" || cp.Error != "" {
			continue
		}
		if key == "" || cp.Key == key {
			return cp, nil
		}
		usable = append(usable, cp.Key)
	}
	if key != "" {
		return federation.ClientProvider{}, fmt.Errorf("provider %s has no public client at %s; usable: %v", key, url, usable)
	}
	return federation.ClientProvider{}, errors.New("the server lists no provider with a public client (publicClientId)")
}
