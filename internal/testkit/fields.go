package testkit

import (
	"reflect"
	"slices"
)

// FieldDiff names the fields of the structs a and b (of one type) that
// differ, apart from skip. Functions are equal when they are the same
// function. Assembly tests use it to hold the sandbox to the
// configuration `serve` builds, field by field, so that a field added
// later is compared without changing the test.
func FieldDiff(a, b any, skip ...string) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var diffs []string
	for i := range va.NumField() {
		name := va.Type().Field(i).Name
		if slices.Contains(skip, name) {
			continue
		}
		fa, fb := va.Field(i), vb.Field(i)
		same := false
		if fa.Kind() == reflect.Func {
			same = fa.IsNil() == fb.IsNil() && fa.Pointer() == fb.Pointer()
		} else {
			same = reflect.DeepEqual(fa.Interface(), fb.Interface())
		}
		if !same {
			diffs = append(diffs, name)
		}
	}
	return diffs
}
