package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/examples/internal/servetest"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

// startAPI runs the command in process with env and returns its base URL
// and the lines it printed before listening.
func startAPI(t *testing.T, env map[string]string) (string, string) {
	return servetest.Start(t, run, env)
}

func get(t *testing.T, u, token string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

func TestDemoTokenWorks(t *testing.T) {
	base, out := startAPI(t, map[string]string{"OIDCFED_ADDR": "127.0.0.1:0"})
	m := regexp.MustCompile(`Authorization: Bearer ([A-Za-z0-9_.-]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no demo token printed:\n%s", out)
	}
	status, _, body := get(t, base+"/api/whoami", m[1])
	var who struct {
		User     struct{ Subject, Provider string }
		Scopes   []string
		ClientID string
	}
	json.Unmarshal([]byte(body), &who)
	if status != 200 || who.User.Subject != "ada" || who.User.Provider != "oidc:demo" || who.ClientID != "oidcfed-demo-cli" || len(who.Scopes) != 1 {
		t.Fatalf("whoami: %d %s", status, body)
	}
	if status, _, body := get(t, base+"/api/notes", m[1]); status != 200 || !strings.Contains(body, `"owner":"ada"`) {
		t.Fatalf("notes: %d %s", status, body)
	}
}

func TestConfiguredProvider(t *testing.T) {
	op := federationtest.New(t, federationtest.Options{Algorithm: "ES256"})
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, []byte(`{"providers": {"corp": {"issuer": "`+op.Issuer()+`", "clientId": "cli", "tokenEndpointAuthMethod": "none",
		"audiences": ["https://api.example"], "claims": {"roles": "realm_access.roles"}}}}`), 0o600)
	base, _ := startAPI(t, map[string]string{"OIDCFED_ADDR": "127.0.0.1:0", "OIDCFED_CONFIG": path})
	now := time.Now()
	token := func(scope string) string {
		return op.SignJWT("at+jwt", map[string]any{"iss": op.Issuer(), "sub": "svc-1", "aud": "https://api.example", "client_id": "cli",
			"scope": scope, "realm_access": map[string]any{"roles": []string{"writer"}}, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	}
	if status, _, body := get(t, base+"/api/whoami", token("")); status != 200 || !strings.Contains(body, `"roles":["writer"]`) {
		t.Fatalf("whoami: %d %s", status, body)
	}
	status, challenge, _ := get(t, base+"/api/notes", token("profile"))
	if status != 403 || challenge != `Bearer realm="oidcfed-api", error="insufficient_scope", error_description="the token lacks a required scope", scope="notes:read"` {
		t.Fatalf("notes without the scope: %d %q", status, challenge)
	}
	if status, _, _ := get(t, base+"/api/notes", token("notes:read")); status != 200 {
		t.Fatalf("notes with the scope: %d", status)
	}
	if status, challenge, _ := get(t, base+"/api/whoami", ""); status != 401 || challenge != `Bearer realm="oidcfed-api"` {
		t.Fatalf("no token: %d %q", status, challenge)
	}
}
