// Package flight runs at most one call per key at a time and shares its
// result with every caller waiting for it: x/sync's singleflight, reduced to
// what oidcfed needs, with two differences. The call runs in its own goroutine,
// so a caller that gives up (its context is done) neither cancels the call nor
// stops others from getting the result. And the number of waiting callers is
// observable, which lets tests prove that N concurrent callers made one call.
package flight

import (
	"context"
	"sync"
)

// Group is a set of in-flight calls keyed by K. The zero value is ready to use.
type Group[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*call[V]
}

type call[V any] struct {
	done    chan struct{}
	val     V
	err     error
	waiters int
}

// Do calls fn once for key, unless a call for key is already in flight, and
// waits for its result or for ctx to be done. fn runs in a new goroutine and
// is never cancelled by ctx: it must bound its own work (a timeout).
func (g *Group[K, V]) Do(ctx context.Context, key K, fn func() (V, error)) (V, error) {
	v, err, _ := g.DoIf(ctx, key, nil, fn)
	return v, err
}

// DoIf is Do where a new call starts only if start reports true (nil
// means always); a call in flight is joined whatever start would say.
// start runs with the group's lock held, so that deciding and starting are
// one step. When no call runs and start refuses, DoIf returns at once with
// joined false.
func (g *Group[K, V]) DoIf(ctx context.Context, key K, start func() bool, fn func() (V, error)) (v V, err error,
	joined bool) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[K]*call[V])
	}
	c, ok := g.calls[key]
	if !ok {
		if start != nil && !start() {
			g.mu.Unlock()
			return v, nil, false
		}
		c = &call[V]{done: make(chan struct{})}
		g.calls[key] = c
		go g.run(key, c, fn)
	}
	c.waiters++
	g.mu.Unlock()

	defer func() {
		g.mu.Lock()
		c.waiters--
		g.mu.Unlock()
	}()
	select {
	case <-c.done:
		return c.val, c.err, true
	case <-ctx.Done():
		return v, context.Cause(ctx), true
	}
}

func (g *Group[K, V]) run(key K, c *call[V], fn func() (V, error)) {
	defer func() {
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn()
}

// Waiting returns how many callers wait on the call in flight for key (0 when
// none is in flight). It exists for tests.
func (g *Group[K, V]) Waiting(key K) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return 0
}
