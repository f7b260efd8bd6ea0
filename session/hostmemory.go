package session

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
)

// MemoryHostStore is a [HostStore] in this process, for one server
// instance. It holds every live session (a few hundred bytes each, plus
// the sealed tokens); expired ones are dropped at most once a minute, on a
// write. Sessions are indexed by provider and subject and by provider and
// sid, so DeleteMatching does not scan.
type MemoryHostStore struct {
	now func() time.Time

	mu        sync.Mutex
	sessions  map[string]memoryHost
	bySubject map[[2]string]map[string]struct{} // (provider, subject) → keys
	bySID     map[[2]string]map[string]struct{} // (provider, sid) → keys
	swept     time.Time
}

type memoryHost struct {
	host    Host
	expires time.Time
}

// NewMemoryHostStore returns an empty store on the clock now (nil:
// time.Now).
func NewMemoryHostStore(now func() time.Time) *MemoryHostStore {
	return &MemoryHostStore{now: clock.Or(now), sessions: map[string]memoryHost{},
		bySubject: map[[2]string]map[string]struct{}{}, bySID: map[[2]string]map[string]struct{}{}}
}

// Put stores h under key until expires.
func (s *MemoryHostStore) Put(ctx context.Context, key string, h *Host, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cp := *h
	cp.Values = maps.Clone(h.Values)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.swept) >= time.Minute {
		s.swept = now
		for k, mh := range s.sessions {
			if !now.Before(mh.expires) {
				s.remove(k)
			}
		}
	}
	s.remove(key)
	s.sessions[key] = memoryHost{host: cp, expires: expires}
	index(s.bySubject, [2]string{cp.Provider, cp.Subject}, key, cp.Subject != "")
	index(s.bySID, [2]string{cp.Provider, cp.SID}, key, cp.SID != "")
	return nil
}

func index(ix map[[2]string]map[string]struct{}, k [2]string, key string, ok bool) {
	if !ok || k[0] == "" {
		return
	}
	if ix[k] == nil {
		ix[k] = map[string]struct{}{}
	}
	ix[k][key] = struct{}{}
}

func unindex(ix map[[2]string]map[string]struct{}, k [2]string, key string) {
	delete(ix[k], key)
	if len(ix[k]) == 0 {
		delete(ix, k)
	}
}

// remove deletes key and its index entries; s.mu is held.
func (s *MemoryHostStore) remove(key string) {
	mh, ok := s.sessions[key]
	if !ok {
		return
	}
	delete(s.sessions, key)
	unindex(s.bySubject, [2]string{mh.host.Provider, mh.host.Subject}, key)
	unindex(s.bySID, [2]string{mh.host.Provider, mh.host.SID}, key)
}

// Get returns the live session of key.
func (s *MemoryHostStore) Get(ctx context.Context, key string) (*Host, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mh, ok := s.sessions[key]
	if !ok || !s.now().Before(mh.expires) {
		return nil, ErrNoSession
	}
	h := mh.host
	h.Values = maps.Clone(h.Values)
	return &h, nil
}

// Delete removes key.
func (s *MemoryHostStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(key)
	return nil
}

// DeleteMatching removes the sessions of provider with subject or sid.
func (s *MemoryHostStore) DeleteMatching(ctx context.Context, provider, subject, sid string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := map[string]struct{}{}
	if subject != "" {
		maps.Copy(keys, s.bySubject[[2]string{provider, subject}])
	}
	if sid != "" {
		maps.Copy(keys, s.bySID[[2]string{provider, sid}])
	}
	now, n := s.now(), 0
	for k := range keys {
		if now.Before(s.sessions[k].expires) {
			n++
		}
		s.remove(k)
	}
	return n, nil
}

// Len is the number of sessions held, expired ones not yet dropped
// included.
func (s *MemoryHostStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
