package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/oidcfed/oidcfed/federation"
)

// fileSource serves tenants from a JSON file, {"providers": {"<name>":
// <provider config>, ...}}, in the format of federation.LoadConfig, to a
// registry that loads each tenant on first use (federation.ProviderSource).
// It keeps the file's bytes per tenant and decodes a tenant's config only
// when the registry asks; it reads the file again when its modification
// time or size changes, and answers issuer lookups (federation.IssuerSource)
// so that bearer tokens of tenants not yet loaded are verified.
type fileSource struct {
	path string

	mu       sync.Mutex
	mod      time.Time
	size     int64
	tenants  map[string]json.RawMessage
	byIssuer map[string][]string
}

// maxTenantsFile bounds the file read.
const maxTenantsFile = 256 << 20

func newFileSource(path string) (*fileSource, error) {
	s := &fileSource{path: path}
	if err := s.refresh(); err != nil {
		return nil, err
	}
	return s, nil
}

// refresh rereads the file if it changed.
func (s *fileSource) refresh() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("TENANTS_FILE: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenants != nil && fi.ModTime().Equal(s.mod) && fi.Size() == s.size {
		return nil
	}
	if fi.Size() > maxTenantsFile {
		return fmt.Errorf("TENANTS_FILE %s: larger than %d bytes", s.path, maxTenantsFile)
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("TENANTS_FILE: %w", err)
	}
	var doc struct {
		Providers map[string]json.RawMessage `json:"providers"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("TENANTS_FILE %s: %w", s.path, err)
	}
	byIssuer := map[string][]string{}
	for name, raw := range doc.Providers {
		var p struct {
			Issuer            string   `json:"issuer"`
			AdditionalIssuers []string `json:"additionalIssuers"`
		}
		json.Unmarshal(raw, &p) // a tenant that does not decode fails when used
		for _, iss := range append([]string{p.Issuer}, p.AdditionalIssuers...) {
			if iss != "" {
				byIssuer[iss] = append(byIssuer[iss], name)
			}
		}
	}
	s.mod, s.size, s.tenants, s.byIssuer = fi.ModTime(), fi.Size(), doc.Providers, byIssuer
	return nil
}

// Len is the number of tenants in the file.
func (s *fileSource) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tenants)
}

// Provider decodes the tenant's config as federation.LoadConfig does, with
// the same errors.
func (s *fileSource) Provider(ctx context.Context, name string) (federation.ProviderConfig, error) {
	if err := s.refresh(); err != nil {
		return federation.ProviderConfig{}, err
	}
	s.mu.Lock()
	raw, ok := s.tenants[name]
	s.mu.Unlock()
	if !ok {
		return federation.ProviderConfig{}, fmt.Errorf("tenant %q: %w", name, federation.ErrNoProvider)
	}
	doc, _ := json.Marshal(map[string]map[string]json.RawMessage{"providers": {name: raw}})
	cfg, err := federation.LoadConfig(bytes.NewReader(doc))
	if err != nil {
		return federation.ProviderConfig{}, err
	}
	return cfg.Providers[name], nil
}

// ProvidersByIssuer names the tenants of issuer iss.
func (s *fileSource) ProvidersByIssuer(ctx context.Context, iss string) ([]string, error) {
	if err := s.refresh(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byIssuer[iss], nil
}
