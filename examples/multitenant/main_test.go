package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/examples/internal/servetest"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// start runs the command in process and returns its base URL.
func start(t *testing.T, env map[string]string) string {
	base, _ := servetest.Start(t, run, env)
	return base
}

// signIn signs in at tenant and returns where it landed and /me's user.
func signIn(t *testing.T, base, tenant string) (string, map[string]any) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var landed string
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		landed = req.URL.String()
		return nil
	}}
	resp, err := c.Get(base + "/auth/oauth/oidc:" + tenant)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(base + "/me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct{ User map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/me: %d %v (landed at %s)", resp.StatusCode, err, landed)
	}
	return landed, me.User
}

func TestTenantsFromEnvironment(t *testing.T) {
	op := federationtest.New(t, federationtest.Options{})
	op.AddUser(federationtest.User{Subject: "wile", Email: "wile@acme.example", EmailVerified: true, Name: "Wile E."})
	// A port-less loopback redirect URI matches the server's random port.
	op.AddClient(federationtest.Client{ID: "acme-app", Secret: "acme-secret", RedirectURIs: []string{"http://127.0.0.1/auth/oauth/oidc:acme_corp/callback"}})
	t.Setenv("TENANT_OIDC_ACME_CORP_ISSUER", op.Issuer())
	t.Setenv("TENANT_OIDC_ACME_CORP_CLIENT_ID", "acme-app")
	t.Setenv("TENANT_OIDC_ACME_CORP_CLIENT_SECRET", "acme-secret")
	t.Setenv("TENANT_OIDC_ACME_CORP_SCOPES", "openid,email,profile")
	t.Setenv("TENANT_OIDC_ACME_CORP_FRONTEND_URL", "/?tenant=acme")
	t.Setenv("TENANT_OIDC_ACME_CORP_ALLOWED_EMAIL_DOMAINS", "acme.example")
	base := start(t, map[string]string{"OIDCFED_ADDR": "127.0.0.1:0"})
	landed, user := signIn(t, base, "acme_corp")
	if landed != base+"/?tenant=acme" || user["provider"] != "oidc:acme_corp" || user["subject"] != "wile" || user["email"] != "wile@acme.example" {
		t.Fatalf("landed at %s as %v", landed, user)
	}
	resp, err := http.Get(base + "/auth/oauth/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Providers []struct{ Provider, Issuer string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Providers) != 1 || st.Providers[0].Issuer != op.Issuer() {
		t.Fatalf("status %+v, %v", st, err)
	}
}

func TestBadTenantVariablesStopTheStart(t *testing.T) {
	t.Setenv("TENANT_OIDC_ACME_ISSUER", "http://idp.example.com")
	t.Setenv("TENANT_OIDC_ACME_CLIENTID", "typo")
	err := run(context.Background(), func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "TENANT_OIDC_ACME_CLIENTID: is not a known setting") ||
		!strings.Contains(err.Error(), "TENANT_OIDC_ACME_ISSUER: issuer:") {
		t.Fatalf("run = %v", err)
	}
}

func TestDemoTenants(t *testing.T) {
	base := start(t, map[string]string{"OIDCFED_ADDR": "127.0.0.1:0"})
	for _, tenant := range []string{"acme", "globex"} {
		landed, user := signIn(t, base, tenant)
		u, _ := url.Parse(landed)
		if u.Query().Get("tenant") != tenant || user["provider"] != "oidc:"+tenant || user["subject"] != "ada-"+tenant {
			t.Fatalf("%s: landed at %s as %v", tenant, landed, user)
		}
	}
}

func TestTenantsFromAFileLoadOnFirstUse(t *testing.T) {
	op := federationtest.New(t, federationtest.Options{})
	op.AddUser(federationtest.User{Subject: "wile", Email: "wile@acme.example", EmailVerified: true, Name: "Wile E."})
	const n = 10_000
	tenants := make(map[string]any, n+1)
	for i := range n {
		tenants[fmt.Sprintf("t%05d", i)] = map[string]string{"issuer": op.Issuer(), "clientId": fmt.Sprintf("app-%d", i),
			"clientSecret": fmt.Sprintf("secret-%d", i)}
	}
	tenants["broken"] = map[string]string{"issuer": "not a URL", "clientId": "x"}
	for _, i := range []int{42, 9999} {
		op.AddClient(federationtest.Client{ID: fmt.Sprintf("app-%d", i), Secret: fmt.Sprintf("secret-%d", i),
			RedirectURIs: []string{fmt.Sprintf("http://127.0.0.1/auth/oauth/oidc:t%05d/callback", i)}})
	}
	data, _ := json.Marshal(map[string]any{"providers": tenants})
	path := filepath.Join(t.TempDir(), "tenants.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	base := start(t, map[string]string{"OIDCFED_ADDR": "127.0.0.1:0", "TENANTS_FILE": path})
	if loaded := statusProviders(t, base); len(loaded) != 0 {
		t.Fatalf("%d tenants loaded at start-up, want none", len(loaded))
	}
	for _, tenant := range []string{"t00042", "t09999"} {
		if _, user := signIn(t, base, tenant); user["provider"] != "oidc:"+tenant || user["subject"] != "wile" {
			t.Fatalf("%s: signed in as %v", tenant, user)
		}
	}
	if loaded := statusProviders(t, base); len(loaded) != 2 {
		t.Fatalf("%d tenants loaded after two sign-ins, want 2", len(loaded))
	}
	for tenant, want := range map[string]int{"t10000": http.StatusNotFound, "broken": http.StatusBadGateway} {
		resp, err := http.Get(base + "/auth/oauth/oidc:" + tenant)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s answered %d, want %d", tenant, resp.StatusCode, want)
		}
	}
}

// statusProviders lists the providers /auth/oauth/status reports.
func statusProviders(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/auth/oauth/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Providers []struct{ Provider string } }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range st.Providers {
		keys = append(keys, p.Provider)
	}
	return keys
}
