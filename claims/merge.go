package claims

import (
	"errors"
	"maps"
)

// ErrSubjectMismatch means the userinfo response is about another user than
// the ID token (or names none): it must not be used. See OpenID Connect
// Core 1.0 §5.3.4.
var ErrSubjectMismatch = errors.New("claims: userinfo sub does not match the ID token's sub")

// Merge returns the ID-token claims completed by the userinfo claims. The
// userinfo "sub" must equal the ID token's. A claim present in the ID token
// is never replaced. The email address and its verification flag are taken
// together from the first source that has an email, so that a flag never
// vouches for an address from the other source.
func (m *Mapper) Merge(idToken, userinfo map[string]any) (map[string]any, error) {
	sub, _ := idToken["sub"].(string)
	if uiSub, _ := userinfo["sub"].(string); sub == "" || uiSub != sub {
		return nil, ErrSubjectMismatch
	}
	merged := maps.Clone(idToken)
	emailKey, verifiedKey := m.email.top(), m.emailVerified.top()
	emailFromUserinfo := !m.has(idToken, m.email) && m.has(userinfo, m.email)
	for k, v := range userinfo {
		if k == emailKey || k == verifiedKey {
			continue
		}
		if _, ok := merged[k]; !ok {
			merged[k] = v
		}
	}
	if emailFromUserinfo {
		delete(merged, verifiedKey)
		for _, k := range []string{emailKey, verifiedKey} {
			if v, ok := userinfo[k]; ok {
				merged[k] = v
			}
		}
	}
	return merged, nil
}

func (m *Mapper) has(claims map[string]any, p path) bool {
	v, ok := p.lookup(claims)
	return ok && v != nil
}

// top is the top-level key a path starts at.
func (p path) top() string {
	if p.segments == nil {
		return p.name
	}
	return p.segments[0]
}
