package sessiontest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/session"
)

// NewValueStore returns a value store on the clock now (keys are random,
// so a store over a shared backend may be reused).
type NewValueStore func(t *testing.T, now func() time.Time) session.ValueStore

// ValueStore runs the value-store contract against stores from newStore.
func ValueStore(t *testing.T, newStore NewValueStore) {
	setup := func(t *testing.T) (session.ValueStore, *clock.Fake) {
		clk := clock.NewFake(Start)
		return newStore(t, clk.Now), clk
	}
	ctx := context.Background()
	key := func() string { return "test:" + rand.Text() }
	get := func(t *testing.T, s session.ValueStore, k string) []byte {
		t.Helper()
		v, err := s.Get(ctx, k)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		return v
	}
	t.Run("PutGetReplace", func(t *testing.T) {
		s, _ := setup(t)
		k := key()
		if err := s.Put(ctx, k, []byte("one"), Start.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if v := get(t, s, k); string(v) != "one" {
			t.Fatalf("got %q, want one", v)
		}
		if err := s.Put(ctx, k, []byte("two"), Start.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if v := get(t, s, k); string(v) != "two" {
			t.Fatalf("after a replace: %q, want two", v)
		}
		if _, err := s.Get(ctx, key()); !errors.Is(err, session.ErrNoValue) {
			t.Fatalf("unknown key: %v, want ErrNoValue", err)
		}
	})
	t.Run("BinaryValues", func(t *testing.T) {
		s, _ := setup(t)
		k, v := key(), []byte{0, 1, 0xff, '\n', 0}
		if err := s.Put(ctx, k, v, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got := get(t, s, k); !bytes.Equal(got, v) {
			t.Fatalf("got %x, want %x", got, v)
		}
	})
	t.Run("ExpiryOnTheInjectedClock", func(t *testing.T) {
		s, clk := setup(t)
		k, forever := key(), key()
		if err := s.Put(ctx, k, []byte("v"), Start.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, forever, []byte("v"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(59 * time.Second)
		get(t, s, k)
		clk.Advance(time.Second)
		if _, err := s.Get(ctx, k); !errors.Is(err, session.ErrNoValue) {
			t.Fatalf("at expiry: %v, want ErrNoValue", err)
		}
		if _, err := s.Take(ctx, k); !errors.Is(err, session.ErrNoValue) {
			t.Fatalf("take at expiry: %v, want ErrNoValue", err)
		}
		clk.Advance(24 * time.Hour)
		get(t, s, forever) // the zero time never expires
	})
	t.Run("TakeOnce", func(t *testing.T) {
		s, _ := setup(t)
		k := key()
		if err := s.Put(ctx, k, []byte("once"), Start.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		var won, gone atomic.Int32
		var wg sync.WaitGroup
		for range Concurrency {
			wg.Go(func() {
				switch v, err := s.Take(ctx, k); {
				case err == nil && string(v) == "once":
					won.Add(1)
				case errors.Is(err, session.ErrNoValue):
					gone.Add(1)
				default:
					t.Errorf("take: %q %v", v, err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 || gone.Load() != Concurrency-1 {
			t.Fatalf("%d of %d takers got the value and %d found none, want exactly 1 and %d", won.Load(),
				Concurrency, gone.Load(), Concurrency-1)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, session.ErrNoValue) {
			t.Fatalf("get after take: %v, want ErrNoValue", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s, _ := setup(t)
		k := key()
		if err := s.Put(ctx, k, []byte("v"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, session.ErrNoValue) {
			t.Fatalf("after delete: %v, want ErrNoValue", err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Fatalf("deleting an absent key: %v", err)
		}
	})
	t.Run("Bounds", func(t *testing.T) {
		s, _ := setup(t)
		if err := s.Put(ctx, key(), make([]byte, session.MaxValueSize), time.Time{}); err != nil {
			t.Fatalf("a value of MaxValueSize: %v", err)
		}
		for name, put := range map[string]func() error{
			"a value over MaxValueSize": func() error {
				return s.Put(ctx, key(), make([]byte, session.MaxValueSize+1), time.Time{})
			},
			"a key of 201 bytes": func() error { return s.Put(ctx, strings.Repeat("k", 201), nil, time.Time{}) },
			"an empty key":       func() error { return s.Put(ctx, "", nil, time.Time{}) },
			"a key with a space": func() error { return s.Put(ctx, "a b", nil, time.Time{}) },
		} {
			if err := put(); err == nil {
				t.Errorf("%s was stored", name)
			}
		}
	})
}
