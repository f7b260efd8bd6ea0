// Package servetest runs an example command in process for its tests.
package servetest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Run is an example command's entry point: it serves until ctx is done.
type Run func(ctx context.Context, getenv func(string) string, stderr io.Writer) error

// Start runs run with env as its environment until the test ends (when it
// must return nil), and returns its base URL and the lines it printed up
// to the "listening on" line.
func Start(t testing.TB, run Run, env map[string]string) (base, printed string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, pw) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	out, sc := &strings.Builder{}, bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			go io.Copy(io.Discard, pr)
			return addr, out.String()
		}
	}
	t.Fatalf("the command did not listen:\n%s", out)
	return "", ""
}

// WithBinary is a TestMain body: it builds the command in pkg (a path
// relative to the test's package) into a temporary directory, sets *path to
// the binary, runs the tests and exits with their code.
func WithBinary(m *testing.M, pkg string, path *string) {
	dir, err := os.MkdirTemp("", "oidcfed-example")
	if err != nil {
		panic(err)
	}
	*path = filepath.Join(dir, "command")
	if out, err := exec.Command("go", "build", "-o", *path, pkg).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// StartBinary runs the command built at path as a process of its own,
// with the current environment plus env ("KEY=value" each), until the
// test ends (when it must exit cleanly on SIGTERM). It returns its base
// URL from its "listening on" line and a function that returns what the
// process has printed so far.
func StartBinary(t testing.TB, path string, env ...string) (base string, logs func() string) {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), env...)
	pipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out strings.Builder
	logs = func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	listening, copied := make(chan string, 1), make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				listening <- addr
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-copied
		if err := cmd.Wait(); err != nil {
			t.Errorf("the process did not exit cleanly on SIGTERM: %v\n%s", err, logs())
		}
	})
	select {
	case addr := <-listening:
		return addr, logs
	case <-copied:
		t.Fatalf("the process exited before listening:\n%s", logs())
	case <-time.After(30 * time.Second): // a guard against a hang, not a performance assertion
		t.Fatalf("no listening line:\n%s", logs())
	}
	return "", logs
}
