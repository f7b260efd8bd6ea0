package oidcfedredis_test

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// server is a redis-server process on a loopback port, started by a test.
type server struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
	// persist turns the append-only file on (fsync on every write), so
	// that what Redis acknowledged survives a kill.
	persist bool
}

// startRedis starts redis-server without persistence on a free loopback
// port and stops it when the test ends. Without redis-server the test
// fails with the install command: it never skips.
func startRedis(t testing.TB) *server { return launchRedis(t, false) }

// startPersistentRedis is startRedis with the append-only file on.
func startPersistentRedis(t testing.TB) *server { return launchRedis(t, true) }

func launchRedis(t testing.TB, persist bool) *server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: sudo apt-get install -y redis-server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &server{t: t, port: port, dir: t.TempDir(), persist: persist}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *server) start() {
	s.t.Helper()
	aof := []string{"--appendonly", "no"}
	if s.persist {
		aof = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	s.cmd = exec.Command("redis-server", append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--dir", s.dir, "--daemonize", "no"}, aof...)...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.addr()})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if rdb.Ping(context.Background()).Err() == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer PING", s.addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server, as a crash would.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// client is a new connection pool to s, closed with the test.
func (s *server) client() *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1, DialTimeout: time.Second})
	s.t.Cleanup(func() { rdb.Close() })
	return rdb
}

// quiet drops go-redis's own log lines (dial failures while a test has
// stopped the server on purpose).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quiet{}) }
