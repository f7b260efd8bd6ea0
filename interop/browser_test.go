package interop

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// browser is an http.Client with a cookie jar that follows redirects, and
// submits the provider's HTML forms the way a user clicking the first
// button would.
type browser struct {
	t      *testing.T
	client *http.Client
	// visited holds every URL requested, in order, redirects included.
	visited []*url.URL
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t}
	b.client = &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			b.visited = append(b.visited, req.URL)
			if len(via) > 20 {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	return b
}

// page is a response body with the URL it came from.
type page struct {
	url    *url.URL
	status int
	body   string
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	b.visited = append(b.visited, req.URL)
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		b.t.Fatal(err)
	}
	return &page{url: resp.Request.URL, status: resp.StatusCode, body: string(body)}
}

func (b *browser) get(u string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// form is an HTML form: where it posts and the values a browser would send
// when its first submit button is clicked.
type form struct {
	action *url.URL
	method string
	values url.Values
	inputs []string // names of the visible inputs, for the test to fill
}

// submit posts f with the visible inputs taken from fill; a visible input
// fill does not name fails the test, so a changed login page is noticed.
func (b *browser) submit(f *form, fill map[string]string) *page {
	b.t.Helper()
	values := url.Values{}
	for k, v := range f.values {
		values[k] = v
	}
	for _, name := range f.inputs {
		v, ok := fill[name]
		if !ok {
			b.t.Fatalf("form %s has an input %q the test does not fill", f.action, name)
		}
		values.Set(name, v)
	}
	if !strings.EqualFold(f.method, http.MethodPost) {
		b.t.Fatalf("form %s uses method %q; the suite only submits POST forms", f.action, f.method)
	}
	req, err := http.NewRequest(http.MethodPost, f.action.String(), strings.NewReader(values.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// firstForm parses p's first <form>. Buttons outside it that name it in
// their form attribute count as its buttons, as in oidc-provider's logout
// page. It returns nil when the page has no form.
func (p *page) firstForm() *form {
	doc, err := html.Parse(strings.NewReader(p.body))
	if err != nil {
		return nil
	}
	var (
		f       *form
		id      string
		clicked bool
	)
	var walk func(n *html.Node, inForm bool)
	walk = func(n *html.Node, inForm bool) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				if f == nil {
					action, _ := p.url.Parse(attr(n, "action"))
					f = &form{action: action, method: attr(n, "method"), values: url.Values{}}
					if f.method == "" {
						f.method = http.MethodGet
					}
					id = attr(n, "id")
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						walk(c, true)
					}
					return
				}
			case "input":
				if inForm && attr(n, "name") != "" {
					switch strings.ToLower(attr(n, "type")) {
					case "hidden":
						f.values.Add(attr(n, "name"), attr(n, "value"))
					case "submit", "button", "checkbox", "radio":
					default:
						f.inputs = append(f.inputs, attr(n, "name"))
					}
				}
			case "button":
				belongs := inForm || f != nil && id != "" && attr(n, "form") == id
				if belongs && !clicked && strings.ToLower(attr(n, "type")) != "button" {
					clicked = true
					if name := attr(n, "name"); name != "" {
						f.values.Set(name, attr(n, "value"))
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inForm)
		}
	}
	walk(doc, false)
	return f
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// on reports whether p was served by the origin of base.
func (p *page) on(base string) bool {
	u, err := url.Parse(base)
	return err == nil && p.url.Scheme == u.Scheme && p.url.Host == u.Host
}

// snippet is the start of the body, for failure messages.
func (p *page) snippet() string {
	s := strings.Join(strings.Fields(p.body), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}
