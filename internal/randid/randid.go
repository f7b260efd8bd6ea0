// Package randid makes unguessable identifiers (state, nonce, flow IDs).
package randid

import (
	"crypto/rand"
	"encoding/base64"
)

// New returns 32 random bytes from crypto/rand as unpadded base64url
// (43 characters, 256 bits). crypto/rand.Read never fails; it crashes the
// program irrecoverably rather than return predictable bytes.
func New() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Short returns 16 random bytes as unpadded base64url (22 characters, 128
// bits): enough for state and nonce, and short enough to keep a flow cookie
// under 1 KiB.
func Short() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
