package claims

// User is the normalized user of a sign-in. Its JSON form is part of the
// example server's contract: empty strings and lists are omitted, the
// boolean is always present. Raw holds every claim it was built from and is
// never serialized.
type User struct {
	Provider          string   `json:"provider,omitempty"` // registry key, e.g. "oidc:acme"
	Issuer            string   `json:"issuer,omitempty"`
	Subject           string   `json:"subject,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     bool     `json:"emailVerified"`
	Name              string   `json:"name,omitempty"`
	GivenName         string   `json:"givenName,omitempty"`
	FamilyName        string   `json:"familyName,omitempty"`
	PreferredUsername string   `json:"preferredUsername,omitempty"`
	Picture           string   `json:"picture,omitempty"`
	Locale            string   `json:"locale,omitempty"`
	Groups            []string `json:"groups,omitempty"`
	// Roles are application roles (Entra app roles, Keycloak realm roles),
	// from the claim Mapping.Roles names, at sign-in and for bearer tokens.
	Roles []string `json:"roles,omitempty"`

	Raw map[string]any `json:"-"`
}
