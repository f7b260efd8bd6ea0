// Package oidcfedsql keeps accounts in a SQL database through
// database/sql: a [federation.FullAccountStore] for PostgreSQL (pgx's
// stdlib driver, "pgx") and SQLite (modernc.org/sqlite, pure Go,
// "sqlite"), which several server instances share.
//
//	db, err := sql.Open("pgx", "postgres://app@127.0.0.1/app")
//	accounts, err := oidcfedsql.New(db, oidcfedsql.Postgres)
//	err = accounts.Migrate(ctx) // creates or upgrades the tables; safe to run from every instance
//
// The schema is two tables: oidcfed_accounts (id, email, email_key,
// email_verified, anonymous) and oidcfed_identities, whose primary key
// (issuer, subject) settles concurrent creates of one identity: the loser
// gets federation.ErrConflict and the sign-in policy finds the winner's
// account. email_key is federation.EmailKey(email), folded in ASCII only
// and compared exactly; it has no unique index, since an email verified
// at two accounts matches neither (the policy then creates an account, as
// MemoryAccounts does). Attach and detach run in transactions that lock
// the account row, so an account never loses its last identity.
//
// [Store.Values] is a session.ValueStore in the same database (the table
// oidcfed_values), for federation.WithValueStore: dynamically registered
// clients, sealed by the registry, and request objects served by
// reference, seen by every instance.
//
// Bound the pool (db.SetMaxOpenConns): database/sql opens connections
// without limit, and PostgreSQL refuses clients past max_connections (100
// by default), which a burst of sign-ins over a few instances reaches.
//
// The package imports no driver: the host imports the one it uses. For
// SQLite, open the file with "_txlock=immediate" and a busy timeout (see
// [SQLiteDSN]), so that concurrent writers wait instead of failing.
package oidcfedsql
