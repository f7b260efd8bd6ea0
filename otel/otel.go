package oidcfedotel

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/oidcfed/oidcfed/federation"
)

// ScopeName is the instrumentation scope of every meter and tracer here.
const ScopeName = "github.com/oidcfed/oidcfed/otel"

// Config configures [New]. Nil fields take the global providers of
// go.opentelemetry.io/otel.
type Config struct {
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
}

// Instrumentation is oidcfed's OpenTelemetry instrumentation: an Observer
// for the registry, a handler wrapper for the routes and a transport for
// the requests to providers.
type Instrumentation struct {
	cfg Config

	signin      metric.Float64Histogram // oidcfed.signin.duration
	step        metric.Float64Histogram // oidcfed.signin.step.duration
	bearer      metric.Int64Counter     // oidcfed.bearer.verifications
	bearerTime  metric.Float64Histogram // oidcfed.bearer.duration
	fetches     metric.Int64Counter     // oidcfed.provider.fetches
	fetchTime   metric.Float64Histogram // oidcfed.provider.fetch.duration
	fetchSize   metric.Int64Histogram   // oidcfed.provider.fetch.size
	logouts     metric.Int64Counter     // oidcfed.backchannel_logouts
	refreshes   metric.Int64Counter     // oidcfed.refreshes
	refreshTime metric.Float64Histogram // oidcfed.refresh.duration
	polls       metric.Int64Counter     // oidcfed.device.polls
}

// Attribute keys. error.type follows the OpenTelemetry semantic
// conventions; the others are oidcfed's own.
const (
	AttrProvider   = attribute.Key("oidcfed.provider")    // registry key, or "none"
	AttrPhase      = attribute.Key("oidcfed.phase")       // start or callback
	AttrMode       = attribute.Key("oidcfed.mode")        // sign-in, link or upgrade
	AttrOutcome    = attribute.Key("oidcfed.outcome")     // signed-in, created or linked
	AttrStep       = attribute.Key("oidcfed.step")        // discovery, token, id_token…
	AttrCacheHit   = attribute.Key("oidcfed.cache_hit")   // a bearer token from the cache
	AttrKind       = attribute.Key("oidcfed.fetch.kind")  // discovery or jwks
	AttrStale      = attribute.Key("oidcfed.fetch.stale") // failed, served stale
	AttrUnknownKey = attribute.Key("oidcfed.fetch.unknown_key")
	AttrStatus     = attribute.Key("http.response.status_code")
	AttrResult     = attribute.Key("oidcfed.poll.result")
	AttrErrorType  = attribute.Key("error.type") // the oidcfed error code
)

// New builds the instruments.
func New(cfg Config) (*Instrumentation, error) {
	if cfg.MeterProvider == nil {
		cfg.MeterProvider = otel.GetMeterProvider()
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = otel.GetTracerProvider()
	}
	if cfg.Propagator == nil {
		cfg.Propagator = otel.GetTextMapPropagator()
	}
	m := cfg.MeterProvider.Meter(ScopeName)
	i := &Instrumentation{cfg: cfg}
	var errs []error
	hist := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc))
		errs = append(errs, err)
		return h
	}
	count := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	i.signin = hist("oidcfed.signin.duration", "Time the start and callback routes of a sign-in or link took.")
	i.step = hist("oidcfed.signin.step.duration", "Time each step of a callback took.")
	i.bearer = count("oidcfed.bearer.verifications", "{verification}", "Bearer tokens verified or refused.")
	i.bearerTime = hist("oidcfed.bearer.duration", "Time a bearer verification past the cache took.")
	i.fetches = count("oidcfed.provider.fetches", "{fetch}", "Discovery documents and JWKS fetched.")
	i.fetchTime = hist("oidcfed.provider.fetch.duration", "Time a discovery or JWKS fetch took.")
	size, err := m.Int64Histogram("oidcfed.provider.fetch.size", metric.WithUnit("By"),
		metric.WithDescription("Size of a fetched discovery document or JWKS."))
	i.fetchSize, errs = size, append(errs, err)
	i.logouts = count("oidcfed.backchannel_logouts", "{request}", "Back-channel logout requests answered.")
	i.refreshes = count("oidcfed.refreshes", "{refresh}", "Token refreshes.")
	i.refreshTime = hist("oidcfed.refresh.duration", "Time a token refresh took.")
	i.polls = count("oidcfed.device.polls", "{poll}", "Device-flow token polls.")
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return i, nil
}

// provider is the bounded value of AttrProvider.
func provider(key string) attribute.KeyValue {
	if key == "" {
		return AttrProvider.String("none")
	}
	return AttrProvider.String(key)
}

// errorType is AttrErrorType, or nothing on success.
func errorType(attrs []attribute.KeyValue, code federation.Code) []attribute.KeyValue {
	if code == "" {
		return attrs
	}
	return append(attrs, AttrErrorType.String(string(code)))
}

// Observer returns the federation.Observer that records the metrics and
// adds the flow's attributes and steps to the request's span.
func (i *Instrumentation) Observer() federation.Observer {
	return federation.Observer{
		Flow:       i.flow,
		Step:       i.stepDone,
		Bearer:     i.bearerDone,
		Fetch:      i.fetchDone,
		Logout:     i.logoutDone,
		Refresh:    i.refreshDone,
		DevicePoll: i.pollDone,
	}
}

func (i *Instrumentation) flow(ctx context.Context, e federation.FlowEvent) {
	attrs := []attribute.KeyValue{provider(e.Provider), AttrPhase.String(e.Phase), AttrMode.String(e.Mode.String())}
	if e.Phase == federation.PhaseCallback && e.Code == "" {
		attrs = append(attrs, AttrOutcome.String(e.Outcome.String()))
	}
	attrs = errorType(attrs, e.Code)
	i.signin.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(attrs...))
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attrs...)
		if e.Code != "" {
			span.SetStatus(codes.Error, string(e.Code))
		}
	}
}

func (i *Instrumentation) stepDone(ctx context.Context, e federation.StepEvent) {
	attrs := errorType([]attribute.KeyValue{provider(e.Provider), AttrStep.String(e.Step)}, e.Code)
	i.step.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(attrs...))
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("oidcfed.step", trace.WithAttributes(append(attrs,
			attribute.Float64("oidcfed.step.duration_ms", float64(e.Duration)/float64(time.Millisecond)))...))
	}
}

func (i *Instrumentation) bearerDone(ctx context.Context, e federation.BearerEvent) {
	attrs := errorType([]attribute.KeyValue{provider(e.Provider), AttrCacheHit.Bool(e.CacheHit)}, e.Code)
	i.bearer.Add(ctx, 1, metric.WithAttributes(attrs...))
	if !e.CacheHit && e.Duration > 0 {
		i.bearerTime.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(attrs...))
	}
}

func (i *Instrumentation) fetchDone(ctx context.Context, e federation.FetchEvent) {
	attrs := []attribute.KeyValue{provider(e.Provider), AttrKind.String(e.Kind), AttrStatus.Int(e.Status),
		AttrStale.Bool(e.Stale), AttrUnknownKey.Bool(e.UnknownKey)}
	if e.Failed {
		attrs = append(attrs, AttrErrorType.String(fetchError(e.Status)))
	}
	opt := metric.WithAttributes(attrs...)
	i.fetches.Add(ctx, 1, opt)
	i.fetchTime.Record(ctx, e.Duration.Seconds(), opt)
	if e.Bytes > 0 {
		i.fetchSize.Record(ctx, int64(e.Bytes), opt)
	}
}

// fetchError is a bounded error.type for a failed fetch.
func fetchError(status int) string {
	switch {
	case status == 0:
		return "unreachable"
	case status != http.StatusOK:
		return strconv.Itoa(status)
	}
	return "invalid_document"
}

func (i *Instrumentation) logoutDone(ctx context.Context, e federation.LogoutObserved) {
	i.logouts.Add(ctx, 1, metric.WithAttributes(errorType([]attribute.KeyValue{provider(e.Provider)}, e.Code)...))
}

func (i *Instrumentation) refreshDone(ctx context.Context, e federation.RefreshEvent) {
	opt := metric.WithAttributes(errorType([]attribute.KeyValue{provider(e.Provider)}, e.Code)...)
	i.refreshes.Add(ctx, 1, opt)
	i.refreshTime.Record(ctx, e.Duration.Seconds(), opt)
}

func (i *Instrumentation) pollDone(ctx context.Context, e federation.DevicePollEvent) {
	attrs := errorType([]attribute.KeyValue{provider(e.Provider), AttrResult.String(e.Result)}, e.Code)
	i.polls.Add(ctx, 1, metric.WithAttributes(attrs...))
}

// Handler wraps the sign-in handler (mounted at mount, "/auth/oauth/" by
// default) with a server span per request, named after the route
// ("oidcfed start", "oidcfed callback"…) rather than the path, whose
// provider name comes from the request. The span carries the flow's
// attributes and steps when the registry has the Observer.
func (i *Instrumentation) Handler(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "oidcfed",
		otelhttp.WithTracerProvider(i.cfg.TracerProvider), otelhttp.WithMeterProvider(i.cfg.MeterProvider),
		otelhttp.WithPropagators(i.cfg.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "oidcfed " + routeName(r.URL.Path) }))
}

// routeName names a route under the mount by its shape.
func routeName(path string) string {
	i := strings.Index(path, "/oidc:")
	if i < 0 {
		if strings.HasSuffix(path, "/discovery") {
			return "discovery"
		}
		return "other"
	}
	prefix, rest := path[:i], path[i+1:]
	link := strings.HasSuffix(prefix, "/link")
	_, action, _ := strings.Cut(rest, "/")
	switch {
	case action == "" && link:
		return "link start"
	case action == "":
		return "start"
	case action == "callback" && link:
		return "link callback"
	case action == "callback":
		return "callback"
	case action == "backchannel-logout":
		return "backchannel logout"
	}
	return "other"
}

// Transport wraps base (nil: http.DefaultTransport) with a client span for
// every request to a provider, and puts the W3C trace context of the
// request's span on it (traceparent, tracestate).
func (i *Instrumentation) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(i.cfg.TracerProvider), otelhttp.WithMeterProvider(i.cfg.MeterProvider),
		otelhttp.WithPropagators(i.cfg.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "oidcfed provider " + r.Method }))
}

// HTTPClient returns a copy of c (nil: a client with a 10 s timeout) whose
// transport is [Instrumentation.Transport], for federation.WithHTTPClient.
func (i *Instrumentation) HTTPClient(c *http.Client) *http.Client {
	cp := http.Client{Timeout: 10 * time.Second}
	if c != nil {
		cp = *c
	}
	cp.Transport = i.Transport(cp.Transport)
	return &cp
}
