package oidcfedsql_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/accountstest"
	"github.com/oidcfed/oidcfed/session"
	"github.com/oidcfed/oidcfed/session/sessiontest"
	oidcfedsql "github.com/oidcfed/oidcfed/sqlstore"
	"github.com/oidcfed/oidcfed/sqlstore/pgtest"
)

// open opens and migrates a store; Migrate runs twice, as two instances
// starting together would.
func open(t testing.TB, driver, dsn string, d oidcfedsql.Dialect) *oidcfedsql.Store {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := oidcfedsql.New(db, d)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestSQLiteConformance(t *testing.T) {
	s := open(t, "sqlite", oidcfedsql.SQLiteDSN(filepath.Join(t.TempDir(), "accounts.db")), oidcfedsql.SQLite)
	accountstest.Store(t, func(t *testing.T) federation.FullAccountStore { return s })
}

func TestPostgresConformance(t *testing.T) {
	pg := pgtest.Start(t)
	s := open(t, "pgx", pg.DSN(), oidcfedsql.Postgres)
	accountstest.Store(t, func(t *testing.T) federation.FullAccountStore { return s })
}

// TestPostgresStoppedAndRestarted: while the database is down a lookup
// fails with a database error (never ErrNotFound, which would create a
// second account) and nothing is written; after a restart it works.
func TestPostgresStoppedAndRestarted(t *testing.T) {
	pg := pgtest.Start(t)
	s := open(t, "pgx", pg.DSN(), oidcfedsql.Postgres)
	ctx := context.Background()
	id := federation.Identity{Provider: "oidc:acme", Issuer: "https://idp.example.com", Subject: "ada"}
	a, err := s.CreateWithIdentity(ctx, federation.Account{}, id)
	if err != nil {
		t.Fatal(err)
	}
	pg.Stop()
	if _, err := s.FindByIdentity(ctx, id.Issuer, id.Subject); err == nil || errors.Is(err, federation.ErrNotFound) {
		t.Fatalf("lookup with the database down: %v, want a database error", err)
	}
	other := federation.Identity{Provider: "oidc:acme", Issuer: id.Issuer, Subject: "bob"}
	if _, err := s.CreateWithIdentity(ctx, federation.Account{}, other); err == nil {
		t.Fatal("create with the database down succeeded")
	}
	pg.Start()
	got, err := s.FindByIdentity(ctx, id.Issuer, id.Subject)
	if err != nil || got.ID != a.ID {
		t.Fatalf("after the restart: %v, %v", got, err)
	}
	if _, err := s.FindByIdentity(ctx, other.Issuer, other.Subject); !errors.Is(err, federation.ErrNotFound) {
		t.Fatalf("the failed create left something: %v", err)
	}
}

// TestDeadline: a query past the context's deadline fails with it.
func TestDeadline(t *testing.T) {
	s := open(t, "sqlite", oidcfedsql.SQLiteDSN(filepath.Join(t.TempDir(), "accounts.db")), oidcfedsql.SQLite)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if _, err := s.FindByIdentity(ctx, "https://idp.example.com", "ada"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lookup past the deadline: %v, want context.DeadlineExceeded", err)
	}
}

// BenchmarkReturningUser is a returning user's account lookup (what the
// sign-in policies do on every sign-in: one SQL statement).
func BenchmarkReturningUser(b *testing.B) {
	pg := pgtest.Start(b)
	for _, tc := range []struct {
		name   string
		driver string
		dsn    string
		d      oidcfedsql.Dialect
	}{
		{"sqlite", "sqlite", oidcfedsql.SQLiteDSN(filepath.Join(b.TempDir(), "accounts.db")), oidcfedsql.SQLite},
		{"postgres", "pgx", pg.DSN(), oidcfedsql.Postgres},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := open(b, tc.driver, tc.dsn, tc.d)
			ctx := context.Background()
			id := federation.Identity{Provider: "oidc:acme", Issuer: "https://idp.example.com", Subject: "ada-" + tc.name}
			if _, err := s.CreateWithIdentity(ctx, federation.Account{}, id); err != nil &&
				!errors.Is(err, federation.ErrConflict) { // -count reruns this
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.FindByIdentity(ctx, id.Issuer, id.Subject); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	mem := federation.NewMemoryAccounts()
	id := federation.Identity{Provider: "oidc:acme", Issuer: "https://idp.example.com", Subject: "ada"}
	mem.CreateWithIdentity(context.Background(), federation.Account{}, id)
	b.Run("memory", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mem.FindByIdentity(context.Background(), id.Issuer, id.Subject)
		}
	})
}

func TestValuesConformance(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s := open(t, "sqlite", oidcfedsql.SQLiteDSN(filepath.Join(t.TempDir(), "values.db")), oidcfedsql.SQLite)
		sessiontest.ValueStore(t, func(_ *testing.T, now func() time.Time) session.ValueStore { return s.Values(now) })
	})
	t.Run("postgres", func(t *testing.T) {
		pg := pgtest.Start(t)
		s := open(t, "pgx", pg.DSN(), oidcfedsql.Postgres)
		sessiontest.ValueStore(t, func(_ *testing.T, now func() time.Time) session.ValueStore { return s.Values(now) })
	})
}
