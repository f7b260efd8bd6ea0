package httpx

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestCap(t *testing.T) {
	const limit = 64
	tests := []struct {
		name        string
		body        int
		announce    bool // send Content-Length (otherwise chunked)
		wantTooBig  bool
		wantAtError string // where the error must surface: "do" or "read"
	}{
		{name: "body under the cap is read whole", body: limit - 1, announce: true},
		{name: "body of exactly the cap is read whole", body: limit, announce: false},
		{name: "content-length over the cap fails at Do", body: limit + 1, announce: true, wantTooBig: true, wantAtError: "do"},
		{name: "chunked body growing past the cap fails while reading", body: 10 * limit, announce: false, wantTooBig: true, wantAtError: "read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.announce {
					w.Header().Set("Content-Length", strconv.Itoa(tt.body))
				}
				w.Write([]byte(strings.Repeat("x", tt.body/2)))
				w.(http.Flusher).Flush() // forces chunked encoding when no length was set
				w.Write([]byte(strings.Repeat("x", tt.body-tt.body/2)))
			}))
			defer srv.Close()
			c := NewClient(nil, 0, limit)
			resp, err := c.Get(srv.URL + "/doc?secret=s3cr3t")
			if tt.wantAtError == "do" {
				var tle *TooLargeError
				if !errors.As(err, &tle) || !errors.Is(err, ErrResponseTooLarge) {
					t.Fatalf("Get error = %v, want *TooLargeError", err)
				}
				if tle.Limit != limit || strings.Contains(tle.URL, "s3cr3t") {
					t.Fatalf("TooLargeError %+v: want limit %d and no query string", tle, limit)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			b, err := ReadAll(resp)
			if tt.wantTooBig {
				if !errors.Is(err, ErrResponseTooLarge) {
					t.Fatalf("read error = %v, want ErrResponseTooLarge", err)
				}
				return
			}
			if err != nil || len(b) != tt.body {
				t.Fatalf("read %d bytes, err %v; want %d bytes", len(b), err, tt.body)
			}
		})
	}
}

func TestCappedDoesNotModifyCallerClient(t *testing.T) {
	orig := &http.Client{}
	c := Capped(orig, 10)
	if orig.Transport != nil {
		t.Fatal("Capped modified the caller's client")
	}
	if _, ok := c.Transport.(*capTransport); !ok {
		t.Fatalf("Capped transport is %T, want *capTransport", c.Transport)
	}
	if Capped(c, 10) != c {
		t.Fatal("Capped wrapped an already capped client again")
	}
	if d := NewClient(nil, 0, 0); d.Timeout != DefaultTimeout {
		t.Fatalf("default timeout = %v, want %v", d.Timeout, DefaultTimeout)
	}
}
