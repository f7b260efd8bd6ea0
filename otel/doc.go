// Package oidcfedotel turns oidcfed's [federation.Observer] events into
// OpenTelemetry metrics and span events, and adds spans for the sign-in
// routes and for every request to a provider, with W3C trace context
// propagated on them. It is a module of its own so that the core module
// never requires OpenTelemetry.
//
//	inst, err := oidcfedotel.New(oidcfedotel.Config{}) // the global providers
//	reg, err := federation.NewRegistry(cfg,
//		federation.WithObserver(inst.Observer()),
//		federation.WithHTTPClient(inst.HTTPClient(nil)))
//	h, err := federation.NewHandler(federation.HandlerConfig{Registry: reg /* … */})
//	mux.Handle("/auth/oauth/", inst.Handler(h))
//
// Metric names, units and attributes are listed in docs/observability.md.
// Attributes have bounded cardinality: the registry key of a configured
// provider (or "none"), a step, a phase, an outcome, an error code; never
// a token's issuer, a user or a token.
package oidcfedotel
