package discovery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

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
	// ExpiryOptional accepts a token without exp (a signed introspection
	// answer, RFC 9701, has none); an exp that is present is checked.
	ExpiryOptional bool
	// IssuedAtOptional accepts a token without iat (a signed userinfo
	// response need not have one); an iat that is present is checked.
	IssuedAtOptional bool
}

// Verifier verifies signed JWTs from one provider: the compact JWS is
// parsed once and its signature checked with the [KeySet], then the payload
// is decoded once into the claims that every check (iss, aud, exp, nbf,
// iat, sub, tid) and every caller (claim mapping) reads. Every error is
// typed.
type Verifier struct {
	cfg  VerifierConfig
	algs []jose.SignatureAlgorithm // cfg.Algorithms, converted once
}

// Token is a verified token.
type Token struct {
	// Issuer is the token's iss: the verifier's issuer, or under a
	// multi-tenant template the tenant's own.
	Issuer string
	// Audience is the token's aud, one or more values.
	Audience []string
	// Algorithm is the JWS alg that signed it.
	Algorithm string
	// AccessTokenHash is the at_hash claim ("" when absent); see
	// [Token.VerifyAccessToken].
	AccessTokenHash string
	// Claims are every claim of the payload, numbers as json.Number.
	Claims map[string]any
	// Expiry, IssuedAt and NotBefore are the time claims (zero when absent).
	Expiry, IssuedAt, NotBefore time.Time
	// KeyID is the kid of the JWKS key that verified the signature (empty
	// when that key has none): what [KeySetConfig.OnKeyRemoved] reports.
	KeyID string
}

// ErrAccessTokenHash: at_hash is not the hash of the access token.
var ErrAccessTokenHash = errors.New("discovery: at_hash does not match the access token")

// VerifyAccessToken checks that the token's at_hash is the hash of
// accessToken (OpenID Connect Core 1.0 §3.1.3.6): the left half of the
// access token's hash with the SHA-2 function of the signing algorithm,
// SHA-512 for EdDSA (Ed25519, per the spec's errata), base64url-encoded.
func (t *Token) VerifyAccessToken(accessToken string) error {
	var h hash.Hash
	switch {
	case strings.HasSuffix(t.Algorithm, "256"):
		h = sha256.New()
	case strings.HasSuffix(t.Algorithm, "384"):
		h = sha512.New384()
	case strings.HasSuffix(t.Algorithm, "512"), t.Algorithm == "EdDSA":
		h = sha512.New()
	default:
		return fmt.Errorf("%w: no at_hash function for alg %q", ErrAccessTokenHash, t.Algorithm)
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	want := base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
	if subtle.ConstantTimeCompare([]byte(want), []byte(t.AccessTokenHash)) != 1 {
		return ErrAccessTokenHash
	}
	return nil
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
			errs = append(errs,
				fmt.Errorf("discovery: verifier: algorithm %q is not accepted; use asymmetric algorithms from %v", a,
					SigningAlgorithms))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.Now = clock.Or(cfg.Now)
	if cfg.Leeway == 0 {
		cfg.Leeway = time.Minute
	}
	v := &Verifier{cfg: cfg}
	for _, a := range cfg.Algorithms {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	return v, nil
}

// Verify checks raw's signature, iss, aud, exp (required), nbf, iat
// (required, not in the future) and sub (a non-empty string), and returns
// its claims. Errors are *[TokenError] (errors.Is(err, [ErrInvalidToken]))
// or, when the provider's keys cannot be fetched, wrap [ErrKeysUnavailable].
func (v *Verifier) Verify(ctx context.Context, raw string) (*Token, error) {
	payload, alg, kid, err := v.cfg.KeySet.verify(ctx, raw, v.algs, v.cfg.Algorithms)
	if err != nil {
		return nil, err
	}
	t := &Token{Algorithm: alg, KeyID: kid}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	if err := d.Decode(&t.Claims); err != nil || t.Claims == nil {
		return nil, tokenErr(ErrMalformedToken, "payload is not a JSON object")
	}
	if err := v.checkIssuer(t); err != nil {
		return nil, err
	}
	if err := v.checkClaims(t); err != nil {
		return nil, err
	}
	return t, nil
}

// googleIssuerNoScheme is the iss Google has been seen to send for the
// issuer https://accounts.google.com (go-oidc accepts it too).
const googleIssuerNoScheme = "accounts.google.com"

// checkIssuer checks iss: exactly the issuer, or, for a template issuer,
// the template with the token's own tid.
func (v *Verifier) checkIssuer(t *Token) error {
	iss, ok := t.Claims["iss"].(string)
	switch {
	case !ok:
		return tokenErr(ErrTokenIssuer, "iss is missing or not a string")
	case strings.Contains(v.cfg.Issuer, TenantPlaceholder):
		t.Issuer = iss
		return v.checkTenantIssuer(t)
	case iss == v.cfg.Issuer, iss == googleIssuerNoScheme && v.cfg.Issuer == "https://"+googleIssuerNoScheme:
		t.Issuer = iss
		return nil
	}
	return tokenErr(ErrTokenIssuer, "iss %q, want %q", iss, v.cfg.Issuer)
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
	if want := strings.Replace(v.cfg.Issuer, TenantPlaceholder, s, 1); t.Issuer != want {
		return tokenErr(ErrTokenIssuer, "iss %q is not the issuer of tid %q (%q)", t.Issuer, s, want)
	}
	return nil
}

// Audience decodes a JWT's aud, a string or an array of strings (RFC 7519
// §4.1.3).
type Audience []string

// UnmarshalJSON reads a string or an array of strings.
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
	if t.Expiry, err = numericDate(t.Claims, "exp", !v.cfg.ExpiryOptional); err != nil {
		return err
	}
	if !t.Expiry.IsZero() && !now.Before(t.Expiry.Add(leeway)) {
		return tokenErr(ErrTokenExpired, "exp %s, now %s, leeway %s", t.Expiry.UTC().Format(time.RFC3339),
			now.UTC().Format(time.RFC3339), leeway)
	}
	if t.NotBefore, err = numericDate(t.Claims, "nbf", false); err != nil {
		return err
	}
	if !t.NotBefore.IsZero() && now.Add(leeway).Before(t.NotBefore) {
		return tokenErr(ErrTokenNotYetValid, "nbf %s, now %s, leeway %s", t.NotBefore.UTC().Format(time.RFC3339),
			now.UTC().Format(time.RFC3339), leeway)
	}
	if t.IssuedAt, err = numericDate(t.Claims, "iat", !v.cfg.IssuedAtOptional); err != nil {
		return err
	}
	if now.Add(leeway).Before(t.IssuedAt) {
		return tokenErr(ErrTokenIssuedInFuture, "iat %s, now %s, leeway %s", t.IssuedAt.UTC().Format(time.RFC3339),
			now.UTC().Format(time.RFC3339), leeway)
	}
	aud, err := audienceOf(t.Claims["aud"])
	if err != nil {
		return err
	}
	t.Audience = aud
	if !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(v.cfg.Audiences, a) }) {
		return tokenErr(ErrTokenAudience, "aud %q, want one of %q", aud, v.cfg.Audiences)
	}
	if h, present := t.Claims["at_hash"]; present {
		if t.AccessTokenHash, _ = h.(string); t.AccessTokenHash == "" {
			return tokenErr(ErrInvalidClaim, "at_hash is not a non-empty string")
		}
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

// audienceOf reads aud: a string or an array of strings (RFC 7519 §4.1.3).
func audienceOf(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, tokenErr(ErrInvalidClaim, "aud has a value that is not a string")
			}
			out = append(out, s)
		}
		return out, nil
	case nil:
		return nil, tokenErr(ErrMissingClaim, "aud")
	}
	return nil, tokenErr(ErrInvalidClaim, "aud is not a string or an array of strings")
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
