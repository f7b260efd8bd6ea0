package oidcfedsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oidcfed/oidcfed/session"
)

// Values is a [session.ValueStore] in the store's database (the table
// oidcfed_values, created by [Store.Migrate]), for the registry's
// federation.WithValueStore: the clients a provider registered
// dynamically (sealed by the registry before they get here) and request
// objects served by reference, seen by every instance. Take is one DELETE
// … RETURNING, so of concurrent Takes one gets the value. Each Put first
// deletes the values that have expired.
type Values struct {
	db  *sql.DB
	now func() time.Time
}

// Values returns the store's value store on the clock now (nil:
// time.Now), which decides expiry.
func (s *Store) Values(now func() time.Time) *Values {
	if now == nil {
		now = time.Now
	}
	return &Values{db: s.db, now: now}
}

// Put stores value under key until expires (zero: until deleted).
func (v *Values) Put(ctx context.Context, key string, value []byte, expires time.Time) error {
	if err := session.CheckValue(key, value); err != nil {
		return err
	}
	var exp int64
	if !expires.IsZero() {
		exp = max(expires.UnixMilli(), 1)
	}
	if _, err := v.db.ExecContext(ctx, `DELETE FROM oidcfed_values WHERE expires > 0 AND expires <= $1`,
		v.now().UnixMilli()); err != nil {
		return valuesError(err)
	}
	if value == nil {
		value = []byte{}
	}
	_, err := v.db.ExecContext(ctx, `INSERT INTO oidcfed_values (name, value, expires) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, expires = excluded.expires`, key, value, exp)
	return valuesError(err)
}

// Get returns key's live value.
func (v *Values) Get(ctx context.Context, key string) ([]byte, error) {
	return v.live(v.db.QueryRowContext(ctx, `SELECT value, expires FROM oidcfed_values WHERE name = $1`, key))
}

// Take returns key's live value and deletes it, in one statement.
func (v *Values) Take(ctx context.Context, key string) ([]byte, error) {
	return v.live(v.db.QueryRowContext(ctx, `DELETE FROM oidcfed_values WHERE name = $1 RETURNING value, expires`,
		key))
}

// live reads a row: its value, or ErrNoValue when absent or expired.
func (v *Values) live(row *sql.Row) ([]byte, error) {
	var value []byte
	var exp int64
	if err := row.Scan(&value, &exp); errors.Is(err, sql.ErrNoRows) {
		return nil, session.ErrNoValue
	} else if err != nil {
		return nil, valuesError(err)
	}
	if exp != 0 && v.now().UnixMilli() >= exp {
		return nil, session.ErrNoValue
	}
	return value, nil
}

// Delete removes key's value.
func (v *Values) Delete(ctx context.Context, key string) error {
	_, err := v.db.ExecContext(ctx, `DELETE FROM oidcfed_values WHERE name = $1`, key)
	return valuesError(err)
}

// valuesError wraps a database failure as session.ErrUnavailable.
func valuesError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: oidcfedsql: %w", session.ErrUnavailable, err)
}
