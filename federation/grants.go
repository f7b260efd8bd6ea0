package federation

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrPublicClient: the grant needs a confidential client (one with a
// secret), and the provider is configured as a public one.
var ErrPublicClient = errors.New("federation: client credentials need a confidential client with a secret")

// ErrPasswordGrantDisabled: the resource-owner password grant was called
// without ProviderConfig.DangerousAllowPasswordGrant.
var ErrPasswordGrantDisabled = errors.New("federation: the password grant is off; it bypasses MFA and is removed in OAuth 2.1, so it needs dangerousAllowPasswordGrant")

// ClientCredentials gets an access token for the client itself (RFC 6749
// §4.4), for CI jobs and services that act as themselves: no user and no
// ID token. scopes default to none (the provider's default for the
// client). The client must be confidential.
func (p *Provider) ClientCredentials(ctx context.Context, scopes ...string) (Tokens, error) {
	if p.cfg.TokenEndpointAuthMethod == authNone {
		return Tokens{}, newError(CodeUnsupported, "client credentials need a confidential client",
			fmt.Errorf("%w (%s)", ErrPublicClient, p.key))
	}
	st, err := p.signIn(ctx)
	if err != nil {
		return Tokens{}, err
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	tr, start, err := p.tokenRequest(ctx, st, form, "the client credentials grant")
	if err != nil {
		return Tokens{}, err
	}
	if _, err := p.verifyTokenResponse(ctx, st, tr, false); err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: Secret(tr.AccessToken), Expiry: tr.expiry(start)}, nil
}

// PasswordGrant signs a user in with their username and password (RFC
// 6749 §4.3). Avoid it: it bypasses MFA and the provider's login page,
// OAuth 2.1 removes it, and many providers disable it. It runs only with
// ProviderConfig.DangerousAllowPasswordGrant, for CI jobs against test
// tenants. When the response has an ID token it is verified like a
// sign-in's (no nonce: there was no authorization request) and mapped
// into Result.User; without one, Result.User is empty. The password is
// never logged or kept.
func (p *Provider) PasswordGrant(ctx context.Context, username string, password Secret) (*Result, error) {
	if !p.cfg.DangerousAllowPasswordGrant {
		return nil, newError(CodeUnsupported, "the password grant is off",
			fmt.Errorf("%w (%s)", ErrPasswordGrantDisabled, p.key))
	}
	st, err := p.signIn(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password.Reveal()},
		"scope": {strings.Join(p.scopes, " ")}}
	tr, start, err := p.tokenRequest(ctx, st, form, "the password grant")
	if err != nil {
		return nil, err
	}
	vt, err := p.verifyTokenResponse(ctx, st, tr, false)
	if err != nil {
		return nil, err
	}
	if vt == nil {
		return &Result{Tokens: tr.tokens(start)}, nil
	}
	return p.result(ctx, st, tr, vt, start)
}
