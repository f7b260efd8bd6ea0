// Package pkce implements Proof Key for Code Exchange (RFC 7636) for the
// authorization code flow, always with the S256 method: the plain method is
// never offered, because it protects nothing once the authorization request
// leaks (RFC 9700 §2.1.1).
//
// It is a thin, hard-to-misuse layer over x/oauth2's helpers. A [Verifier]
// prints as [redacted], so it cannot leak through logs or fmt:
//
//	v := pkce.NewVerifier()
//	url := cfg.AuthCodeURL(state, v.AuthCodeOption())   // sends code_challenge, S256
//	tok, err := cfg.Exchange(ctx, code, v.ExchangeOption()) // sends code_verifier
package pkce
