// Package claims turns the claims of a verified ID token, and of the
// provider's userinfo response, into one normalized [User].
//
// Providers name and shape claims differently: groups arrive as a list or a
// space-separated string, email_verified as a boolean or a string, roles
// nested in realm_access.roles. A [Mapping] says which claim feeds each
// field, with dotted paths for nested claims; the compiled [Mapper] decodes
// leniently where the specs allow it and fails, naming the claim, where a
// value cannot mean what the field needs.
//
//	m, err := claims.Mapping{Groups: "realm_access.roles"}.Compile()
//	u, err := m.User(idTokenClaims)               // from the ID token alone
//	merged, err := m.Merge(idTokenClaims, userinfo) // userinfo fills the gaps, same sub only
package claims
