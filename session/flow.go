package session

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/oidcfed/oidcfed/pkce"
)

// Mode is what a flow was started for.
type Mode uint8

const (
	SignIn  Mode = iota // sign in, or create an account
	Link                // attach an identity to the signed-in account
	Upgrade             // attach an identity to an anonymous account
)

// String is the mode's name, as logged: sign-in, link or upgrade.
func (m Mode) String() string {
	switch m {
	case SignIn:
		return "sign-in"
	case Link:
		return "link"
	case Upgrade:
		return "upgrade"
	}
	return fmt.Sprintf("Mode(%d)", m)
}

// MaxAge is how long a flow may take, from the redirect to the callback.
const MaxAge = 10 * time.Minute

// FlowState is what a sign-in needs to remember across the redirect. The
// state, nonce and PKCE verifier are secrets until the callback: String,
// GoString and LogValue never print them.
type FlowState struct {
	Provider   string        // registry key, "oidc:acme"
	State      string        // the state parameter; also the flow's ID
	Nonce      string        // the nonce parameter
	Verifier   pkce.Verifier // the PKCE code_verifier
	RedirectTo string        // where the browser goes after the callback
	Mode       Mode          // what the flow was started for
	AccountID  string        // the account a link or upgrade attaches to
	Created    time.Time     // when the flow began; it expires MaxAge later
	// ProviderVersion identifies the provider's configuration when the
	// flow began, so that a flow cannot complete at a provider replaced in
	// the meantime. Empty matches any (flows saved before it existed).
	ProviderVersion string
	// What this start asked of the authentication (step-up), checked on
	// the ID token at the callback: an acr among ACRValues, an auth_time
	// at most MaxAge old, and with FreshLogin (prompt=login) an auth_time
	// after the flow began.
	ACRValues  []string
	MaxAge     time.Duration
	FreshLogin bool
	// FormPost: the provider answers with a cross-site POST
	// (response_mode=form_post), so the flow cookie is SameSite=None and
	// Secure (a browser sends no Lax cookie with a cross-site POST; on
	// http://localhost and 127.0.0.1 it keeps Secure cookies too), and the
	// callback takes only a POST for this flow.
	FormPost bool
	// DPoPKey is the sign-in's DPoP private key (PKCS#8), sealed with the
	// flow: the code is bound to it, and the token request proves it.
	DPoPKey []byte
}

// String prints the flow without its secrets.
func (f *FlowState) String() string {
	return fmt.Sprintf("FlowState{Provider:%q Mode:%s RedirectTo:%q Created:%s secrets:[redacted]}",
		f.Provider, f.Mode, f.RedirectTo, f.Created.UTC().Format(time.RFC3339))
}

// GoString is String.
func (f *FlowState) GoString() string { return f.String() }

// LogValue logs the flow without its secrets.
func (f *FlowState) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", f.Provider), slog.String("mode", f.Mode.String()),
		slog.String("redirectTo", f.RedirectTo), slog.Time("created", f.Created))
}

// Errors of [FlowStore.Take]. The handler answers each with invalid_state.
var (
	// ErrNoFlow: no flow for this state in this browser — missing or
	// unknown state, a cookie from another browser, or a flow already taken.
	ErrNoFlow = errors.New("session: no pending sign-in matches this state")
	// ErrFlowExpired: the flow is older than [MaxAge].
	ErrFlowExpired = errors.New("session: the sign-in took longer than 10 minutes")
	// ErrReplayed: the flow was already used.
	ErrReplayed = errors.New("session: the sign-in was already completed")
)

// FlowStore keeps flows between the redirect and the callback. Take returns
// a flow at most once, and only to the browser that saved it.
type FlowStore interface {
	Save(w http.ResponseWriter, r *http.Request, f *FlowState) error
	Take(w http.ResponseWriter, r *http.Request, state string) (*FlowState, error)
}

// SecureCookieStore is a FlowStore that reports whether its cookies are
// Secure. A handler refuses one whose setting contradicts its base URL: a
// non-Secure flow cookie on an https site, or a Secure one that a plain
// http site's browser would not send back.
type SecureCookieStore interface {
	FlowStore
	SecureCookies() bool
}
