package federation

import (
	"html/template"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// fail answers an error the handler decides itself (a bad state, an
// unknown provider, a refused redirectTo…): through HandlerConfig.OnError
// when set, else [WriteError].
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, code Code, desc string) {
	if fw, ok := w.(*flowWriter); ok {
		fw.code = code
	}
	e := &Error{Code: code, Description: desc}
	if h.cfg.OnError != nil {
		h.cfg.OnError(w, r, status, e)
		return
	}
	WriteError(w, r, status, e)
}

// WriteError is the handler's default error answer, for hosts whose
// OnError handles some errors and leaves the rest: JSON
// {"error": code, "error_description": description} with status, or, to a
// request whose Accept prefers text/html (a browser's navigation), a small
// HTML page with the same status, code and description and a link to "/".
// The description must be safe to show (an [Error]'s always is).
func WriteError(w http.ResponseWriter, r *http.Request, status int, e *Error) {
	if !PrefersHTML(r) {
		writeJSONError(w, status, e.Code, e.Description)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	errorPage.Execute(w,
		map[string]any{"Status": status, "StatusText": http.StatusText(status), "Code": e.Code,
			"Description": e.Description})
}

// PrefersHTML reports whether r's Accept header lists text/html with a
// higher quality than application/json (which, unlisted, takes the quality
// of application/* or */*). No Accept, */* alone, or a tie means JSON.
// See RFC 9110 §12.5.1.
func PrefersHTML(r *http.Request) bool {
	q := map[string]float64{}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		v := 1.0
		if s, ok := params["q"]; ok {
			if v, err = strconv.ParseFloat(s, 64); err != nil || v < 0 || v > 1 {
				continue
			}
		}
		if old, seen := q[mt]; !seen || v > old {
			q[mt] = v
		}
	}
	html, ok := q["text/html"]
	if !ok {
		return false
	}
	json, ok := q["application/json"]
	if !ok {
		if json, ok = q["application/*"]; !ok {
			json = q["*/*"]
		}
	}
	return html > json
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.StatusText}}</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.4rem; margin-bottom: .25rem; }
code { background: #f3f4f6; padding: .1rem .3rem; border-radius: 4px; }
a { color: #0b5fff; }
</style>
</head>
<body>
<h1>{{.StatusText}}</h1>
<p>{{.Description}}</p>
<p>Error <code>{{.Code}}</code> (HTTP {{.Status}})</p>
<p><a href="/">Back to the home page</a></p>
</body>
</html>
`))
