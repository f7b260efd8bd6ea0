package federation

import (
	"errors"
	"fmt"
	"strings"
)

// Code is the stable code of an [Error]: what a browser is told (the error
// query parameter or JSON member), what a bearer challenge carries, and what
// hosts switch on. OAuth 2.0's own codes keep their names (RFC 6749 §4.1.2.1,
// §5.2; RFC 6750 §3.1; RFC 8628 §3.5).
type Code string

// Codes of a failed sign-in, token check or request.
const (
	CodeInvalidState        Code = "invalid_state"
	CodeInvalidRequest      Code = "invalid_request"
	CodeInvalidToken        Code = "invalid_token"
	CodeInvalidGrant        Code = "invalid_grant"
	CodeInvalidClient       Code = "invalid_client"
	CodeAccessDenied        Code = "access_denied"
	CodeLoginRequired       Code = "login_required"
	CodeProviderUnavailable Code = "provider_unavailable"
	CodeServerError         Code = "server_error"
	// CodeTemporarilyUnavailable: the flow store is full of pending
	// sign-ins (session.ErrFull); it empties as they expire.
	CodeTemporarilyUnavailable Code = "temporarily_unavailable"
	CodeSignupDisabled         Code = "signup_disabled"
	CodeUnknownProvider        Code = "unknown_provider"
	// CodeProviderRemoved: the flow's provider was removed from the
	// registry while the user was at the provider.
	CodeProviderRemoved Code = "provider_removed"
	// CodeProviderChanged: the flow's provider was replaced with another
	// configuration while the user was at the provider.
	CodeProviderChanged Code = "provider_changed"
	// CodeIdentityAlreadyLinked: a link found the identity on another account.
	CodeIdentityAlreadyLinked Code = "identity_already_linked"
	// CodeUnsupported: the provider or its configuration does not offer
	// the operation (no device or end-session endpoint, the password grant
	// off, client credentials for a public client).
	CodeUnsupported Code = "unsupported"
	// CodeInsufficientScope: a valid bearer token without a required scope
	// (RFC 6750 §3.1).
	CodeInsufficientScope Code = "insufficient_scope"
	// CodeExpiredToken: the device code expired before the user decided
	// (RFC 8628 §3.5).
	CodeExpiredToken Code = "expired_token"
	// CodeUnauthenticated: the request needs a signed-in session or a
	// bearer token and has none.
	CodeUnauthenticated Code = "unauthenticated"
	// CodeCrossOrigin: a state-changing request from another origin.
	CodeCrossOrigin Code = "cross_origin"
	// CodeNotFound, CodeMethodNotAllowed and CodeNotImplemented answer
	// routes that do not exist, a wrong method, and routes whose feature
	// the host did not configure.
	CodeNotFound         Code = "not_found"
	CodeMethodNotAllowed Code = "method_not_allowed"
	CodeNotImplemented   Code = "not_implemented"

	// The device grant's "keep polling" answers (RFC 8628 §3.5), which
	// never leave PollDevice.
	codeAuthorizationPending Code = "authorization_pending"
	codeSlowDown             Code = "slow_down"
)

// Error is a failed sign-in step. Code is stable; Description is safe to
// show a user; Err carries the detail for logs (never a secret or token).
type Error struct {
	Code        Code   // stable: switch on it
	Description string // safe to show a user
	Err         error  // the cause, for logs and errors.Is; never a secret
}

// Error reads "federation: code: description: cause", the package named
// once: a cause of this package (a sentinel such as [ErrNonceMismatch])
// loses its own "federation: " prefix.
func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("federation: %s: %s", e.Code, e.Description)
	}
	return fmt.Sprintf("federation: %s: %s: %s", e.Code, e.Description,
		strings.TrimPrefix(e.Err.Error(), "federation: "))
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error with the same Code, so that
// errors.Is(err, &federation.Error{Code: federation.CodeInvalidToken}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Description == "" && t.Err == nil
}

func newError(code Code, desc string, err error) *Error {
	return &Error{Code: code, Description: desc, Err: err}
}

// Sentinels for ID-token checks that go beyond the discovery verifier.
var (
	ErrNonceMismatch = errors.New("federation: ID token nonce does not match the flow")
	ErrAZPMismatch   = errors.New("federation: ID token azp is not this client")
	// ErrUntrustedAudience: the ID token's aud lists a party that is neither
	// the client nor one of its trustedAudiences.
	ErrUntrustedAudience = errors.New("federation: ID token has an audience the client does not trust")
	ErrAtHash            = errors.New("federation: ID token at_hash does not match the access token")
	ErrNoIDToken         = errors.New("federation: token response has no id_token")
	ErrIssMismatch       = errors.New("federation: authorization response iss is not the provider's issuer (RFC 9207)")
)

// ErrNoEndSession: the provider advertises no end_session_endpoint, so
// RP-initiated logout is not available; end the local session only.
var ErrNoEndSession = errors.New("federation: the provider has no end_session_endpoint")
