package session

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzCodec checks the sealed-value codec: what Seal makes, Open returns
// unchanged for the same purpose only; any other input, including every
// one-byte change of a sealed value, fails with ErrUnsealable.
func FuzzCodec(f *testing.F) {
	// Keys are random per run, so no seed or corpus entry can hold a value
	// sealed by c: any value that opens was forged. (A first version used
	// fixed keys and a seed sealed with them; the fuzzer turned its purpose
	// into the right one and the oracle cried forgery. That input is kept
	// in testdata/fuzz as a regression seed.)
	key := func() []byte { k := make([]byte, 32); rand.Read(k); return k }
	c, _ := NewCodec(key(), key())
	rotatedOut, _ := NewCodec(key())
	f.Add([]byte(`{"p":"oidc:acme","n":"n","v":"v","c":1}`), "__Host-oidcfed-flow-AAAAAAAAAAAAAAAAAAAAAA", "", 0)
	f.Add([]byte("x"), "p", rotatedOut.Seal([]byte("x"), "p"), 3)
	f.Fuzz(func(t *testing.T, plain []byte, purpose, arbitrary string, flip int) {
		if _, err := c.Open(arbitrary, purpose); err == nil {
			// Only a value sealed with one of c's keys can open; the fuzzer
			// cannot forge one, so this is a codec bug.
			t.Fatalf("an arbitrary value opened: %q", arbitrary)
		}
		sealed := c.Seal(plain, purpose)
		got, err := c.Open(sealed, purpose)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("round trip: %q, %v", got, err)
		}
		if _, err := c.Open(sealed, purpose+"x"); err != ErrUnsealable {
			t.Fatalf("opened for another purpose: %v", err)
		}
		b := []byte(sealed)
		i := (flip%len(b) + len(b)) % len(b)
		b[i] ^= 1 + byte(flip>>8)%63 // stays in the base64url alphabet's range only by chance; either way it must not open
		if _, err := c.Open(string(b), purpose); err == nil {
			t.Fatalf("a changed sealed value opened (byte %d)", i)
		}
		if _, err := rotatedOut.Open(sealed, purpose); err == nil {
			t.Fatal("a codec without the key opened the value")
		}
	})
}

// FuzzFlowCookie takes a flow whose cookie holds arbitrary sealed
// plaintext: a store must refuse it or return a flow, never panic, and
// never return an expired flow.
func FuzzFlowCookie(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add([]byte(`{"p":"oidc:acme","n":"n","v":"v","r":"/x","m":1,"a":"acct","c":1800000000}`))
	f.Add([]byte(`{"c":-9223372036854775808}`))
	f.Add([]byte(`{"m":99,"c":1799999999.5}`))
	f.Fuzz(func(t *testing.T, plain []byte) {
		s, _ := NewCookieStore(CookieConfig{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)}, Now: func() time.Time { return now }})
		state := "AAAAAAAAAAAAAAAAAAAAAA"
		name := s.cookies.name(state)
		r := httptest.NewRequest(http.MethodGet, "/cb", nil)
		r.AddCookie(&http.Cookie{Name: name, Value: s.codec.Seal(plain, name)})
		fl, err := s.Take(httptest.NewRecorder(), r, state)
		if err != nil {
			return
		}
		if age := now.Sub(fl.Created); age >= MaxAge || age < -time.Minute {
			t.Fatalf("a flow created %s returned at %s", fl.Created, now)
		}
	})
}
