// Package jsonshape compares decoded JSON with the Go type it is meant for,
// before it is unmarshalled, so that every unknown member and every value
// of the wrong type is reported at once with its path (encoding/json stops
// at the first, ignores unknown members and matches names case-insensitively).
//
//	d := json.NewDecoder(r)
//	d.UseNumber()
//	var v any
//	d.Decode(&v)
//	for _, p := range jsonshape.Check(v, reflect.TypeFor[Config]()) {
//		fmt.Println(p.Path, p.Err) // providers.acme.scopes[1] want a string, got the number 1
//	}
package jsonshape

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Problem is one place where the JSON does not fit the type: Path is the
// dotted path of members and [i] indexes ("providers.acme.scopes[1]").
type Problem struct {
	Path string // where, e.g. "providers.acme.scopes[1]"
	Err  error  // what
}

// Check compares v, JSON decoded into any with UseNumber, with the Go type
// t: struct members by their json tag names, matched exactly (an unknown
// member names the field it probably meant), maps, slices, strings, bools
// and ints. Problems come in document order with object members sorted.
func Check(v any, t reflect.Type) []Problem {
	var out []Problem
	check(v, t, "", &out)
	return out
}

func check(v any, t reflect.Type, path string, out *[]Problem) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return // null leaves the zero value
	}
	fail := func(format string, args ...any) {
		*out = append(*out, Problem{Path: path, Err: fmt.Errorf(format, args...)})
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			fail("want an object, got %s", jsonKind(v))
			return
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(obj) {
			ft, ok := fields[k]
			if !ok {
				err := fmt.Errorf("unknown field %q", k)
				for name := range fields {
					if strings.EqualFold(name, k) || strings.EqualFold(name, k+"s") || strings.EqualFold(name+"s", k) ||
						strings.EqualFold(strings.ReplaceAll(name, "_", ""), strings.ReplaceAll(k, "_", "")) {
						err = fmt.Errorf("unknown field %q (did you mean %q?)", k, name)
					}
				}
				*out = append(*out, Problem{Path: join(path, k), Err: err})
				continue
			}
			check(obj[k], ft, join(path, k), out)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			fail("want an object, got %s", jsonKind(v))
			return
		}
		for _, k := range sortedKeys(obj) {
			check(obj[k], t.Elem(), join(path, k), out)
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			fail("want an array, got %s", jsonKind(v))
			return
		}
		for i, e := range arr {
			check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			fail("want a string, got %s", jsonKind(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			fail("want true or false, got %s", jsonKind(v))
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			fail("want an integer, got %s", jsonKind(v))
		}
	}
}

// jsonFields maps a struct's JSON member names to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + v.String()
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
