package ui

import (
	"runtime/debug"
	"strings"
)

// Version is the module version and VCS commit the binary was built
// from, as the Go toolchain recorded them.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			v += " (commit " + s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			v += ", modified"
		}
	}
	if strings.Contains(v, "(commit") {
		v += ")"
	}
	return v
}
