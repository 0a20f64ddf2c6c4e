package version

import (
	"regexp"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// semVer is the regular expression Semantic Versioning 2.0.0 gives.
var semVer = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

func TestVersionIsSemantic(t *testing.T) {
	assert.Regexp(t, semVer, Version)
	assert.Equal(t, Version, Get().Version)
}

func TestCommitFromBuildInfo(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	bi := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"},
	}}
	i := fromBuildInfo(bi, "1.2.3", "")
	assert.Equal(t, Info{Version: "1.2.3", Commit: rev, Modified: true}, i)
	assert.Equal(t, "restcomm-gateway 1.2.3 (commit "+rev+"+modified)", i.String())

	bi.Settings[2].Value = "false"
	assert.Equal(t, rev, fromBuildInfo(bi, "1.2.3", "").Revision())

	i = fromBuildInfo(bi, "1.2.3", "feedface")
	assert.Equal(t, "feedface", i.Revision(), "a commit set at build time stands")

	i = fromBuildInfo(&debug.BuildInfo{}, "1.2.3", "")
	assert.Equal(t, "restcomm-gateway 1.2.3 (commit unknown)", i.String(), "a test binary, go run")
	assert.Equal(t, "unknown", fromBuildInfo(nil, "1.2.3", "").Revision())
}
