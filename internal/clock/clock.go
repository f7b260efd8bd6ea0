// Package clock provides the injectable time source used throughout oidcfed:
// configuration structs take a Now func() time.Time, nil meaning time.Now,
// and tests move a [Fake] instead of sleeping.
package clock

import (
	"sync"
	"time"
)

// Or returns now, or time.Now when now is nil.
func Or(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// Fake is a clock for tests. Its zero value is not usable; use [NewFake].
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a clock stopped at t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the clock's current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}
