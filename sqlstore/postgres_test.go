package oidcfedsql_test

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
)

// postgres is a PostgreSQL cluster in a temporary directory, run as the
// postgres user (initdb refuses root) on a free loopback port.
type postgres struct {
	t    testing.TB
	dir  string
	port int
	bin  string
}

// startPostgres creates and starts a cluster and stops it when the test
// ends. Without PostgreSQL the test fails with the install command.
func startPostgres(t testing.TB) *postgres {
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
	p := &postgres{t: t, dir: filepath.Join(dir, "data"), port: ln.Addr().(*net.TCPAddr).Port, bin: bin}
	ln.Close()
	p.run("initdb", "-D", p.dir, "-U", "postgres", "--auth=trust", "--locale=C", "--encoding=UTF8")
	p.start()
	t.Cleanup(p.stop)
	return p
}

// run runs a PostgreSQL program, as the postgres user when this is root.
func (p *postgres) run(prog string, args ...string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, prog), args...)
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, prog)}, args...)...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", prog, err, out)
	}
}

func (p *postgres) start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.dir, "-w", "-l", filepath.Join(p.dir, "log"), "-o",
		fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off", p.port, p.dir), "start")
	db, err := sql.Open("pgx", p.dsn())
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

func (p *postgres) stop() { p.run("pg_ctl", "-D", p.dir, "-m", "immediate", "-w", "stop") }

func (p *postgres) dsn() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(p.port) + "/postgres?sslmode=disable"
}
