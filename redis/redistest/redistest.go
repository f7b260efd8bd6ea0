// Package redistest starts a real redis-server for tests: on a free
// loopback port, without persistence (or with it, for restart tests), in a
// temporary directory, stopped when the test ends. Without redis-server
// the test fails with the install command; it never skips.
package redistest

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process on a loopback port, started by a test.
type Server struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
	// persist turns the append-only file on (fsync on every write), so
	// that what Redis acknowledged survives a kill.
	persist bool
}

// Start starts redis-server without persistence on a free loopback
// port and stops it when the test ends. Without redis-server the test
// fails with the install command: it never skips.
func Start(t testing.TB) *Server { return launch(t, false) }

// StartPersistent is Start with the append-only file on (fsync on every
// write), so that what Redis acknowledged survives a kill.
func StartPersistent(t testing.TB) *Server { return launch(t, true) }

func launch(t testing.TB, persist bool) *Server {
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
	s := &Server{t: t, port: port, dir: t.TempDir(), persist: persist}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *Server) Start() {
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
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if rdb.Ping(context.Background()).Err() == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer PING", s.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server, as a crash would; Start starts it again on the
// same port and directory.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Client is a new connection pool to s, closed with the test.
func (s *Server) Client() *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	s.t.Cleanup(func() { rdb.Close() })
	return rdb
}

// quiet drops go-redis's own log lines (dial failures while a test has
// stopped the server on purpose).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Quiet drops go-redis's log lines for the rest of the process: dial
// failures while a test has stopped the server on purpose.
func Quiet() { redis.SetLogger(quiet{}) }
