package oidcfedotel_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	oidcfedotel "github.com/oidcfed/oidcfed/otel"
	"github.com/oidcfed/oidcfed/session"
)

// rig is a relying party instrumented with in-memory exporters, and the
// test provider it signs in with.
type rig struct {
	op     *federationtest.Provider
	reg    *federation.Registry
	srv    *httptest.Server
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	sent   *sentHeaders
	logins []*federation.Login
}

// sentHeaders records the headers of every request sent to a provider.
type sentHeaders struct {
	mu   sync.Mutex
	reqs map[string][]http.Header // by path
	next http.RoundTripper
}

func (s *sentHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.reqs[r.URL.Path] = append(s.reqs[r.URL.Path], r.Header.Clone())
	s.mu.Unlock()
	return s.next.RoundTrip(r)
}

func newRig(t *testing.T) *rig {
	t.Helper()
	rg := &rig{op: federationtest.New(t, federationtest.Options{}), spans: tracetest.NewSpanRecorder(),
		reader: sdkmetric.NewManualReader(), sent: &sentHeaders{reqs: map[string][]http.Header{}, next: http.DefaultTransport}}
	rg.op.AddUser(federationtest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	inst, err := oidcfedotel.New(oidcfedotel.Config{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rg.spans)),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(rg.reader)),
		Propagator:     propagation.TraceContext{},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	rg.srv = httptest.NewServer(mux)
	t.Cleanup(rg.srv.Close)
	rg.op.AddClient(federationtest.Client{ID: "app", Secret: "s3cret-value",
		RedirectURIs: []string{rg.srv.URL + "/auth/oauth/oidc:acme/callback"}})
	rg.reg, err = federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
		"acme": {Issuer: rg.op.Issuer(), ClientID: "app", ClientSecret: "s3cret-value", Audiences: []string{"api"}}}},
		federation.WithObserver(inst.Observer()),
		federation.WithHTTPClient(inst.HTTPClient(&http.Client{Transport: rg.sent})))
	if err != nil {
		t.Fatal(err)
	}
	flows, _ := session.NewCookieStore(session.CookieConfig{Keys: [][]byte{make([]byte, 32)}})
	h, err := federation.NewHandler(federation.HandlerConfig{Registry: rg.reg, BaseURL: rg.srv.URL, Flows: flows,
		Accounts: federation.SignInOrCreate{Store: federation.NewMemoryAccounts()},
		OnLogin: func(_ http.ResponseWriter, _ *http.Request, l *federation.Login) error {
			rg.logins = append(rg.logins, l)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/auth/oauth/", inst.Handler(h))
	return rg
}

// signIn runs a sign-in; it returns where the callback sent the browser.
func (rg *rig) signIn(t *testing.T) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var last *url.URL
	c := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), rg.srv.URL) && !strings.HasPrefix(r.URL.Path, "/auth/oauth/") {
			last = r.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(rg.srv.URL + "/auth/oauth/oidc:acme")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return last
}

// points returns the data points of metric name, as attribute sets.
func (rg *rig) points(t *testing.T, name string) []attribute.Set {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := rg.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var out []attribute.Set
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, p.Attributes)
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					out = append(out, p.Attributes)
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, p.Attributes)
				}
			}
		}
	}
	return out
}

// has reports whether one of sets holds every pair of want.
func has(sets []attribute.Set, want ...attribute.KeyValue) bool {
	for _, s := range sets {
		ok := true
		for _, kv := range want {
			if v, found := s.Value(kv.Key); !found || v != kv.Value {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func TestSignInSpansAndMetrics(t *testing.T) {
	rg := newRig(t)
	if loc := rg.signIn(t); loc == nil || loc.Query().Has("error") || len(rg.logins) != 1 {
		t.Fatalf("sign-in ended at %v", loc)
	}
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rg.spans.Ended() {
		byName[s.Name()] = s
	}
	start, callback, token := byName["oidcfed start"], byName["oidcfed callback"], byName["oidcfed provider POST"]
	if start == nil || callback == nil || token == nil {
		t.Fatalf("spans %v, want oidcfed start, oidcfed callback and the token request", keys(byName))
	}
	if token.Parent().SpanID() != callback.SpanContext().SpanID() {
		t.Errorf("the token request's span is not a child of the callback's")
	}
	attrs := attribute.NewSet(callback.Attributes()...)
	for _, kv := range []attribute.KeyValue{oidcfedotel.AttrProvider.String("oidc:acme"), oidcfedotel.AttrPhase.String("callback"),
		oidcfedotel.AttrOutcome.String("created"), oidcfedotel.AttrMode.String("sign-in")} {
		if v, ok := attrs.Value(kv.Key); !ok || v != kv.Value {
			t.Errorf("callback span %s = %v, want %v", kv.Key, v.Emit(), kv.Value.Emit())
		}
	}
	var steps []string
	for _, e := range callback.Events() {
		if e.Name == "oidcfed.step" {
			s := attribute.NewSet(e.Attributes...)
			v, _ := s.Value(oidcfedotel.AttrStep)
			steps = append(steps, v.AsString())
		}
	}
	if strings.Join(steps, ",") != "discovery,token,id_token,accounts,on_login" {
		t.Errorf("callback span steps %q", steps)
	}

	// The W3C trace context of the callback reached the provider's token endpoint.
	rg.sent.mu.Lock()
	tokenReqs := rg.sent.reqs["/token"]
	rg.sent.mu.Unlock()
	if len(tokenReqs) != 1 {
		t.Fatalf("%d token requests seen", len(tokenReqs))
	}
	tp := tokenReqs[0].Get("traceparent")
	if want := callback.SpanContext().TraceID().String(); !strings.Contains(tp, want) {
		t.Errorf("traceparent %q on the token request, want the callback's trace %s", tp, want)
	}

	signins := rg.points(t, "oidcfed.signin.duration")
	if !has(signins, oidcfedotel.AttrPhase.String("callback"), oidcfedotel.AttrOutcome.String("created"), oidcfedotel.AttrProvider.String("oidc:acme")) ||
		!has(signins, oidcfedotel.AttrPhase.String("start"), oidcfedotel.AttrProvider.String("oidc:acme")) {
		t.Errorf("oidcfed.signin.duration points %v", signins)
	}
	fetches := rg.points(t, "oidcfed.provider.fetches")
	for _, kind := range []string{"discovery", "jwks"} {
		if !has(fetches, oidcfedotel.AttrKind.String(kind), oidcfedotel.AttrStatus.Int(200), oidcfedotel.AttrProvider.String("oidc:acme")) {
			t.Errorf("no %s fetch in %v", kind, fetches)
		}
	}
	if steps := rg.points(t, "oidcfed.signin.step.duration"); !has(steps, oidcfedotel.AttrStep.String("token")) {
		t.Errorf("oidcfed.signin.step.duration points %v", steps)
	}
}

func TestFailedSignInMetrics(t *testing.T) {
	rg := newRig(t)
	resp, err := http.Get(rg.srv.URL + "/auth/oauth/oidc:acme/callback?state=nope&code=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	rg.op.Misbehave(federationtest.Misbehavior{AuthorizationResponse: func(q url.Values) {
		q.Del("code")
		q.Set("error", "access_denied")
	}})
	rg.signIn(t)
	rg.op.Misbehave(federationtest.Misbehavior{IDTokenClaims: func(c map[string]any) { c["aud"] = "someone-else" }})
	rg.signIn(t)
	signins := rg.points(t, "oidcfed.signin.duration")
	for _, code := range []string{"invalid_state", "access_denied", "invalid_token"} {
		if !has(signins, oidcfedotel.AttrPhase.String("callback"), oidcfedotel.AttrErrorType.String(code)) {
			t.Errorf("no failed callback with error.type %s in %v", code, signins)
		}
	}
	var failed int
	for _, s := range rg.spans.Ended() {
		if s.Name() == "oidcfed callback" && s.Status().Code.String() == "Error" {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("%d callback spans with error status, want 3", failed)
	}
}

func TestBearerMetricsAndCardinality(t *testing.T) {
	rg := newRig(t)
	b, err := federation.NewBearer(rg.reg, federation.BearerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token := func(iss string) string {
		return rg.op.SignJWT("at+jwt", map[string]any{"iss": iss, "sub": "alice", "aud": "api",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	}
	good := token(rg.op.Issuer())
	for range 2 {
		if _, err := b.Verify(context.Background(), good); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1000 {
		b.Verify(context.Background(), token(fmt.Sprintf("https://idp-%d.example", i)))
	}
	points := rg.points(t, "oidcfed.bearer.verifications")
	if !has(points, oidcfedotel.AttrProvider.String("oidc:acme"), oidcfedotel.AttrCacheHit.Bool(false)) ||
		!has(points, oidcfedotel.AttrProvider.String("oidc:acme"), oidcfedotel.AttrCacheHit.Bool(true)) ||
		!has(points, oidcfedotel.AttrProvider.String("none"), oidcfedotel.AttrErrorType.String("invalid_token")) {
		t.Errorf("bearer points %v", points)
	}
	if len(points) != 3 {
		t.Errorf("%d bearer series after 1,000 unknown issuers, want 3 (miss, hit, none)", len(points))
	}

	// A rotated-in key: one JWKS fetch for the unknown kid.
	if err := rg.op.RotateKey("RS256", true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(context.Background(), token(rg.op.Issuer())+""); err != nil {
		t.Fatal(err)
	}
	if !has(rg.points(t, "oidcfed.provider.fetches"), oidcfedotel.AttrKind.String("jwks"), oidcfedotel.AttrUnknownKey.Bool(true)) {
		t.Errorf("no JWKS fetch for an unknown key in %v", rg.points(t, "oidcfed.provider.fetches"))
	}
}

// TestNothingSecretIsExported: span names, attributes and events and
// metric attributes hold no token, code, client secret or email.
func TestNothingSecretIsExported(t *testing.T) {
	rg := newRig(t)
	var code string
	rg.op.Misbehave(federationtest.Misbehavior{AuthorizationResponse: func(q url.Values) { code = q.Get("code") }})
	rg.signIn(t)
	tokens := rg.logins[0].Result.Tokens
	b, _ := federation.NewBearer(rg.reg, federation.BearerConfig{})
	b.Verify(context.Background(), tokens.AccessToken.Reveal())
	var all bytes.Buffer
	for _, s := range rg.spans.Ended() {
		fmt.Fprintf(&all, "%s %v\n", s.Name(), s.Attributes())
		for _, e := range s.Events() {
			fmt.Fprintf(&all, "  %s %v\n", e.Name, e.Attributes)
		}
	}
	var rm metricdata.ResourceMetrics
	rg.reader.Collect(context.Background(), &rm)
	fmt.Fprintf(&all, "%+v\n", rm)
	for name, secret := range map[string]string{"code": code, "access token": tokens.AccessToken.Reveal(),
		"ID token": tokens.IDToken.Reveal(), "client secret": "s3cret-value", "email": "alice@example.com"} {
		if secret == "" || strings.Contains(all.String(), secret) {
			t.Errorf("the %s (%q) is exported", name, secret)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
