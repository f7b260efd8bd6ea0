package federation_test

import (
	"bytes"
	"os"
	"testing"
)

// TestREADMEMount keeps the README's quick-start code identical to mount in
// example_test.go, which Example runs against the test provider.
func TestREADMEMount(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := bytes.Cut(src, []byte("// mount:begin\n"))
	code, _, ok2 := bytes.Cut(rest, []byte("\n// mount:end\n"))
	if !ok1 || !ok2 {
		t.Fatal("example_test.go lost its mount:begin/mount:end markers")
	}
	if !bytes.Contains(readme, append(append([]byte("```go\n"), code...), "```"...)) {
		t.Fatalf("README.md does not show mount from example_test.go verbatim; paste it in a go block:\n%s", code)
	}
}
