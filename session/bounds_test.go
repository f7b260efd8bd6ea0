package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
)

// TestPendingFlowsPerBrowserAreCapped: 40 starts in one browser leave the
// newest MaxPendingFlows flow cookies, and each of those completes.
func TestPendingFlowsPerBrowserAreCapped(t *testing.T) {
	for name, s := range stores(t, clock.NewFake(t0), false) {
		t.Run(name, func(t *testing.T) {
			b := newBrowser()
			var flows []*FlowState
			for i := range 40 {
				f := newFlow(t0.Add(time.Duration(i)*time.Second), "/")
				flows = append(flows, f)
				save(t, s, b, f)
			}
			if len(b.cookies) != MaxPendingFlows {
				t.Fatalf("%d flow cookies after 40 starts, want %d", len(b.cookies), MaxPendingFlows)
			}
			header := b.request().Header.Get("Cookie")
			t.Logf("after 40 starts: %d flow cookies, Cookie header %d bytes", len(b.cookies), len(header))
			for _, f := range flows[:40-MaxPendingFlows] {
				if _, err := take(s, b, f.State); !errors.Is(err, ErrNoFlow) {
					t.Fatalf("an expired-by-cap flow: %v, want ErrNoFlow", err)
				}
			}
			for _, f := range flows[40-MaxPendingFlows:] {
				if _, err := take(s, b, f.State); err != nil {
					t.Fatalf("one of the newest %d flows: %v", MaxPendingFlows, err)
				}
			}
		})
	}
}

// TestUnreadableFlowCookiesExpireFirst: cookies that do not open (forged,
// another key, another browser's binding) are expired before any real
// flow, in either cookie-name form.
func TestUnreadableFlowCookiesExpireFirst(t *testing.T) {
	for name, s := range stores(t, clock.NewFake(t0), false) {
		t.Run(name, func(t *testing.T) {
			b := newBrowser()
			var real []*FlowState
			for i := range MaxPendingFlows - 1 {
				f := newFlow(t0.Add(time.Duration(i)*time.Second), "/")
				real = append(real, f)
				save(t, s, b, f)
			}
			junk := []string{"oidcfed-" + newFlow(t0, "").State, "__Host-oidcfed-" + newFlow(t0, "").State}
			for _, n := range junk {
				b.cookies[n] = &http.Cookie{Name: n, Value: "junk"}
			}
			rec := httptest.NewRecorder()
			if err := s.Save(rec, b.request(), newFlow(t0.Add(time.Minute), "/")); err != nil {
				t.Fatal(err)
			}
			var deleted []string
			for _, c := range rec.Result().Cookies() {
				if c.MaxAge < 0 {
					deleted = append(deleted, c.Name)
					if strings.HasPrefix(c.Name, "__Host-") && !c.Secure {
						t.Errorf("%s is deleted without Secure, which a browser ignores", c.Name)
					}
				}
			}
			slices.Sort(deleted)
			slices.Sort(junk)
			if !slices.Equal(deleted, junk) {
				t.Fatalf("deleted %q, want the unreadable %q", deleted, junk)
			}
			b.store(rec)
			for _, f := range real {
				if _, err := take(s, b, f.State); err != nil {
					t.Fatalf("a real flow was dropped: %v", err)
				}
			}
		})
	}
}

// TestMemoryStoreCapNeverEndsAnotherBrowsersFlow: a state is public (it is
// in the authorization URL); a browser that sends cookies named after
// someone else's states, over the cap, does not end their flows.
func TestMemoryStoreCapNeverEndsAnotherBrowsersFlow(t *testing.T) {
	s := NewMemoryStore(MemoryConfig{Now: clock.NewFake(t0).Now})
	victim, attacker := newBrowser(), newBrowser()
	var targets []*FlowState
	for range MaxPendingFlows {
		f := newFlow(t0, "/")
		targets = append(targets, f)
		save(t, s, victim, f)
	}
	for _, f := range targets {
		n := "oidcfed-" + f.State
		attacker.cookies[n] = &http.Cookie{Name: n, Value: "guess"}
	}
	save(t, s, attacker, newFlow(t0, "/"))
	for _, f := range targets {
		if _, err := take(s, victim, f.State); err != nil {
			t.Fatalf("the victim's flow: %v", err)
		}
	}
}

// TestMemoryStoreFullRefusesNewFlows: a full store drops expired flows
// first, then refuses with ErrFull rather than evicting a live flow, and
// accepts again once flows expire: a flood locks no one out for longer
// than one flow lifetime.
func TestMemoryStoreFullRefusesNewFlows(t *testing.T) {
	clk := clock.NewFake(t0)
	s := NewMemoryStore(MemoryConfig{Now: clk.Now, MaxFlows: 100})
	victim := newBrowser()
	mine := newFlow(clk.Now(), "/")
	save(t, s, victim, mine)
	for range 99 { // a flood, each from a fresh browser
		save(t, s, newBrowser(), newFlow(clk.Now(), "/"))
	}
	rec := httptest.NewRecorder()
	if err := s.Save(rec, newBrowser().request(), newFlow(clk.Now(), "/")); !errors.Is(err, ErrFull) {
		t.Fatalf("a start into a full store: %v, want ErrFull", err)
	}
	if len(rec.Result().Cookies()) != 0 || s.flows.Len() != 100 {
		t.Fatalf("a refused start set %d cookies and left %d flows", len(rec.Result().Cookies()), s.flows.Len())
	}
	if _, err := take(s, victim, mine.State); err != nil {
		t.Fatalf("the flood evicted a live flow: %v", err)
	}
	save(t, s, newBrowser(), newFlow(clk.Now(), "/")) // the freed place
	clk.Advance(MaxAge)
	for range 100 {
		save(t, s, newBrowser(), newFlow(clk.Now(), "/"))
	}
	if s.flows.Len() != 100 {
		t.Fatalf("%d flows, want the 100 live ones after the expired were dropped", s.flows.Len())
	}
}

// TestCookieStoreReplayGuardDropsExpiredBeforeFailingClosed: a full
// consumed set forgets expired flows (at its oldest end and, once a
// minute, anywhere) before it forgets a live one and fails closed.
func TestCookieStoreReplayGuardDropsExpiredBeforeFailingClosed(t *testing.T) {
	clk := clock.NewFake(t0)
	s, _ := NewCookieStore(CookieConfig{Keys: [][]byte{key1}, Now: clk.Now, MaxConsumed: 10})
	consume := func(created time.Time) {
		t.Helper()
		b, f := newBrowser(), newFlow(created, "/")
		save(t, s, b, f)
		if _, err := take(s, b, f.State); err != nil {
			t.Fatal(err)
		}
	}
	quick := clk.Now().Add(5 * time.Minute)
	clk.Advance(5 * time.Minute)
	consume(quick) // consumed first, and live longest
	clk.Advance(4 * time.Minute)
	for range 9 { // slow flows: created at t0, consumed after a quick one
		consume(t0)
	}
	clk.Advance(time.Minute) // the slow flows have expired; the quick one has not
	consume(clk.Now())
	g := s.replay.(*MemoryReplayGuard)
	if !g.watermark.IsZero() || g.Len() != 2 {
		t.Fatalf("watermark %v with %d entries: a live flow was forgotten while expired ones were kept", g.watermark, g.Len())
	}
}

// TestCookieStoreFloodRecovers: a flood of throw-away flows that fills
// the consumed set refuses only flows created before the forgotten ones;
// a sign-in started after the flood completes, and memory stays bounded.
func TestCookieStoreFloodRecovers(t *testing.T) {
	clk := clock.NewFake(t0)
	s, _ := NewCookieStore(CookieConfig{Keys: [][]byte{key1}, Now: clk.Now, MaxConsumed: 1000})
	victim := newBrowser()
	early := newFlow(clk.Now(), "/")
	save(t, s, victim, early)
	clk.Advance(time.Second)
	for range 1001 {
		b, f := newBrowser(), newFlow(clk.Now(), "/")
		save(t, s, b, f)
		if _, err := take(s, b, f.State); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.replay.(*MemoryReplayGuard).Len(); n != 1000 {
		t.Fatalf("%d consumed entries, want the bound 1000", n)
	}
	if _, err := take(s, victim, early.State); !errors.Is(err, ErrGuardFull) {
		t.Fatalf("a flow from before the forgotten ones: %v, want ErrReplayed (fail closed)", err)
	}
	clk.Advance(time.Second)
	again := newFlow(clk.Now(), "/")
	save(t, s, victim, again)
	if _, err := take(s, victim, again.State); err != nil {
		t.Fatalf("a sign-in started after the flood: %v", err)
	}
}

// TestMemoryValuesBound: a full MemoryValues refuses a new key with
// ErrValuesFull, still replaces a held one, and expired values make room.
func TestMemoryValuesBound(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	s := NewMemoryValues(ValuesConfig{Max: 2, Now: func() time.Time { return now }})
	ctx := context.Background()
	for _, k := range []string{"a", "b"} {
		if err := s.Put(ctx, k, []byte(k), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "c", nil, time.Time{}); !errors.Is(err, ErrValuesFull) {
		t.Fatalf("a third key: %v, want ErrValuesFull", err)
	}
	if err := s.Put(ctx, "a", []byte("a2"), now.Add(time.Minute)); err != nil {
		t.Fatalf("replacing a held key: %v", err)
	}
	now = now.Add(time.Minute)
	if err := s.Put(ctx, "c", nil, time.Time{}); err != nil || s.Len() != 1 {
		t.Fatalf("after expiry: %v, %d held, want room made and 1 held", err, s.Len())
	}
}
