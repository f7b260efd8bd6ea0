package federation

import (
	"regexp"
	"slices"
	"strings"

	"github.com/oidcfed/oidcfed/discovery"
)

// Presets are the values of ProviderConfig.Preset, sorted. Each fills the
// issuer from its own fields and sets the provider's quirks;
// docs/providers/<preset>.md says what to register in the provider's admin
// console.
var Presets = sortedKeys(presets)

// Fixed and default hosts of the presets.
const (
	entraHost     = "login.microsoftonline.com"
	googleIssuer  = "https://accounts.google.com"
	jumpcloudIss  = "https://oauth.id.jumpcloud.com/"
	pingHost      = "auth.pingone.com"
	gitlabHost    = "gitlab.com"
	entraPersonal = "9188040d-6c67-4c5b-b112-36a304b66dad" // the tenant of personal Microsoft accounts
)

// Entra's multi-tenant endpoints: the discovery document's issuer is a
// template with {tenantid}, and each token's iss carries its tenant.
var entraMultiTenant = []string{"organizations", "common"}

// pingRegions are PingOne's regional authentication hosts (.asia is the
// legacy Asia-Pacific one). A custom domain is not among them: its issuer,
// https://<custom domain>/as, has no environment ID and is set whole.
var pingRegions = []string{"auth.pingone.com", "auth.pingone.eu", "auth.pingone.ca", "auth.pingone.com.au",
	"auth.pingone.sg", "auth.pingone.asia"}

var (
	guid     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	oktaAS   = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	kcRealm  = regexp.MustCompile(`^(/[^/]+)*/realms/[^/]+$`)
	hostName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
)

// presetFields are the fields that only some presets read.
var presetFields = []struct {
	field   string
	set     func(p ProviderConfig) bool // by value: p does not escape
	presets []string
}{
	{"tenantId", func(p ProviderConfig) bool { return p.TenantID != "" }, []string{"entra", "ping"}},
	{"domain", func(p ProviderConfig) bool { return p.Domain != "" },
		[]string{"auth0", "entra", "gitlab", "okta", "ping"}},
	{"authorizationServerId", func(p ProviderConfig) bool { return p.AuthorizationServerID != "" }, []string{"okta"}},
	{"allowedTenants", func(p ProviderConfig) bool { return len(p.AllowedTenants) > 0 }, []string{"entra"}},
	{"hostedDomain", func(p ProviderConfig) bool { return p.HostedDomain != "" }, []string{"google"}},
}

// multiTenant reports an Entra provider for any tenant, whose issuer is a
// {tenantid} template.
func (p ProviderConfig) multiTenant() bool {
	return p.Preset == "entra" && slices.Contains(entraMultiTenant, p.TenantID)
}

// applyPreset returns p with its preset applied, reporting problems with
// the preset's own fields to v.
func (p ProviderConfig) applyPreset(v *validation) ProviderConfig {
	for _, f := range presetFields {
		if f.set(p) && !slices.Contains(f.presets, p.Preset) {
			v.fail(f.field, "applies only to preset %s", strings.Join(f.presets, ", "))
		}
	}
	if p.Preset == "" {
		return p
	}
	apply, ok := presets[p.Preset]
	if !ok {
		v.fail("preset", "%q: want one of %s", p.Preset, strings.Join(Presets, ", "))
		v.noIssuer = p.Issuer == ""
		return p
	}
	q := new(ProviderConfig) // a copy, so that p stays on the stack
	*q = p
	apply(presetRun{p: q, v: v})
	return *q
}

// presetRun is one preset being applied to a provider's config.
type presetRun struct {
	p *ProviderConfig
	v *validation
}

// issuer sets the issuer that build makes from the preset's fields
// (named by fields, for the error), unless issuer was configured.
func (r presetRun) issuer(fields string, build func() (string, bool)) {
	if r.p.Issuer != "" {
		r.v.fail("issuer", "preset %q builds the issuer from %s; set those or issuer, not both", r.p.Preset, fields)
		return
	}
	iss, ok := build()
	if !ok {
		r.v.noIssuer = true
		return
	}
	r.p.Issuer = iss
}

// host returns the domain field, or def when it is empty; with def "" the
// domain is required.
func (r presetRun) host(def string) (string, bool) {
	switch {
	case r.p.Domain == "" && def == "":
		r.v.fail("domain", "is required for preset %q (the host name, e.g. example.%s.com)", r.p.Preset, r.p.Preset)
		return "", false
	case r.p.Domain == "":
		return def, true
	case !hostName.MatchString(r.p.Domain):
		r.v.fail("domain", "%q is not a host name (no scheme, port or path)", r.p.Domain)
		return "", false
	}
	return r.p.Domain, true
}

// presets applies each preset: builds its issuer and fills in its quirks.
// See docs/providers/<preset>.md.
var presets = map[string]func(presetRun){
	"generic":   func(presetRun) {},
	"okta":      applyOkta,
	"entra":     applyEntra,
	"auth0":     applyAuth0,
	"keycloak":  applyKeycloak,
	"google":    applyGoogle,
	"jumpcloud": applyJumpCloud,
	"ping":      applyPing,
	"gitlab":    applyGitLab,
}

func applyOkta(r presetRun) {
	p := r.p
	if p.Issuer == "" || p.Domain != "" {
		r.issuer("domain and authorizationServerId", func() (string, bool) {
			h, ok := r.host("")
			switch {
			case !ok:
			case p.AuthorizationServerID == "":
				return "https://" + h, true // the org authorization server
			case !oktaAS.MatchString(p.AuthorizationServerID):
				r.v.fail("authorizationServerId", "%q is not an authorization server ID", p.AuthorizationServerID)
			default:
				return "https://" + h + "/oauth2/" + p.AuthorizationServerID, true
			}
			return "", false
		})
	}
	if p.Issuer != "" && p.Domain == "" && p.AuthorizationServerID != "" {
		r.v.fail("authorizationServerId",
			"is read with domain only; with issuer set, give the whole issuer https://<domain>/oauth2/%s instead", p.AuthorizationServerID)
	}
	if p.AuthorizationServerID == "default" && len(p.Audiences) == 0 {
		p.Audiences = []string{"api://default"}
	}
}

func applyAuth0(r presetRun) {
	if r.p.Issuer == "" || r.p.Domain != "" {
		r.issuer("domain", func() (string, bool) {
			h, ok := r.host("")
			return "https://" + h + "/", ok
		})
	}
}

func applyKeycloak(r presetRun) {
	p := r.p
	if p.Issuer == "" {
		r.v.fail("issuer", "is required for preset \"keycloak\": the realm URL, https://<host>/realms/<realm>")
		r.v.noIssuer = true
	} else if iss, err := discovery.ParseIssuer(p.Issuer); err == nil && (iss.Bare() || !kcRealm.MatchString(urlPath(p.Issuer))) {
		r.v.fail("issuer", "%q is not a Keycloak realm URL (https://<host>/realms/<realm>)", p.Issuer)
	}
	// Groups keep the default claim, "groups", which the Group
	// Membership mapper writes; realm roles are in realm_access.roles,
	// in the access token by default and in the ID token only when the
	// realm roles mapper's "Add to ID token" is on (docs/providers/keycloak.md).
	if p.Claims.Roles == "" {
		p.Claims.Roles = "realm_access.roles"
	}
}

func applyGoogle(r presetRun) {
	p := r.p
	if p.Issuer != "" && p.Issuer != googleIssuer {
		r.v.fail("issuer", "preset \"google\" has the issuer %s; leave issuer empty", googleIssuer)
	}
	p.Issuer = googleIssuer
	if p.HostedDomain != "" {
		if !hostName.MatchString(p.HostedDomain) {
			r.v.fail("hostedDomain", "%q is not a domain name", p.HostedDomain)
		}
		if hd, ok := p.AuthParams["hd"]; ok && hd != p.HostedDomain {
			r.v.fail("authParams.hd", "%q differs from hostedDomain %q; set hostedDomain only", hd, p.HostedDomain)
		}
		p.AuthParams = withParam(p.AuthParams, "hd", p.HostedDomain)
	}
}

func applyJumpCloud(r presetRun) {
	if r.p.Issuer != "" && r.p.Issuer != jumpcloudIss {
		r.v.fail("issuer", "preset \"jumpcloud\" has the issuer %s; leave issuer empty", jumpcloudIss)
	}
	r.p.Issuer = jumpcloudIss
}

func applyPing(r presetRun) {
	p := r.p
	if p.Issuer == "" || p.TenantID != "" || p.Domain != "" {
		r.issuer("tenantId (the PingOne environment ID) and domain", func() (string, bool) {
			h, ok := r.host(pingHost)
			switch {
			case ok && !slices.Contains(pingRegions, h):
				r.v.fail("domain",
					"%q is not a PingOne region (%s); for a custom domain set issuer https://%s/as instead", h, strings.Join(pingRegions, ", "), h)
			case p.TenantID == "":
				r.v.fail("tenantId",
					"is required for preset \"ping\": the PingOne environment ID (or set issuer for PingFederate)")
			case !guid.MatchString(p.TenantID):
				r.v.fail("tenantId", "%q is not a PingOne environment ID (a UUID)", p.TenantID)
			case ok:
				return "https://" + h + "/" + p.TenantID + "/as", true
			}
			return "", false
		})
	}
}

func applyGitLab(r presetRun) {
	if r.p.Issuer == "" || r.p.Domain != "" {
		r.issuer("domain", func() (string, bool) {
			h, ok := r.host(gitlabHost)
			return "https://" + h, ok
		})
	}
	if r.p.Claims.Groups == "" {
		r.p.Claims.Groups = "groups_direct"
	}
}

// applyEntra applies the Microsoft Entra ID preset.
func applyEntra(r presetRun) {
	p, v, issuer, host := r.p, r.v, r.issuer, r.host
	field := "tenantId"
	if p.Issuer != "" && p.TenantID == "" && p.Domain == "" {
		// A national cloud's issuer, https://<host>/<tenant>/v2.0, given whole.
		seg, ok := strings.CutSuffix(urlPath(p.Issuer), "/v2.0")
		if !ok || strings.Count(seg, "/") != 1 {
			v.fail("issuer", "%q is not an Entra ID v2.0 issuer, https://<host>/<tenant>/v2.0", p.Issuer)
			return
		}
		field, p.TenantID = "issuer", seg[1:]
	}
	valid := false
	switch {
	case p.TenantID == "":
		v.fail(field, "is required for preset \"entra\": the tenant ID, or organizations or common for any tenant")
	case p.TenantID == "consumers":
		v.fail(field, "\"consumers\" has no issuer template; for personal Microsoft accounts use the tenant %s",
			entraPersonal)
	case !guid.MatchString(p.TenantID) && !p.multiTenant():
		v.fail(field,
			"%q: want the tenant ID (a UUID; a domain name's tokens carry the ID, which would not match), organizations or common", p.TenantID)
	default:
		valid = true
	}
	if field == "tenantId" {
		issuer("tenantId and domain", func() (string, bool) {
			h, ok := host(entraHost)
			return "https://" + h + "/" + p.TenantID + "/v2.0", ok && valid
		})
	}
	if p.multiTenant() {
		for _, t := range p.AllowedTenants {
			if !guid.MatchString(t) {
				v.fail("allowedTenants", "%q is not a tenant ID (a UUID)", t)
			}
		}
	} else {
		if len(p.AllowedTenants) > 0 {
			v.fail("allowedTenants",
				"applies only to tenantId organizations or common; a single tenant allows only itself")
		}
		if guid.MatchString(p.TenantID) && strings.HasPrefix(p.Issuer, "https://"+entraHost+"/") {
			// Access tokens of v1 APIs carry the v1 issuer.
			if v1 := "https://sts.windows.net/" + p.TenantID + "/"; !slices.Contains(p.AdditionalIssuers, v1) {
				p.AdditionalIssuers = append(slices.Clone(p.AdditionalIssuers), v1)
			}
		}
	}
	// Entra's email claim is whatever the tenant's admin or the user
	// typed; xms_edov ("email domain owner verified") is true only when
	// the domain is verified by the tenant. Never link on anything else.
	switch p.EmailTrust {
	case EmailTrustDangerousAlways:
		v.fail("emailTrust",
			"preset \"entra\" never trusts an email that xms_edov does not vouch for (the nOAuth takeover)")
	case "":
		p.EmailTrust = EmailTrustFromClaim
	}
	switch p.Claims.EmailVerified {
	case "":
		p.Claims.EmailVerified = "xms_edov"
	case "xms_edov":
	default:
		v.fail("claims.emailVerified", "preset \"entra\" reads email verification from xms_edov only")
	}
}

// withParam returns params with name set to value, copying the map.
func withParam(params map[string]string, name, value string) map[string]string {
	out := make(map[string]string, len(params)+1)
	for k, v := range params {
		out[k] = v
	}
	out[name] = value
	return out
}

// urlPath is the path of an already validated URL.
func urlPath(raw string) string {
	_, rest, _ := strings.Cut(raw, "://")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return strings.TrimSuffix(rest[i:], "/")
	}
	return ""
}
