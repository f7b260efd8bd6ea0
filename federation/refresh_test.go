package federation_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
	"github.com/oidcfed/oidcfed/internal/clock"
)

// signedIn is a relying party on a fake clock after one sign-in.
type signedIn struct {
	*rp
	clock  *clock.Fake
	p      *federation.Provider
	tokens federation.Tokens
}

func newSignedIn(t *testing.T, o rpOptions) *signedIn {
	t.Helper()
	c := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	o.now = c.Now
	r := newRPWith(t, o)
	r.op.SetClock(c.Now)
	r.signIn(newBrowser(t), "/")
	if r.loginCount() != 1 {
		t.Fatalf("sign-in failed:\n%s", r.logs)
	}
	p, _ := r.reg.Lookup("oidc:acme")
	return &signedIn{rp: r, clock: c, p: p, tokens: r.logins[0].Result.Tokens}
}

func TestRefresh(t *testing.T) {
	s := newSignedIn(t, rpOptions{})
	s.clock.Advance(4 * time.Minute)
	got, err := s.p.Refresh(context.Background(), s.tokens)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken == s.tokens.AccessToken || got.AccessToken == "" {
		t.Error("the access token was not replaced")
	}
	if got.RefreshToken == s.tokens.RefreshToken || got.RefreshToken == "" {
		t.Error("the rotated refresh token did not replace the old one")
	}
	if got.IDToken == s.tokens.IDToken || got.IDToken == "" {
		t.Error("the new ID token did not replace the old one")
	}
	if want := s.clock.Now().Add(300 * time.Second); !got.Expiry.Equal(want) {
		t.Errorf("expiry %v, want %v (expires_in on the injected clock)", got.Expiry, want)
	}

	// The provider rotated: the old refresh token is now refused, and that
	// tells the host to sign the user in again.
	_, err = s.p.Refresh(context.Background(), s.tokens)
	wantCode(t, err, federation.CodeLoginRequired)
	if !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("error %q does not name the provider's invalid_grant", err)
	}
	if _, err := s.p.Refresh(context.Background(), got); err != nil {
		t.Errorf("refreshing with the rotated token: %v", err)
	}
}

func TestRefreshWithoutRotation(t *testing.T) {
	s := newSignedIn(t, rpOptions{op: federationtest.Options{KeepRefreshTokens: true}})
	for i := range 2 {
		got, err := s.p.Refresh(context.Background(), s.tokens)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if got.RefreshToken != s.tokens.RefreshToken {
			t.Fatalf("refresh %d: the provider sent no refresh token, so the old one must be kept", i)
		}
	}
}

func TestRefreshWithoutNewIDToken(t *testing.T) {
	s := newSignedIn(t, rpOptions{})
	s.op.Misbehave(federationtest.Misbehavior{TokenResponse: func(b map[string]any) { delete(b, "id_token") }})
	got, err := s.p.Refresh(context.Background(), s.tokens)
	if err != nil {
		t.Fatal(err)
	}
	if got.IDToken != s.tokens.IDToken {
		t.Error("with no new ID token the original must be kept")
	}
}

func TestRefreshInvalidGrantAfterRevocation(t *testing.T) {
	s := newSignedIn(t, rpOptions{})
	s.op.RevokeRefreshTokens()
	_, err := s.p.Refresh(context.Background(), s.tokens)
	wantCode(t, err, federation.CodeLoginRequired)
	if !errors.Is(err, &federation.Error{Code: federation.CodeLoginRequired}) {
		t.Error("errors.Is with the login_required code does not match")
	}
	if strings.Contains(err.Error(), s.tokens.RefreshToken.Reveal()) {
		t.Error("the error names the refresh token")
	}
}

// TestRefreshRejections feeds refreshed ID tokens (and original records)
// that OpenID Connect Core 1.0 §12.2 or the ID-token rules refuse.
func TestRefreshRejections(t *testing.T) {
	for _, tt := range refreshRejections() {
		if len(tt.modules) == 0 {
			t.Run(tt.name, tt.run)
		}
	}
}

// refreshRejection is a refresh the library must refuse.
type refreshRejection struct {
	name     string
	modules  []string // the RP conformance modules it mirrors (TestConformance)
	provider func(*federation.ProviderConfig)
	claims   func(c map[string]any)     // edits the refreshed ID token
	original func(c map[string]any)     // edits the host's record of the original
	tokens   func(t *federation.Tokens) // edits the tokens passed to Refresh
	code     federation.Code            // the *Error code
	cause    error                      // errors.Is must hold
	sign     func(payload []byte, key crypto.Signer, kid, alg string) string
}

// refreshRejections are the refreshes refused (those with modules run in
// TestConformance).
func refreshRejections() []refreshRejection {
	return []refreshRejection{
		{name: "another sub", modules: []string{"oidcc-client-test-refresh-token-invalid-sub"}, claims: func(c map[string]any) { c["sub"] = "mallory" },
			code: federation.CodeInvalidToken, cause: federation.ErrIdentityChanged},
		{name: "another iss, refused by the verifier", modules: []string{"oidcc-client-test-refresh-token-invalid-issuer"}, claims: func(c map[string]any) { c["iss"] = "https://evil.example" },
			code: federation.CodeInvalidToken, cause: discovery.ErrTokenIssuer},
		{name: "an original record from another iss", original: func(c map[string]any) { c["iss"] = "https://old.example" },
			code: federation.CodeInvalidToken, cause: federation.ErrIdentityChanged},
		{name: "another aud, even a trusted one", modules: []string{"oidcc-client-test-refresh-token-invalid-aud"},
			provider: func(pc *federation.ProviderConfig) { pc.TrustedAudiences = []string{"api"} },
			claims:   func(c map[string]any) { c["aud"] = []string{"client-1", "api"} },
			code:     federation.CodeInvalidToken, cause: federation.ErrIdentityChanged},
		{name: "azp left out", claims: func(c map[string]any) { delete(c, "azp") },
			code: federation.CodeInvalidToken, cause: federation.ErrIdentityChanged},
		{name: "azp of another client", modules: []string{"oidcc-client-test-refresh-token-invalid-azp"}, claims: func(c map[string]any) { c["azp"] = "client-2" },
			code: federation.CodeInvalidToken, cause: federation.ErrAZPMismatch},
		{name: "another auth_time", claims: func(c map[string]any) { c["auth_time"] = c["auth_time"].(int64) + 1 },
			code: federation.CodeInvalidToken, cause: federation.ErrIdentityChanged},
		{name: "a nonce other than the original", claims: func(c map[string]any) { c["nonce"] = "another" },
			code: federation.CodeInvalidToken, cause: federation.ErrIdentityChanged},
		{name: "expired", claims: func(c map[string]any) { c["exp"] = c["iat"].(int64) - 600 },
			code: federation.CodeInvalidToken, cause: discovery.ErrTokenExpired},
		{name: "at_hash of another access token", claims: func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" },
			code: federation.CodeInvalidToken, cause: federation.ErrAtHash},
		{name: "a bad signature", sign: func(payload []byte, key crypto.Signer, kid, alg string) string {
			tok := federationtest.Sign(payload, key, kid, alg)
			return tok[:len(tok)-4] + "AAAA"
		}, code: federation.CodeInvalidToken, cause: discovery.ErrInvalidSignature},
		{name: "no refresh token", tokens: func(t *federation.Tokens) { t.RefreshToken = "" },
			code: federation.CodeLoginRequired, cause: federation.ErrNoRefreshToken},
		{name: "no original ID token", tokens: func(t *federation.Tokens) { t.IDToken = "" },
			code: federation.CodeInvalidRequest, cause: discovery.ErrMalformedToken},
	}
}

// run signs in, bends the provider or the tokens, and wants the refresh
// refused with the code and cause.
func (tt refreshRejection) run(t *testing.T) {
	s := newSignedIn(t, rpOptions{provider: tt.provider})
	tokens := s.tokens
	if tt.original != nil {
		tokens.IDToken = federation.Secret(editPayload(t, tokens.IDToken.Reveal(), tt.original))
	}
	if tt.tokens != nil {
		tt.tokens(&tokens)
	}
	s.op.Misbehave(federationtest.Misbehavior{IDTokenClaims: tt.claims, Sign: tt.sign})
	_, err := s.p.Refresh(context.Background(), tokens)
	wantCode(t, err, tt.code)
	if !errors.Is(err, tt.cause) {
		t.Errorf("error %v is not %v", err, tt.cause)
	}
}

func TestRefreshAcceptsTheOriginalNonce(t *testing.T) {
	s := newSignedIn(t, rpOptions{})
	orig := decodePayload(t, s.tokens.IDToken.Reveal())
	s.op.Misbehave(federationtest.Misbehavior{IDTokenClaims: func(c map[string]any) { c["nonce"] = orig["nonce"] }})
	if _, err := s.p.Refresh(context.Background(), s.tokens); err != nil {
		t.Fatal(err)
	}
}

func TestRefresher(t *testing.T) {
	s := newSignedIn(t, rpOptions{})
	src := s.p.Refresher(s.tokens)
	calls := func() int { return len(s.op.TokenAuthMethodsSeen()) }
	before := calls()

	// Valid until RefreshMargin before expiry: no request.
	s.clock.Advance(300*time.Second - federation.RefreshMargin - time.Second)
	got, err := src.Token(context.Background())
	if err != nil || got.AccessToken != s.tokens.AccessToken || calls() != before {
		t.Fatalf("before the margin: %v, same token %t, %d token requests", err, got.AccessToken == s.tokens.AccessToken, calls()-before)
	}

	// Within the margin: 16 callers, one refresh, one new token for all.
	s.clock.Advance(2 * time.Second)
	var wg sync.WaitGroup
	results := make([]federation.Tokens, 16)
	for i := range results {
		wg.Go(func() {
			tok, err := src.Token(context.Background())
			if err != nil {
				t.Error(err)
			}
			results[i] = tok
		})
	}
	wg.Wait()
	if calls() != before+1 {
		t.Errorf("%d token requests for 16 callers, want 1", calls()-before)
	}
	for _, r := range results {
		if r.AccessToken != results[0].AccessToken || r.AccessToken == s.tokens.AccessToken {
			t.Fatal("callers got different or stale tokens")
		}
	}

	// A failed refresh keeps the tokens and reports login_required.
	s.op.RevokeRefreshTokens()
	_, err = src.Refresh(context.Background())
	wantCode(t, err, federation.CodeLoginRequired)
	if got, err := src.Token(context.Background()); err != nil || got.AccessToken != results[0].AccessToken {
		t.Errorf("after a failed refresh: %v; want the last good tokens", err)
	}
}

func wantCode(t *testing.T, err error, code federation.Code) {
	t.Helper()
	var fe *federation.Error
	if !errors.As(err, &fe) || fe.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func decodePayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// editPayload rewrites a JWS payload without re-signing: the host's record
// is not re-verified, so this stands for a record from elsewhere.
func editPayload(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	c := decodePayload(t, tok)
	edit(c)
	b, _ := json.Marshal(c)
	parts := strings.Split(tok, ".")
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}
