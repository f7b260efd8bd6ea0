package federation

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/internal/randid"
	"github.com/oidcfed/oidcfed/session"
)

// Identity is a provider account: keyed by (Issuer, Subject), never email.
type Identity struct {
	Provider string `json:"provider"`
	Issuer   string `json:"issuer"`
	Subject  string `json:"subject"`
}

// Account is a host account as the library sees it.
type Account struct {
	ID            string     `json:"id"`
	Email         string     `json:"email,omitempty"`
	EmailVerified bool       `json:"emailVerified"`
	Anonymous     bool       `json:"anonymous"`
	Identities    []Identity `json:"-"`
}

// Store errors.
var (
	ErrNotFound = errors.New("federation: account not found")
	// ErrConflict: the identity already belongs to an account.
	ErrConflict = errors.New("federation: identity already exists")
)

// AccountStore is the host's user table. Implementations must make
// CreateWithIdentity atomic: when the identity exists, return ErrConflict
// and create nothing (a unique index on issuer+subject does it).
type AccountStore interface {
	FindByIdentity(ctx context.Context, issuer, subject string) (*Account, error)
	CreateWithIdentity(ctx context.Context, a Account, id Identity) (*Account, error)
}

// Attempt is a verified sign-in awaiting a decision.
type Attempt struct {
	Mode     session.Mode
	User     claims.User
	Provider string
	// AllowSignup is the provider's allowSignup setting.
	AllowSignup bool
}

// Decision is what [Accounts.Resolve] decided.
type Decision struct {
	Account *Account
	Created bool
}

func (d Decision) String() string {
	id := "<none>"
	if d.Account != nil {
		id = d.Account.ID
	}
	return fmt.Sprintf("federation.Decision{Account:%s Created:%t}", id, d.Created)
}

// Accounts decides what a verified sign-in means for the host's accounts.
type Accounts interface {
	Resolve(ctx context.Context, a Attempt) (Decision, error)
}

// SignInOrCreate is the sign-in policy over an [AccountStore]: a known
// identity signs in its account; an unknown one creates an account (unless
// sign-up is disabled). A concurrent creation of the same identity is not
// an error: the loser signs in to the winner's account.
type SignInOrCreate struct{ Store AccountStore }

// Resolve implements [Accounts].
func (p SignInOrCreate) Resolve(ctx context.Context, a Attempt) (Decision, error) {
	acct, err := p.Store.FindByIdentity(ctx, a.User.Issuer, a.User.Subject)
	if err == nil {
		return Decision{Account: acct}, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Decision{}, err
	}
	if !a.AllowSignup {
		return Decision{}, newError(CodeSignupDisabled, "this identity provider cannot be used to create an account", nil)
	}
	id := Identity{Provider: a.Provider, Issuer: a.User.Issuer, Subject: a.User.Subject}
	acct, err = p.Store.CreateWithIdentity(ctx, Account{Email: a.User.Email, EmailVerified: a.User.EmailVerified}, id)
	if errors.Is(err, ErrConflict) {
		acct, err = p.Store.FindByIdentity(ctx, a.User.Issuer, a.User.Subject)
		return Decision{Account: acct}, err
	}
	return Decision{Account: acct, Created: err == nil}, err
}

// MemoryAccounts is an in-memory [AccountStore], safe for concurrent use.
type MemoryAccounts struct {
	mu         sync.Mutex
	accounts   map[string]*Account
	identities map[[2]string]string // (issuer, subject) → account ID
}

// NewMemoryAccounts returns an empty store.
func NewMemoryAccounts() *MemoryAccounts {
	return &MemoryAccounts{accounts: map[string]*Account{}, identities: map[[2]string]string{}}
}

// FindByIdentity implements [AccountStore].
func (m *MemoryAccounts) FindByIdentity(_ context.Context, issuer, subject string) (*Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.identities[[2]string{issuer, subject}]; ok {
		return m.copy(id), nil
	}
	return nil, ErrNotFound
}

// CreateWithIdentity implements [AccountStore].
func (m *MemoryAccounts) CreateWithIdentity(_ context.Context, a Account, id Identity) (*Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{id.Issuer, id.Subject}
	if _, ok := m.identities[k]; ok {
		return nil, ErrConflict
	}
	a.ID = randid.Short()
	a.Identities = []Identity{id}
	m.accounts[a.ID] = &a
	m.identities[k] = a.ID
	return m.copy(a.ID), nil
}

// Get returns the account with id.
func (m *MemoryAccounts) Get(_ context.Context, id string) (*Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[id]; !ok {
		return nil, ErrNotFound
	}
	return m.copy(id), nil
}

func (m *MemoryAccounts) copy(id string) *Account {
	a := *m.accounts[id]
	a.Identities = append([]Identity(nil), a.Identities...)
	return &a
}
