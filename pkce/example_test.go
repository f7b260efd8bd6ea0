package pkce_test

import (
	"fmt"

	"github.com/oidcfed/oidcfed/pkce"
)

// A verifier is made per sign-in; its S256 challenge goes in the
// authorization request and the verifier itself in the token request. It
// prints as [redacted] so that it never reaches a log.
func ExampleNewVerifier() {
	v := pkce.NewVerifier()
	fmt.Println(len(v.Reveal()), len(v.Challenge()))
	fmt.Println(v)
	// Output:
	// 43 43
	// [redacted]
}

// The challenge of RFC 7636 Appendix B's verifier.
func ExampleVerifier_Challenge() {
	v, err := pkce.Parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Challenge())
	// Output: E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
}
