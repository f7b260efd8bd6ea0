// Package accountstest is the conformance kit for account stores: an
// implementation of [federation.FullAccountStore] (a SQL table, a document
// store) runs [Store] from its own tests, so that it keeps the promises
// the sign-in and linking policies rely on.
//
//	func TestMyAccounts(t *testing.T) {
//		accountstest.Store(t, func(t *testing.T) federation.FullAccountStore { return myaccounts.New(db) })
//	}
package accountstest

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
)

// Concurrency is how many goroutines race in the concurrent cases.
const Concurrency = 64

// NewStore returns a store; it may be shared between cases, as every case
// uses fresh random issuers and emails.
type NewStore func(t *testing.T) federation.FullAccountStore

func identity() federation.Identity {
	return federation.Identity{Provider: "oidc:acme", Issuer: "https://" + rand.Text()[:10] + ".example.com",
		Subject: rand.Text()[:12]}
}

// Store runs the account-store contract against stores from newStore.
func Store(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	t.Run("CreateAndFind", func(t *testing.T) {
		s, id := newStore(t), identity()
		a, err := s.CreateWithIdentity(ctx, federation.Account{Email: "Ada@Example.com", EmailVerified: true}, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == "" || a.Anonymous || len(a.Identities) != 1 || a.Identities[0] != id || a.Email != "Ada@Example.com" ||
			!a.EmailVerified {
			t.Fatalf("created %+v", a)
		}
		got, err := s.FindByIdentity(ctx, id.Issuer, id.Subject)
		if err != nil || got.ID != a.ID {
			t.Fatalf("FindByIdentity: %v, %v", got, err)
		}
		if got, err := s.Get(ctx, a.ID); err != nil || got.ID != a.ID || len(got.Identities) != 1 {
			t.Fatalf("Get: %+v, %v", got, err)
		}
		if _, err := s.FindByIdentity(ctx, id.Issuer, id.Subject+"x"); !errors.Is(err, federation.ErrNotFound) {
			t.Fatalf("unknown identity: %v, want ErrNotFound", err)
		}
		if _, err := s.Get(ctx, "no-such-account"); !errors.Is(err, federation.ErrNotFound) {
			t.Fatalf("unknown account: %v, want ErrNotFound", err)
		}
		if _, err := s.CreateWithIdentity(ctx, federation.Account{}, id); !errors.Is(err, federation.ErrConflict) {
			t.Fatalf("second create of one identity: %v, want ErrConflict", err)
		}
	})
	t.Run("ConcurrentCreateOfOneIdentity", func(t *testing.T) {
		s, id := newStore(t), identity()
		var created, conflicts atomic.Int32
		var wg sync.WaitGroup
		for range Concurrency {
			wg.Go(func() {
				switch _, err := s.CreateWithIdentity(ctx, federation.Account{}, id); {
				case err == nil:
					created.Add(1)
				case errors.Is(err, federation.ErrConflict):
					conflicts.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if created.Load() != 1 || conflicts.Load() != Concurrency-1 {
			t.Fatalf("%d accounts created and %d conflicts for one identity, want 1 and %d", created.Load(),
				conflicts.Load(), Concurrency-1)
		}
	})
	t.Run("Attach", func(t *testing.T) {
		s := newStore(t)
		anon, err := s.CreateAnonymous(ctx)
		if err != nil || !anon.Anonymous || anon.Email != "" || len(anon.Identities) != 0 {
			t.Fatalf("CreateAnonymous: %+v, %v", anon, err)
		}
		id, email := identity(), rand.Text()[:8]+"@example.com"
		a, err := s.AttachIdentity(ctx, anon.ID, id, email, true)
		if err != nil || a.ID != anon.ID || a.Anonymous || a.Email != email || !a.EmailVerified || len(a.Identities) != 1 {
			t.Fatalf("attach to an anonymous account: %+v, %v", a, err)
		}
		// Already its own: no-op.
		if again, err := s.AttachIdentity(ctx, anon.ID, id, "other@example.com", true); err != nil ||
			len(again.Identities) != 1 || again.Email != email {
			t.Fatalf("attach of its own identity: %+v, %v; want the account unchanged", again, err)
		}
		// Another account's: conflict, nothing changes.
		other, _ := s.CreateWithIdentity(ctx, federation.Account{}, identity())
		if _, err := s.AttachIdentity(ctx, other.ID, id, "", false); !errors.Is(err, federation.ErrConflict) {
			t.Fatalf("attach of another account's identity: %v, want ErrConflict", err)
		}
		if _, err := s.AttachIdentity(ctx, "no-such-account", identity(), "", false); !errors.Is(err, federation.ErrNotFound) {
			t.Fatalf("attach to no account: %v, want ErrNotFound", err)
		}
		// An account with an email keeps it.
		if b, err := s.AttachIdentity(ctx, anon.ID, identity(), "third@example.com", true); err != nil || b.Email != email ||
			len(b.Identities) != 2 {
			t.Fatalf("second attach: %+v, %v; want the first email kept and 2 identities", b, err)
		}
	})
	t.Run("ConcurrentAttachOfOneIdentity", func(t *testing.T) {
		s, id := newStore(t), identity()
		accounts := make([]string, Concurrency)
		for i := range accounts {
			a, err := s.CreateAnonymous(ctx)
			if err != nil {
				t.Fatal(err)
			}
			accounts[i] = a.ID
		}
		var won atomic.Int32
		var wg sync.WaitGroup
		for _, acct := range accounts {
			wg.Go(func() {
				if _, err := s.AttachIdentity(ctx, acct, id, "", false); err == nil {
					won.Add(1)
				} else if !errors.Is(err, federation.ErrConflict) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d accounts got one identity, want exactly 1", won.Load())
		}
	})
	t.Run("Detach", func(t *testing.T) {
		s := newStore(t)
		first, second := identity(), identity()
		a, _ := s.CreateWithIdentity(ctx, federation.Account{}, first)
		if err := s.DetachIdentity(ctx, a.ID, first); !errors.Is(err, federation.ErrLastIdentity) {
			t.Fatalf("detaching the only identity: %v, want ErrLastIdentity", err)
		}
		if _, err := s.AttachIdentity(ctx, a.ID, second, "", false); err != nil {
			t.Fatal(err)
		}
		if err := s.DetachIdentity(ctx, a.ID, first); err != nil {
			t.Fatalf("detaching one of two: %v", err)
		}
		if _, err := s.FindByIdentity(ctx, first.Issuer, first.Subject); !errors.Is(err, federation.ErrNotFound) {
			t.Fatalf("a detached identity still signs in: %v", err)
		}
		if err := s.DetachIdentity(ctx, a.ID, first); !errors.Is(err, federation.ErrNotFound) {
			t.Fatalf("detaching it again: %v, want ErrNotFound", err)
		}
	})
	t.Run("VerifiedEmailKey", func(t *testing.T) {
		s := newStore(t)
		local := rand.Text()[:8]
		a, _ := s.CreateWithIdentity(ctx, federation.Account{Email: "Kim." + local + "@Example.com", EmailVerified: true},
			identity())
		if got, err := s.FindByVerifiedEmail(ctx, "kim."+local+"@example.COM"); err != nil || got.ID != a.ID {
			t.Fatalf("ASCII case folded: %v, %v", got, err)
		}
		// KELVIN SIGN (U+212A) folds to k in Unicode, never in the key.
		if _, err := s.FindByVerifiedEmail(ctx, "\u212aim."+local+"@example.com"); !errors.Is(err, federation.ErrNotFound) {
			t.Fatalf("a Unicode look-alike matched: %v, want ErrNotFound", err)
		}
		unverified := rand.Text()[:8] + "@example.com"
		s.CreateWithIdentity(ctx, federation.Account{Email: unverified}, identity())
		if _, err := s.FindByVerifiedEmail(ctx, unverified); !errors.Is(err, federation.ErrNotFound) {
			t.Fatalf("an unverified email matched: %v, want ErrNotFound", err)
		}
		twice := rand.Text()[:8] + "@example.com"
		s.CreateWithIdentity(ctx, federation.Account{Email: twice, EmailVerified: true}, identity())
		s.CreateWithIdentity(ctx, federation.Account{Email: twice, EmailVerified: true}, identity())
		if _, err := s.FindByVerifiedEmail(ctx, twice); !errors.Is(err, federation.ErrNotFound) {
			t.Fatalf("an email of two accounts matched: %v, want ErrNotFound (never guess)", err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		s, id := newStore(t), identity()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.CreateWithIdentity(cctx, federation.Account{}, id); err == nil {
			t.Fatal("create with a cancelled context succeeded")
		}
		if _, err := s.FindByIdentity(ctx, id.Issuer, id.Subject); !errors.Is(err, federation.ErrNotFound) {
			t.Fatalf("a cancelled create was recorded: %v", err)
		}
	})
}
