package oidcfedotel_test

import (
	"net/http"

	"github.com/oidcfed/oidcfed/federation"
	oidcfedotel "github.com/oidcfed/oidcfed/otel"
)

// wire is docs/observability.md's wiring, compiled here (the core's
// TestDocsCode checks that the page shows it verbatim).
func wire(mux *http.ServeMux, cfg federation.Config) error {
	// observe:begin
	inst, err := oidcfedotel.New(oidcfedotel.Config{}) // the global providers, or set MeterProvider, TracerProvider, Propagator
	if err != nil {
		return err
	}
	reg, err := federation.NewRegistry(cfg,
		federation.WithObserver(inst.Observer()),
		federation.WithHTTPClient(inst.HTTPClient(nil)))
	if err != nil {
		return err
	}
	h, err := federation.NewHandler(federation.HandlerConfig{Registry: reg /* BaseURL, Flows, Accounts, OnLogin… */})
	if err != nil {
		return err
	}
	mux.Handle("/auth/oauth/", inst.Handler(h))
	mux.Handle("GET /readyz", federation.Readiness(reg))
	// observe:end
	return nil
}

var _ = wire
