package pkce

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"golang.org/x/oauth2"
)

// Method is the only code_challenge_method oidcfed sends.
const Method = "S256"

// ErrInvalidVerifier is returned by [Parse] for a string that is not a
// verifier of RFC 7636 §4.1: 43 to 128 characters of [A-Za-z0-9-._~].
var ErrInvalidVerifier = errors.New("pkce: verifier must be 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1)")

// Verifier is a PKCE code_verifier. It is a secret until the token exchange:
// String, GoString and LogValue print [redacted]; use [Verifier.Reveal] for
// the value.
type Verifier string

// NewVerifier returns a verifier of 32 random bytes (43 characters), as
// RFC 7636 §4.1 recommends.
func NewVerifier() Verifier { return Verifier(oauth2.GenerateVerifier()) }

// Parse checks s against RFC 7636 §4.1 and returns it as a Verifier.
func Parse(s string) (Verifier, error) {
	if len(s) < 43 || len(s) > 128 {
		return "", ErrInvalidVerifier
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return "", ErrInvalidVerifier
		}
	}
	return Verifier(s), nil
}

// Challenge returns the S256 code_challenge: BASE64URL(SHA256(verifier)).
func (v Verifier) Challenge() string { return oauth2.S256ChallengeFromVerifier(string(v)) }

// AuthCodeOption adds code_challenge and code_challenge_method=S256 to an
// authorization URL built by [oauth2.Config.AuthCodeURL].
func (v Verifier) AuthCodeOption() oauth2.AuthCodeOption {
	return oauth2.S256ChallengeOption(string(v))
}

// ExchangeOption adds code_verifier to a token request made by
// [oauth2.Config.Exchange].
func (v Verifier) ExchangeOption() oauth2.AuthCodeOption {
	return oauth2.VerifierOption(string(v))
}

// Reveal returns the verifier itself.
func (v Verifier) Reveal() string { return string(v) }

// String prints [redacted]: a verifier is a secret until the token
// request; [Verifier.Reveal] is the one way out.
func (Verifier) String() string { return "[redacted]" }

// GoString prints [redacted] for %#v.
func (Verifier) GoString() string { return "[redacted]" }

// LogValue logs [redacted].
func (Verifier) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Format prints [redacted] for every verb, %d and %x included, which would
// otherwise print the string itself.
func (Verifier) Format(f fmt.State, _ rune) { io.WriteString(f, "[redacted]") }
