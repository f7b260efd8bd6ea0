// Command production is the example server (examples/server: the same
// contract and the same code) with the stores that several instances
// behind a load balancer share:
//
//	OIDCFED_REDIS_URL      redis://127.0.0.1:6379/0: flows are claimed once, logout
//	                       tokens are single use and host sessions live in Redis
//	OIDCFED_DATABASE_URL   postgres://user@host/db or sqlite:///path/accounts.db:
//	                       accounts (the tables are created or upgraded at start)
//
// Unset, each is in memory, as in examples/server. Each instance holds at
// most 20 database connections. Every instance needs the
// same OIDCFED_SESSION_KEY and OIDCFED_CONFIG; demo mode, which starts a
// provider in each instance, is refused when a store is shared. Every other
// variable is examples/server's (docs/example-server.md).
package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // "sqlite"

	"github.com/oidcfed/oidcfed/examples/internal/exampleapp"
	oidcfedredis "github.com/oidcfed/oidcfed/redis"
	oidcfedsql "github.com/oidcfed/oidcfed/sqlstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "production:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ext, closeAll, err := stores(ctx, getenv)
	if err != nil {
		return err
	}
	defer closeAll()
	return exampleapp.Run(ctx, args, getenv, stdout, stderr, ext)
}

// stores opens the shared stores the environment names.
func stores(ctx context.Context, getenv func(string) string) (exampleapp.Extensions, func(), error) {
	var ext exampleapp.Extensions
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	if u := getenv("OIDCFED_REDIS_URL"); u != "" {
		opts, err := redis.ParseURL(u)
		if err != nil {
			return ext, closeAll, fmt.Errorf("OIDCFED_REDIS_URL: %w", err)
		}
		rdb := redis.NewClient(opts)
		closers = append(closers, rdb.Close)
		if err := rdb.Ping(ctx).Err(); err != nil {
			closeAll()
			return ext, func() {}, fmt.Errorf("OIDCFED_REDIS_URL: %s does not answer: %w", opts.Addr, err)
		}
		ext.Replay = oidcfedredis.NewReplayGuard(rdb, oidcfedredis.Config{})
		ext.Sessions = oidcfedredis.NewHostStore(rdb, oidcfedredis.Config{})
		ext.Values = oidcfedredis.NewValueStore(rdb, oidcfedredis.Config{})
	}
	if u := getenv("OIDCFED_DATABASE_URL"); u != "" {
		driver, dsn, dialect, err := database(u)
		if err != nil {
			closeAll()
			return ext, func() {}, err
		}
		db, err := sql.Open(driver, dsn)
		if err != nil {
			closeAll()
			return ext, func() {}, fmt.Errorf("OIDCFED_DATABASE_URL: %w", err)
		}
		closers = append(closers, db.Close)
		// Bounded: PostgreSQL refuses clients past max_connections (100 by
		// default), which 200 concurrent sign-ins over two instances reach
		// with database/sql's unbounded pool.
		db.SetMaxOpenConns(maxDatabaseConns)
		db.SetMaxIdleConns(maxDatabaseConns)
		accounts, err := oidcfedsql.New(db, dialect)
		if err == nil {
			err = accounts.Migrate(ctx)
		}
		if err != nil {
			closeAll()
			return ext, func() {}, fmt.Errorf("OIDCFED_DATABASE_URL: %w", err)
		}
		ext.Accounts = accounts
	}
	return ext, closeAll, nil
}

// maxDatabaseConns bounds each instance's database connections; more
// requests wait for one, up to their deadline.
const maxDatabaseConns = 20

// database reads OIDCFED_DATABASE_URL: postgres:// (or postgresql://)
// for PostgreSQL, sqlite:///path for a SQLite file.
func database(u string) (driver, dsn string, d oidcfedsql.Dialect, err error) {
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return "pgx", u, oidcfedsql.Postgres, nil
	case strings.HasPrefix(u, "sqlite://"):
		path := strings.TrimPrefix(u, "sqlite://")
		if !strings.HasPrefix(path, "/") {
			return "", "", d, fmt.Errorf("OIDCFED_DATABASE_URL: %q: want sqlite:///absolute/path.db", u)
		}
		return "sqlite", oidcfedsql.SQLiteDSN(path), oidcfedsql.SQLite, nil
	}
	return "", "", d, fmt.Errorf("OIDCFED_DATABASE_URL: %q: want postgres://… or sqlite:///path.db", u)
}
