package federation

import (
	"sync"

	"github.com/oidcfed/oidcfed/discovery"
)

// keySets shares one key set per JWKS URI among the providers that use
// it (providers of one issuer with different clients), so that its keys
// are fetched once. An entry lives while a provider that resolved it is
// registered and still points there.
type keySets struct {
	mu   sync.Mutex
	sets map[string]*sharedKeys // JWKS URI →
}

type sharedKeys struct {
	keys  *discovery.KeySet
	users map[*Provider]struct{}
}

// acquire returns the key set of uri for p, creating it with newSet when
// no provider holds one; p holds it until release.
func (k *keySets) acquire(p *Provider, uri string, newSet func() (*discovery.KeySet, error)) (*discovery.KeySet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sets == nil {
		k.sets = map[string]*sharedKeys{}
	}
	s, ok := k.sets[uri]
	if !ok {
		ks, err := newSet()
		if err != nil {
			return nil, err
		}
		s = &sharedKeys{keys: ks, users: map[*Provider]struct{}{}}
		k.sets[uri] = s
	}
	s.users[p] = struct{}{}
	return s.keys, nil
}

// release drops p's hold on uri's key set, forgetting the set when p was
// its last user.
func (k *keySets) release(p *Provider, uri string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.sets[uri]
	if !ok {
		return
	}
	delete(s.users, p)
	if len(s.users) == 0 {
		delete(k.sets, uri)
	}
}

// users are the registry keys of the providers holding uri's key set.
func (k *keySets) users(uri string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.sets[uri]
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(s.users))
	for p := range s.users {
		keys = append(keys, p.key)
	}
	return keys
}

// len is the number of key sets held, for tests.
func (k *keySets) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.sets)
}

// releaseKeys drops p's key set, when it resolved one: p was removed or
// replaced.
func (r *Registry) releaseKeys(p *Provider) {
	p.removed.Store(true)
	p.mu.Lock()
	cur := p.cur
	p.mu.Unlock()
	if cur != nil {
		r.keySets.release(p, cur.md.JWKSURI)
	}
}
