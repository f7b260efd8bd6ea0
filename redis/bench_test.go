package oidcfedredis_test

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidcfed/oidcfed/pkce"
	oidcfedredis "github.com/oidcfed/oidcfed/redis"
	"github.com/oidcfed/oidcfed/redis/redistest"
	"github.com/oidcfed/oidcfed/session"
)

// counter counts the commands a client sends (a pipeline counts once).
type counter struct{ n atomic.Int64 }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// BenchmarkFlowSaveTake saves and takes one flow (a sign-in's start and
// callback, as the flow store sees them) with the consumed flows in memory
// and in Redis over loopback; round-trips/op counts Redis commands.
func BenchmarkFlowSaveTake(b *testing.B) {
	srv := redistest.Start(b).Addr()
	keys := [][]byte{bytes.Repeat([]byte{7}, 32)}
	memory, _ := session.NewCookieStore(session.CookieConfig{Keys: keys})
	rdb := redis.NewClient(&redis.Options{Addr: srv})
	defer rdb.Close()
	var rt counter
	rdb.AddHook(&rt)
	viaRedis, _ := oidcfedredis.NewFlowStore(oidcfedredis.NewReplayGuard(rdb, oidcfedredis.Config{}),
		session.CookieConfig{Keys: keys})
	for _, tc := range []struct {
		name  string
		store session.FlowStore
	}{{"memory", memory}, {"redis", viaRedis}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			before := rt.n.Load()
			for b.Loop() {
				f := &session.FlowState{Provider: "oidc:acme", State: pkce.NewVerifier().Reveal()[:22],
					Nonce: "nonce-value-123456", Verifier: pkce.NewVerifier(), RedirectTo: "/",
					Created: time.Now().Truncate(time.Second)}
				rec := httptest.NewRecorder()
				if err := tc.store.Save(rec, httptest.NewRequest("GET", "http://127.0.0.1/", nil), f); err != nil {
					b.Fatal(err)
				}
				r := httptest.NewRequest("GET", "http://127.0.0.1/cb", nil)
				for _, c := range rec.Result().Cookies() {
					r.AddCookie(c)
				}
				if _, err := tc.store.Take(httptest.NewRecorder(), r, f.State); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rt.n.Load()-before)/float64(b.N), "round-trips/op")
		})
	}
}
