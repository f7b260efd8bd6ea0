package main

import (
	"bufio"
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// start runs the example in process with env and returns its base URL.
func start(t *testing.T, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == "OIDCFED_ADDR" {
			return "127.0.0.1:0"
		}
		return env[k]
	}
	go func() { done <- run(ctx, nil, getenv, io.Discard, pw); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the server did not stop")
		}
	})
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				base <- u
			}
		}
	}()
	select {
	case u := <-base:
		return u
	case err := <-done:
		t.Fatalf("the server stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not start")
	}
	return ""
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)

// signIn signs in as ada at the demo provider's login page.
func signIn(t *testing.T, base string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(base + "/auth/oauth/oidc:demo")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formAction.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no login form at %s:\n%s", resp.Request.URL, page)
	}
	action, _ := resp.Request.URL.Parse(html.UnescapeString(string(m[1])))
	resp, err = c.PostForm(action.String(), url.Values{"user": {"ada"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.String() != base+"/" || resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
}

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

// TestMetrics: with OIDCFED_METRICS=1 a sign-in shows in GET /metrics
// (Prometheus text), by provider and outcome, with the provider fetches.
func TestMetrics(t *testing.T) {
	base := start(t, map[string]string{"OIDCFED_METRICS": "1"})
	signIn(t, base)
	status, body := get(t, base+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`oidcfed_signin_duration_seconds_count\{[^}]*oidcfed_outcome="created"[^}]*oidcfed_phase="callback"[^}]*oidcfed_provider="oidc:demo"[^}]*\} 1`),
		regexp.MustCompile(`oidcfed_signin_step_duration_seconds_count\{[^}]*oidcfed_step="token"[^}]*\} 1`),
		regexp.MustCompile(`oidcfed_provider_fetches_total\{[^}]*oidcfed_fetch_kind="jwks"[^}]*oidcfed_provider="oidc:demo"[^}]*\} 1`),
	} {
		if !want.MatchString(body) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepOIDC(body))
		}
	}
	if strings.Contains(body, "ada@example.com") {
		t.Error("/metrics holds the user's email")
	}
	if status, body := get(t, base+"/readyz"); status != http.StatusOK || !strings.Contains(body, `"ready":true`) {
		t.Errorf("GET /readyz: %d %s", status, body)
	}
}

// TestNoMetricsByDefault: without OIDCFED_METRICS the example is the plain
// example server: no /metrics.
func TestNoMetricsByDefault(t *testing.T) {
	base := start(t, nil)
	if status, _ := get(t, base+"/metrics"); status != http.StatusNotFound {
		t.Fatalf("GET /metrics without OIDCFED_METRICS: %d, want 404", status)
	}
	signIn(t, base)
}

func TestBadMetricsSetting(t *testing.T) {
	if _, err := extensions(func(k string) string { return map[string]string{"OIDCFED_METRICS": "yes"}[k] }); err == nil {
		t.Fatal("OIDCFED_METRICS=yes was accepted")
	}
}

// grepOIDC keeps the oidcfed lines of a metrics page, for failure output.
func grepOIDC(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "oidcfed_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
