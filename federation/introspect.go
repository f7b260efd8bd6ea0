package federation

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/internal/flight"
)

// Opaque access tokens (RFC 7662). A bearer token that is not a JWS is
// sent to the introspection endpoint of one provider: the one the
// BearerConfig names, or the only provider with introspectOpaqueTokens.
// An opaque token names no issuer, and sending it to a provider hands the
// token to that provider, so trying several is an explicit opt-in
// (BearerConfig.IntrospectAnyProvider).

// Bounds of introspection, per provider.
const (
	// IntrospectionConcurrency is how many introspection requests one
	// provider may have in flight; a request beyond it is answered 503
	// at once, never queued.
	IntrospectionConcurrency = 16
	// introspectionNegativeTTL is how long an inactive or refused token's
	// answer is remembered: a flood of one bad token costs one request.
	introspectionNegativeTTL = 10 * time.Second
	// introspectionNegativeSize bounds the remembered refusals.
	introspectionNegativeSize = 10_000
	// IntrospectionMaxCache is the longest an active answer is trusted
	// without asking again, even when the token's exp is later: a token
	// revoked at the provider by someone else is refused within it (one
	// revoked through [Provider.Revoke] of this registry at once).
	IntrospectionMaxCache = 5 * time.Minute
)

// Causes of a refused opaque token, besides those of JWTs.
var (
	// ErrTokenInactive: the provider says the token is not active
	// (expired, revoked, or never issued).
	ErrTokenInactive = errors.New("federation: the provider says the token is not active")
	// ErrNoIntrospection: the provider has no introspection_endpoint.
	ErrNoIntrospection = errors.New("federation: the provider has no introspection_endpoint")
)

// introspector is a provider's introspection state.
type introspector struct {
	sem      chan struct{}
	flights  flight.Group[[sha256.Size]byte, *Principal]
	negative *lru.Cache[[sha256.Size]byte, time.Time] // token hash → until
}

func newIntrospector() *introspector {
	neg, _ := lru.New[[sha256.Size]byte, time.Time](introspectionNegativeSize)
	return &introspector{sem: make(chan struct{}, IntrospectionConcurrency), negative: neg}
}

// introspectionResponse is RFC 7662 §2.2's answer.
type introspectionResponse struct {
	Active    bool               `json:"active"`
	Scope     string             `json:"scope"`
	ClientID  string             `json:"client_id"`
	Username  string             `json:"username"`
	TokenType string             `json:"token_type"`
	Exp       json.Number        `json:"exp"`
	Iat       json.Number        `json:"iat"`
	Nbf       json.Number        `json:"nbf"`
	Sub       string             `json:"sub"`
	Aud       discovery.Audience `json:"aud"`
	Iss       string             `json:"iss"`
	Cnf       any                `json:"cnf"`
}

// introspectionProviders are the providers b sends opaque tokens to.
func (b *Bearer) introspectionProviders() []*Provider {
	var out []*Provider
	for _, k := range b.reg.Keys() {
		p, ok := b.reg.Lookup(k)
		switch {
		case !ok || p.intro == nil:
		case b.cfg.Introspection != "" && k != b.cfg.Introspection:
		case len(b.cfg.Providers) > 0 && !slices.Contains(b.cfg.Providers, k):
		default:
			out = append(out, p)
		}
	}
	if len(out) > 1 && !b.cfg.IntrospectAnyProvider {
		return nil // ambiguous: NewBearer refuses it; a provider added since is not trusted silently
	}
	return out
}

// verifyOpaque introspects raw at b's introspection provider(s).
func (b *Bearer) verifyOpaque(ctx context.Context, raw string, provs []*Provider, check *bearerCheck) (*Principal,
	error) {
	if raw == "" || len(raw) > maxTokenLength || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, invalidToken(fmt.Errorf("%w: an opaque token of printable ASCII, at most %d bytes", discovery.ErrMalformedToken,
			maxTokenLength))
	}
	sum := sha256.Sum256([]byte(raw))
	var err error
	for _, prov := range provs {
		check.provider = prov.key
		var p *Principal
		if p, err = prov.introspect(ctx, raw, sum); err == nil {
			return p, nil
		}
		if !errors.Is(err, ErrTokenInactive) {
			return nil, err
		}
	}
	return nil, err
}

// cachedOpaque is the cached introspection answer for raw, from the
// provider this Bearer names when it names one; nil when there is none.
func (b *Bearer) cachedOpaque(raw string, check *bearerCheck) (*Principal, error) {
	p, ok := b.reg.tokens.get(sha256.Sum256([]byte(raw)))
	if !ok || b.cfg.Introspection != "" && p.Provider != b.cfg.Introspection {
		return nil, nil
	}
	check.provider, check.hit = p.Provider, true
	return p, nil
}

// introspect asks the provider about raw, through the negative cache and
// one flight per token, within the concurrency bound.
func (p *Provider) introspect(ctx context.Context, raw string, sum [sha256.Size]byte) (*Principal, error) {
	in := p.intro
	now := p.reg.opts.now()
	if until, ok := in.negative.Get(sum); ok && now.Before(until) {
		return nil, invalidToken(fmt.Errorf("%w (remembered)", ErrTokenInactive))
	}
	gen := p.reg.tokens.generation(p.key)
	start := func() bool {
		select {
		case in.sem <- struct{}{}:
			return true
		default:
			return false
		}
	}
	pr, err, joined := in.flights.DoIf(ctx, sum, start, func() (*Principal, error) {
		defer func() { <-in.sem }()
		// The flight outlives a caller that gives up; the client's
		// timeout bounds it.
		pr, err := p.introspectNow(context.WithoutCancel(ctx), raw)
		switch {
		case err == nil:
			p.reg.tokens.add(sum, &cachedToken{principal: pr, provider: p.key, kid: introspected}, gen)
		case errors.Is(err, ErrTokenInactive) || codeOf(err) == CodeInvalidToken:
			in.negative.Add(sum, p.reg.opts.now().Add(introspectionNegativeTTL))
		}
		return pr, err
	})
	if !joined {
		return nil, newError(CodeTemporarilyUnavailable,
			"too many tokens are being checked with the identity provider; try again in a moment",
			fmt.Errorf("%s: %d introspections in flight", p.key, IntrospectionConcurrency))
	}
	return pr, err
}

// introspected is the kid of cached introspection answers: no signing
// key's removal evicts them; a revocation or a provider change does.
const introspected = "\x00introspection"

// introspectNow sends raw to the introspection endpoint and checks the
// answer under the provider's bearer policy.
func (p *Provider) introspectNow(ctx context.Context, raw string) (*Principal, error) {
	st, err := p.resolve(ctx)
	if err != nil {
		return nil, err
	}
	if st.md.IntrospectionEndpoint == "" {
		return nil, newError(CodeProviderUnavailable, "the identity provider is misconfigured",
			fmt.Errorf("%w (%s)", ErrNoIntrospection, p.key))
	}
	var ans rawAnswer
	call := clientCall{name: "introspection endpoint", what: "the token check",
		endpoint: st.viaTLS(st.md.IntrospectionEndpoint, st.md.MTLSEndpointAliases.IntrospectionEndpoint)}
	form := url.Values{"token": {raw}, "token_type_hint": {HintAccessToken}}
	if err := p.post(ctx, st, call, form, &ans); err != nil {
		if fe, ok := errors.AsType[*Error](err); ok && fe.Code != CodeProviderUnavailable {
			// A refused client is the server's problem, not the token's.
			return nil, newError(CodeProviderUnavailable, "the token could not be checked", err)
		}
		return nil, err
	}
	body := ans.body
	if mt, _, _ := mime.ParseMediaType(ans.contentType); mt == "application/token-introspection+jwt" {
		var err error
		if body, err = p.signedIntrospection(ctx, st, string(body)); err != nil {
			return nil, newError(CodeProviderUnavailable, "the identity provider's answer could not be verified", err)
		}
	}
	var ir introspectionResponse
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&ir); err != nil {
		return nil, newError(CodeProviderUnavailable, "the identity provider's answer is not JSON",
			fmt.Errorf("introspection endpoint: %w", err))
	}
	return p.introspectedPrincipal(st, &ir)
}

// ErrSignedIntrospection: a signed introspection answer (RFC 9701) does
// not verify: typ, signature, iss, aud or its token_introspection claim.
var ErrSignedIntrospection = errors.New("federation: the signed introspection answer is invalid")

// signedIntrospection verifies an RFC 9701 answer: typ
// token-introspection+jwt, signed with the provider's keys, iss the
// issuer, aud the client; and returns its token_introspection object.
func (p *Provider) signedIntrospection(ctx context.Context, st *resolved, raw string) ([]byte, error) {
	header, _, _, ok := splitJWS(raw)
	if typ, err := jwtTyp(header); !ok || err != nil || normalizeTyp(typ) != "token-introspection+jwt" {
		return nil, fmt.Errorf("%w: typ, want token-introspection+jwt", ErrSignedIntrospection)
	}
	v, err := discovery.NewVerifier(discovery.VerifierConfig{Issuer: st.md.Issuer, Audiences: []string{st.client.id},
		KeySet: st.keys, Algorithms: st.md.Algorithms(), Now: p.reg.opts.now, Leeway: p.reg.opts.leeway,
		SubjectOptional: true, ExpiryOptional: true})
	if err != nil {
		return nil, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignedIntrospection, err)
	}
	obj, ok := tok.Claims["token_introspection"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: no token_introspection object", ErrSignedIntrospection)
	}
	return json.Marshal(obj)
}

// introspectedPrincipal checks an introspection answer as a JWT's claims
// are checked, and maps it.
func (p *Provider) introspectedPrincipal(st *resolved, ir *introspectionResponse) (*Principal, error) {
	now, leeway := p.reg.opts.now(), p.reg.leeway()
	unix := func(n json.Number) (time.Time, bool) {
		v, err := n.Int64()
		return time.Unix(v, 0), err == nil && v > 0
	}
	exp, hasExp := unix(ir.Exp)
	nbf, hasNbf := unix(ir.Nbf)
	auds := p.bearerAudiences(st.client.id)
	jkt, bindErr := dpopBinding(ir.Cnf)
	switch {
	case !ir.Active:
		return nil, invalidToken(ErrTokenInactive)
	case ir.Iss != "" && !st.md.IssuerMatches(ir.Iss) && !slices.Contains(p.cfg.AdditionalIssuers, ir.Iss):
		return nil, invalidToken(&discovery.TokenError{Err: discovery.ErrTokenIssuer,
			Detail: fmt.Sprintf("introspection: iss %q", ir.Iss)})
	case hasExp && !now.Before(exp.Add(leeway)):
		return nil, invalidToken(&discovery.TokenError{Err: discovery.ErrTokenExpired, Detail: "introspection: exp"})
	case hasNbf && now.Add(leeway).Before(nbf):
		return nil, invalidToken(&discovery.TokenError{Err: discovery.ErrTokenNotYetValid, Detail: "introspection: nbf"})
	case len(ir.Aud) > 0 && !slices.ContainsFunc(ir.Aud, func(a string) bool { return slices.Contains(auds, a) }),
		len(ir.Aud) == 0 && !slices.Contains(auds, ir.ClientID):
		return nil, invalidToken(&discovery.TokenError{Err: discovery.ErrTokenAudience,
			Detail: fmt.Sprintf("introspection: aud %q, client_id %q, want one of %q", []string(ir.Aud), ir.ClientID, auds)})
	case bindErr != nil:
		return nil, invalidToken(bindErr)
	case strings.EqualFold(ir.TokenType, "DPoP") && jkt == "":
		return nil, invalidToken(fmt.Errorf("%w: a DPoP token without cnf.jkt", ErrSenderConstrained))
	case ir.TokenType != "" && !strings.EqualFold(ir.TokenType, "Bearer") && !strings.EqualFold(ir.TokenType, "DPoP") &&
		ir.TokenType != "access_token":
		return nil, invalidToken(fmt.Errorf("%w: introspection token_type %q", ErrTokenType, ir.TokenType))
	case ir.Sub == "":
		return nil, invalidToken(&discovery.TokenError{Err: discovery.ErrMissingClaim, Detail: "introspection: no sub"})
	}
	c := map[string]any{"sub": ir.Sub, "scope": ir.Scope, "client_id": ir.ClientID}
	if ir.Username != "" {
		c["preferred_username"] = ir.Username
	}
	until := now.Add(IntrospectionMaxCache)
	if hasExp && exp.Before(until) {
		until = exp
	}
	iat, _ := unix(ir.Iat)
	iss := cmp.Or(ir.Iss, st.md.Issuer)
	pr, err := p.principal(&discovery.Token{Issuer: iss, Audience: ir.Aud, Expiry: until, IssuedAt: iat, Claims: c}, "")
	if err != nil {
		return nil, invalidToken(err)
	}
	pr.KeyThumbprint = jkt
	return pr, nil
}
