package jsonshape

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

type inner struct {
	Name  string   `json:"name"`
	Tags  []string `json:"tags,omitempty"`
	Count int      `json:"count"`
	On    bool     `json:"on"`
}

type outer struct {
	Items  map[string]inner `json:"items"`
	Hidden string           `json:"-"`
	Plain  string
}

func decode(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheck(t *testing.T) {
	v := decode(t, `{"items": {"b": {"name": 1, "tags": ["x", 2], "count": 1.5, "on": "yes"},
		"a": {"Name": "n", "tag": []}}, "Hidden": "h", "Plain": "p", "extra": null}`)
	var got []string
	for _, p := range Check(v, reflect.TypeFor[outer]()) {
		got = append(got, p.Path+": "+p.Err.Error())
	}
	want := []string{
		`Hidden: unknown field "Hidden"`,
		`extra: unknown field "extra"`,
		`items.a.Name: unknown field "Name" (did you mean "name"?)`,
		`items.a.tag: unknown field "tag" (did you mean "tags"?)`,
		`items.b.count: want an integer, got the number 1.5`,
		`items.b.name: want a string, got the number 1`,
		`items.b.on: want true or false, got a string`,
		`items.b.tags[1]: want a string, got the number 2`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := Check(decode(t, `{"items": {"a": {"name": "n", "count": 2, "on": true}}, "Plain": null}`), reflect.TypeFor[outer]()); len(p) != 0 {
		t.Fatalf("a fitting document: %v", p)
	}
	if p := Check(decode(t, `[1]`), reflect.TypeFor[outer]()); len(p) != 1 || p[0].Path != "" || p[0].Err.Error() != "want an object, got an array" {
		t.Fatalf("an array for a struct: %v", p)
	}
}
