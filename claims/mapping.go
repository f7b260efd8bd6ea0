package claims

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrClaim is matched by every *[ClaimError].
var ErrClaim = errors.New("claims: invalid claim")

// ClaimError names a claim whose value cannot be used.
type ClaimError struct {
	Claim  string // the claim name or dotted path
	Reason string // why, e.g. "is a number, want a string"
}

// Error names the claim and the reason.
func (e *ClaimError) Error() string { return fmt.Sprintf("claims: %q %s", e.Claim, e.Reason) }

// Is makes errors.Is(err, ErrClaim) true.
func (e *ClaimError) Is(target error) bool { return target == ErrClaim }

// Mapping names the claim that feeds each field of [User], keyed in JSON by
// the User's own JSON names ("email", "givenName", "groups"…). An empty
// field takes the standard claim (OpenID Connect Core 1.0 §5.1), and
// "groups" for Groups. A name with dots is a path into nested objects
// ("realm_access.roles"), unless the claim exists under the literal name,
// as Auth0's namespaced claims ("https://example.com/roles") do.
type Mapping struct {
	Subject           string `json:"subject,omitempty"`           // default "sub"
	Email             string `json:"email,omitempty"`             // default "email"
	EmailVerified     string `json:"emailVerified,omitempty"`     // default "email_verified"; true only for true or "true"
	Name              string `json:"name,omitempty"`              // default "name"
	GivenName         string `json:"givenName,omitempty"`         // default "given_name"
	FamilyName        string `json:"familyName,omitempty"`        // default "family_name"
	PreferredUsername string `json:"preferredUsername,omitempty"` // default "preferred_username"
	Picture           string `json:"picture,omitempty"`           // default "picture"
	Locale            string `json:"locale,omitempty"`            // default "locale"
	Groups            string `json:"groups,omitempty"`            // default "groups"; a list, or one string split at spaces and commas
	// Roles feeds User.Roles, at sign-in and for bearer tokens (default
	// "roles", where Entra ID puts app roles).
	Roles string `json:"roles,omitempty"`
}

// Mapper is a compiled [Mapping]. It is immutable and safe for concurrent use.
type Mapper struct {
	sub, email, emailVerified, groups, roles path
	strings                                  []stringField // the other string fields, in fields order
	byField                                  map[string]path
}

type stringField struct {
	path path
	set  func(u *User, v string)
}

// fields is every field of [User] that a [Mapping] maps, spelled once: its
// JSON name (the Mapping key), its default claim, how to read the Mapping
// and, for plain string fields, how to set the User.
var fields = []struct {
	name, claim string
	mapping     func(m *Mapping) string
	set         func(u *User, v string) // nil for the fields User maps itself
}{
	{"subject", "sub", func(m *Mapping) string { return m.Subject }, nil},
	{"email", "email", func(m *Mapping) string { return m.Email }, nil},
	{"emailVerified", "email_verified", func(m *Mapping) string { return m.EmailVerified }, nil},
	{"groups", "groups", func(m *Mapping) string { return m.Groups }, nil},
	{"roles", "roles", func(m *Mapping) string { return m.Roles }, nil},
	{"name", "name", func(m *Mapping) string { return m.Name }, func(u *User, v string) { u.Name = v }},
	{"givenName", "given_name", func(m *Mapping) string { return m.GivenName },
		func(u *User, v string) { u.GivenName = v }},
	{"familyName", "family_name", func(m *Mapping) string { return m.FamilyName },
		func(u *User, v string) { u.FamilyName = v }},
	{"preferredUsername", "preferred_username", func(m *Mapping) string { return m.PreferredUsername },
		func(u *User, v string) { u.PreferredUsername = v }},
	{"picture", "picture", func(m *Mapping) string { return m.Picture }, func(u *User, v string) { u.Picture = v }},
	{"locale", "locale", func(m *Mapping) string { return m.Locale }, func(u *User, v string) { u.Locale = v }},
}

// path is a claim name with its dotted segments split once.
type path struct {
	name     string
	segments []string // nil when name has no dot
}

func newPath(name, def string) path {
	if name == "" {
		name = def
	}
	p := path{name: name}
	if strings.Contains(name, ".") {
		p.segments = strings.Split(name, ".")
	}
	return p
}

// lookup finds the claim: by its literal name first, then by its path.
func (p path) lookup(claims map[string]any) (any, bool) {
	if v, ok := claims[p.name]; ok || p.segments == nil {
		return v, ok
	}
	var cur any = claims
	for _, seg := range p.segments {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Compile checks the mapping and returns its Mapper.
func (m Mapping) Compile() (*Mapper, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m == (Mapping{}) {
		return DefaultMapper, nil // immutable: shared by every provider with the standard claims
	}
	return m.compile(), nil
}

func (m Mapping) compile() *Mapper {
	mp := &Mapper{byField: make(map[string]path, len(fields))}
	for _, f := range fields {
		name := f.mapping(&m)
		p := newPath(name, f.claim)
		mp.byField[f.name] = p
		if f.set != nil {
			mp.strings = append(mp.strings, stringField{path: p, set: f.set})
		}
	}
	mp.sub, mp.email, mp.emailVerified = mp.byField["subject"], mp.byField["email"], mp.byField["emailVerified"]
	mp.groups, mp.roles = mp.byField["groups"], mp.byField["roles"]
	return mp
}

// Validate reports every claim name of m that is not a name or a dotted
// path, without compiling it.
func (m Mapping) Validate() error {
	if m == (Mapping{}) {
		return nil
	}
	c := m // only a non-zero mapping is copied to the heap
	return validateMapping(&c)
}

func validateMapping(m *Mapping) error {
	var errs []error
	for _, f := range fields {
		name := f.mapping(m)
		if name != "" && (strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..")) {
			errs = append(errs, fmt.Errorf("claims: mapping %q: %q is not a claim name or dotted path", f.name, name))
		}
	}
	return errors.Join(errs...)
}

// DefaultMapper maps the standard claims.
var DefaultMapper = Mapping{}.compile()

// User maps claims to a User. Subject must be a non-empty string. Issuer
// and Provider are left for the caller, who knows them.
func (m *Mapper) User(claims map[string]any) (User, error) {
	u := User{Raw: claims}
	var err error
	if u.Subject, err = m.str(claims, m.sub); err != nil {
		return User{}, err
	}
	if u.Subject == "" {
		return User{}, &ClaimError{Claim: m.sub.name, Reason: "is missing"}
	}
	if u.Email, err = m.str(claims, m.email); err != nil {
		return User{}, err
	}
	v, _ := m.emailVerified.lookup(claims)
	u.EmailVerified = Verified(v)
	for _, f := range m.strings {
		s, err := m.str(claims, f.path)
		if err != nil {
			return User{}, err
		}
		f.set(&u, s)
	}
	if u.Groups, err = m.list(claims, m.groups); err != nil {
		return User{}, err
	}
	if u.Roles, err = m.list(claims, m.roles); err != nil {
		return User{}, err
	}
	return u, nil
}

// Roles reads the roles claim: a list of strings, or one string of values
// separated by spaces or commas. Absent or null is nil.
func (m *Mapper) Roles(claims map[string]any) ([]string, error) {
	return m.list(claims, m.roles)
}

// Verified is the lenient reading of email_verified: true only for the
// JSON boolean true or the string "true". Anything else, including a
// missing claim, "false", 1, "yes" or "True", reads as not verified: an
// unexpected value must never verify an email (it does not fail the
// sign-in either).
func Verified(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// str reads a string claim: absent or null is "", any other type an error.
func (m *Mapper) str(claims map[string]any, p path) (string, error) {
	v, ok := p.lookup(claims)
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &ClaimError{Claim: p.name, Reason: fmt.Sprintf("is %s, want a string", jsonType(v))}
	}
	return s, nil
}

// list reads a list claim: a JSON array of strings, or one string of
// values separated by spaces or commas. Absent or null is nil.
func (m *Mapper) list(claims map[string]any, p path) ([]string, error) {
	v, ok := p.lookup(claims)
	if !ok || v == nil {
		return nil, nil
	}
	switch v := v.(type) {
	case string:
		return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' }), nil
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, &ClaimError{Claim: p.name,
					Reason: fmt.Sprintf("element %d is %s, want a string", i, jsonType(e))}
			}
			if s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, &ClaimError{Claim: p.name, Reason: fmt.Sprintf("is %s, want a list or a string", jsonType(v))}
}

// jsonType names v's JSON type with its article, for messages.
func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int, int64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// Missing reports whether any of the named fields' claims is absent from
// claims (used to decide whether to call userinfo). Fields are User JSON
// names: "email", "name", "groups"…
func (m *Mapper) Missing(claims map[string]any, fields ...string) bool {
	for _, f := range fields {
		p, ok := m.pathOf(f)
		if !ok {
			continue
		}
		if v, ok := p.lookup(claims); !ok || v == nil {
			return true
		}
	}
	return false
}

func (m *Mapper) pathOf(field string) (path, bool) {
	p, ok := m.byField[field]
	return p, ok
}
