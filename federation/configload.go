package federation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/oidcfed/oidcfed/internal/jsonshape"
)

// MaxConfigSize is the largest config LoadConfig reads.
const MaxConfigSize = 4 << 20

// LoadConfig decodes a JSON config and validates it. Every problem is
// reported at once, each a *[ConfigError] with its JSON path: syntax errors
// (with line and column), unknown fields (matched case-sensitively, with
// the likely intended name), values of the wrong type, and what
// [Config.Validate] finds.
func LoadConfig(r io.Reader) (Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return Config{}, &ConfigError{Path: "(input)", Err: err}
	}
	if len(data) > MaxConfigSize {
		return Config{}, &ConfigError{Path: "(input)", Err: fmt.Errorf("is larger than %d bytes", MaxConfigSize)}
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return Config{}, syntaxError(data, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Config{}, &ConfigError{Path: position(data, d.InputOffset()-1),
			Err: errors.New("trailing data after the JSON object")}
	}
	var errs []error
	for _, p := range jsonshape.Check(v, reflect.TypeFor[Config]()) {
		errs = append(errs, pathError(p.Path, p.Err))
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, &ConfigError{Path: "(input)", Err: err} // jsonshape let through what json refuses
	}
	return c, c.Validate()
}

// syntaxError locates a JSON syntax error.
func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &ConfigError{Path: position(data, se.Offset-1), Err: err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &ConfigError{Path: position(data, int64(len(data))), Err: errors.New("unexpected end of input (EOF)")}
	}
	return &ConfigError{Path: "(input)", Err: err}
}

// position renders the byte at offset off as "line L, column C".
func position(data []byte, off int64) string {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil // maps.Keys allocates even for an empty map
	}
	return slices.Sorted(maps.Keys(m))
}

// pathError is a ConfigError for a JSON path, with provider and field
// filled in when the path is inside one.
func pathError(path string, err error) *ConfigError {
	e := &ConfigError{Path: path, Err: err}
	if e.Path == "" {
		e.Path = "(top level)"
	}
	if rest, ok := strings.CutPrefix(path, "providers."); ok {
		e.Provider, e.Field, _ = strings.Cut(rest, ".")
	}
	return e
}

// envSettings are the variables ConfigFromEnv reads per provider, by
// suffix. A name is what stands between the prefix and the longest suffix
// that matches.
var envSettings = []struct {
	suffix, field string
	set           func(p *ProviderConfig, v string)
}{
	{"_ISSUER", "issuer", func(p *ProviderConfig, v string) { p.Issuer = v }},
	{"_CLIENT_ID", "clientId", func(p *ProviderConfig, v string) { p.ClientID = v }},
	{"_CLIENT_SECRET", "clientSecret", func(p *ProviderConfig, v string) { p.ClientSecret = Secret(v) }},
	{"_CLIENT_SECRET_FILE", "clientSecret", nil}, // read from the file
	{"_REDIRECT_URL", "redirectURL", func(p *ProviderConfig, v string) { p.RedirectURL = v }},
	{"_SCOPES", "scopes", func(p *ProviderConfig, v string) { p.Scopes = splitList(v) }},
	{"_FRONTEND_URL", "frontendURL", func(p *ProviderConfig, v string) { p.FrontendURL = v }},
	{"_PRESET", "preset", func(p *ProviderConfig, v string) { p.Preset = v }},
	{"_TENANT_ID", "tenantId", func(p *ProviderConfig, v string) { p.TenantID = v }},
	{"_ALLOWED_TENANTS", "allowedTenants", func(p *ProviderConfig, v string) { p.AllowedTenants = splitList(v) }},
	{"_HOSTED_DOMAIN", "hostedDomain", func(p *ProviderConfig, v string) { p.HostedDomain = v }},
	{"_ALLOWED_EMAIL_DOMAINS", "allowedEmailDomains",
		func(p *ProviderConfig, v string) { p.AllowedEmailDomains = splitList(v) }},
	{"_TOKEN_ENDPOINT_AUTH_METHOD", "tokenEndpointAuthMethod",
		func(p *ProviderConfig, v string) { p.TokenEndpointAuthMethod = v }},
	{"_CLIENT_KEY_FILE", "clientKeyFile", func(p *ProviderConfig, v string) { p.ClientKeyFile = v }},
	{"_CLIENT_KEY_ID", "clientKeyId", func(p *ProviderConfig, v string) { p.ClientKeyID = v }},
	{"_EMAIL_DOMAINS", "emailDomains", func(p *ProviderConfig, v string) { p.EmailDomains = splitList(v) }},
	{"_CLIENT_CERTIFICATE_FILE", "clientCertificateFile",
		func(p *ProviderConfig, v string) { p.ClientCertificateFile = v }},
	{"_REGISTRATION", "registration", func(p *ProviderConfig, v string) { p.Registration = v }},
	{"_REGISTRATION_TOKEN", "registrationToken", func(p *ProviderConfig, v string) { p.RegistrationToken = Secret(v) }},
	{"_CLIENT_ASSERTION_AUDIENCE", "clientAssertionAudience",
		func(p *ProviderConfig, v string) { p.ClientAssertionAudience = v }},
}

var envPrefix = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// ConfigFromEnv reads providers from environment variables
// <PREFIX>_<NAME>_<SETTING>: with prefix TENANT_OIDC, TENANT_OIDC_ACME_ISSUER
// sets the issuer of oidc:acme. The settings are ISSUER, CLIENT_ID,
// CLIENT_SECRET or CLIENT_SECRET_FILE (a file holding the secret, with
// trailing line breaks dropped), REDIRECT_URL, SCOPES (separated by spaces
// or commas), FRONTEND_URL, PRESET, TENANT_ID, ALLOWED_TENANTS,
// HOSTED_DOMAIN and ALLOWED_EMAIL_DOMAINS (lists separated likewise),
// TOKEN_ENDPOINT_AUTH_METHOD, CLIENT_KEY_FILE, CLIENT_KEY_ID,
// EMAIL_DOMAINS, CLIENT_CERTIFICATE_FILE, REGISTRATION, REGISTRATION_TOKEN and
// CLIENT_ASSERTION_AUDIENCE. The
// name is what stands between the prefix and the longest setting that
// ends the variable, lower-cased, underscores kept. Names with "-" cannot
// be expressed; nor can the fields that have no variable (use LoadConfig).
//
// A variable with the prefix that names no setting is an error, so that
// a typo is not ignored. Problems are reported at once, each a
// *[ConfigError] whose Path is the variable to fix. A config without any
// provider is not an error here.
func ConfigFromEnv(prefix string) (Config, error) {
	return configFromEnv(prefix, os.Environ(), os.ReadFile)
}

func configFromEnv(prefix string, environ []string, readFile func(string) ([]byte, error)) (Config, error) {
	prefix = strings.TrimSuffix(prefix, "_")
	if !envPrefix.MatchString(prefix) {
		return Config{}, &ConfigError{Path: "prefix",
			Err: fmt.Errorf("%q: want upper-case letters, digits and underscores", prefix)}
	}
	cfg := Config{Providers: map[string]ProviderConfig{}}
	vars := map[string]map[string]string{} // provider → field → variable
	var errs []error
	slices.Sort(environ)
	for _, kv := range environ {
		k, val, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(k, prefix+"_")
		if !ok {
			continue
		}
		best := -1
		for i, s := range envSettings {
			if len(rest) > len(s.suffix) && strings.HasSuffix(rest, s.suffix) && (best < 0 || len(s.suffix) > len(envSettings[best].suffix)) {
				best = i
			}
		}
		if best < 0 {
			errs = append(errs,
				&ConfigError{Path: k,
					Err: fmt.Errorf("is not a known setting: want %s_<NAME> followed by one of %s", prefix,
						envSuffixList())})
			continue
		}
		s := envSettings[best]
		name := strings.ToLower(strings.TrimSuffix(rest, s.suffix))
		if vars[name] == nil {
			vars[name] = map[string]string{}
		}
		if prev, dup := vars[name][s.field]; dup {
			errs = append(errs,
				&ConfigError{Provider: name, Field: s.field, Path: k,
					Err: fmt.Errorf("conflicts with %s; set one", prev)})
			continue
		}
		vars[name][s.field] = k
		pc := cfg.Providers[name]
		if s.set != nil {
			s.set(&pc, val)
		} else if b, err := readFile(val); err != nil {
			errs = append(errs,
				&ConfigError{Provider: name, Field: s.field, Path: k,
					Err: fmt.Errorf("cannot read the secret file: %w", err)})
		} else if sec := strings.TrimRight(string(b), "\r\n"); sec == "" {
			errs = append(errs,
				&ConfigError{Provider: name, Field: s.field, Path: k,
					Err: fmt.Errorf("the secret file %q is empty", val)})
		} else {
			pc.ClientSecret = Secret(sec)
		}
		cfg.Providers[name] = pc
	}
	// Validation reports against the variable that set the field, or the
	// provider's first variable for its name.
	var verr interface{ Unwrap() []error }
	if errors.As(cfg.Validate(), &verr) {
		for _, err := range verr.Unwrap() {
			if ce, ok := err.(*ConfigError); ok && vars[ce.Provider] != nil {
				if v, ok := vars[ce.Provider][ce.Field]; ok {
					ce.Path = v
				} else if ce.Field == "name" {
					ce.Path = slices.Min(slices.Collect(maps.Values(vars[ce.Provider])))
				} else {
					ce.Path = fmt.Sprintf("%s_%s_* (%s)", prefix, strings.ToUpper(ce.Provider), ce.Path)
				}
			}
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func envSuffixList() string {
	var s []string
	for _, e := range envSettings {
		s = append(s, e.suffix)
	}
	return strings.Join(s, ", ")
}

// splitList splits a list separated by spaces and/or commas.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}
