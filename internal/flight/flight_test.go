package flight

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestDoSharesOneCall(t *testing.T) {
	var g Group[string, int]
	var calls atomic.Int32
	release := make(chan struct{})
	const n = 50
	var wg sync.WaitGroup
	results := make([]int, n)
	for i := range n {
		wg.Go(func() {
			v, err := g.Do(context.Background(), "k", func() (int, error) {
				calls.Add(1)
				<-release
				return 42, nil
			})
			if err != nil {
				t.Errorf("Do: %v", err)
			}
			results[i] = v
		})
	}
	for g.Waiting("k") < n {
		// Wait until every caller has joined the call; the call is blocked,
		// so this ends.
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Fatalf("fn called %d times, want 1", got)
	}
	for i, v := range results {
		if v != 42 {
			t.Fatalf("caller %d got %d, want 42", i, v)
		}
	}
	if w := g.Waiting("k"); w != 0 {
		t.Fatalf("Waiting after completion = %d, want 0", w)
	}
}

func TestCancelledCallerDoesNotCancelCall(t *testing.T) {
	var g Group[string, string]
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := g.Do(ctx, "k", func() (string, error) {
			<-release
			return "ok", nil
		})
		first <- err
	}()
	for g.Waiting("k") < 1 {
		runtime.Gosched()
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}
	second := make(chan string, 1)
	go func() {
		v, _ := g.Do(context.Background(), "k", func() (string, error) { return "second call", nil })
		second <- v
	}()
	for g.Waiting("k") < 1 {
		runtime.Gosched()
	}
	close(release)
	if v := <-second; v != "ok" {
		t.Fatalf("second caller got %q, want the first call's result %q", v, "ok")
	}
}

func TestErrorIsShared(t *testing.T) {
	var g Group[int, int]
	boom := errors.New("boom")
	_, err := g.Do(context.Background(), 1, func() (int, error) { return 0, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want %v", err, boom)
	}
}

// TestDoIf: a refused start returns at once without calling fn; a call in
// flight is joined even when start would refuse.
func TestDoIf(t *testing.T) {
	var g Group[string, string]
	refuse := func() bool { return false }
	_, err, joined := g.DoIf(context.Background(), "k", refuse, func() (string, error) {
		t.Fatal("fn ran though start refused")
		return "", nil
	})
	if joined || err != nil {
		t.Fatalf("refused start: joined %t, err %v", joined, err)
	}
	release := make(chan struct{})
	first := make(chan string, 1)
	go func() {
		v, _, _ := g.DoIf(context.Background(), "k", func() bool { return true }, func() (string, error) {
			<-release
			return "shared", nil
		})
		first <- v
	}()
	for g.Waiting("k") < 1 {
		runtime.Gosched()
	}
	second := make(chan string, 1)
	go func() {
		v, _, joined := g.DoIf(context.Background(), "k", refuse, func() (string, error) { return "own", nil })
		if !joined {
			v = "not joined"
		}
		second <- v
	}()
	for g.Waiting("k") < 2 {
		runtime.Gosched()
	}
	close(release)
	if a, b := <-first, <-second; a != "shared" || b != "shared" {
		t.Fatalf("results %q and %q, want the one call's for both", a, b)
	}
}
