package pkce

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// RFC 7636 Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestChallengeMatchesRFC7636AppendixB(t *testing.T) {
	if got := Verifier(rfcVerifier).Challenge(); got != rfcChallenge {
		t.Fatalf("Challenge() = %q, want %q", got, rfcChallenge)
	}
}

func TestAuthCodeOptionSendsS256Only(t *testing.T) {
	cfg := &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{AuthURL: "https://idp.example/auth"}}
	u, err := url.Parse(cfg.AuthCodeURL("st", Verifier(rfcVerifier).AuthCodeOption()))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge") != rfcChallenge || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("authorization URL query = %v, want the RFC challenge with S256", q)
	}
	if q.Has("code_verifier") {
		t.Fatal("the verifier must never appear in the authorization URL")
	}
}

func TestNewVerifierIsValidAndUnique(t *testing.T) {
	a, b := NewVerifier(), NewVerifier()
	if a == b {
		t.Fatal("two verifiers are equal")
	}
	if _, err := Parse(a.Reveal()); err != nil {
		t.Fatalf("NewVerifier() is not RFC 7636 §4.1 compliant: %v", err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"43 unreserved characters are accepted", strings.Repeat("a", 43), true},
		{"128 characters are accepted", strings.Repeat("~", 128), true},
		{"the RFC example is accepted", rfcVerifier, true},
		{"42 characters are rejected", strings.Repeat("a", 42), false},
		{"129 characters are rejected", strings.Repeat("a", 129), false},
		{"a reserved character is rejected", strings.Repeat("a", 42) + "+", false},
		{"a space is rejected", strings.Repeat("a", 42) + " ", false},
		{"non-ASCII is rejected", strings.Repeat("a", 41) + "é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if tt.ok != (err == nil) || (!tt.ok && !errors.Is(err, ErrInvalidVerifier)) {
				t.Fatalf("Parse error = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestVerifierIsRedacted(t *testing.T) {
	v := Verifier(rfcVerifier)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "verifier", v)
	holder := struct{ V Verifier }{v}
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%v %s %#v %+v %d %x %q %X", v, v, v, holder, v, v, v, holder), logs.String()} {
		if strings.Contains(s, rfcVerifier) {
			t.Fatalf("verifier leaked: %s", s)
		}
	}
}
