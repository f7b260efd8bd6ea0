package main

// These tests build examples/server, run it in demo mode, and sign in with
// the command as a user would: through the demo IdP's pages over loopback.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/examples/internal/servetest"
)

var serverBinary string

func TestMain(m *testing.M) { servetest.WithBinary(m, "../server", &serverBinary) }

// startServer runs the example server in demo mode and returns its URL.
func startServer(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(serverBinary)
	cmd.Env = append(os.Environ(), "OIDCFED_ADDR=127.0.0.1:0")
	pipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				listening <- addr
			}
		}
	}()
	select {
	case base := <-listening:
		return base
	case <-time.After(30 * time.Second):
		t.Fatal("the example server did not listen")
	}
	return ""
}

// runCLI runs the command with args; each stderr line goes to onLine. It
// returns the JSON printed on stdout.
func runCLI(t *testing.T, args []string, onLine func(string)) map[string]any {
	t.Helper()
	pr, pw := io.Pipe()
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			onLine(sc.Text())
		}
	}()
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, args, &out, pw)
	pw.Close()
	<-lines
	if err != nil {
		t.Fatalf("cli: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	return got
}

// pickUser submits the demo IdP's user-picker form at pageURL as subject.
func pickUser(t *testing.T, pageURL, action, field, value string, extra url.Values) string {
	resp, err := http.Get(pageURL)
	if err != nil {
		t.Error(err)
		return ""
	}
	resp.Body.Close()
	form := url.Values{field: {value}}
	for k, v := range extra {
		form[k] = v
	}
	resp, err = http.PostForm(action, form)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestLoopbackLogin(t *testing.T) {
	base := startServer(t)
	page := make(chan string, 1)
	got := runCLI(t, []string{"-server", base}, func(line string) {
		if strings.HasPrefix(line, "http://") {
			u, _ := url.Parse(line)
			// The demo IdP's login page posts back to /authorize with the query.
			go func() { page <- pickUser(t, line, u.Scheme+"://"+u.Host+"/authorize?"+u.RawQuery, "user", "ada", nil) }()
		}
	})
	user, _ := got["user"].(map[string]any)
	if user["subject"] != "ada" || user["email"] != "ada@example.com" || user["emailVerified"] != true || user["provider"] != "oidc:demo" {
		t.Errorf("user %v", got)
	}
	if p := <-page; !strings.Contains(p, "Signed in. You can close this window") {
		t.Errorf("the browser was shown %q", p)
	}
}

func TestDeviceLogin(t *testing.T) {
	base := startServer(t)
	code := regexp.MustCompile(`open (\S+) and enter the code (\S+)`)
	got := runCLI(t, []string{"-server", base, "-device"}, func(line string) {
		if m := code.FindStringSubmatch(line); m != nil {
			go func() {
				if p := pickUser(t, m[1], m[1], "user_code", m[2], url.Values{"user": {"bob"}}); !strings.Contains(p, "The device is signed in") {
					t.Errorf("approving the device: %q", p)
				}
			}()
		}
	})
	user, _ := got["user"].(map[string]any)
	if user["subject"] != "bob" || user["emailVerified"] != false || user["provider"] != "oidc:demo" {
		t.Errorf("user %v", got)
	}
}

func TestUnknownProvider(t *testing.T) {
	base := startServer(t)
	err := run(context.Background(), []string{"-server", base, "-provider", "oidc:nope"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "oidc:nope has no public client") || !strings.Contains(err.Error(), "oidc:demo") {
		t.Fatalf("%v, want an error naming the usable providers", err)
	}
}
