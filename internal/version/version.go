// Package version is the gateway's own version, in one place: what the
// version and build-info commands print, the build_info metric exports and
// the namespace marker records.
package version

import (
	"runtime/debug"
	"sync"
)

// Version is the gateway's semantic version: the next
// release with "-dev" between releases. A release build may set it:
//
//	go build -ldflags "-X github.com/restcomm/restcomm-gateway/internal/version.Version=0.2.0" ./cmd/restcomm-gateway
//
// (a variable, not a constant, for -X).
var Version = "0.2.0-dev"

// Commit may be set the same way (…/internal/version.Commit=<revision>)
// where Go records no revision, as in an xcaddy build, whose main module
// is not this repository. Otherwise the commit is Go's build info's
// vcs.revision, which `go build` in a git checkout records.
var Commit = ""

// Info is the gateway's version as built.
type Info struct {
	Version string
	// Commit is the revision built from, "" when unknown; Modified says
	// that the work tree had uncommitted changes.
	Commit   string
	Modified bool
}

// Get returns the version as built.
func Get() Info { return get() }

var get = sync.OnceValue(func() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, Version, Commit)
})

// fromBuildInfo makes the Info of a build: commit, when set, stands for the
// build info's revision.
func fromBuildInfo(bi *debug.BuildInfo, version, commit string) Info {
	i := Info{Version: version, Commit: commit}
	if commit != "" || bi == nil {
		return i
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Commit = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// Revision is the commit as printed and exported: the revision,
// "+modified" when the work tree had changes, or "unknown".
func (i Info) Revision() string {
	switch {
	case i.Commit == "":
		return "unknown"
	case i.Modified:
		return i.Commit + "+modified"
	}
	return i.Commit
}

// String is the version line: "restcomm-gateway 0.2.0-dev (commit …)".
func (i Info) String() string {
	return "restcomm-gateway " + i.Version + " (commit " + i.Revision() + ")"
}
