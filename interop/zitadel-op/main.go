// Command zitadel-op runs the example OpenID Provider of
// github.com/zitadel/oidc/v3 on loopback for oidcfed's interop suite.
//
//	zitadel-op -port 0 -base http://127.0.0.1:8080
//
// It prints "listening <issuer>" on stdout once it serves requests. Each
// start generates a new RS256 signing key, so a restart on the same port is
// a key rotation. The users are the example's, "test-user@127.0.0.1" and
// "test-user2", plus "unverified-user" whose email is not verified; every
// password is "verysecure".
//
// Clients, all client_secret_basic with secret "secret", redirect URI
// BASE/auth/oauth/oidc:<client>/callback and post-logout redirect BASE/:
//
//   - zitadel: profile and email claims only at userinfo (the example's default)
//   - zitadel-idtoken: the same claims also in the ID token
//   - zitadel-api: JWT access tokens
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/text/language"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

func main() {
	port := flag.Int("port", 0, "loopback port; 0 picks a free one")
	base := flag.String("base", "", "the relying party's origin, e.g. http://127.0.0.1:8080")
	flag.Parse()
	if *base == "" {
		log.Fatal("zitadel-op: -base is required")
	}

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	issuer := fmt.Sprintf("http://%s/", ln.Addr())

	clients := map[string]*storage.Client{}
	variants := map[string]variant{}
	for name, v := range map[string]variant{
		"zitadel":         {},
		"zitadel-idtoken": {claimsInIDToken: true},
		"zitadel-api":     {jwtAccessToken: true},
	} {
		clients[name] = storage.WebClient(name, "secret", *base+"/auth/oauth/oidc:"+name+"/callback")
		v.postLogout = []string{*base + "/"}
		variants[name] = v
	}
	store := &clientStorage{Storage: storage.NewStorageWithClients(withUnverified{storage.NewUserStore(issuer)}, clients), variants: variants}

	srv := &http.Server{Handler: exampleop.SetupServer(issuer, store, nil, false)}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		<-ch
		srv.Shutdown(context.Background())
	}()
	fmt.Println("listening", issuer)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// withUnverified adds a user whose email is not verified to the example's
// users, all of whom have verified emails.
type withUnverified struct{ storage.UserStore }

var unverified = &storage.User{ID: "id3", Username: "unverified-user", Password: "verysecure",
	FirstName: "Una", LastName: "Verified", Email: "una@example.com", EmailVerified: false,
	PreferredLanguage: language.English}

func (u withUnverified) GetUserByID(id string) *storage.User {
	if id == unverified.ID {
		return unverified
	}
	return u.UserStore.GetUserByID(id)
}

func (u withUnverified) GetUserByUsername(name string) *storage.User {
	if name == unverified.Username {
		return unverified
	}
	return u.UserStore.GetUserByUsername(name)
}

// variant is what a client changes from the example's WebClient, whose
// fields are unexported.
type variant struct {
	claimsInIDToken bool
	jwtAccessToken  bool
	postLogout      []string
}

// clientStorage is the example storage with its clients wrapped in their
// variants.
type clientStorage struct {
	*storage.Storage
	variants map[string]variant
}

func (s *clientStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return variantClient{Client: c, v: s.variants[id]}, nil
}

type variantClient struct {
	op.Client
	v variant
}

func (c variantClient) IDTokenUserinfoClaimsAssertion() bool { return c.v.claimsInIDToken }

func (c variantClient) PostLogoutRedirectURIs() []string { return c.v.postLogout }

func (c variantClient) AccessTokenType() op.AccessTokenType {
	if c.v.jwtAccessToken {
		return op.AccessTokenTypeJWT
	}
	return op.AccessTokenTypeBearer
}
