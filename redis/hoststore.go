package oidcfedredis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidcfed/oidcfed/session"
)

// HostStore is a [session.HostStore] in Redis, for [session.Sessions]
// shared by several instances: a back-channel logout received by one ends
// the sessions every instance created. Each session is a hash under
// "<prefix>session:<key>" (the key is already the SHA-256 of the session
// ID), holding the record as JSON with its tokens sealed by
// session.Sessions; the sessions of a (provider, subject) and of a
// (provider, sid) are sets under "<prefix>sub:" and "<prefix>sid:" and the
// SHA-256 of the pair. Every change is one Lua script, so the sets stay
// consistent under concurrent sign-ins and logouts. Single-node Redis (or
// a primary with replicas); Redis Cluster is not supported.
type HostStore struct{ conn }

// NewHostStore returns a host store over rdb.
func NewHostStore(rdb redis.UniversalClient, cfg Config) *HostStore {
	return &HostStore{newConn(rdb, cfg)}
}

func (s *HostStore) record(key string) string { return s.prefix + "session:" + key }

// indexKey is the set of sessions of (provider, value); "" for none.
func (s *HostStore) indexKey(kind, provider, value string) string {
	if provider == "" || value == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(provider + "\x00" + value))
	return s.prefix + kind + ":" + hex.EncodeToString(sum[:])
}

// storedHost is the JSON of a record.
type storedHost struct {
	Host    session.Host `json:"h"`
	Expires int64        `json:"e"` // ms
}

// unindexLua removes the record KEYS[1] from the sets its fields name.
const unindexLua = `
local function unindex(rec)
	local isub = redis.call('HGET', rec, 'isub')
	local isid = redis.call('HGET', rec, 'isid')
	if isub then redis.call('SREM', isub, rec) end
	if isid then redis.call('SREM', isid, rec) end
end
`

// putScript replaces KEYS[1] with ARGV[1] (JSON) until ARGV[4] ms from
// now, indexed in KEYS[2] and KEYS[3] ("" for none).
var putScript = redis.NewScript(unindexLua + `
unindex(KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'isub', ARGV[2], 'isid', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
for _, ix in ipairs({ARGV[2], ARGV[3]}) do
	if ix ~= '' then
		redis.call('SADD', ix, KEYS[1])
		if redis.call('PTTL', ix) < tonumber(ARGV[4]) then
			redis.call('PEXPIRE', ix, ARGV[4])
		end
	end
end
return 1
`)

// deleteScript removes KEYS[1] and its index entries.
var deleteScript = redis.NewScript(unindexLua + `
unindex(KEYS[1])
return redis.call('DEL', KEYS[1])
`)

// deleteMatchingScript removes every record in the sets ARGV[2] and
// ARGV[3] ("" for none) and returns how many were live at ARGV[1] ms.
var deleteMatchingScript = redis.NewScript(unindexLua + `
local seen, n = {}, 0
for _, ix in ipairs({ARGV[2], ARGV[3]}) do
	if ix ~= '' then
		for _, rec in ipairs(redis.call('SMEMBERS', ix)) do
			if not seen[rec] then
				seen[rec] = true
				local data = redis.call('HGET', rec, 'data')
				if data then
					local ok, doc = pcall(cjson.decode, data)
					if ok and tonumber(doc.e) > tonumber(ARGV[1]) then n = n + 1 end
					unindex(rec)
					redis.call('DEL', rec)
				end
			end
		end
		redis.call('DEL', ix)
	end
end
return n
`)

// unavailable wraps a Redis failure as session.ErrUnavailable: the
// handler answers 503 and nothing was recorded.
func unavailable(err error) error { return fmt.Errorf("%w: redis: %w", session.ErrUnavailable, err) }

// Put stores h under key until expires.
func (s *HostStore) Put(ctx context.Context, key string, h *session.Host, expires time.Time) error {
	data, err := json.Marshal(storedHost{Host: *h, Expires: expires.UnixMilli()})
	if err != nil {
		return err
	}
	ttl := max(expires.Sub(s.now()), 0) + keep
	err = putScript.Run(ctx, s.rdb, []string{s.record(key)}, data, s.indexKey("sub", h.Provider, h.Subject),
		s.indexKey("sid", h.Provider, h.SID), strconv.FormatInt(ttl.Milliseconds(), 10)).Err()
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Get returns the live session of key.
func (s *HostStore) Get(ctx context.Context, key string) (*session.Host, error) {
	data, err := s.rdb.HGet(ctx, s.record(key), "data").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, session.ErrNoSession
	} else if err != nil {
		return nil, unavailable(err)
	}
	var sh storedHost
	if err := json.Unmarshal(data, &sh); err != nil {
		return nil, fmt.Errorf("redis: session record: %w", err)
	}
	if s.now().UnixMilli() >= sh.Expires {
		return nil, session.ErrNoSession
	}
	return &sh.Host, nil
}

// Delete removes key.
func (s *HostStore) Delete(ctx context.Context, key string) error {
	if err := deleteScript.Run(ctx, s.rdb, []string{s.record(key)}).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// DeleteMatching removes the sessions of provider with subject or sid.
func (s *HostStore) DeleteMatching(ctx context.Context, provider, subject, sid string) (int, error) {
	n, err := deleteMatchingScript.Run(ctx, s.rdb, nil, strconv.FormatInt(s.now().UnixMilli(), 10),
		s.indexKey("sub", provider, subject), s.indexKey("sid", provider, sid)).Int()
	if err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}
