// Package discovery fetches, validates and caches what oidcfed needs to know
// about an OpenID Provider: its metadata (OpenID Connect Discovery 1.0), its
// signing keys (a [KeySet] implementing go-oidc's oidc.KeySet) and a
// [Verifier] for the JWTs it signs.
//
// Everything is bounded: responses are capped at 1 MiB, fetches time out and
// run detached from the request that needed them, concurrent callers share
// one fetch, documents are cached for an hour on an injectable clock and
// served stale for up to a day while the provider is down, and a flood of
// tokens with unknown key IDs causes at most one JWKS fetch per cooldown.
// Every rejection is a typed error.
//
//	src, err := discovery.NewSource("example.okta.com", "", discovery.Endpoints{})
//	cache := discovery.NewCache(discovery.CacheConfig{Client: client})
//	md, err := cache.Get(ctx, src)
//	keys, err := discovery.NewKeySet(discovery.KeySetConfig{URI: md.JWKSURI, Client: client})
//	v, err := discovery.NewVerifier(discovery.VerifierConfig{
//		Issuer: md.Issuer, Audiences: []string{clientID}, KeySet: keys, Algorithms: md.Algorithms(),
//	})
//	tok, err := v.Verify(ctx, rawIDToken) // errors.Is(err, discovery.ErrTokenExpired)…
package discovery
