package discovery

import (
	"errors"
	"testing"
)

func TestTenantTemplateIssuers(t *testing.T) {
	const tmpl = "https://login.microsoftonline.com/{tenantid}/v2.0"
	doc := func() *Metadata {
		return &Metadata{Issuer: tmpl, AuthorizationEndpoint: "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
			TokenEndpoint: "https://login.microsoftonline.com/organizations/oauth2/v2.0/token", JWKSURI: "https://login.microsoftonline.com/organizations/discovery/v2.0/keys"}
	}
	iss, _ := ParseIssuer("https://login.microsoftonline.com/organizations/v2.0")
	if err := doc().validate("u", iss, true); err != nil {
		t.Fatalf("the template for organizations: %v", err)
	}
	if err := doc().validate("u", iss, false); !errors.Is(err, ErrIssuerMismatch) {
		t.Fatalf("a template for a source that is not multi-tenant: %v, want ErrIssuerMismatch", err)
	}
	other, _ := ParseIssuer("https://login.microsoftonline.com/organizations/v1.0")
	if err := doc().validate("u", other, true); !errors.Is(err, ErrIssuerMismatch) {
		t.Fatalf("another suffix: %v", err)
	}
	deeper, _ := ParseIssuer("https://login.microsoftonline.com/a/b/v2.0")
	if err := doc().validate("u", deeper, true); !errors.Is(err, ErrIssuerMismatch) {
		t.Fatalf("two segments for the placeholder: %v", err)
	}
	md := doc()
	for iss, want := range map[string]bool{
		"https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0":  true,
		"https://login.microsoftonline.com/organizations/v2.0":                         false,
		"https://login.microsoftonline.com/{tenantid}/v2.0":                            false,
		"https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0/": false,
		"https://evil.example/11111111-2222-3333-4444-555555555555/v2.0":               false,
	} {
		if got := md.IssuerMatches(iss); got != want {
			t.Errorf("IssuerMatches(%q) = %t", iss, got)
		}
	}
	if plain := (&Metadata{Issuer: "https://idp.example.com"}); !plain.IssuerMatches("https://idp.example.com") || plain.IssuerMatches("https://idp.example.com/") {
		t.Error("a plain issuer must match exactly")
	}
	if _, err := NewTenantSource("login.microsoftonline.com", "", Endpoints{}); err == nil {
		t.Error("NewTenantSource accepted a bare domain")
	}
}
