package federation_test

import (
	"errors"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// TestRevoke: a revoked refresh token cannot refresh any more, and the
// revocation authenticates the client; the refusals are precise.
func TestRevoke(t *testing.T) {
	r := newRP(t, federationtest.Options{})
	signsIn(t, r)
	p, _ := r.reg.Lookup("oidc:acme")
	r.mu.Lock()
	tokens := r.logins[0].Result.Tokens
	r.mu.Unlock()
	if err := p.Revoke(t.Context(), tokens.RefreshToken, federation.HintRefreshToken); err != nil {
		t.Fatal(err)
	}
	if got := r.op.Revoked(); len(got) != 1 || got[0] != tokens.RefreshToken.Reveal() {
		t.Fatalf("the provider was sent %d tokens", len(got))
	}
	if seen := r.op.TokenAuthMethodsSeen(); seen[len(seen)-1] != "client_secret_basic" {
		t.Fatalf("the revocation authenticated with %v", seen)
	}
	if _, err := p.Refresh(t.Context(), tokens); code(err) != federation.CodeLoginRequired {
		t.Fatalf("refresh after revocation: %v, want login_required", err)
	}
	// Unknown or already revoked: still fine (RFC 7009 §2.2).
	if err := p.Revoke(t.Context(), tokens.RefreshToken, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		token federation.Secret
		hint  string
		code  federation.Code
	}{
		{"an unknown hint", "x", "id_token", federation.CodeInvalidRequest},
		{"no token", "", "", federation.CodeInvalidRequest},
	} {
		if err := p.Revoke(t.Context(), tc.token, tc.hint); code(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	r2 := newRP(t, federationtest.Options{})
	r2.op.Misbehave(federationtest.Misbehavior{Discovery: func(doc map[string]any) { delete(doc, "revocation_endpoint") }})
	p2, _ := r2.reg.Lookup("oidc:acme")
	if err := p2.Revoke(t.Context(), "x", ""); !errors.Is(err, federation.ErrNoRevocation) ||
		code(err) != federation.CodeUnsupported {
		t.Fatalf("no revocation endpoint: %v", err)
	}
}

// code is err's *Error code, "" for another error or nil.
func code(err error) federation.Code {
	if e, ok := errors.AsType[*federation.Error](err); ok {
		return e.Code
	}
	return ""
}
