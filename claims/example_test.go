package claims_test

import (
	"fmt"

	"github.com/oidcfed/oidcfed/claims"
)

// A Mapping names where a provider keeps each field; dotted paths reach
// nested claims. email_verified counts only as true or "true".
func ExampleMapping_Compile() {
	m, err := claims.Mapping{Roles: "realm_access.roles"}.Compile()
	if err != nil {
		panic(err)
	}
	u, err := m.User(map[string]any{
		"sub": "u-1", "email": "ada@example.com", "email_verified": "yes", "name": "Ada",
		"groups": "admins, dev", "realm_access": map[string]any{"roles": []any{"editor"}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(u.Subject, u.Email, u.EmailVerified, u.Groups, u.Roles)
	// Output: u-1 ada@example.com false [admins dev] [editor]
}
