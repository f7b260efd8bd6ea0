package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
)

// ValueStore keeps small values that every instance of an application must
// see, by key: the clients a provider registered dynamically, and the
// request objects a provider fetches by reference. Put stores value under
// key until expires (the zero time: until deleted), replacing any value;
// Get returns it, or [ErrNoValue] once expired or absent; Take returns it
// and deletes it atomically, so that of concurrent Takes exactly one gets
// it; Delete removes it (no error when absent). Keys are at most 200
// bytes of printable ASCII; values at most 64 KiB. Errors other than
// ErrNoValue mean the store cannot answer: wrap [ErrUnavailable], or
// [ErrValuesFull] for a bounded store that is full.
// session/sessiontest.ValueStore is the conformance kit.
type ValueStore interface {
	Put(ctx context.Context, key string, value []byte, expires time.Time) error
	Get(ctx context.Context, key string) ([]byte, error)
	Take(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
}

var (
	// ErrNoValue: the value store holds nothing under this key (any more).
	ErrNoValue = errors.New("session: no such value")
	// ErrValuesFull: a bounded value store is full of live values.
	ErrValuesFull = errors.New("session: the value store is full")
)

// MaxValueSize bounds a value in any ValueStore.
const MaxValueSize = 64 << 10

// CheckValue checks a key and value against the ValueStore bounds, for
// stores to call before they write.
func CheckValue(key string, value []byte) error {
	if len(key) == 0 || len(key) > 200 {
		return fmt.Errorf("session: a value key of %d bytes; want 1 to 200", len(key))
	}
	for i := range len(key) {
		if key[i] < 0x21 || key[i] > 0x7e {
			return errors.New("session: a value key with a byte that is not printable ASCII")
		}
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("session: a value of %d bytes; the bound is %d", len(value), MaxValueSize)
	}
	return nil
}

// MemoryValues is a ValueStore in this process's memory, for a single
// instance: at most Max values (live ones; expired ones make room), each
// at most MaxValueSize bytes. Put answers ErrValuesFull beyond that.
type MemoryValues struct {
	mu     sync.Mutex
	now    func() time.Time
	max    int
	values map[string]memoryValue
}

type memoryValue struct {
	value   []byte
	expires time.Time // zero: none
}

// ValuesConfig configures [MemoryValues].
type ValuesConfig struct {
	// Max bounds the values held. Default 10 000.
	Max int
	// Now is the clock expiry is read on. Default time.Now.
	Now func() time.Time
}

// NewMemoryValues returns an empty MemoryValues.
func NewMemoryValues(cfg ValuesConfig) *MemoryValues {
	if cfg.Max <= 0 {
		cfg.Max = 10_000
	}
	return &MemoryValues{now: clock.Or(cfg.Now), max: cfg.Max, values: map[string]memoryValue{}}
}

// live reports whether v has not expired at now.
func (v memoryValue) live(now time.Time) bool { return v.expires.IsZero() || now.Before(v.expires) }

// Put stores a copy of value under key until expires.
func (s *MemoryValues) Put(_ context.Context, key string, value []byte, expires time.Time) error {
	if err := CheckValue(key, value); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.values[key]; !ok && len(s.values) >= s.max {
		now := s.now()
		for k, v := range s.values {
			if !v.live(now) {
				delete(s.values, k)
			}
		}
		if len(s.values) >= s.max {
			return fmt.Errorf("%w (%d values)", ErrValuesFull, s.max)
		}
	}
	s.values[key] = memoryValue{value: append([]byte(nil), value...), expires: expires}
	return nil
}

// Get returns a copy of key's value.
func (s *MemoryValues) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key]
	if !ok || !v.live(s.now()) {
		return nil, ErrNoValue
	}
	return append([]byte(nil), v.value...), nil
}

// Take returns key's value and deletes it.
func (s *MemoryValues) Take(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key]
	delete(s.values, key)
	if !ok || !v.live(s.now()) {
		return nil, ErrNoValue
	}
	return v.value, nil
}

// Delete removes key's value.
func (s *MemoryValues) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.values, key)
	return nil
}

// Len is the number of values held, expired ones included until they
// make room.
func (s *MemoryValues) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.values)
}
