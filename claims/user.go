package claims

// User is the normalized user of a sign-in. Its JSON form is part of the
// example server's contract: empty strings and lists are omitted, the
// boolean is always present. Raw holds every claim it was built from and is
// never serialized.
type User struct {
	Provider          string   `json:"provider,omitempty"`          // registry key, e.g. "oidc:acme"
	Issuer            string   `json:"issuer,omitempty"`            // iss; under a multi-tenant template, the tenant's own
	Subject           string   `json:"subject,omitempty"`           // sub: with Issuer, the identity
	Email             string   `json:"email,omitempty"`             // as the provider sent it; see EmailVerified
	EmailVerified     bool     `json:"emailVerified"`               // the provider verified Email (Mapping.EmailVerified)
	Name              string   `json:"name,omitempty"`              // the full name
	GivenName         string   `json:"givenName,omitempty"`         // given_name
	FamilyName        string   `json:"familyName,omitempty"`        // family_name
	PreferredUsername string   `json:"preferredUsername,omitempty"` // preferred_username: a hint, never an identifier
	Picture           string   `json:"picture,omitempty"`           // a URL
	Locale            string   `json:"locale,omitempty"`            // a BCP 47 tag, e.g. "fr-CA"
	Groups            []string `json:"groups,omitempty"`            // group names or IDs, as the provider sends them
	// Roles are application roles (Entra app roles, Keycloak realm roles),
	// from the claim Mapping.Roles names, at sign-in and for bearer tokens.
	Roles []string `json:"roles,omitempty"`

	// Raw is every claim the user was mapped from (ID token, then
	// userinfo), numbers as json.Number.
	Raw map[string]any `json:"-"`
}
