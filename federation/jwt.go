package federation

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oidcfed/oidcfed/discovery"
)

// Reading a compact JWS before it is verified (RFC 7515 §7.1): only to
// choose how to verify it (the JOSE typ, the iss that selects a provider)
// or to decode a token this process verified earlier. Verification itself
// is the discovery package's.

// maxTokenLength bounds what is hashed and parsed; real access, ID and
// logout tokens are a few kilobytes.
const maxTokenLength = 16 << 10

// errNotCompactJWS: raw is not three dot-separated segments of at most
// maxTokenLength bytes.
var errNotCompactJWS = fmt.Errorf("%w: not three dot-separated parts of at most %d bytes",
	discovery.ErrMalformedToken, maxTokenLength)

// splitJWS splits a compact JWS into its three segments; ok is false
// unless there are exactly three and raw is at most maxTokenLength bytes.
func splitJWS(raw string) (header, payload, signature string, ok bool) {
	if raw == "" || len(raw) > maxTokenLength || strings.Count(raw, ".") != 2 {
		return "", "", "", false
	}
	header, rest, _ := strings.Cut(raw, ".")
	payload, signature, _ = strings.Cut(rest, ".")
	return header, payload, signature, true
}

// looksLikeJWS reports whether raw has the shape of a compact JWS or JWE
// (two or four dots): a JWT, or one refused as such (an encrypted one).
// Anything else is opaque (Google's access tokens have one dot).
func looksLikeJWS(raw string) bool {
	n := strings.Count(raw, ".")
	return n == 2 || n == 4
}

// decodeSegment decodes one base64url segment's JSON into v.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// jwtTyp returns the JOSE typ of a header segment ("" when absent).
func jwtTyp(header string) (string, error) {
	var hdr struct {
		Typ string `json:"typ"`
	}
	err := decodeSegment(header, &hdr)
	return hdr.Typ, err
}

// normalizeTyp lower-cases a typ and drops the optional "application/"
// (RFC 7515 §4.1.9).
func normalizeTyp(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}
