package oidcfedredis

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidcfed/oidcfed/session"
)

// ValueStore is a [session.ValueStore] in Redis, for the registry's
// federation.WithValueStore: the clients a provider registered dynamically
// (sealed by the registry before they get here) and request objects
// served by reference, seen by every instance. Each value is a string
// under "<prefix>value:" and the SHA-256 of its key, holding its expiry
// (8 bytes, Unix milliseconds, 0 for none) and the value; Take is GETDEL,
// so of concurrent Takes one gets the value. Needs Redis 6.2 or later.
type ValueStore struct{ conn }

// NewValueStore returns a value store over rdb.
func NewValueStore(rdb redis.UniversalClient, cfg Config) *ValueStore {
	return &ValueStore{newConn(rdb, cfg)}
}

func (s *ValueStore) key(key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.prefix + "value:" + hex.EncodeToString(sum[:])
}

// Put stores value under key until expires (zero: until deleted); Redis
// drops it a minute after.
func (s *ValueStore) Put(ctx context.Context, key string, value []byte, expires time.Time) error {
	if err := session.CheckValue(key, value); err != nil {
		return err
	}
	rec := make([]byte, 8, 8+len(value))
	var ttl time.Duration // 0: no expiry in Redis
	if !expires.IsZero() {
		binary.BigEndian.PutUint64(rec, uint64(max(expires.UnixMilli(), 1)))
		ttl = max(expires.Sub(s.now()), 0) + keep
	}
	if err := s.rdb.Set(ctx, s.key(key), append(rec, value...), ttl).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Get returns key's live value.
func (s *ValueStore) Get(ctx context.Context, key string) ([]byte, error) {
	return s.open(s.rdb.Get(ctx, s.key(key)).Bytes())
}

// Take returns key's live value and deletes it, in one command.
func (s *ValueStore) Take(ctx context.Context, key string) ([]byte, error) {
	return s.open(s.rdb.GetDel(ctx, s.key(key)).Bytes())
}

// open reads a record: its value, or ErrNoValue when absent or expired.
func (s *ValueStore) open(rec []byte, err error) ([]byte, error) {
	switch {
	case errors.Is(err, redis.Nil):
		return nil, session.ErrNoValue
	case err != nil:
		return nil, unavailable(err)
	case len(rec) < 8:
		return nil, fmt.Errorf("redis: a value record of %d bytes", len(rec))
	}
	if exp := int64(binary.BigEndian.Uint64(rec)); exp != 0 && s.now().UnixMilli() >= exp {
		return nil, session.ErrNoValue
	}
	return rec[8:], nil
}

// Delete removes key's value.
func (s *ValueStore) Delete(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.key(key)).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}
