package oidcfedsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/internal/randid"
)

// Dialect is what differs between the databases.
type Dialect struct {
	name string
	// lockAccount selects the account row $1 and locks it until the
	// transaction ends (SQLite locks the whole database at BEGIN
	// IMMEDIATE instead).
	lockAccount string
	// migrationLock serializes concurrent Migrate calls ("" for none
	// needed).
	migrationLock string
}

// The supported databases.
var (
	Postgres = Dialect{name: "postgres",
		lockAccount:   "SELECT id FROM oidcfed_accounts WHERE id = $1 FOR UPDATE",
		migrationLock: "SELECT pg_advisory_xact_lock(7384022)"}
	SQLite = Dialect{name: "sqlite", lockAccount: "SELECT id FROM oidcfed_accounts WHERE id = $1"}
)

// SQLiteDSN is the data source name of the SQLite file at path, with the
// settings concurrent writers need: transactions that take the write lock
// at BEGIN, a 5 s busy timeout, and foreign keys enforced.
func SQLiteDSN(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)"
}

// Store is a [federation.FullAccountStore] over db.
type Store struct {
	db *sql.DB
	d  Dialect
}

// New returns a store over db in dialect d. Call [Store.Migrate] before
// use.
func New(db *sql.DB, d Dialect) (*Store, error) {
	if d.name == "" {
		return nil, errors.New("oidcfedsql: no dialect: use oidcfedsql.Postgres or oidcfedsql.SQLite")
	}
	return &Store{db: db, d: d}, nil
}

// migrations are the schema's versions, in order; each runs once.
var migrations = []string{
	`CREATE TABLE oidcfed_accounts (
		id TEXT PRIMARY KEY,
		email TEXT NOT NULL DEFAULT '',
		email_key TEXT NOT NULL DEFAULT '',
		email_verified BOOLEAN NOT NULL DEFAULT FALSE,
		anonymous BOOLEAN NOT NULL DEFAULT FALSE
	);
	CREATE INDEX oidcfed_accounts_verified_email ON oidcfed_accounts (email_key) WHERE email_verified;
	CREATE TABLE oidcfed_identities (
		issuer TEXT NOT NULL,
		subject TEXT NOT NULL,
		provider TEXT NOT NULL,
		account_id TEXT NOT NULL REFERENCES oidcfed_accounts (id),
		PRIMARY KEY (issuer, subject)
	);
	CREATE INDEX oidcfed_identities_account ON oidcfed_identities (account_id);`,
	`CREATE TABLE oidcfed_values (
		name TEXT PRIMARY KEY,
		value BYTEA NOT NULL,
		expires BIGINT NOT NULL DEFAULT 0
	);
	CREATE INDEX oidcfed_values_expires ON oidcfed_values (expires) WHERE expires > 0;`,
}

// Migrate creates the tables or brings them to the current version, in
// one transaction; concurrent calls from several instances are safe.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("oidcfedsql: migrate: %w", err)
	}
	defer tx.Rollback()
	if s.d.migrationLock != "" {
		if _, err := tx.ExecContext(ctx, s.d.migrationLock); err != nil {
			return fmt.Errorf("oidcfedsql: migrate: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS oidcfed_schema (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("oidcfedsql: migrate: %w", err)
	}
	var version int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM oidcfed_schema`).Scan(&version); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO oidcfed_schema (version) VALUES (0)`); err != nil {
			return fmt.Errorf("oidcfedsql: migrate: %w", err)
		}
	case err != nil:
		return fmt.Errorf("oidcfedsql: migrate: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("oidcfedsql: the database's schema version %d is newer than this build's %d", version,
			len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		for _, stmt := range strings.Split(migrations[i], ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("oidcfedsql: migration %d: %w", i+1, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE oidcfed_schema SET version = $1`, len(migrations)); err != nil {
		return fmt.Errorf("oidcfedsql: migrate: %w", err)
	}
	return tx.Commit()
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// accountByIdentity selects an account and all its identities, by one of
// its identities, in one statement.
const accountByIdentity = `SELECT a.id, a.email, a.email_verified, a.anonymous, i2.provider, i2.issuer, i2.subject
	FROM oidcfed_identities i
	JOIN oidcfed_accounts a ON a.id = i.account_id
	JOIN oidcfed_identities i2 ON i2.account_id = a.id
	WHERE i.issuer = $1 AND i.subject = $2
	ORDER BY i2.issuer, i2.subject`

// accountByID selects an account and its identities (none for an
// anonymous account), in one statement.
const accountByID = `SELECT a.id, a.email, a.email_verified, a.anonymous, i.provider, i.issuer, i.subject
	FROM oidcfed_accounts a
	LEFT JOIN oidcfed_identities i ON i.account_id = a.id
	WHERE a.id = $1
	ORDER BY i.issuer, i.subject`

// account reads the rows of accountByIdentity or accountByID:
// federation.ErrNotFound when there are none.
func account(ctx context.Context, q querier, query string, args ...any) (*federation.Account, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	var a *federation.Account
	for rows.Next() {
		var id, email string
		var verified, anonymous bool
		var provider, issuer, subject sql.NullString
		if err := rows.Scan(&id, &email, &verified, &anonymous, &provider, &issuer, &subject); err != nil {
			return nil, storeError(err)
		}
		if a == nil {
			a = &federation.Account{ID: id, Email: email, EmailVerified: verified, Anonymous: anonymous}
		}
		if issuer.Valid {
			a.Identities = append(a.Identities, federation.Identity{Provider: provider.String, Issuer: issuer.String,
				Subject: subject.String})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(err)
	}
	if a == nil {
		return nil, federation.ErrNotFound
	}
	return a, nil
}

// storeError wraps a database failure; sql.ErrNoRows never leaves the
// package as itself.
func storeError(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return federation.ErrNotFound
	}
	return fmt.Errorf("oidcfedsql: %w", err)
}

// conflict reports a unique-key violation: SQLSTATE 23505 (PostgreSQL) or
// SQLite's constraint codes, read through the drivers' error methods so
// that neither driver is imported.
func conflict(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		return pg.SQLState() == "23505"
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		c := lite.Code()
		return c == 1555 || c == 2067 // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}

// FindByIdentity implements [federation.AccountStore].
func (s *Store) FindByIdentity(ctx context.Context, issuer, subject string) (*federation.Account, error) {
	return account(ctx, s.db, accountByIdentity, issuer, subject)
}

// CreateWithIdentity implements [federation.AccountStore]: one
// transaction; federation.ErrConflict when the identity exists.
func (s *Store) CreateWithIdentity(ctx context.Context, a federation.Account, id federation.Identity) (*federation.Account, error) {
	a.ID, a.Anonymous = randid.Short(), false
	a.EmailVerified = a.EmailVerified && a.Email != ""
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO oidcfed_accounts (id, email, email_key, email_verified, anonymous)
			VALUES ($1, $2, $3, $4, FALSE)`, a.ID, a.Email, federation.EmailKey(a.Email), a.EmailVerified); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oidcfed_identities (issuer, subject, provider, account_id)
			VALUES ($1, $2, $3, $4)`, id.Issuer, id.Subject, id.Provider, a.ID)
		return err
	})
	if conflict(err) {
		return nil, federation.ErrConflict
	} else if err != nil {
		return nil, storeError(err)
	}
	a.Identities = []federation.Identity{id}
	return &a, nil
}

// CreateAnonymous implements [federation.FullAccountStore].
func (s *Store) CreateAnonymous(ctx context.Context) (*federation.Account, error) {
	a := &federation.Account{ID: randid.Short(), Anonymous: true}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO oidcfed_accounts (id, anonymous) VALUES ($1, TRUE)`,
		a.ID); err != nil {
		return nil, storeError(err)
	}
	return a, nil
}

// Get implements [federation.LinkingStore].
func (s *Store) Get(ctx context.Context, id string) (*federation.Account, error) {
	return account(ctx, s.db, accountByID, id)
}

// FindByVerifiedEmail implements [federation.LinkingStore]: an exact
// match on the ASCII-folded key, among verified emails only; not found
// when two accounts have it.
func (s *Store) FindByVerifiedEmail(ctx context.Context, email string) (*federation.Account, error) {
	key := federation.EmailKey(email)
	if key == "" {
		return nil, federation.ErrNotFound
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM oidcfed_accounts WHERE email_verified AND email_key = $1
		LIMIT 2`, key)
	if err != nil {
		return nil, storeError(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, storeError(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, storeError(err)
	}
	if len(ids) != 1 {
		return nil, federation.ErrNotFound // none, or ambiguous: never guess
	}
	return s.Get(ctx, ids[0])
}

// AttachIdentity implements [federation.LinkingStore] in one transaction
// that locks the account.
func (s *Store) AttachIdentity(ctx context.Context, accountID string, id federation.Identity, email string,
	emailVerified bool) (*federation.Account, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx, accountID); err != nil {
			return err
		}
		var owner string
		switch err := tx.QueryRowContext(ctx, `SELECT account_id FROM oidcfed_identities WHERE issuer = $1 AND subject = $2`,
			id.Issuer, id.Subject).Scan(&owner); {
		case err == nil && owner == accountID:
			return nil // already its own
		case err == nil:
			return federation.ErrConflict
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO oidcfed_identities (issuer, subject, provider, account_id)
			VALUES ($1, $2, $3, $4)`, id.Issuer, id.Subject, id.Provider, accountID); err != nil {
			return err
		}
		verified := emailVerified && email != ""
		_, err := tx.ExecContext(ctx, `UPDATE oidcfed_accounts SET anonymous = FALSE,
			email_verified = CASE WHEN email = '' THEN $2 ELSE email_verified END,
			email_key = CASE WHEN email = '' THEN $3 ELSE email_key END,
			email = CASE WHEN email = '' THEN $4 ELSE email END
			WHERE id = $1`, accountID, verified, federation.EmailKey(email), email)
		return err
	})
	switch {
	case errors.Is(err, federation.ErrConflict), errors.Is(err, federation.ErrNotFound):
		return nil, err
	case conflict(err):
		return nil, federation.ErrConflict // a concurrent attach of the same identity won
	case err != nil:
		return nil, storeError(err)
	}
	return s.Get(ctx, accountID)
}

// DetachIdentity implements [federation.FullAccountStore] in one
// transaction that locks the account.
func (s *Store) DetachIdentity(ctx context.Context, accountID string, id federation.Identity) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx, accountID); err != nil {
			return err
		}
		var owned, total int
		if err := tx.QueryRowContext(ctx, `SELECT
			COUNT(CASE WHEN issuer = $2 AND subject = $3 THEN 1 END), COUNT(*)
			FROM oidcfed_identities WHERE account_id = $1`, accountID, id.Issuer, id.Subject).Scan(&owned,
			&total); err != nil {
			return err
		}
		switch {
		case owned == 0:
			return federation.ErrNotFound
		case total == 1:
			return federation.ErrLastIdentity
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM oidcfed_identities WHERE issuer = $1 AND subject = $2`, id.Issuer,
			id.Subject)
		return err
	})
	if errors.Is(err, federation.ErrNotFound) || errors.Is(err, federation.ErrLastIdentity) {
		return err
	} else if err != nil {
		return storeError(err)
	}
	return nil
}

// lock locks the account row accountID for the transaction:
// federation.ErrNotFound when there is none.
func (s *Store) lock(ctx context.Context, tx *sql.Tx, accountID string) error {
	var id string
	err := tx.QueryRowContext(ctx, s.d.lockAccount, accountID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return federation.ErrNotFound
	}
	return err
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

var _ federation.FullAccountStore = (*Store)(nil)
