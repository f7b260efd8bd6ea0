package federation_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/session"
)

const (
	issuerA = "https://a.example"
	issuerB = "https://b.example"
)

// userFrom maps raw claims as a provider's ID token would carry them.
func userFrom(t *testing.T, issuer string, raw map[string]any) claims.User {
	t.Helper()
	u, err := claims.DefaultMapper.User(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Issuer, u.Provider = issuer, "oidc:"+issuer[8:9]
	return u
}

func mustAccount(t *testing.T, s *federation.MemoryAccounts, id string) *federation.Account {
	t.Helper()
	a, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLinkByVerifiedEmailSignIn(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		verified   any // the second provider's email_verified; nil: absent
		trust      string
		localOK    bool // the existing account's email is verified
		wantLinked bool
	}{
		{"verified by the provider and locally: linked", true, "", true, true},
		{`the string "true" counts as verified`, "true", "", true, true},
		{"email_verified false: a new account", false, "", true, false},
		{"email_verified missing: a new account", nil, "", true, false},
		{`the string "false": a new account`, "false", "", true, false},
		{"the number 0: a new account", 0, "", true, false},
		{"the number 1 is not a boolean: a new account", 1, "", true, false},
		{`the string "yes": a new account`, "yes", "", true, false},
		{"the local email is unverified: no link even though the provider verified it", true, "", false, false},
		{"emailTrust never: no link even though both are verified", true, federation.EmailTrustNever, true, false},
		{"emailTrust dangerousAlways links an unverified email", false, federation.EmailTrustDangerousAlways, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := federation.NewMemoryAccounts()
			first, err := store.CreateWithIdentity(ctx, federation.Account{Email: "alice@example.com", EmailVerified: tt.localOK},
				federation.Identity{Provider: "oidc:a", Issuer: issuerA, Subject: "alice-a"})
			if err != nil {
				t.Fatal(err)
			}
			raw := map[string]any{"sub": "alice-b", "email": "Alice@Example.com"}
			if tt.verified != nil {
				raw["email_verified"] = tt.verified
			}
			dec, err := federation.LinkByVerifiedEmail{Store: store}.Resolve(ctx, federation.Attempt{Mode: session.SignIn,
				User: userFrom(t, issuerB, raw), Provider: "oidc:b", AllowSignup: true, EmailTrust: tt.trust})
			if err != nil {
				t.Fatal(err)
			}
			after := mustAccount(t, store, first.ID)
			if tt.wantLinked {
				if dec.Outcome != federation.Linked || dec.Account.ID != first.ID || len(after.Identities) != 2 {
					t.Fatalf("decision %v, account %+v; want linked to %s with two identities", dec, after, first.ID)
				}
				return
			}
			if dec.Outcome != federation.Created || dec.Account.ID == first.ID || len(after.Identities) != 1 {
				t.Fatalf("decision %v, existing account %+v; want a new account and the existing one unchanged", dec, after)
			}
			if dec.Account.EmailVerified && tt.trust != federation.EmailTrustDangerousAlways && tt.verified != true && tt.verified != "true" {
				t.Fatalf("the new account's email is marked verified: %+v", dec.Account)
			}
		})
	}
}

func TestLinkByVerifiedEmailKnownIdentityAndSignupDisabled(t *testing.T) {
	ctx := context.Background()
	store := federation.NewMemoryAccounts()
	policy := federation.LinkByVerifiedEmail{Store: store}
	u := userFrom(t, issuerA, map[string]any{"sub": "s1", "email": "s1@example.com", "email_verified": true})
	if _, err := policy.Resolve(ctx, federation.Attempt{Mode: session.SignIn, User: u, Provider: "oidc:a"}); !errors.Is(err, &federation.Error{Code: federation.CodeSignupDisabled}) {
		t.Fatalf("sign-up disabled: %v, want signup_disabled", err)
	}
	first, err := policy.Resolve(ctx, federation.Attempt{Mode: session.SignIn, User: u, Provider: "oidc:a", AllowSignup: true})
	if err != nil || first.Outcome != federation.Created {
		t.Fatalf("first sign-in: %v %v", first, err)
	}
	again, err := policy.Resolve(ctx, federation.Attempt{Mode: session.SignIn, User: u, Provider: "oidc:a"})
	if err != nil || again.Outcome != federation.SignedIn || again.Account.ID != first.Account.ID {
		t.Fatalf("second sign-in (sign-up disabled, identity known): %v %v", again, err)
	}
}

func TestLinkModes(t *testing.T) {
	ctx := context.Background()
	store := federation.NewMemoryAccounts()
	policy := federation.LinkByVerifiedEmail{Store: store}
	x, _ := store.CreateWithIdentity(ctx, federation.Account{Email: "x@example.com", EmailVerified: true}, federation.Identity{Provider: "oidc:a", Issuer: issuerA, Subject: "x"})
	y, _ := store.CreateWithIdentity(ctx, federation.Account{Email: "y@example.com", EmailVerified: true}, federation.Identity{Provider: "oidc:a", Issuer: issuerA, Subject: "y"})
	xb := userFrom(t, issuerB, map[string]any{"sub": "x-b", "email": "x@corp.example", "email_verified": true})

	dec, err := policy.Resolve(ctx, federation.Attempt{Mode: session.Link, User: xb, Provider: "oidc:b", AccountID: x.ID})
	if err != nil || dec.Outcome != federation.Linked || dec.Account.ID != x.ID || len(dec.Account.Identities) != 2 || dec.Account.Email != "x@example.com" {
		t.Fatalf("link: %v %+v %v", dec, dec.Account, err)
	}
	dec, err = policy.Resolve(ctx, federation.Attempt{Mode: session.Link, User: xb, Provider: "oidc:b", AccountID: x.ID})
	if err != nil || dec.Account.ID != x.ID || len(dec.Account.Identities) != 2 {
		t.Fatalf("linking the same identity again is a no-op: %v %v", dec, err)
	}
	_, err = policy.Resolve(ctx, federation.Attempt{Mode: session.Link, User: xb, Provider: "oidc:b", AccountID: y.ID})
	if !errors.Is(err, &federation.Error{Code: federation.CodeIdentityAlreadyLinked}) {
		t.Fatalf("linking x's identity to y: %v, want identity_already_linked", err)
	}
	if a, b := mustAccount(t, store, x.ID), mustAccount(t, store, y.ID); len(a.Identities) != 2 || len(b.Identities) != 1 {
		t.Fatalf("a refused link changed the accounts: %+v %+v", a, b)
	}
	_, err = policy.Resolve(ctx, federation.Attempt{Mode: session.Link, User: xb, Provider: "oidc:b", AccountID: "gone"})
	if !errors.Is(err, &federation.Error{Code: federation.CodeIdentityAlreadyLinked}) {
		t.Fatalf("linking to a missing account an identity that is x's: %v", err)
	}
	fresh := userFrom(t, issuerB, map[string]any{"sub": "z-b"})
	if _, err = policy.Resolve(ctx, federation.Attempt{Mode: session.Link, User: fresh, Provider: "oidc:b", AccountID: "gone"}); !errors.Is(err, &federation.Error{Code: federation.CodeLoginRequired}) {
		t.Fatalf("linking to a missing account: %v, want login_required", err)
	}
	if _, err = policy.Resolve(ctx, federation.Attempt{Mode: session.Link, User: fresh, Provider: "oidc:b"}); !errors.Is(err, &federation.Error{Code: federation.CodeLoginRequired}) {
		t.Fatalf("linking without an account: %v, want login_required", err)
	}

	// Upgrade: the anonymous account keeps its ID, stops being anonymous
	// and takes the provider's email.
	anon, _ := store.CreateAnonymous(ctx)
	dec, err = policy.Resolve(ctx, federation.Attempt{Mode: session.Upgrade, User: fresh, Provider: "oidc:b", AccountID: anon.ID})
	if err != nil || dec.Account.ID != anon.ID || dec.Account.Anonymous || len(dec.Account.Identities) != 1 {
		t.Fatalf("upgrade: %v %+v %v", dec, dec.Account, err)
	}
	withEmail := userFrom(t, issuerA, map[string]any{"sub": "w", "email": "w@example.com", "email_verified": true})
	anon2, _ := store.CreateAnonymous(ctx)
	dec, _ = policy.Resolve(ctx, federation.Attempt{Mode: session.Upgrade, User: withEmail, Provider: "oidc:a", AccountID: anon2.ID})
	if dec.Account.Email != "w@example.com" || !dec.Account.EmailVerified {
		t.Fatalf("upgrade did not take the verified email: %+v", dec.Account)
	}

	// The last identity cannot be removed; another one can.
	if err := store.DetachIdentity(ctx, y.ID, federation.Identity{Issuer: issuerA, Subject: "y"}); !errors.Is(err, federation.ErrLastIdentity) {
		t.Fatalf("detaching the last identity: %v", err)
	}
	if err := store.DetachIdentity(ctx, x.ID, federation.Identity{Issuer: issuerB, Subject: "x-b"}); err != nil || len(mustAccount(t, store, x.ID).Identities) != 1 {
		t.Fatalf("detaching one of two identities: %v", err)
	}
	if err := store.DetachIdentity(ctx, y.ID, federation.Identity{Issuer: issuerA, Subject: "x"}); !errors.Is(err, federation.ErrNotFound) {
		t.Fatalf("detaching another account's identity: %v", err)
	}

	// The minimal policy never links.
	if _, err := (federation.SignInOrCreate{Store: store}).Resolve(ctx, federation.Attempt{Mode: session.Link, User: fresh, AccountID: x.ID}); err == nil {
		t.Fatal("SignInOrCreate accepted a link")
	}
}

func TestConcurrentSignInsCreateOneAccount(t *testing.T) {
	ctx := context.Background()
	store := federation.NewMemoryAccounts()
	for _, policy := range []federation.Accounts{federation.LinkByVerifiedEmail{Store: store}, federation.SignInOrCreate{Store: store}} {
		u := userFrom(t, issuerA, map[string]any{"sub": "racer" + policyName(policy), "email": "racer@example.com", "email_verified": true})
		var wg sync.WaitGroup
		decisions := make([]federation.Decision, 64)
		errs := make([]error, 64)
		for i := range decisions {
			wg.Go(func() {
				decisions[i], errs[i] = policy.Resolve(ctx, federation.Attempt{Mode: session.SignIn, User: u, Provider: "oidc:a", AllowSignup: true})
			})
		}
		wg.Wait()
		created := 0
		for i, d := range decisions {
			if errs[i] != nil {
				t.Fatalf("%T: %v", policy, errs[i])
			}
			if d.Account.ID != decisions[0].Account.ID {
				t.Fatalf("%T: two accounts for one identity: %s and %s", policy, d.Account.ID, decisions[0].Account.ID)
			}
			if d.Outcome == federation.Created {
				created++
			}
		}
		if created != 1 {
			t.Fatalf("%T: %d creations, want 1", policy, created)
		}
	}
}

func policyName(p federation.Accounts) string {
	if _, ok := p.(federation.SignInOrCreate); ok {
		return "-minimal"
	}
	return "-linking"
}

// conflictingStore answers CreateWithIdentity as a store does when a
// concurrent request created the identity first.
type conflictingStore struct{ *federation.MemoryAccounts }

func (s conflictingStore) CreateWithIdentity(ctx context.Context, a federation.Account, id federation.Identity) (*federation.Account, error) {
	if _, err := s.MemoryAccounts.CreateWithIdentity(ctx, a, id); err != nil {
		return nil, err
	}
	return nil, federation.ErrConflict
}

func TestCreateConflictSignsIn(t *testing.T) {
	ctx := context.Background()
	u := userFrom(t, issuerA, map[string]any{"sub": "late"})
	for _, policy := range []federation.Accounts{
		federation.LinkByVerifiedEmail{Store: conflictingStore{federation.NewMemoryAccounts()}},
		federation.SignInOrCreate{Store: conflictingStore{federation.NewMemoryAccounts()}},
	} {
		dec, err := policy.Resolve(ctx, federation.Attempt{Mode: session.SignIn, User: u, Provider: "oidc:a", AllowSignup: true})
		if err != nil || dec.Outcome != federation.SignedIn || dec.Account == nil || dec.Account.Identities[0].Subject != "late" {
			t.Fatalf("%T: %v %v; want a sign-in to the winner's account", policy, dec, err)
		}
	}
}

func TestEmailKey(t *testing.T) {
	for in, want := range map[string]string{
		"alice@example.com":    "alice@example.com",
		"Alice@Example.COM":    "alice@example.com",
		"ſam@example.com":      "ſam@example.com",      // U+017F stays: Unicode folding would make it "sam"
		"\u212Aim@example.com": "\u212Aim@example.com", // KELVIN SIGN stays: Unicode folding would make it "kim"
		"ÉLODIE@example.com":   "Élodie@example.com",   // only ASCII letters fold
		"":                     "",
	} {
		if got := federation.EmailKey(in); got != want {
			t.Errorf("EmailKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// laxStore finds accounts by email the way SQL's lower() or
// strings.EqualFold would: the policy's own re-check must refuse what it
// returns for a look-alike address.
type laxStore struct{ *federation.MemoryAccounts }

func (s laxStore) FindByVerifiedEmail(ctx context.Context, email string) (*federation.Account, error) {
	return s.MemoryAccounts.FindByVerifiedEmail(ctx, strings.ToLower(strings.ToUpper(email)))
}

// TestUnicodeLookAlikesDoNotLink: a verified "ſam@" or "\u212Aim@" at a
// second provider is another address than "sam@" or "kim@", in the store
// and in the policy's re-check of a lax store.
func TestUnicodeLookAlikesDoNotLink(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ local, remote string }{
		{"sam@example.com", "ſam@example.com"},
		{"kim@example.com", "\u212Aim@example.com"},
		{"kim@example.com", "Kim@example.com"}, // ASCII: the same address, linked
	} {
		linked := federation.EmailKey(tc.local) == federation.EmailKey(tc.remote)
		for name, store := range map[string]federation.LinkingStore{"memory": federation.NewMemoryAccounts(), "lax": laxStore{federation.NewMemoryAccounts()}} {
			first, err := store.CreateWithIdentity(ctx, federation.Account{Email: tc.local, EmailVerified: true},
				federation.Identity{Provider: "oidc:a", Issuer: issuerA, Subject: "victim"})
			if err != nil {
				t.Fatal(err)
			}
			if name == "memory" {
				if _, err := store.FindByVerifiedEmail(ctx, tc.remote); linked != (err == nil) || !linked && !errors.Is(err, federation.ErrNotFound) {
					t.Errorf("%s: FindByVerifiedEmail(%q) with %q stored: %v", name, tc.remote, tc.local, err)
				}
			}
			dec, err := federation.LinkByVerifiedEmail{Store: store}.Resolve(ctx, federation.Attempt{Mode: session.SignIn,
				User: userFrom(t, issuerB, map[string]any{"sub": "attacker", "email": tc.remote, "email_verified": true}), Provider: "oidc:b", AllowSignup: true})
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]federation.Outcome{true: federation.Linked, false: federation.Created}[linked]; dec.Outcome != want || (dec.Account.ID == first.ID) != linked {
				t.Errorf("%s store, %q then %q: %v to account %s, want %v", name, tc.local, tc.remote, dec.Outcome, dec.Account.ID, want)
			}
		}
	}
}
