package discovery

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/clock"
)

type keySetFixture struct {
	idp *testIdP
	clk *clock.Fake
	ks  *KeySet
	v   *Verifier

	mu      sync.Mutex
	removed []string
}

func newKeySetFixture(t *testing.T, keys ...*testKey) *keySetFixture {
	t.Helper()
	f := &keySetFixture{idp: newIdP(t, keys...), clk: clock.NewFake(epoch)}
	var err error
	f.ks, err = NewKeySet(KeySetConfig{URI: f.idp.URL + "/jwks", Now: f.clk.Now, OnKeyRemoved: func(kid string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.removed = append(f.removed, kid)
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.v, err = NewVerifier(VerifierConfig{Issuer: f.idp.URL, Audiences: []string{"client-1"}, KeySet: f.ks,
		Algorithms: []string{"RS256", "ES256"}, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *keySetFixture) token(t *testing.T, k *testKey) string {
	return k.sign(t, claimsFor(f.idp.URL, "client-1", f.clk.Now()))
}

func (f *keySetFixture) verify(t *testing.T, raw string) error {
	t.Helper()
	_, err := f.v.Verify(context.Background(), raw)
	return err
}

func TestKeySetRotation(t *testing.T) {
	a, b := newKey(t, "RS256", "key-a"), newKey(t, "ES256", "key-b")
	f := newKeySetFixture(t, a)
	if err := f.verify(t, f.token(t, a)); err != nil {
		t.Fatalf("token of key-a: %v", err)
	}
	f.idp.setKeys(t, b)
	if err := f.verify(t, f.token(t, b)); err != nil {
		t.Fatalf("token of the new key-b after rotation: %v", err)
	}
	if n := f.idp.jwksHits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (initial + one refetch for the new kid)", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.removed) != 1 || f.removed[0] != "key-a" {
		t.Fatalf("OnKeyRemoved calls = %v, want [key-a]", f.removed)
	}
	st := f.ks.Status()
	if len(st.KeyIDs) != 1 || st.KeyIDs[0] != "key-b" || !st.FetchedAt.Equal(epoch) || !st.NextRefresh.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("Status = %+v", st)
	}
}

func TestKeySetUnknownKidFloodIsOneFetchPerCooldown(t *testing.T) {
	known := newKey(t, "ES256", "known")
	f := newKeySetFixture(t, known)
	if err := f.verify(t, f.token(t, known)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		unknown := newKey(t, "ES256", "unknown-"+strings.Repeat("x", i%7)+string(rune('a'+i%26)))
		raw := f.token(t, unknown)
		wg.Go(func() { errs <- f.verify(t, raw) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("unknown kid: %v, want ErrUnknownKey", err)
		}
	}
	if n := f.idp.jwksHits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times for 100 unknown kids, want 2 (initial + one per cooldown)", n)
	}
	f.clk.Advance(30 * time.Second)
	if err := f.verify(t, f.token(t, newKey(t, "ES256", "later"))); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("after the cooldown: %v, want ErrUnknownKey", err)
	}
	if n := f.idp.jwksHits.Load(); n != 3 {
		t.Fatalf("JWKS fetched %d times after the cooldown, want 3", n)
	}
}

func TestKeySetSkipsUnparseableKeys(t *testing.T) {
	good := newKey(t, "ES256", "good")
	f := newKeySetFixture(t)
	goodJSON, _ := good.jwk().MarshalJSON()
	f.idp.setJWKS([]byte(`{"keys":[
		{"kty":"RSA","kid":"broken","n":"!!!","e":"AQAB"},
		{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
		{"kty":"XYZ","kid":"alien"},
		` + string(goodJSON) + `]}`))
	if err := f.verify(t, f.token(t, good)); err != nil {
		t.Fatalf("verify with a good key beside bad ones: %v", err)
	}
	if ids := f.ks.Status().KeyIDs; len(ids) != 1 || ids[0] != "good" {
		t.Fatalf("kept keys %v, want only [good] (the symmetric key must never be kept)", ids)
	}
}

func TestKeySetRejectsOversizedJWKS(t *testing.T) {
	k := newKey(t, "ES256", "k")
	f := newKeySetFixture(t, k)
	f.idp.setJWKS([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`))
	err := f.verify(t, f.token(t, k))
	if !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("oversized JWKS: %v, want ErrKeysUnavailable wrapping ErrResponseTooLarge", err)
	}
}

func TestKeySetStaleKeysWhileProviderIsDown(t *testing.T) {
	k := newKey(t, "ES256", "k")
	f := newKeySetFixture(t, k)
	if err := f.verify(t, f.token(t, k)); err != nil {
		t.Fatal(err)
	}
	f.idp.setJWKS([]byte("not json"))
	f.clk.Advance(2 * time.Hour)
	if err := f.verify(t, f.token(t, k)); err != nil {
		t.Fatalf("expired keys while the provider is down: %v, want them still used", err)
	}
	if st := f.ks.Status(); st.LastError == "" {
		t.Fatal("Status does not report the failed refetch")
	}
	f.clk.Advance(23 * time.Hour) // 25 h after the last successful fetch: past TTL + 24 h
	if err := f.verify(t, f.token(t, k)); !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, ErrNotJSON) {
		t.Fatalf("keys past TTL+24h: %v, want ErrKeysUnavailable", err)
	}
}

func TestNewKeySetRefusesSymmetricAlgorithms(t *testing.T) {
	for _, alg := range []string{"HS256", "none"} {
		if _, err := NewKeySet(KeySetConfig{URI: "https://idp.example/jwks", Algorithms: []string{alg}}); err == nil {
			t.Errorf("NewKeySet accepted %s", alg)
		}
	}
	if _, err := NewKeySet(KeySetConfig{}); !errors.Is(err, ErrMissingField) {
		t.Errorf("NewKeySet without URI: %v, want ErrMissingField", err)
	}
}
