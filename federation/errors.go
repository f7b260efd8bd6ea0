package federation

import (
	"errors"
	"fmt"
)

// Codes are the stable error codes of a failed sign-in: what the browser is
// told (as the error query parameter) and what hosts switch on.
const (
	CodeInvalidState        = "invalid_state"
	CodeInvalidRequest      = "invalid_request"
	CodeInvalidToken        = "invalid_token"
	CodeInvalidGrant        = "invalid_grant"
	CodeInvalidClient       = "invalid_client"
	CodeAccessDenied        = "access_denied"
	CodeLoginRequired       = "login_required"
	CodeProviderUnavailable = "provider_unavailable"
	CodeServerError         = "server_error"
	// CodeTemporarilyUnavailable: the flow store is full of pending
	// sign-ins (session.ErrFull); it empties as they expire.
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	CodeSignupDisabled         = "signup_disabled"
	CodeUnknownProvider        = "unknown_provider"
	// CodeProviderRemoved: the flow's provider was removed from the
	// registry while the user was at the provider.
	CodeProviderRemoved = "provider_removed"
	// CodeProviderChanged: the flow's provider was replaced with another
	// configuration while the user was at the provider.
	CodeProviderChanged = "provider_changed"
	// CodeIdentityAlreadyLinked: a link found the identity on another account.
	CodeIdentityAlreadyLinked = "identity_already_linked"
)

// Error is a failed sign-in step. Code is stable; Description is safe to
// show a user; Err carries the detail for logs (never a secret or token).
type Error struct {
	Code        string
	Description string
	Err         error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("federation: %s: %s", e.Code, e.Description)
	}
	return fmt.Sprintf("federation: %s: %s: %v", e.Code, e.Description, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error with the same Code, so that
// errors.Is(err, &federation.Error{Code: federation.CodeInvalidToken}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Description == "" && t.Err == nil
}

func newError(code, desc string, err error) *Error {
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
