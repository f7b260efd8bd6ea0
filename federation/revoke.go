package federation

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// ErrNoRevocation: the provider has no revocation_endpoint.
var ErrNoRevocation = errors.New("federation: the provider has no revocation_endpoint")

// Token type hints of [Provider.Revoke] (RFC 7009 §2.1).
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// Revoke asks the provider to revoke token (RFC 7009): a refresh token
// (hint [HintRefreshToken]; most providers then end its grant, and its
// access tokens), or an access token ([HintAccessToken]). hint may be "".
// The client authenticates as at the token endpoint (its mutual-TLS alias
// for a certificate client). A token the provider does not know, or
// already revoked, is not an error: the provider answers 200 alike (§2.2).
// A provider without a revocation_endpoint is [ErrNoRevocation], wrapped
// in an *[Error] with [CodeUnsupported]; a refusal an *Error with the
// provider's OAuth code (unsupported_token_type, invalid_client…).
func (p *Provider) Revoke(ctx context.Context, token Secret, hint string) error {
	if hint != "" && hint != HintAccessToken && hint != HintRefreshToken {
		return newError(CodeInvalidRequest, "the token type hint is not access_token or refresh_token",
			fmt.Errorf("%s: revoke: hint %q", p.key, hint))
	}
	if token == "" {
		return newError(CodeInvalidRequest, "there is no token to revoke", fmt.Errorf("%s: revoke: empty token", p.key))
	}
	st, err := p.signIn(ctx)
	if err != nil {
		return err
	}
	if st.md.RevocationEndpoint == "" {
		return newError(CodeUnsupported, "the identity provider does not revoke tokens",
			fmt.Errorf("%w (%s)", ErrNoRevocation, p.key))
	}
	form := url.Values{"token": {token.Reveal()}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	began := time.Now()
	err = p.post(ctx, st, clientCall{name: "revocation endpoint", what: "the revocation",
		endpoint: st.viaTLS(st.md.RevocationEndpoint, st.md.MTLSEndpointAliases.RevocationEndpoint)}, form, nil)
	if err != nil {
		p.reg.opts.logger.DebugContext(ctx, "federation: revocation failed", "provider", p.key, "hint", hint,
			"duration", time.Since(began), "error", err)
		return err
	}
	// This registry stops accepting it at once (a cached JWT or
	// introspection answer would otherwise live until its exp).
	p.reg.tokens.remove(sha256.Sum256([]byte(token.Reveal())))
	p.reg.opts.logger.DebugContext(ctx, "federation: revoked", "provider", p.key, "hint", hint,
		"duration", time.Since(began))
	return nil
}
