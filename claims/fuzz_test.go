package claims

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzClaims maps arbitrary claim sets with the default mapping and with
// dotted and namespaced paths, and merges them with a userinfo set. It
// checks what must always hold: a mapped user has a subject, and an email
// counts as verified only for JSON true or "true".
func FuzzClaims(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/claims/*.json")
	if len(seeds) == 0 {
		f.Fatal("no seeds in ../testdata/claims")
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(`{"sub":"u1","email":"x@example.com","email_verified":false}`))
	}
	custom, err := Mapping{Email: "a.b.c", EmailVerified: "a.verified", Groups: "realm_access.roles", Roles: "https://example.com/roles"}.Compile()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, idToken, userinfo []byte) {
		id, ok := decodeJSON(idToken)
		if !ok {
			return
		}
		for _, m := range []*Mapper{DefaultMapper, custom} {
			u, err := m.User(id)
			if err == nil {
				if u.Subject == "" {
					t.Fatal("a user without subject was mapped")
				}
				if v, _ := m.emailVerified.lookup(id); u.EmailVerified && v != true && v != "true" {
					t.Fatalf("email_verified %#v read as verified", v)
				}
			}
			m.Roles(id)
			if ui, ok := decodeJSON(userinfo); ok {
				if merged, err := m.Merge(id, ui); err == nil && merged["sub"] != id["sub"] && id["sub"] != nil {
					t.Fatalf("merge changed sub from %v to %v", id["sub"], merged["sub"])
				}
			}
		}
	})
}

func decodeJSON(b []byte) (map[string]any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	return m, d.Decode(&m) == nil && m != nil
}
