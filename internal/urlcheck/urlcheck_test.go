package urlcheck

import (
	"errors"
	"testing"
)

func TestEndpoint(t *testing.T) {
	tests := []struct {
		raw      string
		ok       bool
		insecure bool
	}{
		{"https://idp.example.com/authorize", true, false},
		{"http://127.0.0.1:8080/token", true, false},
		{"http://127.3.4.5/token", true, false},
		{"http://localhost/token", true, false},
		{"http://[::1]:9000/token", true, false},
		{"http://idp.example.com/token", false, true},
		{"http://127.0.0.1.evil.example/token", false, true},
		{"http://localhost.evil.example/", false, true},
		{"ftp://idp.example.com/", false, false},
		{"/relative/path", false, false},
		{"https://user:pass@idp.example.com/", false, false},
		{"https://idp.example.com/#frag", false, false},
		{"https:///nohost", false, false},
		{"javascript:alert(1)", false, false},
	}
	for _, tt := range tests {
		_, err := Endpoint(tt.raw)
		if (err == nil) != tt.ok {
			t.Errorf("Endpoint(%q) error = %v, want ok=%v", tt.raw, err, tt.ok)
		}
		if errors.Is(err, ErrInsecureURL) != tt.insecure {
			t.Errorf("Endpoint(%q) error = %v, want ErrInsecureURL=%v", tt.raw, err, tt.insecure)
		}
	}
}

func TestHasDotSegment(t *testing.T) {
	for p, want := range map[string]bool{
		"/app/../admin":       true,
		"/app/%2e%2e/admin":   true,
		"/app/%2E%2E/admin":   true,
		"/app/.%2E/x":         true,
		"/app/%2e./x":         true,
		"/app/./x":            true,
		"/app/%2e/x":          true,
		"/app/..":             true,
		"/app/%2e%2E":         true,
		"..":                  true,
		"/app/x":              false,
		"/app/...":            false,
		"/app/..x/y":          false,
		"/app/%2e%2e%2e":      false,
		"/app/%252e%252e/x":   false, // a browser does not decode twice
		"/app/.well-known/x":  false,
		"/app/file.txt":       false,
		"":                    false,
		"/":                   false,
		"/app/%2e%2e%2fadmin": false, // one segment: %2f is not a separator
	} {
		if got := HasDotSegment(p); got != want {
			t.Errorf("HasDotSegment(%q) = %t, want %t", p, got, want)
		}
	}
}
