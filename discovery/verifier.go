package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcfed/oidcfed/internal/clock"
)

// VerifierConfig configures a [Verifier].
type VerifierConfig struct {
	// Issuer is the exact iss a token must carry: the issuer of the
	// provider's validated metadata. Required.
	Issuer string
	// Audiences are the accepted aud values; a token's aud must contain at
	// least one. For ID tokens this is the client ID alone. Required.
	Audiences []string
	// KeySet verifies signatures. Required.
	KeySet *KeySet
	// Algorithms are the accepted signing algorithms, normally
	// [Metadata.Algorithms]. Only [SigningAlgorithms] are allowed; default
	// RS256.
	Algorithms []string
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Leeway is the clock skew tolerated for exp, nbf and iat. Default:
	// 1 minute.
	Leeway time.Duration
	// An Issuer with the [TenantPlaceholder] is a multi-tenant template
	// (from a [NewTenantSource] document): a token's tid must be a tenant
	// ID and its iss the template with that tid, so that a token of one
	// tenant cannot claim another.

	// SubjectOptional accepts a token without sub, as a back-channel
	// logout token naming only a session (sid) is. A sub that is present
	// must still be a non-empty string.
	SubjectOptional bool
}

// Verifier verifies signed JWTs from one provider. It builds on go-oidc's
// [oidc.IDTokenVerifier], which checks the signature (through our
// [KeySet]), the issuer and, for a single audience, aud. Because go-oidc's
// expiry check has no leeway, the verifier sets SkipExpiryCheck and checks
// exp, nbf and iat itself; for several audiences it sets SkipClientIDCheck
// and checks aud itself. Every error is typed.
type Verifier struct {
	cfg  VerifierConfig
	oidc *oidc.IDTokenVerifier
}

// Token is a verified token.
type Token struct {
	// IDToken is go-oidc's view: it offers VerifyAccessToken for at_hash.
	IDToken *oidc.IDToken
	// Claims are every claim of the payload, numbers as json.Number.
	Claims map[string]any
	// Expiry, IssuedAt and NotBefore are the time claims (zero when absent).
	Expiry, IssuedAt, NotBefore time.Time
	// KeyID is the kid of the JWKS key that verified the signature (empty
	// when that key has none): what [KeySetConfig.OnKeyRemoved] reports.
	KeyID string
}

// NewVerifier returns a verifier for cfg.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("discovery: verifier: Issuer is required"))
	}
	if len(cfg.Audiences) == 0 || slices.Contains(cfg.Audiences, "") {
		errs = append(errs, errors.New("discovery: verifier: Audiences must be non-empty strings"))
	}
	if cfg.KeySet == nil {
		errs = append(errs, errors.New("discovery: verifier: KeySet is required"))
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{"RS256"}
	}
	for _, a := range cfg.Algorithms {
		if !slices.Contains(SigningAlgorithms, a) {
			errs = append(errs, fmt.Errorf("discovery: verifier: algorithm %q is not accepted; use asymmetric algorithms from %v", a, SigningAlgorithms))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.Now = clock.Or(cfg.Now)
	if cfg.Leeway == 0 {
		cfg.Leeway = time.Minute
	}
	oc := &oidc.Config{
		SupportedSigningAlgs: cfg.Algorithms,
		SkipExpiryCheck:      true, // checked in Verify, with leeway
	}
	if strings.Count(cfg.Issuer, TenantPlaceholder) == 1 {
		oc.SkipIssuerCheck = true // checked in Verify against the token's tid
	}
	if len(cfg.Audiences) == 1 {
		oc.ClientID = cfg.Audiences[0]
	} else {
		oc.SkipClientIDCheck = true // checked in Verify against every audience
	}
	return &Verifier{cfg: cfg, oidc: oidc.NewVerifier(cfg.Issuer, cfg.KeySet, oc)}, nil
}

// Verify checks raw's signature, iss, aud, exp (required), nbf, iat
// (required, not in the future) and sub (a non-empty string), and returns
// its claims. Errors are *[TokenError] (errors.Is(err, [ErrInvalidToken]))
// or, when the provider's keys cannot be fetched, wrap [ErrKeysUnavailable].
func (v *Verifier) Verify(ctx context.Context, raw string) (*Token, error) {
	res := &verifyResult{}
	idt, err := v.oidc.Verify(context.WithValue(ctx, resultKey{}, res), raw)
	if err != nil {
		return nil, v.classify(raw, res, err)
	}
	t := &Token{IDToken: idt, KeyID: res.kid}
	d := json.NewDecoder(bytes.NewReader(res.payload))
	d.UseNumber()
	if err := d.Decode(&t.Claims); err != nil || t.Claims == nil {
		return nil, tokenErr(ErrMalformedToken, "payload is not a JSON object")
	}
	if err := v.checkClaims(t); err != nil {
		return nil, err
	}
	if err := v.checkTenantIssuer(t); err != nil {
		return nil, err
	}
	return t, nil
}

// classify turns go-oidc's untyped error into a typed one. The KeySet
// recorded whether it ran: if not, go-oidc refused the token before the
// signature check (format or algorithm); if it ran and succeeded, go-oidc
// refused the signed claims.
func (v *Verifier) classify(raw string, res *verifyResult, err error) error {
	switch {
	case res.err != nil:
		return res.err
	case !res.called:
		return classifyParseError(raw, v.cfg.Algorithms, err)
	}
	var c struct {
		Iss string          `json:"iss"`
		Aud json.RawMessage `json:"aud"`
	}
	_ = json.Unmarshal(res.payload, &c)
	if c.Iss != v.cfg.Issuer && !strings.Contains(v.cfg.Issuer, TenantPlaceholder) {
		return tokenErr(ErrTokenIssuer, "iss %q, want %q", c.Iss, v.cfg.Issuer)
	}
	var aud Audience
	if json.Unmarshal(c.Aud, &aud) != nil || !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(v.cfg.Audiences, a) }) {
		return tokenErr(ErrTokenAudience, "aud %s, want one of %q", c.Aud, v.cfg.Audiences)
	}
	return tokenErr(ErrInvalidClaim, "%v", err)
}

// tenantID is the shape of an Entra tenant ID.
var tenantID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// checkTenantIssuer checks, for a template issuer, that iss is the template
// with the token's own tid.
func (v *Verifier) checkTenantIssuer(t *Token) error {
	if !strings.Contains(v.cfg.Issuer, TenantPlaceholder) {
		return nil
	}
	tid, ok := t.Claims["tid"]
	if !ok {
		return tokenErr(ErrMissingClaim, "tid (the issuer %q is a multi-tenant template)", v.cfg.Issuer)
	}
	s, _ := tid.(string)
	if !tenantID.MatchString(s) {
		return tokenErr(ErrInvalidClaim, "tid is not a tenant ID")
	}
	if want := strings.Replace(v.cfg.Issuer, TenantPlaceholder, s, 1); t.IDToken.Issuer != want {
		return tokenErr(ErrTokenIssuer, "iss %q is not the issuer of tid %q (%q)", t.IDToken.Issuer, s, want)
	}
	return nil
}

// Audience decodes a JWT's aud, a string or an array of strings (RFC 7519
// §4.1.3).
type Audience []string

func (a *Audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = Audience{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

func (v *Verifier) checkClaims(t *Token) error {
	now := v.cfg.Now()
	leeway := v.cfg.Leeway
	var err error
	if t.Expiry, err = numericDate(t.Claims, "exp", true); err != nil {
		return err
	}
	if !now.Before(t.Expiry.Add(leeway)) {
		return tokenErr(ErrTokenExpired, "exp %s, now %s, leeway %s", t.Expiry.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), leeway)
	}
	if t.NotBefore, err = numericDate(t.Claims, "nbf", false); err != nil {
		return err
	}
	if !t.NotBefore.IsZero() && now.Add(leeway).Before(t.NotBefore) {
		return tokenErr(ErrTokenNotYetValid, "nbf %s, now %s, leeway %s", t.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), leeway)
	}
	if t.IssuedAt, err = numericDate(t.Claims, "iat", true); err != nil {
		return err
	}
	if now.Add(leeway).Before(t.IssuedAt) {
		return tokenErr(ErrTokenIssuedInFuture, "iat %s, now %s, leeway %s", t.IssuedAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), leeway)
	}
	if !slices.ContainsFunc(t.IDToken.Audience, func(a string) bool { return slices.Contains(v.cfg.Audiences, a) }) {
		return tokenErr(ErrTokenAudience, "aud %q, want one of %q", t.IDToken.Audience, v.cfg.Audiences)
	}
	switch sub, ok := t.Claims["sub"]; {
	case !ok && v.cfg.SubjectOptional:
	case !ok || sub == nil:
		return tokenErr(ErrMissingClaim, "sub")
	case sub == "":
		return tokenErr(ErrInvalidClaim, "sub is empty")
	default:
		if _, isString := sub.(string); !isString {
			return tokenErr(ErrInvalidClaim, "sub is not a string")
		}
	}
	return nil
}

// numericDate reads a NumericDate claim (RFC 7519 §2): seconds since the
// epoch, possibly fractional.
func numericDate(claims map[string]any, name string, required bool) (time.Time, error) {
	v, ok := claims[name]
	if !ok || v == nil {
		if required {
			return time.Time{}, tokenErr(ErrMissingClaim, "%s", name)
		}
		return time.Time{}, nil
	}
	n, isNum := v.(json.Number)
	f, err := n.Float64()
	if !isNum || err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, tokenErr(ErrInvalidClaim, "%s is not a NumericDate", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}
