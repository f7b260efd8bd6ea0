package federation_test

import (
	"bytes"
	"os"
	"testing"
)

// TestREADMECode keeps the README's code blocks identical to the marked
// functions of example_test.go, which the Examples run against the test
// provider: mount (sign-in), demoProvider (the provider to try it with) and
// protect (bearer tokens).
func TestREADMECode(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mount", "demoProvider", "protect"} {
		_, rest, ok1 := bytes.Cut(src, []byte("// "+name+":begin\n"))
		code, _, ok2 := bytes.Cut(rest, []byte("\n// "+name+":end\n"))
		if !ok1 || !ok2 {
			t.Fatalf("example_test.go lost its %s:begin/%[1]s:end markers", name)
		}
		if !bytes.Contains(readme, append(append([]byte("```go\n"), code...), "```"...)) {
			t.Errorf("README.md does not show %s from example_test.go verbatim; paste it in a go block:\n%s", name, code)
		}
	}
}
