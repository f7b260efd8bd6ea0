package federation_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// TestAggregatedClaims mirrors oidcc-client-test-aggregated-claims: a
// claim another issuer signed, named by _claim_names and carried in
// _claim_sources, fills the user when that issuer is listed and its
// signature verifies; otherwise it is left out.
func TestAggregatedClaims(t *testing.T) {
	cp := federationtest.New(t, federationtest.Options{Algorithm: "ES256"}) // the claims provider
	stranger := federationtest.New(t, federationtest.Options{})
	for _, tc := range []struct {
		name   string
		jwt    func() string
		groups []string
	}{
		{"a listed issuer's claims are used", func() string {
			return cp.SignJWT("JWT", map[string]any{"iss": cp.Issuer(), "sub": "alice", "groups": []string{"payroll"}})
		}, []string{"payroll"}},
		{"an unlisted issuer's claims are left out", func() string {
			return stranger.SignJWT("JWT", map[string]any{"iss": stranger.Issuer(), "groups": []string{"payroll"}})
		}, nil},
		{"a listed issuer's name on a stranger's signature is left out", func() string {
			return stranger.SignJWT("JWT", map[string]any{"iss": cp.Issuer(), "groups": []string{"payroll"}})
		}, nil},
		{"not a JWT is left out", func() string { return "not-a-jwt" }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) {
				pc.AggregatedClaims = []federation.ClaimIssuer{{Issuer: cp.Issuer(), JWKSURI: cp.Issuer() + "/jwks"}}
			}})
			jwt := tc.jwt()
			r.op.Misbehave(federationtest.Misbehavior{IDTokenClaims: func(c map[string]any) {
				delete(c, "groups")
				c["_claim_names"] = map[string]any{"groups": "src1", "sub": "src1"}
				c["_claim_sources"] = map[string]any{"src1": map[string]any{"JWT": jwt}}
			}})
			signsIn(t, r)
			r.mu.Lock()
			u := r.logins[0].Result.User
			r.mu.Unlock()
			if !slices.Equal(u.Groups, tc.groups) || u.Subject != "alice" {
				t.Fatalf("user %+v, want groups %v", u, tc.groups)
			}
			if tc.groups == nil && r.errs.count(federation.ErrAggregatedClaims) == 0 {
				t.Fatal("the left-out source was not logged")
			}
		})
	}
	err := federation.Config{Providers: map[string]federation.ProviderConfig{"a": {Issuer: "https://idp.example.com",
		ClientID: "c", ClientSecret: "s", AggregatedClaims: []federation.ClaimIssuer{{Issuer: "x", JWKSURI: "http://evil.example/jwks"}}}}}.Validate()
	if ce, ok := errors.AsType[*federation.ConfigError](err); !ok || ce.Field != "aggregatedClaims" {
		t.Fatalf("a bad claim issuer: %v", err)
	}
}

// TestDistributedClaims mirrors oidcc-client-test-distributed-claims: the
// claims are fetched with their access token from the listed claim
// issuer's endpoint and verified with its keys; a refused token, or an
// endpoint on another origin (never fetched), leaves them out.
func TestDistributedClaims(t *testing.T) {
	cp := federationtest.New(t, federationtest.Options{DistributedClaims: map[string]any{"groups": []string{"payroll"}}})
	stranger := federationtest.New(t, federationtest.Options{DistributedClaims: map[string]any{"groups": []string{"payroll"}}})
	for _, tc := range []struct {
		name, endpoint, token string
		groups                []string
	}{
		{"fetched from the listed issuer", cp.Issuer() + "/distributed-claims", "claims-token", []string{"payroll"}},
		{"a token the endpoint refuses", cp.Issuer() + "/distributed-claims", "wrong", nil},
		{"an endpoint on another origin", stranger.Issuer() + "/distributed-claims", "claims-token", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRPWith(t, rpOptions{provider: func(pc *federation.ProviderConfig) {
				pc.AggregatedClaims = []federation.ClaimIssuer{{Issuer: cp.Issuer(), JWKSURI: cp.Issuer() + "/jwks"}}
			}})
			r.op.Misbehave(federationtest.Misbehavior{IDTokenClaims: func(c map[string]any) {
				delete(c, "groups")
				c["_claim_names"] = map[string]any{"groups": "src1"}
				c["_claim_sources"] = map[string]any{"src1": map[string]any{"endpoint": tc.endpoint, "access_token": tc.token}}
			}})
			signsIn(t, r)
			r.mu.Lock()
			u := r.logins[0].Result.User
			r.mu.Unlock()
			if !slices.Equal(u.Groups, tc.groups) {
				t.Fatalf("groups %v, want %v", u.Groups, tc.groups)
			}
			if tc.groups == nil && r.errs.count(federation.ErrAggregatedClaims) == 0 {
				t.Fatal("the left-out source was not logged")
			}
		})
	}
}
