package discovery

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGoogleIssuerAlias: Google documents that its ID tokens may carry iss
// "accounts.google.com" without the scheme. That alias is accepted for the
// Google issuer only; for any other issuer a scheme-less iss is rejected.
func TestGoogleIssuerAlias(t *testing.T) {
	k := newKey(t, "RS256", "g")
	f := newKeySetFixture(t, k)
	google, err := NewVerifier(VerifierConfig{Issuer: "https://accounts.google.com", Audiences: []string{"client-1"}, KeySet: f.ks, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	now := f.clk.Now()
	if _, err := google.Verify(context.Background(), k.sign(t, claimsFor("accounts.google.com", "client-1", now))); err != nil {
		t.Fatalf("the Google alias was refused for the Google issuer: %v", err)
	}
	if _, err := google.Verify(context.Background(), k.sign(t, claimsFor("https://accounts.google.com", "client-1", now))); err != nil {
		t.Fatalf("the Google issuer itself was refused: %v", err)
	}
	schemeless := strings.TrimPrefix(f.idp.URL, "http://")
	if _, err := f.v.Verify(context.Background(), k.sign(t, claimsFor(schemeless, "client-1", now))); !errors.Is(err, ErrTokenIssuer) {
		t.Fatalf("a scheme-less iss for another issuer: %v, want ErrTokenIssuer", err)
	}
	if _, err := f.v.Verify(context.Background(), k.sign(t, claimsFor("accounts.google.com", "client-1", now))); !errors.Is(err, ErrTokenIssuer) {
		t.Fatalf("the Google alias for another issuer: %v, want ErrTokenIssuer", err)
	}
}

// TestDiscoverySlowProvider: a provider that does not answer is cut off by
// the client's timeout, and the error says it timed out.
func TestDiscoverySlowProvider(t *testing.T) {
	client := tlsIdP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	client.Timeout = 300 * time.Millisecond
	_, err := Fetch(context.Background(), client, newSource(t, "https://example.com"))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Fetch error = %v, want a timeout", err)
	}
}
