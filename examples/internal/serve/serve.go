// Package serve holds what the example commands share: their logger and
// their HTTP serving loop with graceful shutdown.
package serve

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Logger returns a text logger on w at the level OIDCFED_LOG_LEVEL names
// (debug, info, warn or error; default info).
func Logger(getenv func(string) string, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmp.Or(getenv("OIDCFED_LOG_LEVEL"), "info"))); err != nil {
		return nil, fmt.Errorf("OIDCFED_LOG_LEVEL: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// Run serves h on ln until ctx is done, then shuts down gracefully within
// 10 seconds. Once serving, it writes the plain line
// "listening on http://HOST:PORT" to stderr, which tests wait for.
func Run(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, stderr io.Writer) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stderr, "listening on http://%s\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
