package federationtest

import (
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
)

// deviceGrant is the device authorization grant's grant_type (RFC 8628 §3.4).
const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

// deviceAuth is a pending device authorization (RFC 8628).
type deviceAuth struct {
	client   string
	scopes   []string
	userCode string
	expires  time.Time
	interval time.Duration
	lastPoll time.Time
	user     *User // set when approved
	denied   bool
	approved time.Time
}

// userCodeAlphabet has no vowels or look-alikes (RFC 8628 §6.1).
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

func newUserCode() string {
	b := []byte(randomString())
	var sb strings.Builder
	for i := range 8 {
		if i == 4 {
			sb.WriteByte('-')
		}
		sb.WriteByte(userCodeAlphabet[int(b[i])%len(userCodeAlphabet)])
	}
	return sb.String()
}

// deviceAuthorization answers POST /device_authorization (RFC 8628 §3.1–3.2).
func (p *Provider) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	id, ok := p.authenticate(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized,
			map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
		return
	}
	lifetime, interval := p.opts.DeviceCodeLifetime, p.opts.DeviceInterval
	if lifetime == 0 {
		lifetime = 10 * time.Minute
	}
	if interval == 0 {
		interval = 5 * time.Second
	}
	code, userCode := randomString(), newUserCode()
	p.mu.Lock()
	p.devices[code] = &deviceAuth{client: id, scopes: strings.Fields(r.PostForm.Get("scope")), userCode: userCode,
		expires: p.now().Add(lifetime), interval: interval}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code": code, "user_code": userCode,
		"verification_uri":          p.issuer + "/device",
		"verification_uri_complete": p.issuer + "/device?user_code=" + userCode,
		"expires_in":                int(lifetime / time.Second), "interval": int(interval / time.Second),
	})
}

// deviceToken answers a device_code token request (RFC 8628 §3.4–3.5):
// authorization_pending until the user decides, slow_down when polled
// faster than the interval, access_denied, and expired_token after the
// lifetime; then the tokens, once.
func (p *Provider) deviceToken(w http.ResponseWriter, r *http.Request, clientID, code string, now time.Time) {
	fail := func(code string) { writeJSON(w, http.StatusBadRequest, map[string]string{"error": code}) }
	p.mu.Lock()
	d := p.devices[code]
	if d == nil || d.client != clientID {
		p.mu.Unlock()
		fail("invalid_grant")
		return
	}
	tooSoon := !d.lastPoll.IsZero() && now.Sub(d.lastPoll) < d.interval
	d.lastPoll = now
	var outcome string
	switch {
	case !now.Before(d.expires):
		outcome = "expired_token"
	case tooSoon:
		outcome = "slow_down"
	case d.denied:
		outcome = "access_denied"
	case d.user == nil:
		outcome = "authorization_pending"
	default:
		delete(p.devices, code)
	}
	p.mu.Unlock()
	if outcome != "" {
		fail(outcome)
		return
	}
	p.issueTokens(w, r, clientID,
		&grant{client: clientID, user: *d.user, scopes: d.scopes, authTime: d.approved,
			sid: randomString()}, now, false)
}

// ErrUnknownUserCode: no pending device authorization has the user code.
var ErrUnknownUserCode = errors.New("federationtest: unknown or finished user code")

// ApproveDevice approves the device authorization with userCode as the
// user with subject, as the user does on the verification page.
func (p *Provider) ApproveDevice(userCode, subject string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.deviceByUserCode(userCode)
	i := slices.IndexFunc(p.users, func(u User) bool { return u.Subject == subject })
	if d == nil || i < 0 {
		return ErrUnknownUserCode
	}
	u := p.users[i]
	d.user, d.approved = &u, p.now()
	return nil
}

// DenyDevice denies the device authorization with userCode.
func (p *Provider) DenyDevice(userCode string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.deviceByUserCode(userCode)
	if d == nil {
		return ErrUnknownUserCode
	}
	d.denied = true
	return nil
}

// deviceByUserCode finds a pending authorization; p.mu must be held.
func (p *Provider) deviceByUserCode(userCode string) *deviceAuth {
	userCode = strings.ToUpper(strings.TrimSpace(userCode))
	for _, d := range p.devices {
		if d.userCode == userCode && d.user == nil && !d.denied {
			return d
		}
	}
	return nil
}

var devicePage = template.Must(template.New("device").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo identity provider: device sign-in</title>` + pageStyle + `</head>
<body><h1>Demo identity provider</h1>
{{if .Done}}<p>{{.Done}} You can return to your device.</p>{{else}}
<form method="post" action="/device">
<p><label>Code shown on your device: <input name="user_code" value="{{.UserCode}}" autocomplete="off"></label></p>
<p>Sign the device in as:</p>
{{range .Users}}<p><button type="submit" name="user" value="{{.Subject}}">{{.Name}} &lt;{{.Email}}&gt;</button></p>
{{end}}<p><button type="submit" name="deny" value="1">Deny</button></p>
</form>{{end}}</body></html>`))

// device serves the verification page (GET) and the user's decision (POST).
func (p *Provider) device(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	p.mu.Lock()
	users := slices.Clone(p.users)
	p.mu.Unlock()
	data := map[string]any{"UserCode": r.Form.Get("user_code"), "Users": users}
	if r.Method == http.MethodPost {
		var err error
		if r.PostForm.Get("deny") != "" {
			err, data["Done"] = p.DenyDevice(r.PostForm.Get("user_code")), "The device was denied."
		} else {
			err, data["Done"] = p.ApproveDevice(r.PostForm.Get("user_code"),
				r.PostForm.Get("user")), "The device is signed in."
		}
		if err != nil {
			http.Error(w, "unknown or expired code", http.StatusBadRequest)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	devicePage.Execute(w, data)
}
