package plan

import (
	"os"
	"reflect"
)

func osWriteFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }

// allFigures lists every Figure in c by reflection, so a new figure
// without a source fails the test.
func allFigures(c *Config) []Figure {
	var out []Figure
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		if f, ok := v.Interface().(Figure); ok {
			out = append(out, f)
			return
		}
		if v.Kind() == reflect.Struct {
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		}
	}
	walk(reflect.ValueOf(*c))
	return out
}
