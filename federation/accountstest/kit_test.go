package accountstest_test

import (
	"testing"

	"github.com/oidcfed/oidcfed/federation"
	"github.com/oidcfed/oidcfed/federation/accountstest"
)

func TestMemoryAccounts(t *testing.T) {
	shared := federation.NewMemoryAccounts()
	accountstest.Store(t, func(t *testing.T) federation.FullAccountStore { return shared })
}
