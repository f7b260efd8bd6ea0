package interop

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// How long a provider may take to start and to stop. Node loads
// oidc-provider in well under a second; the bound is for a loaded CI machine.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 5 * time.Second
)

// process is a provider running as a child process. Its output is kept
// and printed when the test fails.
type process struct {
	name   string
	cmd    *exec.Cmd
	issuer string
	mu     sync.Mutex
	out    strings.Builder
	done   chan struct{}
}

func (p *process) write(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.WriteString(line + "\n")
}

func (p *process) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startProcess runs cmd and waits, at most startTimeout, for the line
// "listening <issuer>" on its stdout. At the end of the test the process
// is stopped; when the test failed, its output is logged.
func startProcess(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	listening := make(chan string, 1)
	var copying sync.WaitGroup
	scan := func(r io.Reader) {
		defer copying.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.write(sc.Text())
			if issuer, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				select {
				case listening <- issuer:
				default:
				}
			}
		}
	}
	copying.Add(2)
	go scan(stdout)
	go scan(stderr)
	go func() {
		copying.Wait()
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.logs())
		}
	})
	select {
	case p.issuer = <-listening:
		return p
	case <-p.done:
		t.Fatalf("%s exited before it listened: %v\n%s", name, cmd.ProcessState, p.logs())
	case <-time.After(startTimeout):
		t.Fatalf("%s did not listen within %v\n%s", name, startTimeout, p.logs())
	}
	return nil
}

// stop sends SIGTERM and, after stopTimeout, SIGKILL. It is idempotent.
func (p *process) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Errorf("%s did not stop within %v of SIGTERM; killed", p.name, stopTimeout)
		p.cmd.Process.Kill()
		<-p.done
	}
}

// port is the port of the process's issuer, for a restart on the same one.
func (p *process) port() string {
	rest := strings.TrimPrefix(p.issuer, "http://127.0.0.1:")
	return strings.TrimSuffix(rest, "/")
}

// mustHave fails the whole run when a tool the suite needs is missing:
// these cases are never skipped.
func mustHave(what, hint string) {
	fmt.Fprintf(os.Stderr, "interop: %s is missing: %s\n", what, hint)
	os.Exit(2)
}
