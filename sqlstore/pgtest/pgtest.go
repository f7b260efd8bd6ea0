// Package pgtest creates a real PostgreSQL cluster for tests: initdb into
// a temporary directory (as the postgres user when run as root, since
// initdb refuses root), listening on a free loopback port, stopped when the
// test ends. Without PostgreSQL the test fails with the install command;
// it never skips. It opens connections with pgx's stdlib driver.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// Postgres is a PostgreSQL cluster in a temporary directory, run as the
// postgres user (initdb refuses root) on a free loopback port.
type Postgres struct {
	t    testing.TB
	dir  string
	port int
	bin  string
}

// Start creates and starts a cluster and stops it when the test
// ends. Without PostgreSQL the test fails with the install command.
func Start(t testing.TB) *Postgres {
	t.Helper()
	out, err := exec.Command("pg_config", "--bindir").Output()
	if err != nil {
		t.Fatal("PostgreSQL is not installed: sudo apt-get install -y postgresql")
	}
	bin := strings.TrimSpace(string(out))
	dir, err := os.MkdirTemp("", "oidcfed-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Postgres{t: t, dir: filepath.Join(dir, "data"), port: ln.Addr().(*net.TCPAddr).Port, bin: bin}
	ln.Close()
	p.run("initdb", "-D", p.dir, "-U", "postgres", "--auth=trust", "--locale=C", "--encoding=UTF8")
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// run runs a PostgreSQL program, as the postgres user when this is root.
func (p *Postgres) run(prog string, args ...string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, prog), args...)
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, prog)}, args...)...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", prog, err, out)
	}
}

// Start starts the cluster (again, after Stop).
func (p *Postgres) Start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.dir, "-w", "-l", filepath.Join(p.dir, "log"), "-o",
		fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off", p.port, p.dir), "start")
	db, err := sql.Open("pgx", p.DSN())
	if err != nil {
		p.t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(20 * time.Second); db.PingContext(context.Background()) != nil; {
		if time.Now().After(deadline) {
			p.t.Fatalf("PostgreSQL on port %d did not answer", p.port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the cluster at once, as a crash would.
func (p *Postgres) Stop() { p.run("pg_ctl", "-D", p.dir, "-m", "immediate", "-w", "stop") }

// DSN is the pgx data source name of the cluster's postgres database.
func (p *Postgres) DSN() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(p.port) + "/postgres?sslmode=disable"
}
