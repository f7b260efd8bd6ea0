package session

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
	"github.com/oidcfed/oidcfed/internal/randid"
	"github.com/oidcfed/oidcfed/pkce"
)

var (
	key1 = bytes.Repeat([]byte{1}, 32)
	key2 = bytes.Repeat([]byte{2}, 32)
	t0   = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func TestCodec(t *testing.T) {
	old, _ := NewCodec(key1)
	rotated, _ := NewCodec(key2, key1) // new key first, old key still opens
	retired, _ := NewCodec(key2)       // old key removed
	sealed := old.Seal([]byte("hello"), "cookie-a")

	if p, err := rotated.Open(sealed, "cookie-a"); err != nil || string(p) != "hello" {
		t.Fatalf("a value sealed with the old key must open after rotation: %q, %v", p, err)
	}
	if _, err := old.Open(rotated.Seal([]byte("x"), "p"), "p"); !errors.Is(err, ErrUnsealable) {
		t.Fatal("the first key must seal: the old codec opened a new value")
	}
	tampered := []byte(sealed)
	tampered[len(tampered)/2] ^= 1
	for name, tc := range map[string]struct {
		codec      *Codec
		v, purpose string
	}{
		"sealed with a rotated-out key": {retired, sealed, "cookie-a"},
		"tampered":                      {rotated, string(tampered), "cookie-a"},
		"truncated":                     {rotated, sealed[:len(sealed)-4], "cookie-a"},
		"too short to hold a nonce":     {rotated, "AAAA", "cookie-a"},
		"not base64":                    {rotated, "!!!", "cookie-a"},
		"sealed for another purpose":    {rotated, sealed, "cookie-b"},
	} {
		if _, err := tc.codec.Open(tc.v, tc.purpose); !errors.Is(err, ErrUnsealable) {
			t.Errorf("%s: %v, want ErrUnsealable", name, err)
		}
	}
	for _, keys := range [][][]byte{nil, {[]byte("short")}} {
		if _, err := NewCodec(keys...); err == nil {
			t.Errorf("NewCodec(%d keys) accepted bad keys", len(keys))
		}
	}
}

func newFlow(created time.Time, redirect string) *FlowState {
	return &FlowState{Provider: "oidc:acme", State: randid.New()[:22], Nonce: randid.New()[:22],
		Verifier: pkce.NewVerifier(), RedirectTo: redirect, Created: created}
}

// browser keeps cookies like a user agent for one origin.
type browser struct{ cookies map[string]*http.Cookie }

func newBrowser() *browser { return &browser{cookies: map[string]*http.Cookie{}} }

func (b *browser) request() *http.Request {
	r := httptest.NewRequest("GET", "http://127.0.0.1/cb", nil)
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	return r
}

func (b *browser) store(rec *httptest.ResponseRecorder) {
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
}

func save(t *testing.T, s FlowStore, b *browser, f *FlowState) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := s.Save(rec, b.request(), f); err != nil {
		t.Fatal(err)
	}
	b.store(rec)
	var set []*http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge > 0 {
			set = append(set, c)
		}
	}
	if len(set) != 1 {
		t.Fatalf("Save set %d cookies, want 1", len(set))
	}
	return set[0]
}

func take(s FlowStore, b *browser, state string) (*FlowState, error) {
	rec := httptest.NewRecorder()
	f, err := s.Take(rec, b.request(), state)
	b.store(rec)
	return f, err
}

func stores(t *testing.T, clk *clock.Fake, secure bool) map[string]FlowStore {
	cs, err := NewCookieStore(CookieConfig{Keys: [][]byte{key1}, Now: clk.Now, Secure: secure})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]FlowStore{"CookieStore": cs, "MemoryStore": NewMemoryStore(MemoryConfig{Now: clk.Now, Secure: secure})}
}

func TestFlowStores(t *testing.T) {
	for name, s := range stores(t, clock.NewFake(t0), false) {
		t.Run(name, func(t *testing.T) {
			b := newBrowser()
			f1, f2 := newFlow(t0, "/one"), newFlow(t0, "/two")
			c := save(t, s, b, f1)
			save(t, s, b, f2)
			if !c.HttpOnly || c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 600 {
				t.Fatalf("cookie attributes = %+v", c)
			}
			// Parallel flows in one browser both complete.
			got2, err := take(s, b, f2.State)
			if err != nil || got2.RedirectTo != "/two" || got2.Nonce != f2.Nonce || got2.Verifier != f2.Verifier {
				t.Fatalf("second flow: %v, %v", got2, err)
			}
			got1, err := take(s, b, f1.State)
			if err != nil || got1.RedirectTo != "/one" {
				t.Fatalf("first flow: %v, %v", got1, err)
			}
			if len(b.cookies) != 0 {
				t.Fatalf("cookies left after Take: %v", b.cookies)
			}
		})
	}
}

func TestFlowStoreRejections(t *testing.T) {
	for _, name := range []string{"CookieStore", "MemoryStore"} {
		t.Run(name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			fresh := func() FlowStore { return stores(t, clk, false)[name] }

			t.Run("a state with no cookie in this browser is refused", func(t *testing.T) {
				s := fresh()
				f := newFlow(clk.Now(), "/")
				save(t, s, newBrowser(), f)
				if _, err := take(s, newBrowser(), f.State); !errors.Is(err, ErrNoFlow) {
					t.Fatalf("%v, want ErrNoFlow", err)
				}
			})
			t.Run("a wrong state is refused", func(t *testing.T) {
				s, b := fresh(), newBrowser()
				save(t, s, b, newFlow(clk.Now(), "/"))
				for _, st := range []string{"", "x", newFlow(t0, "").State, "../../etc", strings.Repeat("a", 65)} {
					if _, err := take(s, b, st); !errors.Is(err, ErrNoFlow) {
						t.Fatalf("state %q: %v, want ErrNoFlow", st, err)
					}
				}
			})
			t.Run("a replay in the same browser is refused", func(t *testing.T) {
				s, b := fresh(), newBrowser()
				f := newFlow(clk.Now(), "/")
				c := save(t, s, b, f)
				if _, err := take(s, b, f.State); err != nil {
					t.Fatal(err)
				}
				b.cookies[c.Name] = c // the browser sends the cookie again
				if _, err := take(s, b, f.State); err == nil {
					t.Fatal("replay accepted")
				}
			})
			t.Run("a replay with the cookie copied to another browser is refused", func(t *testing.T) {
				s, b := fresh(), newBrowser()
				f := newFlow(clk.Now(), "/")
				c := save(t, s, b, f)
				if _, err := take(s, b, f.State); err != nil {
					t.Fatal(err)
				}
				other := newBrowser()
				other.cookies[c.Name] = c
				if _, err := take(s, other, f.State); err == nil {
					t.Fatal("replay from another browser accepted")
				}
			})
			t.Run("a flow older than 10 minutes is refused", func(t *testing.T) {
				s, b := fresh(), newBrowser()
				f := newFlow(clk.Now(), "/")
				save(t, s, b, f)
				clk.Advance(10 * time.Minute)
				if _, err := take(s, b, f.State); !errors.Is(err, ErrFlowExpired) {
					t.Fatalf("%v, want ErrFlowExpired", err)
				}
			})
		})
	}
}

func TestCookieStoreTamperedCookies(t *testing.T) {
	clk := clock.NewFake(t0)
	s, _ := NewCookieStore(CookieConfig{Keys: [][]byte{key1}, Now: clk.Now})
	for name, edit := range map[string]func(v string) string{
		"tampered":  func(v string) string { return v[:10] + string(rune('A'+(v[10]-'A'+1)%26)) + v[11:] },
		"truncated": func(v string) string { return v[:len(v)/2] },
		"emptied":   func(string) string { return "" },
		"other key": func(string) string {
			other, _ := NewCookieStore(CookieConfig{Keys: [][]byte{key2}})
			rec := httptest.NewRecorder()
			f := newFlow(t0, "/")
			other.Save(rec, httptest.NewRequest("GET", "/", nil), f)
			return rec.Result().Cookies()[0].Value
		},
	} {
		b := newBrowser()
		f := newFlow(clk.Now(), "/")
		c := save(t, s, b, f)
		c.Value = edit(c.Value)
		b.cookies[c.Name] = c
		if _, err := take(s, b, f.State); !errors.Is(err, ErrNoFlow) {
			t.Errorf("%s cookie: %v, want ErrNoFlow", name, err)
		}
	}
}

func TestCookieStoreFailsClosedWhenReplayGuardIsFull(t *testing.T) {
	clk := clock.NewFake(t0)
	s, _ := NewCookieStore(CookieConfig{Keys: [][]byte{key1}, Now: clk.Now, MaxConsumed: 2})
	b := newBrowser()
	var flows []*FlowState
	var cookies []*http.Cookie
	for range 4 {
		f := newFlow(clk.Now(), "/")
		flows = append(flows, f)
		cookies = append(cookies, save(t, s, b, f))
		clk.Advance(time.Second)
	}
	for _, f := range flows[:3] { // the third Take evicts the first consumed ID
		if _, err := take(s, b, f.State); err != nil {
			t.Fatal(err)
		}
	}
	b.cookies[cookies[0].Name] = cookies[0]
	if _, err := take(s, b, flows[0].State); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay of an evicted ID: %v, want ErrReplayed (fail closed)", err)
	}
	if _, err := take(s, b, flows[3].State); err != nil {
		t.Fatalf("a flow newer than the evicted one must still work: %v", err)
	}
}

func TestCookieSecureAndSize(t *testing.T) {
	s, _ := NewCookieStore(CookieConfig{Keys: [][]byte{key1}, Secure: true})
	f := newFlow(time.Now(), "/"+strings.Repeat("a", 511))
	f.AccountID = randid.New()
	f.Mode = Upgrade
	rec := httptest.NewRecorder()
	if err := s.Save(rec, httptest.NewRequest("GET", "/", nil), f); err != nil {
		t.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	if !c.Secure || !strings.HasPrefix(c.Name, "__Host-") {
		t.Fatalf("https cookie = %+v, want Secure and __Host- prefix", c)
	}
	if n := len(c.Name) + 1 + len(c.Value); n > 1024 {
		t.Fatalf("flow cookie with a 512-byte redirectTo is %d bytes, want ≤ 1024", n)
	} else {
		t.Logf("flow cookie with a 512-byte redirectTo and an account ID: %d bytes", n)
	}
}

func TestFlowStateIsRedacted(t *testing.T) {
	f := newFlow(t0, "/next")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("flow", "flow", f)
	for _, out := range []string{fmt.Sprint(f), fmt.Sprintf("%v %+v %#v %s", f, f, f, f), logs.String()} {
		for _, secret := range []string{f.State, f.Nonce, f.Verifier.Reveal()} {
			if strings.Contains(out, secret) {
				t.Fatalf("secret leaked in %q", out)
			}
		}
	}
}

// TestFormPostFlowCookies: a form_post flow's cookie is SameSite=None and
// Secure, on http loopback too (a browser sends no Lax cookie with the
// provider's cross-site POST, and drops a None cookie without Secure); a
// query flow's stays Lax. Taking one with a POST deletes it as Secure.
func TestFormPostFlowCookies(t *testing.T) {
	cs, _ := NewCookieStore(CookieConfig{Keys: [][]byte{key1}})
	for _, s := range []FlowStore{cs, NewMemoryStore(MemoryConfig{})} {
		for _, formPost := range []bool{false, true} {
			f := newFlow(time.Now(), "/")
			f.FormPost = formPost
			rec := httptest.NewRecorder()
			if err := s.Save(rec, httptest.NewRequest("GET", "http://127.0.0.1/", nil), f); err != nil {
				t.Fatal(err)
			}
			c := rec.Result().Cookies()[0]
			wantSite := http.SameSiteLaxMode
			if formPost {
				wantSite = http.SameSiteNoneMode
			}
			if c.SameSite != wantSite || c.Secure != formPost || !c.HttpOnly || c.Path != "/" {
				t.Fatalf("%T form_post=%v: cookie %+v", s, formPost, c)
			}
			if !formPost {
				continue
			}
			r := httptest.NewRequest("POST", "http://127.0.0.1/cb", nil)
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			rec = httptest.NewRecorder()
			got, err := s.Take(rec, r, f.State)
			if err != nil || !got.FormPost {
				t.Fatalf("%T: take %v, %v", s, got, err)
			}
			if del := rec.Result().Cookies()[0]; del.MaxAge >= 0 || !del.Secure || del.SameSite != http.SameSiteNoneMode {
				t.Fatalf("%T: deletion %+v, want Secure SameSite=None", s, del)
			}
		}
	}
}
