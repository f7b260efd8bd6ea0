package interop

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/oidcfed/oidcfed/federation"
)

// chromium is the browser's path; the suite never skips without one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium on PATH: apt-get install -y --no-install-recommends chromium")
	return ""
}

// TestFormPostInChromium signs in through oidc-provider's own login and
// consent pages in headless Chromium, with response_mode=form_post: the
// provider on localhost, the relying party on 127.0.0.1, so its
// auto-submitted POST of the code is cross-site, and carries the flow
// cookie only because that is SameSite=None and Secure.
func TestFormPostInChromium(t *testing.T) {
	browser := chromium(t)
	rp := newRP(t)
	op := startOIDCProvider(t, rp.base, false, 0, func(cfg map[string]any) { cfg["host"] = "localhost" })
	if !strings.HasPrefix(op.proc.issuer, "http://localhost:") {
		t.Fatalf("issuer %s, want one on localhost", op.proc.issuer)
	}
	pc := op.providers[op.plain]
	pc.ResponseMode = "form_post"
	rp.serve(map[string]federation.ProviderConfig{op.plain: pc}, federation.BearerConfig{})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	parent, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()

	start := rp.base + "/auth/oauth/" + federation.Key(op.plain) + "?redirectTo=/"
	if _, err := chromedp.Run(ctx, chromedp.NavigateResponse(start)); err != nil {
		t.Fatal(err)
	}
	// The login page, then the consent page: submit each until the
	// browser is back at the relying party.
	for n := 0; ; n++ {
		loc := location(t, ctx)
		if strings.HasPrefix(loc, rp.base) {
			break
		}
		if n == 4 {
			t.Fatalf("stuck at %s", loc)
		}
		if strings.Contains(loc, "/interaction/") {
			hasLogin, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('input[name="login"]')`))
			var actions []chromedp.Action[chromedp.Void]
			if hasLogin {
				actions = append(actions, chromedp.SetValue(`input[name="login"]`, "alice"),
					chromedp.SetValue(`input[name="password"]`, "any"))
			}
			actions = append(actions, chromedp.Click(`button[type="submit"]`, chromedp.NodeVisible))
			if _, err := chromedp.RunResponse(ctx, actions...); err != nil {
				t.Fatalf("at %s: %v", loc, err)
			}
			continue
		}
		time.Sleep(100 * time.Millisecond) // the form_post page submitting itself
	}
	waitUntil(t, ctx, func(loc string) bool { return loc == rp.base+"/" })
	logins := rp.loginsSoFar()
	if len(logins) != 1 || logins[0].Result.User.Subject != op.user.Subject {
		t.Fatalf("logins %v", logins)
	}
	for _, s := range rp.requests(op.proc.issuer + "/token") {
		if s.form.Get("code") == "" {
			t.Fatal("a token request without the code")
		}
	}
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// waitUntil waits up to 20 s for the tab's location to satisfy ok.
func waitUntil(t *testing.T, ctx context.Context, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for loc := location(t, ctx); !ok(loc); loc = location(t, ctx) {
		if time.Now().After(deadline) {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("the tab stayed at %s:\n%s", loc, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
