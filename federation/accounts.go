package federation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/oidcfed/oidcfed/claims"
	"github.com/oidcfed/oidcfed/internal/randid"
	"github.com/oidcfed/oidcfed/session"
)

// Identity is a provider account: keyed by (Issuer, Subject), never email.
type Identity struct {
	Provider string `json:"provider"` // registry key of the provider it came from
	Issuer   string `json:"issuer"`   // the token's iss
	Subject  string `json:"subject"`  // the token's sub; with Issuer, the key
}

// Account is a host account as the library sees it.
type Account struct {
	ID            string     `json:"id"`              // the host's account ID
	Email         string     `json:"email,omitempty"` // the account's email, if any
	EmailVerified bool       `json:"emailVerified"`   // Email was verified by a trusted provider
	Anonymous     bool       `json:"anonymous"`       // no identity yet; a link upgrades it in place
	Identities    []Identity `json:"-"`               // the identities that sign in to it
}

// Store errors.
var (
	ErrNotFound = errors.New("federation: account not found")
	// ErrConflict: the identity already belongs to an account.
	ErrConflict = errors.New("federation: identity already exists")
	// ErrLastIdentity: removing the identity would leave the account with
	// no way to sign in.
	ErrLastIdentity = errors.New("federation: the account's last sign-in method cannot be removed")
)

// AccountStore is the host's user table, as the minimal sign-in policy
// ([SignInOrCreate]) needs it. CreateWithIdentity must be atomic: when the
// identity exists, return ErrConflict and create nothing (a unique index on
// issuer+subject does it).
type AccountStore interface {
	FindByIdentity(ctx context.Context, issuer, subject string) (*Account, error)
	CreateWithIdentity(ctx context.Context, a Account, id Identity) (*Account, error)
}

// LinkingStore is what [LinkByVerifiedEmail] needs besides an AccountStore.
// Over a database: FindByVerifiedEmail is an exact lookup on an [EmailKey]
// column filtered by email_verified; AttachIdentity is one transaction that
// inserts the identity row (the unique index on issuer+subject turns a
// concurrent attach into ErrConflict) and updates the account's anonymous
// and email columns. See docs/linking.md.
type LinkingStore interface {
	AccountStore
	// Get returns the account with id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Account, error)
	// FindByVerifiedEmail returns the one account whose verified email
	// has the same [EmailKey] as email (ASCII case folded only), or ErrNotFound when there
	// is none or more than one.
	FindByVerifiedEmail(ctx context.Context, email string) (*Account, error)
	// AttachIdentity adds id to the account accountID, atomically. It
	// returns ErrConflict when id belongs to another account, ErrNotFound
	// when the account does not exist, and the account unchanged when id is
	// already its own. The account stops being anonymous; an account without
	// an email takes email and emailVerified.
	AttachIdentity(ctx context.Context, accountID string, id Identity,
		email string, emailVerified bool) (*Account, error)
}

// FullAccountStore is every account operation the library and a host's
// account pages use: a [LinkingStore] that also creates anonymous accounts
// (a guest that links a provider later) and detaches identities. It is
// what several server instances share (one database); [MemoryAccounts] is
// one for a single process. federation/accountstest.Store is the
// conformance kit every implementation runs from its tests.
type FullAccountStore interface {
	LinkingStore
	// CreateAnonymous creates an account with no identity and no email.
	CreateAnonymous(ctx context.Context) (*Account, error)
	// DetachIdentity removes id from the account accountID, atomically:
	// ErrNotFound when the account does not hold it, ErrLastIdentity when
	// it is the account's only identity.
	DetachIdentity(ctx context.Context, accountID string, id Identity) error
}

// Mode is what a flow was started for: [ModeSignIn], [ModeLink] or
// [ModeUpgrade]. It is [session.Mode], named here so that an [Accounts]
// implementation needs no other import.
type Mode = session.Mode

// The modes of a flow.
const (
	ModeSignIn  = session.SignIn  // sign in, or create an account
	ModeLink    = session.Link    // attach an identity to the signed-in account
	ModeUpgrade = session.Upgrade // attach an identity to an anonymous account
)

// Attempt is a verified sign-in or link awaiting a decision.
type Attempt struct {
	Mode     Mode        // ModeSignIn, ModeLink or ModeUpgrade
	User     claims.User // the verified, mapped user
	Provider string      // registry key, "oidc:<name>"
	// AccountID is the account a Link or Upgrade attaches to: the one that
	// started the flow, still signed in at the callback.
	AccountID string
	// AllowSignup is the provider's allowSignup setting.
	AllowSignup bool
	// EmailTrust is the provider's emailTrust setting ("" means fromClaim).
	EmailTrust string
}

// Identity is the attempt's identity.
func (a Attempt) Identity() Identity {
	return Identity{Provider: a.Provider, Issuer: a.User.Issuer, Subject: a.User.Subject}
}

// EmailVerified reports whether the attempt's email may be treated as the
// user's: the provider asserted email_verified (or the provider is
// configured to be trusted regardless), and the provider's email is not
// distrusted altogether.
func (a Attempt) EmailVerified() bool {
	if a.User.Email == "" {
		return false
	}
	switch a.EmailTrust {
	case EmailTrustNever:
		return false
	case EmailTrustDangerousAlways:
		return true
	}
	return a.User.EmailVerified
}

// Outcome is what a decision did.
type Outcome uint8

const (
	SignedIn Outcome = iota // an account already holding the identity signed in
	Created                 // a new account was created with the identity
	Linked                  // the identity was attached to an existing account
)

// String is the outcome's name, as logged: "signed-in", "created"…
func (o Outcome) String() string {
	switch o {
	case SignedIn:
		return "signed-in"
	case Created:
		return "created"
	case Linked:
		return "linked"
	}
	return fmt.Sprintf("Outcome(%d)", o)
}

// Decision is what [Accounts.Resolve] decided and did. A refusal is an
// error instead, an [*Error] with a code such as identity_already_linked.
type Decision struct {
	Account *Account // the account signed in to, created or linked
	Outcome Outcome  // what happened to it
}

// String prints the account ID and the outcome.
func (d Decision) String() string {
	id := "<none>"
	if d.Account != nil {
		id = d.Account.ID
	}
	return fmt.Sprintf("federation.Decision{Account:%s Outcome:%s}", id, d.Outcome)
}

// Accounts decides what a verified sign-in means for the host's accounts,
// and carries it out.
type Accounts interface {
	Resolve(ctx context.Context, a Attempt) (Decision, error)
}

// SignInOrCreate is the minimal sign-in policy over an [AccountStore]: a
// known identity signs in its account; an unknown one creates an account
// (unless sign-up is disabled). A concurrent creation of the same identity
// is not an error: the loser signs in to the winner's account. It never
// links, and refuses link flows; use [LinkByVerifiedEmail] for those.
type SignInOrCreate struct {
	Store AccountStore // the host's accounts
}

// Resolve implements [Accounts].
func (p SignInOrCreate) Resolve(ctx context.Context, a Attempt) (Decision, error) {
	if a.Mode != session.SignIn {
		return Decision{}, newError(CodeInvalidRequest, "account linking is not enabled", nil)
	}
	return signInOrCreate(ctx, p.Store, a)
}

// signInOrCreate signs in the identity's account, or creates one.
func signInOrCreate(ctx context.Context, s AccountStore, a Attempt) (Decision, error) {
	acct, err := s.FindByIdentity(ctx, a.User.Issuer, a.User.Subject)
	if err == nil {
		return Decision{Account: acct, Outcome: SignedIn}, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Decision{}, err
	}
	if !a.AllowSignup {
		return Decision{}, newError(CodeSignupDisabled, "this identity provider cannot be used to create an account",
			nil)
	}
	acct, err = s.CreateWithIdentity(ctx, Account{Email: a.User.Email, EmailVerified: a.EmailVerified()}, a.Identity())
	if errors.Is(err, ErrConflict) { // a concurrent sign-in created it first
		acct, err = s.FindByIdentity(ctx, a.User.Issuer, a.User.Subject)
		return Decision{Account: acct, Outcome: SignedIn}, err
	}
	if err != nil {
		return Decision{}, err
	}
	return Decision{Account: acct, Outcome: Created}, nil
}

// LinkByVerifiedEmail is the default linking policy.
//
// Sign-in: a known identity (issuer, subject) signs in its account. An
// unknown identity is attached to the existing account with the same email
// only when the provider verified the email ([Attempt.EmailVerified]) and
// the account's email is verified too; otherwise a new account is created
// (or refused with signup_disabled). Requiring both sides to be verified
// defeats account pre-hijacking: an attacker who registers the victim's
// address first never verifies it, and a provider that lets anyone claim
// any address (nOAuth) is configured with emailTrust "never".
//
// Link and upgrade: the identity is attached to the account that started
// the flow. An identity of another account is refused with
// identity_already_linked and nothing changes; the same identity twice is a
// no-op.
type LinkByVerifiedEmail struct {
	Store LinkingStore // the host's accounts, with lookup by verified email
}

// Resolve implements [Accounts].
func (p LinkByVerifiedEmail) Resolve(ctx context.Context, a Attempt) (Decision, error) {
	if a.Mode != session.SignIn {
		return p.attach(ctx, a)
	}
	if acct, err := p.Store.FindByIdentity(ctx, a.User.Issuer, a.User.Subject); err == nil {
		return Decision{Account: acct, Outcome: SignedIn}, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Decision{}, err
	}
	if a.EmailVerified() {
		owner, err := p.Store.FindByVerifiedEmail(ctx, a.User.Email)
		switch {
		// The store promises a verified, matching email; checked again so a
		// lax host store cannot widen who gets linked.
		case err == nil && owner.EmailVerified && EmailKey(owner.Email) == EmailKey(a.User.Email):
			acct, err := p.Store.AttachIdentity(ctx, owner.ID, a.Identity(), a.User.Email, true)
			if err == nil {
				return Decision{Account: acct, Outcome: Linked}, nil
			}
			if !errors.Is(err, ErrConflict) { // a conflict: a concurrent sign-in placed the identity; find it below
				return Decision{}, err
			}
		case err != nil && !errors.Is(err, ErrNotFound):
			return Decision{}, err
		}
	}
	return signInOrCreate(ctx, p.Store, a)
}

func (p LinkByVerifiedEmail) attach(ctx context.Context, a Attempt) (Decision, error) {
	if a.AccountID == "" {
		return Decision{}, newError(CodeLoginRequired, "sign in before linking an identity", nil)
	}
	if owner, err := p.Store.FindByIdentity(ctx, a.User.Issuer, a.User.Subject); err == nil && owner.ID != a.AccountID {
		return Decision{}, alreadyLinked()
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return Decision{}, err
	}
	acct, err := p.Store.AttachIdentity(ctx, a.AccountID, a.Identity(), a.User.Email, a.EmailVerified())
	switch {
	case errors.Is(err, ErrConflict):
		return Decision{}, alreadyLinked()
	case errors.Is(err, ErrNotFound):
		return Decision{}, newError(CodeLoginRequired, "the account that started the link no longer exists", err)
	case err != nil:
		return Decision{}, err
	}
	return Decision{Account: acct, Outcome: Linked}, nil
}

func alreadyLinked() error {
	return newError(CodeIdentityAlreadyLinked, "this identity already belongs to another account", nil)
}

// MemoryAccounts is an in-memory [LinkingStore], safe for concurrent use.
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
func (m *MemoryAccounts) FindByIdentity(ctx context.Context, issuer, subject string) (*Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.identities[[2]string{issuer, subject}]; ok {
		return m.copy(id), nil
	}
	return nil, ErrNotFound
}

// CreateWithIdentity implements [AccountStore].
func (m *MemoryAccounts) CreateWithIdentity(ctx context.Context, a Account, id Identity) (*Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{id.Issuer, id.Subject}
	if _, ok := m.identities[k]; ok {
		return nil, ErrConflict
	}
	a.ID, a.Anonymous = randid.Short(), false
	a.Identities = []Identity{id}
	m.accounts[a.ID] = &a
	m.identities[k] = a.ID
	return m.copy(a.ID), nil
}

// CreateAnonymous creates an account with no identity and no email.
func (m *MemoryAccounts) CreateAnonymous(ctx context.Context) (*Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a := &Account{ID: randid.Short(), Anonymous: true}
	m.accounts[a.ID] = a
	return m.copy(a.ID), nil
}

// Get implements [LinkingStore].
func (m *MemoryAccounts) Get(ctx context.Context, id string) (*Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[id]; !ok {
		return nil, ErrNotFound
	}
	return m.copy(id), nil
}

// EmailKey is the form in which two email addresses are compared for
// linking: ASCII letters folded to lower case and nothing else changed.
// Unicode case folding is not used because it equates distinct addresses:
// "ſam@example.com" (U+017F) folds to "sam@example.com" and "Kim@" with
// U+212A KELVIN SIGN to "kim@", so a verified address at one provider
// would sign in to another person's account. SQL's lower() under a UTF-8
// locale folds the same way; a [LinkingStore] over SQL stores EmailKey in a
// column of its own and compares it exactly (docs/linking.md).
func EmailKey(email string) string {
	i := strings.IndexFunc(email, func(r rune) bool { return 'A' <= r && r <= 'Z' })
	if i < 0 {
		return email
	}
	b := []byte(email)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

// FindByVerifiedEmail implements [LinkingStore]: the one verified account
// whose [EmailKey] equals email's.
func (m *MemoryAccounts) FindByVerifiedEmail(ctx context.Context, email string) (*Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var found string
	for id, a := range m.accounts {
		if a.EmailVerified && a.Email != "" && EmailKey(a.Email) == EmailKey(email) {
			if found != "" {
				return nil, ErrNotFound // ambiguous: never guess
			}
			found = id
		}
	}
	if found == "" {
		return nil, ErrNotFound
	}
	return m.copy(found), nil
}

// AttachIdentity implements [LinkingStore].
func (m *MemoryAccounts) AttachIdentity(ctx context.Context, accountID string, id Identity, email string,
	emailVerified bool) (*Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[accountID]
	if !ok {
		return nil, ErrNotFound
	}
	k := [2]string{id.Issuer, id.Subject}
	if owner, ok := m.identities[k]; ok {
		if owner != accountID {
			return nil, ErrConflict
		}
		return m.copy(accountID), nil
	}
	a.Identities = append(a.Identities, id)
	a.Anonymous = false
	if a.Email == "" {
		a.Email, a.EmailVerified = email, emailVerified && email != ""
	}
	m.identities[k] = accountID
	return m.copy(accountID), nil
}

// DetachIdentity removes id from the account, refusing with ErrLastIdentity
// to remove the account's only identity, and with ErrNotFound when the
// account does not hold it.
func (m *MemoryAccounts) DetachIdentity(ctx context.Context, accountID string, id Identity) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[accountID]
	k := [2]string{id.Issuer, id.Subject}
	if !ok || m.identities[k] != accountID {
		return ErrNotFound
	}
	if len(a.Identities) == 1 {
		return ErrLastIdentity
	}
	a.Identities = slices.DeleteFunc(a.Identities,
		func(x Identity) bool { return x.Issuer == id.Issuer && x.Subject == id.Subject })
	delete(m.identities, k)
	return nil
}

func (m *MemoryAccounts) copy(id string) *Account {
	a := *m.accounts[id]
	a.Identities = slices.Clone(a.Identities)
	return &a
}
