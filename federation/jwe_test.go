package federation_test

// Encrypted responses: OpenID Connect Core 1.0 §10.2 (sign, then
// encrypt), §5.3.2 (userinfo), Dynamic Client Registration §2
// (id_token_encrypted_response_alg and _enc, userinfo_…).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcfed/oidcfed/discovery"
	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/federationtest"
)

var (
	jweRSA, _ = rsa.GenerateKey(rand.Reader, 2048)
	jweEC, _  = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
)

// encryptingRP is a relying party with client key key and edit's
// encryption settings, registered at the provider with the keys its JWKS
// route publishes and client's encryption.
func encryptingRP(op federationtest.Options, key crypto.Signer, edit func(pc *federation.ProviderConfig),
	client func(c *federationtest.Client)) (rpOptions, func(r *rp)) {
	opts := rpOptions{op: op, provider: func(pc *federation.ProviderConfig) {
		pc.ClientKey, _ = federation.NewClientKey(key, "")
		edit(pc)
	}}
	setup := func(r *rp) {
		resp, err := http.Get(r.srv.URL + "/auth/oauth/oidc:acme/jwks")
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var set jose.JSONWebKeySet
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			panic(err)
		}
		c := federationtest.Client{ID: "client-1", Secret: "s3cret-value", Keys: set.Keys,
			RedirectURIs: []string{r.srv.URL + "/auth/oauth/oidc:acme/callback"}}
		client(&c)
		r.op.AddClient(c)
	}
	return opts, setup
}

func TestEncryptedResponses(t *testing.T) { checkRules(t, encryptionRules()) }

func encryptionRules() []rule {
	enc := func(alg, e string) *federation.Encryption { return &federation.Encryption{Alg: alg, Enc: e} }
	opEnc := func(alg, e string) *federationtest.Encryption { return &federationtest.Encryption{Alg: alg, Enc: e} }
	idToken := func(key crypto.Signer, want *federation.Encryption, sent *federationtest.Encryption) (rpOptions, func(*rp)) {
		return encryptingRP(federationtest.Options{}, key,
			func(pc *federation.ProviderConfig) { pc.IDTokenEncryption = want },
			func(c *federationtest.Client) { c.IDTokenEncryption = sent })
	}
	userinfo := func(signed bool, want *federation.Encryption, sent *federationtest.Encryption) (rpOptions, func(*rp)) {
		return encryptingRP(federationtest.Options{ProfileInUserinfoOnly: true, SignedUserinfo: signed}, jweRSA,
			func(pc *federation.ProviderConfig) { pc.UserinfoEncryption = want },
			func(c *federationtest.Client) { c.UserinfoEncryption = sent })
	}
	var rules []rule
	add := func(name string, o rpOptions, setup func(*rp), bad federationtest.Misbehavior, want string, cause error) {
		rules = append(rules, rule{name: name, rp: o, setup: setup, bad: bad, want: want, cause: cause})
	}
	for _, c := range []struct {
		key      crypto.Signer
		alg, enc string
	}{
		{jweRSA, "RSA-OAEP", ""}, {jweRSA, "RSA-OAEP-256", "A256GCM"}, {jweEC, "ECDH-ES", "A128CBC-HS256"},
		{jweEC, "ECDH-ES+A128KW", "A256GCM"},
	} {
		o, setup := idToken(c.key, enc(c.alg, c.enc), opEnc(c.alg, c.enc))
		add("an ID token encrypted with "+c.alg+" "+c.enc+" is decrypted and verified", o, setup,
			federationtest.Misbehavior{}, "", nil)
	}
	o, setup := userinfo(false, enc("RSA-OAEP-256", ""), opEnc("RSA-OAEP-256", ""))
	add("an encrypted JSON userinfo is decrypted and used", o, setup, federationtest.Misbehavior{}, "", nil)
	o, setup = userinfo(true, enc("RSA-OAEP", "A256GCM"), opEnc("RSA-OAEP", "A256GCM"))
	add("a signed, then encrypted userinfo is decrypted and verified", o, setup, federationtest.Misbehavior{}, "", nil)
	o, setup = userinfo(true, enc("RSA-OAEP", "A256GCM"), opEnc("RSA-OAEP", "A256GCM"))
	add("a signed, then encrypted userinfo for another client is rejected", o, setup,
		federationtest.Misbehavior{Userinfo: func(c map[string]any) { c["aud"] = "client-2" }}, "invalid_token",
		discovery.ErrTokenAudience)

	o, setup = idToken(jweRSA, enc("RSA-OAEP", ""), nil)
	add("a plaintext ID token is refused when encryption was asked", o, setup, federationtest.Misbehavior{},
		"invalid_token", federation.ErrNotEncrypted)
	o, setup = userinfo(false, enc("RSA-OAEP", ""), nil)
	add("a plaintext userinfo is refused when encryption was asked", o, setup, federationtest.Misbehavior{},
		"invalid_token", federation.ErrNotEncrypted)
	o, setup = userinfo(true, enc("RSA-OAEP", ""), nil)
	add("a signed but unencrypted userinfo is refused when encryption was asked", o, setup,
		federationtest.Misbehavior{}, "invalid_token", federation.ErrNotEncrypted)
	o, setup = idToken(jweRSA, enc("RSA-OAEP-256", ""), opEnc("RSA-OAEP", ""))
	add("an ID token encrypted with another alg than asked is refused", o, setup, federationtest.Misbehavior{},
		"invalid_token", federation.ErrDecrypt)
	o, setup = idToken(jweRSA, enc("RSA-OAEP", "A256GCM"), opEnc("RSA-OAEP", "A128CBC-HS256"))
	add("an ID token encrypted with another enc than asked is refused", o, setup, federationtest.Misbehavior{},
		"invalid_token", federation.ErrDecrypt)
	o, register := idToken(jweRSA, enc("RSA-OAEP", ""), opEnc("RSA-OAEP", ""))
	add("an ID token encrypted to another key is refused", o, func(r *rp) {
		register(r)
		other, _ := rsa.GenerateKey(rand.Reader, 2048)
		c := r.op.Client("client-1")
		c.Keys = []jose.JSONWebKey{{Key: other.Public(), KeyID: c.Keys[0].KeyID + "-enc", Use: "enc"}}
		r.op.AddClient(c)
	}, federationtest.Misbehavior{}, "invalid_token", federation.ErrDecrypt)
	o, setup = idToken(jweRSA, nil, opEnc("RSA-OAEP", ""))
	o.provider = func(pc *federation.ProviderConfig) {
		pc.ClientKey, _ = federation.NewClientKey(jweRSA, "")
		pc.UserinfoEncryption = enc("RSA-OAEP", "")
	}
	add("an encrypted ID token is refused when the client asked for none", o, setup,
		federationtest.Misbehavior{}, "invalid_token", federation.ErrDecrypt)
	o, setup = idToken(jweRSA, enc("RSA-OAEP", ""), opEnc("RSA-OAEP", ""))
	add("an encrypted ID token that is not signed inside is refused", o, setup,
		federationtest.Misbehavior{Sign: func(payload []byte, _ crypto.Signer, _, _ string) string { return string(payload) }},
		"invalid_token", federation.ErrDecrypt)
	o, setup = idToken(jweRSA, enc("RSA-OAEP", ""), opEnc("RSA-OAEP", ""))
	add("an encrypted ID token signed with alg none inside is refused", o, setup,
		federationtest.Misbehavior{Sign: func(payload []byte, _ crypto.Signer, _, _ string) string {
			return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(payload) + "."
		}}, "invalid_token", discovery.ErrUnsupportedAlgorithm)
	o, setup = idToken(jweRSA, enc("RSA-OAEP", ""), nil) // encrypted below
	add("a compressed (zip) encrypted ID token is refused", o, setup, federationtest.Misbehavior{
		TokenResponse: func(body map[string]any) {
			c, _ := jose.NewEncrypter(jose.A128CBC_HS256, jose.Recipient{Algorithm: jose.RSA_OAEP, Key: jweRSA.Public()},
				(&jose.EncrypterOptions{Compression: jose.DEFLATE}).WithContentType("JWT"))
			obj, _ := c.Encrypt([]byte(body["id_token"].(string)))
			body["id_token"], _ = obj.CompactSerialize()
		}}, "invalid_token", federation.ErrDecrypt)
	return rules
}

// TestEncryptedIDTokenKeptSigned: the ID token kept for logout
// (id_token_hint) is the signed token inside, which the provider can read
// (RP-Initiated Logout §2), not the JWE encrypted to the client.
func TestEncryptedIDTokenKeptSigned(t *testing.T) {
	o, setup := encryptingRP(federationtest.Options{}, jweRSA,
		func(pc *federation.ProviderConfig) { pc.IDTokenEncryption = &federation.Encryption{Alg: "RSA-OAEP"} },
		func(c *federationtest.Client) { c.IDTokenEncryption = &federationtest.Encryption{Alg: "RSA-OAEP"} })
	r := newRPWith(t, o)
	setup(r)
	if resp := r.signIn(newBrowser(t), "/next"); resp.StatusCode != http.StatusFound || r.loginCount() != 1 {
		t.Fatalf("sign-in: %d, logs:\n%s", resp.StatusCode, r.logs)
	}
	id := r.logins[0].Result.Tokens.IDToken.Reveal()
	if strings.Count(id, ".") != 2 {
		t.Fatalf("the kept ID token has %d dots, want a compact JWS", strings.Count(id, "."))
	}
}

// TestJWKSRoutePublishesEncryptionKeys: each key that decrypts the asked
// alg is published again, with use enc and its own kid.
func TestJWKSRoutePublishesEncryptionKeys(t *testing.T) {
	o, setup := encryptingRP(federationtest.Options{}, jweEC,
		func(pc *federation.ProviderConfig) {
			pc.IDTokenEncryption = &federation.Encryption{Alg: "ECDH-ES"}
			pc.ClientKey, _ = federation.NewClientKey(jweEC, "k1")
		}, func(*federationtest.Client) {})
	r := newRPWith(t, o)
	setup(r)
	var got []string
	for _, k := range r.op.Client("client-1").Keys {
		got = append(got, k.KeyID+"/"+k.Use)
		if !k.IsPublic() {
			t.Fatal("a private key was published")
		}
	}
	if strings.Join(got, " ") != "k1/sig k1-enc/enc" {
		t.Fatalf("published %q, want k1/sig k1-enc/enc", got)
	}
}

func TestEncryptionConfigRejections(t *testing.T) {
	for _, tt := range []struct {
		name string
		key  crypto.Signer
		e    federation.Encryption
		want string
	}{
		{"RSA1_5 (padding oracles)", jweRSA, federation.Encryption{Alg: "RSA1_5"}, `alg "RSA1_5" is not supported`},
		{"a shared-key alg", jweRSA, federation.Encryption{Alg: "A128KW"}, `alg "A128KW" is not supported`},
		{"an unknown enc", jweRSA, federation.Encryption{Alg: "RSA-OAEP", Enc: "A128GCM-ish"}, `enc "A128GCM-ish" is not supported`},
		{"an RSA alg with an EC key", jweEC, federation.Encryption{Alg: "RSA-OAEP"}, "needs an RSA private key"},
		{"an EC alg with an RSA key", jweRSA, federation.Encryption{Alg: "ECDH-ES"}, "needs an EC P-256 private key"},
		{"no key", nil, federation.Encryption{Alg: "RSA-OAEP"}, "is required for idTokenEncryption and userinfoEncryption"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pc := federation.ProviderConfig{Issuer: "https://op.example", ClientID: "c", ClientSecret: "s",
				IDTokenEncryption: &tt.e}
			if tt.key != nil {
				pc.ClientKeyFile = keyFile(t, tt.key)
			}
			_, err := federation.NewRegistry(federation.Config{Providers: map[string]federation.ProviderConfig{"acme": pc}})
			ce, ok := errors.AsType[*federation.ConfigError](err)
			if !ok || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a ConfigError containing %q", err, tt.want)
			}
			if field := map[bool]string{true: "clientKeyFile", false: "idTokenEncryption"}[tt.key == nil]; ce.Field != field {
				t.Fatalf("field %q, want %q", ce.Field, field)
			}
		})
	}
}

// TestEncryptedLogoutTokens: with idTokenEncryption, logout tokens come
// encrypted the same way (Back-Channel Logout 1.0 §2.6) and are opened;
// a plaintext one is then refused.
func TestEncryptedLogoutTokens(t *testing.T) {
	o, setup := encryptingRP(federationtest.Options{}, jweEC,
		func(pc *federation.ProviderConfig) { pc.IDTokenEncryption = &federation.Encryption{Alg: "ECDH-ES"} },
		func(c *federationtest.Client) { c.IDTokenEncryption = &federationtest.Encryption{Alg: "ECDH-ES"} })
	r := newRPWith(t, o)
	setup(r)
	p, _ := r.reg.Lookup("oidc:acme")
	tok := r.op.LogoutToken("client-1", "alice", "", nil)
	if strings.Count(tok, ".") != 4 {
		t.Fatal("the test provider did not encrypt the logout token")
	}
	if ev, err := p.VerifyLogoutToken(t.Context(), tok); err != nil || ev.Subject != "alice" {
		t.Fatalf("encrypted: %v %v", ev, err)
	}
	plain := r.op.SignJWT("logout+jwt", map[string]any{"iss": r.op.Issuer(), "aud": "client-1", "sub": "alice",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "jti": "j2",
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})
	if _, err := p.VerifyLogoutToken(t.Context(), plain); !errors.Is(err, federation.ErrNotEncrypted) {
		t.Fatalf("plaintext: %v, want ErrNotEncrypted", err)
	}
}

// TestCheckEncryption: Check says whether the provider lists the asked
// encryption.
func TestCheckEncryption(t *testing.T) {
	for _, tt := range []struct {
		alg, want string
	}{{"RSA-OAEP", federation.CheckOK}, {"RSA-OAEP-256", federation.CheckWarn}} {
		o, setup := encryptingRP(federationtest.Options{}, jweRSA,
			func(pc *federation.ProviderConfig) { pc.IDTokenEncryption = &federation.Encryption{Alg: tt.alg} },
			func(*federationtest.Client) {})
		r := newRPWith(t, o)
		setup(r)
		r.op.Misbehave(federationtest.Misbehavior{Discovery: func(d map[string]any) {
			d["id_token_encryption_alg_values_supported"] = []string{"RSA-OAEP"}
		}})
		if got := checkNamed(t, r, "encryption"); got.Status != tt.want {
			t.Errorf("%s: encryption check %+v, want %q", tt.alg, got, tt.want)
		}
	}
}
