// Package httpx is the one HTTP client every outbound request of oidcfed goes
// through: a timeout on every request and a cap on every response body, applied
// as a RoundTripper so that every body is capped wherever it is read.
package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Defaults for [NewClient]; see DESIGN.md "Defaults".
const (
	DefaultTimeout  = 10 * time.Second
	DefaultMaxBytes = 1 << 20
)

// ErrResponseTooLarge is matched (errors.Is) by every [*TooLargeError].
var ErrResponseTooLarge = errors.New("response too large")

// TooLargeError reports a response body over the cap, whether announced by
// Content-Length or found while reading.
type TooLargeError struct {
	URL   string // the request URL without query or fragment
	Limit int64  // the cap in bytes
}

// Error names the URL (without its query) and the limit.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("httpx: response from %s is larger than %d bytes", e.URL, e.Limit)
}

// Is makes errors.Is(err, ErrResponseTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrResponseTooLarge }

// NewClient returns a client whose requests time out after timeout and whose
// response bodies are capped at maxBytes. base is the transport to wrap (nil:
// a clone of http.DefaultTransport). Zero values take the defaults.
func NewClient(base http.RoundTripper, timeout time.Duration, maxBytes int64) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{Timeout: timeout, Transport: Cap(base, maxBytes)}
}

// Capped returns c with its transport capped at maxBytes (0: the default).
// c itself is not modified; nil c means a new default client.
func Capped(c *http.Client, maxBytes int64) *http.Client {
	if c == nil {
		return NewClient(nil, 0, maxBytes)
	}
	if _, ok := c.Transport.(*capTransport); ok {
		return c
	}
	cp := *c
	cp.Transport = Cap(c.Transport, maxBytes)
	return &cp
}

// Cap wraps base so that every response body is limited to maxBytes.
func Cap(base http.RoundTripper, maxBytes int64) http.RoundTripper {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &capTransport{base: base, limit: maxBytes}
}

// Unwrap is the transport under Cap's (rt itself when rt is not capped).
func Unwrap(rt http.RoundTripper) http.RoundTripper {
	if c, ok := rt.(*capTransport); ok {
		return c.base
	}
	if rt == nil {
		return http.DefaultTransport
	}
	return rt
}

// Limit is the cap of a transport Cap returned (DefaultMaxBytes for any
// other).
func Limit(rt http.RoundTripper) int64 {
	if c, ok := rt.(*capTransport); ok {
		return c.limit
	}
	return DefaultMaxBytes
}

type capTransport struct {
	base  http.RoundTripper
	limit int64
}

func (t *capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.limit {
		resp.Body.Close()
		return nil, tooLarge(req.URL, t.limit)
	}
	resp.Body = &capBody{rc: resp.Body, left: t.limit, limit: t.limit, url: req.URL}
	return resp, nil
}

// tooLarge is the error for a response from u over limit bytes, naming u
// without its query (which may carry a secret).
func tooLarge(u *url.URL, limit int64) *TooLargeError {
	v := *u
	v.RawQuery, v.Fragment = "", ""
	return &TooLargeError{URL: v.String(), Limit: limit}
}

// capBody fails once more than left bytes have been read. It reads one
// byte past the cap so that a body of exactly the cap is accepted.
type capBody struct {
	rc          io.ReadCloser
	left, limit int64
	url         *url.URL // for the error, made only when it happens
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, tooLarge(b.url, b.limit)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n + int(b.left), tooLarge(b.url, b.limit)
	}
	return n, err
}

func (b *capBody) Close() error { return b.rc.Close() }

// ReadAll reads the body of resp and closes it. The body is already capped by
// the client's transport.
func ReadAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
