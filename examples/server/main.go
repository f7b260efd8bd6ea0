// Command server is the reference integration of oidcfed: a plain net/http
// server that mounts the sign-in handler under /auth/oauth and keeps
// accounts and sessions in memory. Its HTTP contract, which outside test
// suites drive, is docs/example-server.md; the application itself is
// examples/internal/exampleapp, which the nested-module examples share.
//
// Without OIDCFED_CONFIG it starts a demo OpenID Provider on a free port of
// localhost (another site than the app's 127.0.0.1), so
// `go run ./examples/server` signs a newcomer in with no set-up.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/oidcfed/oidcfed/examples/internal/exampleapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := exampleapp.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, exampleapp.Extensions{}); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}
