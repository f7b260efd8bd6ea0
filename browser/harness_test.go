package browser

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// installHint is what to run when Chromium is missing: the suite never
// skips, so a CI without a browser fails instead of passing unseen.
const installHint = "apt-get update && apt-get install -y --no-install-recommends chromium"

var (
	serverBin string // the example server, built once by TestMain
	chromium  string // the browser's path
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		fmt.Fprintf(os.Stderr, "browser: no Chromium on PATH; install it with:\n\t%s\n", installHint)
		return 1
	}
	dir, err := os.MkdirTemp("", "oidcfed-browser")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBin = filepath.Join(dir, "server")
	// Built from the core module's own tree, as a newcomer's go run does.
	build := exec.Command("go", "build", "-o", serverBin, "./examples/server")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "browser: building examples/server:", err)
		return 1
	}
	return m.Run()
}

// server is the example server in demo mode: the app on 127.0.0.1, its
// demo provider on localhost, so that the provider is another site.
type server struct {
	base   string // http://127.0.0.1:PORT
	issuer string // http://localhost:PORT
	mu     sync.Mutex
	out    strings.Builder
}

func (s *server) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

var (
	listening = regexp.MustCompile(`^listening on (http://127\.0\.0\.1:\d+)$`)
	demoAt    = regexp.MustCompile(`runs at (http://localhost:\d+)`)
)

func startServer(t *testing.T) *server {
	t.Helper()
	cmd := exec.Command(serverBin)
	cmd.Env = append(os.Environ(), "OIDCFED_ADDR=127.0.0.1:0", "OIDCFED_LOG_LEVEL=debug")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	s := &server{}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.out.WriteString(line + "\n")
			if m := demoAt.FindStringSubmatch(line); m != nil && s.issuer == "" {
				s.issuer = m[1]
			}
			if m := listening.FindStringSubmatch(line); m != nil && s.base == "" {
				s.base = m[1]
				close(ready)
			}
			s.mu.Unlock()
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("the example server did not start:\n%s", s.logs())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.issuer == "" {
		t.Fatalf("the example server did not log its demo provider's localhost issuer:\n%s", s.out.String())
	}
	return s
}

// tab is one headless Chromium of its own (its own profile, so its own
// cookies) with one tab.
type tab struct {
	t   *testing.T
	ctx context.Context
	srv *server
}

func newTab(t *testing.T, srv *server) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1024, 900))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	// A deadline for the whole browser: a hung page fails the test instead
	// of the run.
	parent, cancelParent := context.WithTimeout(context.Background(), 2*time.Minute)
	alloc, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	tb := &tab{t: t, ctx: ctx, srv: srv}
	t.Cleanup(func() { cancelTab(); cancelAlloc(); cancelParent() })
	t.Cleanup(tb.reportFailure) // runs first: the browser is still open
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v (install: %s)", chromium, err, installHint)
	}
	return tb
}

// reportFailure puts a screenshot, the page and the server's log in the
// test log when the test failed.
func (b *tab) reportFailure() {
	if !b.t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		dir := os.Getenv("OIDCFED_SCREENSHOTS")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "oidcfed-browser-failures")
		}
		os.MkdirAll(dir, 0o755)
		name := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name())+".png")
		if err := os.WriteFile(name, png, 0o644); err == nil {
			b.t.Logf("screenshot of the failure: %s", name)
		}
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		b.t.Logf("page at the failure: %s\n%s", loc, b.text())
	}
	b.t.Logf("server log:\n%s", b.srv.logs())
}

// open navigates to u and returns the final response of the navigation.
func (b *tab) open(u string) *network.Response {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		b.t.Fatalf("navigating to %s: %v", u, err)
	}
	return resp
}

// click clicks the element that the XPath or CSS query sel finds, and
// returns the final response of the navigation it starts.
func (b *tab) click(sel string) *network.Response {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.Search(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("clicking %s: %v", sel, err)
	}
	return resp
}

// text is the page's visible text.
func (b *tab) text() string {
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(no text: " + err.Error() + ")"
	}
	return s
}

// location is the page's URL.
func (b *tab) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// cookies are the cookies the browser holds for u.
func (b *tab) cookies(u string) []*network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		b.t.Fatal(err)
	}
	return res.Cookies
}

// wantText fails unless the page shows each of want.
func (b *tab) wantText(want ...string) {
	b.t.Helper()
	text := b.text()
	for _, w := range want {
		if !strings.Contains(text, w) {
			b.t.Fatalf("the page at %s does not show %q:\n%s", b.location(), w, text)
		}
	}
}

// get fetches u outside the browser (for the server's JSON routes).
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
