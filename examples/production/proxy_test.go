package main

import (
	"net/http"
	"net/http/httputil"
	"net/url"
)

// httputilProxy forwards to target, keeping the Host the browser used (the
// instances' base URL is the proxy's).
func httputilProxy(target *url.URL) http.Handler {
	return &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
}
