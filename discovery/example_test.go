package discovery_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// Fetch a provider's metadata (cached), build its key set and a verifier
// for ID tokens of client "app", and verify two tokens: one good, one
// expired.
func ExampleNewVerifier() {
	op, err := federationtest.Start(federationtest.Options{})
	if err != nil {
		panic(err)
	}
	defer op.Close()
	ctx := context.Background()

	src, err := discovery.NewSource(op.Issuer(), "", discovery.Endpoints{})
	if err != nil {
		panic(err)
	}
	md, err := discovery.NewCache(discovery.CacheConfig{}).Get(ctx, src)
	if err != nil {
		panic(err)
	}
	keys, err := discovery.NewKeySet(discovery.KeySetConfig{URI: md.JWKSURI})
	if err != nil {
		panic(err)
	}
	v, err := discovery.NewVerifier(discovery.VerifierConfig{Issuer: md.Issuer, Audiences: []string{"app"},
		KeySet: keys, Algorithms: md.Algorithms()})
	if err != nil {
		panic(err)
	}

	now := time.Now()
	good := op.SignJWT("JWT", map[string]any{"iss": md.Issuer, "aud": "app", "sub": "alice",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	tok, err := v.Verify(ctx, good)
	fmt.Println(tok.Claims["sub"], tok.Audience, err)

	expired := op.SignJWT("JWT", map[string]any{"iss": md.Issuer, "aud": "app", "sub": "alice",
		"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	_, err = v.Verify(ctx, expired)
	fmt.Println(errors.Is(err, discovery.ErrTokenExpired))
	// Output:
	// alice [app] <nil>
	// true
}
