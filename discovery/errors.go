package discovery

import (
	"errors"
	"fmt"

	"github.com/oidcfed/oidcfed/internal/httpx"
)

// Sentinels for discovery documents. Every *[MetadataError] unwraps to one.
var (
	ErrIssuerMismatch   = errors.New("issuer does not match the configured issuer")
	ErrMissingField     = errors.New("required field is missing")
	ErrInvalidEndpoint  = errors.New("endpoint is not a valid absolute URL")
	ErrInsecureEndpoint = errors.New("endpoint must use https (http only when both issuer and endpoint are loopback)")
	ErrUnsupported      = errors.New("provider does not support what oidcfed requires")
	ErrNotJSON          = errors.New("response is not a JSON object")
	ErrHTTPStatus       = errors.New("unexpected HTTP status")
	ErrRedirect         = errors.New("redirect to another origin refused")
	// ErrResponseTooLarge matches responses over the 1 MiB cap (or the
	// configured one), whether announced by Content-Length or not.
	ErrResponseTooLarge = httpx.ErrResponseTooLarge
)

// MetadataError is a problem with a provider's discovery document, JWKS, or
// the configuration that describes them. Field is the JSON member (or config
// field) concerned, empty when the document as a whole is at fault.
type MetadataError struct {
	URL   string // the document's URL, or "configuration"
	Field string // the JSON member or config field; empty for the whole document
	Err   error  // what is wrong: ErrMissingField, ErrIssuerMismatch…
}

// Error names the URL, the field and the problem.
func (e *MetadataError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("discovery: %s: %v", e.URL, e.Err)
	}
	return fmt.Sprintf("discovery: %s: %s: %v", e.URL, e.Field, e.Err)
}

// Unwrap returns Err, for errors.Is with this package's sentinels.
func (e *MetadataError) Unwrap() error { return e.Err }

// Sentinels for token verification. Every *[TokenError] matches
// [ErrInvalidToken] and unwraps to one of the others.
var (
	ErrInvalidToken         = errors.New("invalid token")
	ErrMalformedToken       = errors.New("token is not a well-formed signed JWT")
	ErrUnsupportedAlgorithm = errors.New("token signing algorithm is not accepted")
	ErrUnknownKey           = errors.New("no key in the provider's JWKS matches the token's key ID")
	ErrInvalidSignature     = errors.New("token signature does not verify")
	ErrTokenIssuer          = errors.New("token issuer does not match")
	ErrTokenAudience        = errors.New("token audience does not include an accepted audience")
	ErrTokenExpired         = errors.New("token is expired")
	ErrTokenNotYetValid     = errors.New("token is not valid yet (nbf)")
	ErrTokenIssuedInFuture  = errors.New("token is issued in the future (iat)")
	ErrMissingClaim         = errors.New("required claim is missing")
	ErrInvalidClaim         = errors.New("claim has the wrong type or value")
)

// ErrKeysUnavailable means the provider's JWKS could not be fetched and no
// usable keys are cached: the provider is at fault, not the token.
var ErrKeysUnavailable = errors.New("discovery: provider keys are unavailable")

// TokenError is a rejected token. Detail is safe to log: it never contains
// the token. errors.Is(err, ErrInvalidToken) holds for every TokenError, and
// errors.Is(err, ErrTokenExpired) and the like for the specific rule.
type TokenError struct {
	Err    error  // the rule: ErrTokenExpired, ErrTokenIssuer…
	Detail string // the values involved, never the token
}

// Error names the rule and the detail.
func (e *TokenError) Error() string {
	if e.Detail == "" {
		return "discovery: " + e.Err.Error()
	}
	return "discovery: " + e.Err.Error() + ": " + e.Detail
}

// Unwrap returns Err, the rule's sentinel.
func (e *TokenError) Unwrap() error { return e.Err }

// Is makes every TokenError match ErrInvalidToken.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

func tokenErr(err error, format string, args ...any) *TokenError {
	return &TokenError{Err: err, Detail: fmt.Sprintf(format, args...)}
}
