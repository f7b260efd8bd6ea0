package oidcfedredis_test

import (
	"os"
	"testing"

	"github.com/oidcfed/oidcfed/redis/redistest"
)

func TestMain(m *testing.M) {
	redistest.Quiet()
	os.Exit(m.Run())
}
