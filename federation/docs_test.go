package federation_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/federation"
)

// docs are the Markdown files whose code blocks the tests below check.
func docs(t *testing.T) map[string]string {
	t.Helper()
	files := []string{"../README.md"}
	for _, pattern := range []string{"../docs/*.md", "../docs/providers/*.md"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(f, "../")] = string(b)
	}
	return out
}

// blocks returns the fenced code blocks of lang in md.
func blocks(md, lang string) []string {
	var out []string
	for _, part := range strings.Split(md, "```"+lang+"\n")[1:] {
		code, _, _ := strings.Cut(part, "```")
		out = append(out, code)
	}
	return out
}

// dedent removes the leading tabs that every non-empty line of s shares.
func dedent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if common < 0 || n < common {
			common = n
		}
	}
	for i, l := range lines {
		if len(l) >= common && common > 0 {
			lines[i] = l[common:]
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

var marker = regexp.MustCompile(`(?m)^\t*// ([a-zA-Z]+):begin\n`)

// compiled returns the marked regions (// name:begin … // name:end) of
// this package's test files and the otel module's (compiled by its own
// tests): code the compiler checks.
func compiled(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob("*_test.go")
	otel, _ := filepath.Glob("../otel/*_test.go")
	files = append(files, otel...)
	out := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range marker.FindAllSubmatchIndex(src, -1) {
			name := string(src[m[2]:m[3]])
			rest := src[m[1]:]
			end := regexp.MustCompile(`(?m)^\t*// ` + name + `:end\n`).FindIndex(rest)
			if end == nil {
				t.Fatalf("%s: %s:begin without %s:end", f, name, name)
			}
			code := strings.TrimRight(string(rest[:end[0]]), "\n") + "\n"
			out[f+":"+name] = dedent(code)
		}
	}
	return out
}

// TestDocsCode: every Go block in README.md and docs/ is, verbatim, a
// marked region of a test file of this package, so that it compiles (and
// mostly runs) as shown. Paste a changed snippet into its region.
func TestDocsCode(t *testing.T) {
	regions := compiled(t)
	var have []string
	for _, code := range regions {
		have = append(have, code)
	}
	n := 0
	for file, md := range docs(t) {
		for _, b := range blocks(md, "go") {
			n++
			if !slices.Contains(have, dedent(b)) {
				t.Errorf("%s: this Go block is not a marked region of a federation test file, so nothing compiles it:\n%s", file, b)
			}
		}
	}
	if n < 10 {
		t.Fatalf("found %d Go blocks in README.md and docs/, want the 10 or more they have", n)
	}
}

// TestDocsConfig: every JSON block in docs/ that is a config (its
// "providers" is an object) loads with LoadConfig, the "…" placeholders
// filled in.
func TestDocsConfig(t *testing.T) {
	n := 0
	for file, md := range docs(t) {
		for _, b := range blocks(md, "json") {
			if !configBlock.MatchString(b) {
				continue
			}
			n++
			filled := strings.ReplaceAll(b, `"…"`, `"placeholder"`)
			if _, err := federation.LoadConfig(bytes.NewReader([]byte(filled))); err != nil {
				t.Errorf("%s: a config block does not load: %v\n%s", file, err, b)
			}
		}
	}
	if n < 12 {
		t.Fatalf("found %d config blocks in docs/, want the 12 or more they have", n)
	}
}

var configBlock = regexp.MustCompile(`"providers"\s*:\s*\{`)

// TestDocsNameRealTests: every test named in docs/security.md exists, in
// the file named just before it when one is.
func TestDocsNameRealTests(t *testing.T) {
	md := docs(t)["docs/security.md"]
	sources := map[string]string{}
	filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, "_test.go") {
			b, _ := os.ReadFile(path)
			sources[strings.TrimPrefix(path, "../")] = string(b)
		}
		return nil
	})
	ref := regexp.MustCompile("`((?:[a-z]+/)+[a-z_]+_test\\.go)`|`((?:Test|Fuzz)[A-Za-z0-9_]+)`(\\s+\\(`((?:[a-z]+/)+[a-z_]+_test\\.go)`)?")
	names := 0
	// A test's file is the one in parentheses right after it, else the
	// last one named before it in the same paragraph or list item.
	for _, unit := range regexp.MustCompile(`\n\n|\n- `).Split(md, -1) {
		file := ""
		for _, m := range ref.FindAllStringSubmatch(unit, -1) {
			for _, f := range []string{m[1], m[4]} {
				if _, ok := sources[f]; f != "" && !ok {
					t.Errorf("docs/security.md names %s, which does not exist", f)
				}
			}
			if m[1] != "" {
				file = m[1]
				continue
			}
			names++
			want := file
			if m[4] != "" {
				want = m[4]
			}
			decl := "func " + m[2] + "("
			if want != "" && strings.Contains(sources[want], decl) {
				continue
			}
			found := ""
			for f, src := range sources {
				if strings.Contains(src, decl) {
					found = f
				}
			}
			switch {
			case found == "":
				t.Errorf("docs/security.md names %s, which no test file declares", m[2])
			case want != "":
				t.Errorf("docs/security.md puts %s in %s; it is in %s", m[2], want, found)
			}
		}
	}
	if names < 40 {
		t.Fatalf("found %d test names in docs/security.md, want the 40 or more it has", names)
	}
}

// TestDocsConformance: every test docs/conformance.md names exists in a
// test file of the repository, and every quoted case after a test name is
// one of that test's cases, so the table cannot name what is gone.
func TestDocsConformance(t *testing.T) {
	md := docs(t)["docs/conformance.md"]
	sources := map[string]string{}
	filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, "_test.go") && !strings.Contains(path, "node_modules") {
			b, _ := os.ReadFile(path)
			sources[path] = string(b)
		}
		return nil
	})
	ref := regexp.MustCompile("`(Test[A-Za-z0-9_]+)`(?: \"([^\"]+)\")?")
	n := 0
	declared := func(s string) bool {
		for _, src := range sources {
			if strings.Contains(src, s) {
				return true
			}
		}
		return false
	}
	for _, m := range ref.FindAllStringSubmatch(md, -1) {
		n++
		// The case is the test's own, or for TestConformance a module a
		// rule table names.
		found := false
		for _, src := range sources {
			if strings.Contains(src, "func "+m[1]+"(") && (m[2] == "" || strings.Contains(src, `"`+m[2]+`"`) ||
				m[1] == "TestConformance" && declared(`"`+m[2]+`"`)) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("docs/conformance.md names %s %q, which no test file declares", m[1], m[2])
		}
	}
	if n < 40 {
		t.Fatalf("found %d test references in docs/conformance.md, want the 40 or more it has", n)
	}
}
