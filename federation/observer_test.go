package federation_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// recorder is an Observer that keeps every event, in order.
type recorder struct {
	mu     sync.Mutex
	events []any
}

func (rec *recorder) add(e any) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.events = append(rec.events, e)
}

func (rec *recorder) observer(subjects bool) federation.Observer {
	return federation.Observer{
		Flow:       func(_ context.Context, e federation.FlowEvent) { rec.add(e) },
		Step:       func(_ context.Context, e federation.StepEvent) { rec.add(e) },
		Bearer:     func(_ context.Context, e federation.BearerEvent) { rec.add(e) },
		Fetch:      func(_ context.Context, e federation.FetchEvent) { rec.add(e) },
		Logout:     func(_ context.Context, e federation.LogoutObserved) { rec.add(e) },
		Refresh:    func(_ context.Context, e federation.RefreshEvent) { rec.add(e) },
		DevicePoll: func(_ context.Context, e federation.DevicePollEvent) { rec.add(e) },
		Subjects:   subjects,
	}
}

// of returns the recorded events of type T.
func of[T any](rec *recorder) []T {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []T
	for _, e := range rec.events {
		if t, ok := e.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// TestObserverSignIn: a sign-in reports its start, every callback step in
// order, its end with the outcome, and the discovery and JWKS fetches.
func TestObserverSignIn(t *testing.T) {
	rec := &recorder{}
	r := newRPWith(t, rpOptions{opts: []federation.Option{federation.WithObserver(rec.observer(false))}})
	if r.signIn(newBrowser(t), "/"); r.loginCount() != 1 {
		t.Fatalf("logs:\n%s", r.logs)
	}
	flows := of[federation.FlowEvent](rec)
	if len(flows) != 2 || flows[0].Phase != federation.PhaseStart || flows[1].Phase != federation.PhaseCallback {
		t.Fatalf("flow events %+v", flows)
	}
	for _, f := range flows {
		if f.Provider != "oidc:acme" || f.Mode != federation.ModeSignIn || f.Code != "" || f.Duration <= 0 || f.Subject != "" {
			t.Errorf("flow event %+v", f)
		}
	}
	if flows[1].Outcome != federation.Created {
		t.Errorf("callback outcome %v, want Created", flows[1].Outcome)
	}
	var steps []string
	for _, s := range of[federation.StepEvent](rec) {
		if s.Provider != "oidc:acme" || s.Code != "" {
			t.Errorf("step event %+v", s)
		}
		steps = append(steps, s.Step)
	}
	want := []string{federation.StepDiscovery, federation.StepToken, federation.StepIDToken, federation.StepAccounts, federation.StepOnLogin}
	if !slices.Equal(steps, want) {
		t.Errorf("steps %q, want %q", steps, want)
	}
	fetches := of[federation.FetchEvent](rec)
	kinds := map[string]federation.FetchEvent{}
	for _, f := range fetches {
		kinds[f.Kind] = f
	}
	for _, kind := range []string{federation.FetchDiscovery, federation.FetchJWKS} {
		f, ok := kinds[kind]
		if !ok || f.Provider != "oidc:acme" || f.Status != http.StatusOK || f.Bytes == 0 || f.Failed || f.Stale || f.UnknownKey {
			t.Errorf("%s fetch %+v (all: %+v)", kind, f, fetches)
		}
	}
}

// TestObserverFailedFlows: each refusal is reported with the code the
// browser got; a provider key that names no provider is reported as "".
func TestObserverFailedFlows(t *testing.T) {
	for _, tc := range []struct {
		name  string
		do    func(t *testing.T, r *rp)
		phase string
		code  federation.Code
		prov  string
	}{
		{"a bad state", func(t *testing.T, r *rp) {
			noRedirects.Get(r.srv.URL + "/auth/oauth/oidc:acme/callback?state=nope&code=x")
		}, federation.PhaseCallback, federation.CodeInvalidState, "oidc:acme"},
		{"a refused redirectTo", func(t *testing.T, r *rp) {
			noRedirects.Get(r.srv.URL + "/auth/oauth/oidc:acme?redirectTo=https://evil.example/")
		}, federation.PhaseStart, federation.CodeInvalidRequest, "oidc:acme"},
		{"an unknown provider", func(t *testing.T, r *rp) {
			noRedirects.Get(r.srv.URL + "/auth/oauth/oidc:" + strings.Repeat("x", 40))
		}, federation.PhaseStart, federation.CodeUnknownProvider, ""},
		{"a wrong nonce", func(t *testing.T, r *rp) {
			r.op.Misbehave(federationtest.Misbehavior{IDTokenClaims: func(c map[string]any) { c["nonce"] = "other" }})
			r.signIn(newBrowser(t), "/")
		}, federation.PhaseCallback, federation.CodeInvalidToken, "oidc:acme"},
		{"the user denies", func(t *testing.T, r *rp) {
			r.op.Misbehave(federationtest.Misbehavior{AuthorizationResponse: func(q url.Values) {
				q.Del("code")
				q.Set("error", "access_denied")
			}})
			r.signIn(newBrowser(t), "/")
		}, federation.PhaseCallback, federation.CodeAccessDenied, "oidc:acme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			r := newRPWith(t, rpOptions{opts: []federation.Option{federation.WithObserver(rec.observer(true))}})
			tc.do(t, r)
			flows := of[federation.FlowEvent](rec)
			last := flows[len(flows)-1]
			if last.Phase != tc.phase || last.Code != tc.code || last.Provider != tc.prov || last.Subject != "" {
				t.Fatalf("last flow event %+v, want phase %s, code %s, provider %q, no subject", last, tc.phase, tc.code, tc.prov)
			}
		})
	}
}

// TestObserverBearer: a miss, then a hit from the cache, then a token of
// an unknown issuer, whose issuer never reaches the event: 1,000 random
// issuers make no new provider value.
func TestObserverBearer(t *testing.T) {
	rec := &recorder{}
	a := newAPI(t, nil, federation.WithObserver(rec.observer(false)))
	b := mustBearer(t, a.reg, federation.BearerConfig{})
	tok := a.token(a.op, nil)
	for range 2 {
		if _, err := b.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1000 {
		b.Verify(context.Background(), a.token(a.op, func(c map[string]any) { c["iss"] = fmt.Sprintf("https://idp-%d.example", i) }))
	}
	events := of[federation.BearerEvent](rec)
	if len(events) != 1002 {
		t.Fatalf("%d bearer events, want 1002", len(events))
	}
	if e := events[0]; e.Provider != "oidc:acme" || e.CacheHit || e.Code != "" || e.Subject != "" {
		t.Errorf("first verification %+v, want a miss", e)
	}
	if e := events[1]; e.Provider != "oidc:acme" || !e.CacheHit || e.Code != "" {
		t.Errorf("second verification %+v, want a cache hit", e)
	}
	providers := map[string]bool{}
	for _, e := range events[2:] {
		providers[e.Provider] = true
		if e.Code != federation.CodeInvalidToken {
			t.Fatalf("unknown issuer %+v, want invalid_token", e)
		}
	}
	if len(providers) != 1 || !providers[""] {
		t.Fatalf("unknown issuers reported as providers %v, want only \"\"", providers)
	}
}

// TestObserverUnknownKeyRefetch: a token signed by a rotated-in key makes
// one JWKS fetch, reported as for an unknown key.
func TestObserverUnknownKeyRefetch(t *testing.T) {
	rec := &recorder{}
	a := newAPI(t, nil, federation.WithObserver(rec.observer(false)))
	b := mustBearer(t, a.reg, federation.BearerConfig{})
	if _, err := b.Verify(context.Background(), a.token(a.op, nil)); err != nil {
		t.Fatal(err)
	}
	if err := a.op.RotateKey("RS256", true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(context.Background(), a.token(a.op, func(c map[string]any) { c["jti"] = "new" })); err != nil {
		t.Fatal(err)
	}
	var unknown int
	for _, f := range of[federation.FetchEvent](rec) {
		if f.Kind == federation.FetchJWKS && f.UnknownKey {
			unknown++
		}
	}
	if unknown != 1 {
		t.Fatalf("%d JWKS fetches for an unknown key, want 1: %+v", unknown, of[federation.FetchEvent](rec))
	}
}

// TestObserverEventsCarryNoSecrets: no event of a sign-in, a refresh, a
// bearer check or a back-channel logout holds a token, a code, the
// client secret or the user's email; the subject appears only with
// Subjects.
func TestObserverEventsCarryNoSecrets(t *testing.T) {
	for _, subjects := range []bool{false, true} {
		rec := &recorder{}
		var seen []string
		r := newRPWith(t, rpOptions{opts: []federation.Option{federation.WithObserver(rec.observer(subjects))},
			onLogout: func(context.Context, federation.LogoutEvent) error { return nil }})
		r.op.Misbehave(federationtest.Misbehavior{AuthorizationResponse: func(q url.Values) { seen = append(seen, q.Get("code")) }})
		r.signIn(newBrowser(t), "/")
		l := r.logins[0]
		p, _ := r.reg.Lookup("oidc:acme")
		if _, err := p.Refresh(context.Background(), l.Result.Tokens); err != nil {
			t.Fatal(err)
		}
		if status, err := r.op.BackchannelLogout("client-1", "alice", ""); err != nil || status != http.StatusOK {
			t.Fatalf("back-channel logout: %d %v", status, err)
		}
		secrets := append(seen, l.Result.Tokens.AccessToken.Reveal(), l.Result.Tokens.IDToken.Reveal(),
			l.Result.Tokens.RefreshToken.Reveal(), "s3cret-value", "alice@example.com")
		var all strings.Builder
		for _, e := range rec.events {
			fmt.Fprintf(&all, "%+v\n", e)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(all.String(), s) {
				t.Errorf("an event holds %q:\n%s", s, all.String())
			}
		}
		if got := strings.Contains(all.String(), "Subject:alice"); got != subjects {
			t.Errorf("Subjects %t: the subject appears %t\n%s", subjects, got, all.String())
		}
		if len(of[federation.RefreshEvent](rec)) != 1 || len(of[federation.LogoutObserved](rec)) != 1 {
			t.Errorf("refresh and logout events: %s", all.String())
		}
	}
}
