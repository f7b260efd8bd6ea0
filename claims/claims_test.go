package claims

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEmailVerifiedDecoding(t *testing.T) {
	tests := []struct {
		json string
		want bool
	}{
		{`true`, true},
		{`"true"`, true},
		{`false`, false},
		{`"false"`, false},
		{`0`, false},
		{`1`, false},
		{`"True"`, false},
		{`"yes"`, false},
		{`null`, false},
		{`{}`, false},
	}
	for _, tt := range tests {
		u, err := DefaultMapper.User(decode(t, `{"sub":"s","email_verified":`+tt.json+`}`))
		if err != nil || u.EmailVerified != tt.want {
			t.Errorf("email_verified %s: got %v, %v; want %v", tt.json, u.EmailVerified, err, tt.want)
		}
	}
	if u, _ := DefaultMapper.User(decode(t, `{"sub":"s"}`)); u.EmailVerified {
		t.Error("missing email_verified read as verified")
	}
}

func TestUserDecoding(t *testing.T) {
	tests := []struct {
		name    string
		mapping Mapping
		json    string
		want    User
		wantErr string // the claim named in the error
	}{
		{name: "standard claims map to every field",
			json: `{"sub":"u1","email":"a@x.io","email_verified":true,"name":"Ada L","given_name":"Ada","family_name":"L",
				"preferred_username":"ada","picture":"https://x.io/a.png","locale":"en","groups":["admins","dev"]}`,
			want: User{Subject: "u1", Email: "a@x.io", EmailVerified: true, Name: "Ada L", GivenName: "Ada", FamilyName: "L",
				PreferredUsername: "ada", Picture: "https://x.io/a.png", Locale: "en", Groups: []string{"admins", "dev"}}},
		{name: "groups as a space-separated string are split",
			json: `{"sub":"u1","groups":"admins dev"}`, want: User{Subject: "u1", Groups: []string{"admins", "dev"}}},
		{name: "groups as a comma-separated string are split",
			json: `{"sub":"u1","groups":"admins, dev,ops"}`, want: User{Subject: "u1", Groups: []string{"admins", "dev", "ops"}}},
		{name: "null claims are treated as absent",
			json: `{"sub":"u1","email":null,"name":null,"groups":null}`, want: User{Subject: "u1"}},
		{name: "roles come from the roles claim",
			json: `{"sub":"u1","roles":["Reports.Read","Admin"]}`, want: User{Subject: "u1", Roles: []string{"Reports.Read", "Admin"}}},
		{name: "roles from a mapped dotted path",
			mapping: Mapping{Roles: "realm_access.roles"},
			json:    `{"sub":"u1","realm_access":{"roles":["r1"]},"roles":["ignored"]}`, want: User{Subject: "u1", Roles: []string{"r1"}}},
		{name: "a dotted path reaches nested roles",
			mapping: Mapping{Groups: "realm_access.roles"},
			json:    `{"sub":"u1","realm_access":{"roles":["r1","r2"]}}`, want: User{Subject: "u1", Groups: []string{"r1", "r2"}}},
		{name: "a literal claim name with dots wins over the path",
			mapping: Mapping{Groups: "https://example.com/roles"},
			json:    `{"sub":"u1","https://example.com/roles":["r1"]}`, want: User{Subject: "u1", Groups: []string{"r1"}}},
		{name: "a custom email claim is used",
			mapping: Mapping{Email: "upn"},
			json:    `{"sub":"u1","upn":"a@corp.io","email":"other@x.io"}`, want: User{Subject: "u1", Email: "a@corp.io"}},
		{name: "missing sub is an error", json: `{"email":"a@x.io"}`, wantErr: "sub"},
		{name: "sub as a number is an error", json: `{"sub":42}`, wantErr: "sub"},
		{name: "email as a list is an error", json: `{"sub":"u1","email":["a@x.io"]}`, wantErr: "email"},
		{name: "name as an object is an error", json: `{"sub":"u1","name":{"first":"A"}}`, wantErr: "name"},
		{name: "groups as a number is an error", json: `{"sub":"u1","groups":7}`, wantErr: "groups"},
		{name: "a non-string group is an error", json: `{"sub":"u1","groups":["a",1]}`, wantErr: "groups"},
		{name: "a mapped nested claim of the wrong type names its path",
			mapping: Mapping{Groups: "realm_access.roles"},
			json:    `{"sub":"u1","realm_access":{"roles":true}}`, wantErr: "realm_access.roles"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.mapping.Compile()
			if err != nil {
				t.Fatal(err)
			}
			u, err := m.User(decode(t, tt.json))
			if tt.wantErr != "" {
				var ce *ClaimError
				if !errors.As(err, &ce) || ce.Claim != tt.wantErr || !errors.Is(err, ErrClaim) {
					t.Fatalf("error = %v, want a ClaimError naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u.Raw = nil
			if !equalUser(u, tt.want) {
				t.Fatalf("User = %+v\nwant   %+v", u, tt.want)
			}
		})
	}
}

// equalUser compares users by their JSON form (Raw is not serialized).
func equalUser(a, b User) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestCompileRejectsBadPaths(t *testing.T) {
	for _, bad := range []string{".roles", "realm.", "a..b"} {
		if _, err := (Mapping{Groups: bad}).Compile(); err == nil {
			t.Errorf("Compile accepted %q", bad)
		}
	}
}

func TestUserJSONShape(t *testing.T) {
	b, _ := json.Marshal(User{Provider: "oidc:acme", Subject: "s", Raw: map[string]any{"secret": "x"}})
	if got, want := string(b), `{"provider":"oidc:acme","subject":"s","emailVerified":false}`; got != want {
		t.Fatalf("JSON = %s, want %s", got, want)
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name      string
		id, ui    string
		wantEmail string
		wantVer   bool
		wantName  string
		wantErr   error
	}{
		{name: "userinfo fills claims the ID token lacks",
			id: `{"sub":"s"}`, ui: `{"sub":"s","email":"a@x.io","email_verified":true,"name":"Ada"}`,
			wantEmail: "a@x.io", wantVer: true, wantName: "Ada"},
		{name: "ID token claims are never replaced",
			id: `{"sub":"s","name":"From ID"}`, ui: `{"sub":"s","name":"From UI"}`, wantName: "From ID"},
		{name: "email and its flag come from the ID token when it has email",
			id: `{"sub":"s","email":"a@x.io"}`, ui: `{"sub":"s","email":"b@x.io","email_verified":true}`,
			wantEmail: "a@x.io", wantVer: false},
		{name: "email and its flag come from userinfo when the ID token has no email",
			id: `{"sub":"s","email_verified":true}`, ui: `{"sub":"s","email":"b@x.io"}`,
			wantEmail: "b@x.io", wantVer: false},
		{name: "a userinfo sub of another user is rejected",
			id: `{"sub":"s"}`, ui: `{"sub":"other","email":"a@x.io"}`, wantErr: ErrSubjectMismatch},
		{name: "a userinfo response without sub is rejected",
			id: `{"sub":"s"}`, ui: `{"email":"a@x.io"}`, wantErr: ErrSubjectMismatch},
		{name: "a userinfo sub of the wrong type is rejected",
			id: `{"sub":"1"}`, ui: `{"sub":1}`, wantErr: ErrSubjectMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			merged, err := DefaultMapper.Merge(decode(t, tt.id), decode(t, tt.ui))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || merged != nil {
					t.Fatalf("Merge = %v, %v; want %v", merged, err, tt.wantErr)
				}
				return
			}
			u, err := DefaultMapper.User(merged)
			if err != nil {
				t.Fatal(err)
			}
			if u.Email != tt.wantEmail || u.EmailVerified != tt.wantVer || u.Name != tt.wantName {
				t.Fatalf("User = %+v; want email %q verified %v name %q", u, tt.wantEmail, tt.wantVer, tt.wantName)
			}
		})
	}
}

func TestMissing(t *testing.T) {
	c := decode(t, `{"sub":"s","email":"a@x.io","name":null}`)
	if DefaultMapper.Missing(c, "email") {
		t.Error("email reported missing")
	}
	if !DefaultMapper.Missing(c, "email", "name") {
		t.Error("null name not reported missing")
	}
	if !DefaultMapper.Missing(c, "groups") {
		t.Error("absent groups not reported missing")
	}
}

func TestRoles(t *testing.T) {
	for _, tt := range []struct {
		name    string
		mapping Mapping
		json    string
		want    []string
		wantErr string
	}{
		{"roles by default", Mapping{}, `{"roles":["a","b"]}`, []string{"a", "b"}, ""},
		{"a dotted path (Keycloak)", Mapping{Roles: "realm_access.roles"}, `{"realm_access":{"roles":["r1"]}}`, []string{"r1"}, ""},
		{"a space-separated string", Mapping{}, `{"roles":"a b"}`, []string{"a", "b"}, ""},
		{"absent is none", Mapping{}, `{}`, nil, ""},
		{"an object is refused", Mapping{}, `{"roles":{"a":1}}`, nil, `claims: "roles" is an object, want a list or a string`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.mapping.Compile()
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Roles(decode(t, tt.json))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrClaim) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("roles %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestFieldsCoverMapping: the fields table names every Mapping field by its
// JSON tag, once, so that Compile, User and Missing cannot drift from it.
func TestFieldsCoverMapping(t *testing.T) {
	var tags []string
	for f := range reflect.TypeFor[Mapping]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		tags = append(tags, name)
	}
	var names []string
	for _, f := range fields {
		names = append(names, f.name)
	}
	slices.Sort(tags)
	slices.Sort(names)
	if !slices.Equal(tags, names) {
		t.Fatalf("fields %q, Mapping's JSON names %q", names, tags)
	}
}
