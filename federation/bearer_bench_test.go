package federation_test

import (
	"context"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// BenchmarkBearer compares, for one access token with the provider's JWKS
// warm: a verification through the cache (a token seen before), one
// without it (every check, every time), and go-oidc's own RemoteKeySet and
// verifier (signature, iss, aud, exp; no claim mapping, no typ or scope
// policy).
func BenchmarkBearer(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256"} {
		op := federationtest.New(b, federationtest.Options{Algorithm: alg})
		now := time.Now()
		raw := op.SignJWT("at+jwt", map[string]any{"iss": op.Issuer(), "sub": "alice", "aud": "api-1", "client_id": "cli-7",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "read write"})
		cfg := federation.Config{Providers: map[string]federation.ProviderConfig{
			"acme": {Issuer: op.Issuer(), ClientID: "web-1", ClientSecret: "x", Audiences: []string{"api-1"}}}}
		ctx := context.Background()
		bearer := func(b *testing.B, opts ...federation.Option) *federation.Bearer {
			reg, err := federation.NewRegistry(cfg, opts...)
			if err != nil {
				b.Fatal(err)
			}
			return mustBearer(b, reg, federation.BearerConfig{Scopes: []string{"read"}})
		}
		b.Run("cached/"+alg, func(b *testing.B) {
			v := bearer(b)
			benchVerify(b, func() error { _, err := v.Verify(ctx, raw); return err })
		})
		b.Run("cached-observed/"+alg, func(b *testing.B) {
			v := bearer(b, federation.WithObserver(noopObserver))
			benchVerify(b, func() error { _, err := v.Verify(ctx, raw); return err })
		})
		b.Run("uncached/"+alg, func(b *testing.B) {
			v := bearer(b, federation.WithBearerCacheSize(0))
			benchVerify(b, func() error { _, err := v.Verify(ctx, raw); return err })
		})
		b.Run("go-oidc/"+alg, func(b *testing.B) {
			v := oidc.NewVerifier(op.Issuer(), oidc.NewRemoteKeySet(ctx, op.Issuer()+"/jwks"),
				&oidc.Config{ClientID: "api-1", SupportedSigningAlgs: []string{alg}})
			benchVerify(b, func() error { _, err := v.Verify(ctx, raw); return err })
		})
	}
}

// benchVerify warms up with one call, then measures verify.
func benchVerify(b *testing.B, verify func() error) {
	if err := verify(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := verify(); err != nil {
			b.Fatal(err)
		}
	}
}

// noopObserver has every hook set and does nothing: the cost of
// observation itself, for BenchmarkBearer and BenchmarkCallbackObserved.
var noopObserver = federation.Observer{
	Flow:       func(context.Context, federation.FlowEvent) {},
	Step:       func(context.Context, federation.StepEvent) {},
	Bearer:     func(context.Context, federation.BearerEvent) {},
	Fetch:      func(context.Context, federation.FetchEvent) {},
	Logout:     func(context.Context, federation.LogoutObserved) {},
	Refresh:    func(context.Context, federation.RefreshEvent) {},
	DevicePoll: func(context.Context, federation.DevicePollEvent) {},
}

// BenchmarkBearerIntrospection compares a cached introspection answer
// (an opaque token seen before) with a cached JWT, and shows what a miss
// costs: a round trip to the introspection endpoint over loopback.
func BenchmarkBearerIntrospection(b *testing.B) {
	op := federationtest.New(b, federationtest.Options{OpaqueAccessTokens: true})
	op.AddUser(alice)
	op.AddClient(federationtest.Client{ID: "web-1", Secret: "s3cret-value"})
	now := time.Now()
	jwt := op.SignJWT("at+jwt", map[string]any{"iss": op.Issuer(), "sub": "alice", "aud": "web-1", "client_id": "web-1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "read write"})
	tok := op.IssueAccessToken("web-1", "alice", "read", "write")
	ctx := context.Background()
	bearer := func(b *testing.B, opts ...federation.Option) *federation.Bearer {
		reg, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{
			"acme": {Issuer: op.Issuer(), ClientID: "web-1", ClientSecret: "s3cret-value", IntrospectOpaqueTokens: true}}},
			opts...)
		if err != nil {
			b.Fatal(err)
		}
		return mustBearer(b, reg, federation.BearerConfig{Scopes: []string{"read"}})
	}
	b.Run("jwt-cached", func(b *testing.B) {
		v := bearer(b)
		benchVerify(b, func() error { _, err := v.Verify(ctx, jwt); return err })
	})
	b.Run("introspection-cached", func(b *testing.B) {
		v := bearer(b)
		benchVerify(b, func() error { _, err := v.Verify(ctx, tok); return err })
	})
	b.Run("introspection-uncached", func(b *testing.B) {
		v := bearer(b, federation.WithBearerCacheSize(0))
		benchVerify(b, func() error { _, err := v.Verify(ctx, tok); return err })
	})
}
