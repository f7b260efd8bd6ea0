// Command metrics is the example server (examples/server, the same
// contract and the same code) with OpenTelemetry: run with
// OIDCFED_METRICS=1 it serves Prometheus metrics at GET /metrics, spans the
// sign-in routes and traces every request to a provider. It is a module of
// its own, so that the core module never requires OpenTelemetry or
// Prometheus.
//
//	OIDCFED_METRICS=1 go run .   # in examples/metrics
//
// docs/observability.md lists the metrics.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/oidcfed/oidcfed/examples/internal/exampleapp"
	"github.com/oidcfed/oidcfed/federation"
	oidcfedotel "github.com/oidcfed/oidcfed/otel"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ext, err := extensions(getenv)
	if err != nil {
		return err
	}
	return exampleapp.Run(ctx, args, getenv, stdout, stderr, ext)
}

// extensions instruments the application when OIDCFED_METRICS is 1.
func extensions(getenv func(string) string) (exampleapp.Extensions, error) {
	switch getenv("OIDCFED_METRICS") {
	case "":
		return exampleapp.Extensions{}, nil
	case "1":
	default:
		return exampleapp.Extensions{}, fmt.Errorf("OIDCFED_METRICS must be 1 or unset, not %q", getenv("OIDCFED_METRICS"))
	}
	prom := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(prom))
	if err != nil {
		return exampleapp.Extensions{}, err
	}
	inst, err := oidcfedotel.New(oidcfedotel.Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))})
	if err != nil {
		return exampleapp.Extensions{}, err
	}
	return exampleapp.Extensions{
		RegistryOptions: []federation.Option{federation.WithObserver(inst.Observer()),
			federation.WithHTTPClient(inst.HTTPClient(nil))},
		WrapAuth: inst.Handler,
		Routes: func(mux *http.ServeMux, _ *federation.Registry) {
			mux.Handle("GET /metrics", promhttp.HandlerFor(prom, promhttp.HandlerOpts{}))
		},
	}, nil
}
