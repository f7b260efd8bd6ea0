package federation_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/internal/clock"
)

// statuses maps each check of a report to its status.
func statuses(rep *federation.CheckReport) map[string]string {
	m := map[string]string{}
	for _, c := range rep.Checks {
		m[c.Name] = c.Status
	}
	return m
}

func TestCheckReports(t *testing.T) {
	tests := []struct {
		name      string
		provider  func(*federation.ProviderConfig)
		misbehave func(issuer string) federationtest.Misbehavior
		ok        bool
		want      map[string]string
		detail    string // in the detail of the first failed (else warned) check
	}{
		{"a good config", nil, nil, true,
			map[string]string{"discovery": "ok", "jwks": "ok", "scopes": "ok", "pkce": "ok", "token_endpoint_auth": "ok", "signing_algorithms": "ok", "pushed_authorization": "ok", "redirect_uri": "warn"},
			"is http: fine on loopback for development"},
		{"a scope the provider does not list, and no PKCE advertised", func(pc *federation.ProviderConfig) { pc.Scopes = []string{"email", "offline_access"} },
			func(string) federationtest.Misbehavior {
				return federationtest.Misbehavior{Discovery: func(doc map[string]any) { delete(doc, "code_challenge_methods_supported") }}
			}, true,
			map[string]string{"discovery": "ok", "jwks": "ok", "scopes": "warn", "pkce": "warn", "token_endpoint_auth": "ok", "signing_algorithms": "ok", "pushed_authorization": "ok", "redirect_uri": "warn"},
			`["offline_access"] not in scopes_supported`},
		{"broken: the document names another issuer", nil, func(string) federationtest.Misbehavior {
			return federationtest.Misbehavior{Discovery: func(doc map[string]any) { doc["issuer"] = "https://evil.example.com" }}
		}, false,
			map[string]string{"discovery": "fail", "jwks": "skip", "scopes": "skip", "pkce": "skip", "token_endpoint_auth": "skip", "signing_algorithms": "skip", "pushed_authorization": "skip", "redirect_uri": "warn"},
			`issuer does not match the configured issuer: configured "http://127.0.0.1:`},
		{"broken: an auth method the provider does not support", func(pc *federation.ProviderConfig) { pc.TokenEndpointAuthMethod = "client_secret_post" }, nil, false,
			map[string]string{"discovery": "ok", "jwks": "ok", "scopes": "ok", "pkce": "ok", "token_endpoint_auth": "fail", "signing_algorithms": "ok", "pushed_authorization": "ok", "redirect_uri": "warn"},
			`tokenEndpointAuthMethod "client_secret_post" is not among the provider's [client_secret_basic]`},
		{"broken: the JWKS cannot be fetched", nil, func(issuer string) federationtest.Misbehavior {
			return federationtest.Misbehavior{Discovery: func(doc map[string]any) { doc["jwks_uri"] = issuer + "/no-such-jwks" }}
		}, false,
			map[string]string{"discovery": "ok", "jwks": "fail", "scopes": "ok", "pkce": "ok", "token_endpoint_auth": "ok", "signing_algorithms": "ok", "pushed_authorization": "ok", "redirect_uri": "warn"},
			"/no-such-jwks: unexpected HTTP status 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRPWith(t, rpOptions{provider: tt.provider})
			if tt.misbehave != nil {
				r.op.Misbehave(tt.misbehave(r.op.Issuer()))
			}
			reps := r.h.Check(context.Background())
			if len(reps) != 1 {
				t.Fatalf("%d reports", len(reps))
			}
			rep := reps[0]
			if rep.OK != tt.ok || rep.Provider != "oidc:acme" || rep.Issuer != r.op.Issuer() {
				t.Fatalf("report:\n%s", rep)
			}
			got := statuses(rep)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %s, want %s\n%s", k, got[k], v, rep)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("checks %v", got)
			}
			var first *federation.CheckResult
			for _, status := range []string{federation.CheckFail, federation.CheckWarn} {
				for i := range rep.Checks {
					if first == nil && rep.Checks[i].Status == status {
						first = &rep.Checks[i]
					}
				}
			}
			if first == nil || !strings.Contains(first.Detail, tt.detail) {
				t.Errorf("first problem %+v, want detail with %q", first, tt.detail)
			}
			if strings.Contains(rep.String(), "s3cret-value") {
				t.Fatal("the report shows the client secret")
			}
			if p := rep.Problems(); (len(p) == 0) != tt.ok {
				t.Errorf("Problems() = %v", p)
			}
		})
	}
	t.Run("a provider checked alone skips the computed redirect URI", func(t *testing.T) {
		r := newRP(t, federationtest.Options{})
		p, _ := r.reg.Lookup("oidc:acme")
		if rep := p.Check(context.Background()); !rep.OK || statuses(rep)["redirect_uri"] != "skip" {
			t.Fatalf("report:\n%s", rep)
		}
	})
}

func TestStatusAfterKeyRotation(t *testing.T) {
	c := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	r := newRPWith(t, rpOptions{now: c.Now})
	r.op.SetClock(c.Now)
	st := r.reg.Status()
	if len(st) != 1 || st[0].Provider != "oidc:acme" || st[0].Keys != nil || !st[0].Discovery.FetchedAt.IsZero() ||
		st[0].DiscoveryURL != r.op.Issuer()+"/.well-known/openid-configuration" {
		t.Fatalf("before use: %+v", st)
	}
	r.signIn(newBrowser(t), "/")
	_, kid1, _ := r.op.Key()
	start := c.Now()
	st = r.reg.Status()
	if d := st[0].Discovery; !d.FetchedAt.Equal(start) || !d.ExpiresAt.Equal(start.Add(time.Hour)) || d.LastError != "" {
		t.Fatalf("discovery after sign-in: %+v", d)
	}
	if k := st[0].Keys; k == nil || k.URI != r.op.Issuer()+"/jwks" || k.KeyCount != 1 || !slices.Equal(k.KeyIDs, []string{kid1}) ||
		!k.FetchedAt.Equal(start) || !k.NextRefresh.Equal(start.Add(time.Hour)) {
		t.Fatalf("keys after sign-in: %+v", k)
	}

	// The provider rotates, dropping the old key; the next token with the
	// new kid makes the key set refetch.
	c.Advance(10 * time.Minute)
	if err := r.op.RotateKey("RS256", false); err != nil {
		t.Fatal(err)
	}
	_, kid2, _ := r.op.Key()
	r.signIn(newBrowser(t), "/")
	if r.loginCount() != 2 {
		t.Fatalf("sign-in after rotation failed:\n%s", r.logs)
	}
	st = r.reg.Status()
	k := st[0].Keys
	if k.KeyCount != 1 || !slices.Equal(k.KeyIDs, []string{kid2}) || !k.FetchedAt.Equal(c.Now()) || !k.NextRefresh.Equal(c.Now().Add(time.Hour)) || k.LastError != "" {
		t.Fatalf("keys after rotation: %+v (old %s, new %s)", k, kid1, kid2)
	}
	if !st[0].Discovery.FetchedAt.Equal(start) {
		t.Fatalf("discovery was refetched: %+v", st[0].Discovery)
	}
	b, _ := json.Marshal(st)
	if strings.Contains(string(b), "s3cret") || !strings.Contains(string(b), `"keyIDs":["`+kid2+`"]`) {
		t.Fatalf("JSON %s", b)
	}
}

func TestDebugLogNamesEveryStep(t *testing.T) {
	r := newRP(t, federationtest.Options{ProfileInUserinfoOnly: true})
	b := newBrowser(t)
	r.signIn(b, "/")
	if r.loginCount() != 1 {
		t.Fatalf("sign-in failed:\n%s", r.logs)
	}
	var steps []string
	for line := range strings.Lines(r.logs.String()) {
		if !strings.Contains(line, `msg="federation: flow step"`) {
			continue
		}
		_, rest, _ := strings.Cut(line, " step=")
		step, _, _ := strings.Cut(rest, " ")
		if !strings.Contains(line, " provider=oidc:acme ") || !strings.Contains(line, " duration=") {
			t.Errorf("step line without provider or duration: %s", line)
		}
		steps = append(steps, step)
	}
	want := []string{"start", "callback", "discovery", "token", "id_token", "userinfo", "accounts", "on_login"}
	if !slices.Equal(steps, want) {
		t.Fatalf("steps %q, want %q\n%s", steps, want, r.logs)
	}
	tok := r.logins[0].Result.Tokens
	for _, secret := range []string{"s3cret-value", tok.AccessToken.Reveal(), tok.IDToken.Reveal(), tok.RefreshToken.Reveal()} {
		if strings.Contains(r.logs.String(), secret) {
			t.Fatal("the debug log holds a secret or token")
		}
	}
	for _, u := range b.seen {
		if code := mustQuery(t, u).Get("code"); code != "" && strings.Contains(r.logs.String(), code) {
			t.Fatal("the debug log holds the authorization code")
		}
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
