package redact

import (
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

// nasty are URLs whose passwords must never be printed, parsed or not.
var nasty = []struct {
	name, in, want string
	secret         string // "" when there is none to hide
}{
	{"colon, @ and slash in the password", "mysql://restcomm:p@ss:w/rd@db.example.com:3306/restcomm",
		"mysql://restcomm:xxxxx@db.example.com:3306/restcomm", "p@ss:w/rd"},
	{"redis user and password", "redis://user:secret@host", "redis://user:xxxxx@host", "secret"},
	{"redis password only", "redis://:s3cr3t@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0", "s3cr3t"},
	{"rediss", "rediss://default:t0p-secret@cache.example.com:6380", "rediss://default:xxxxx@cache.example.com:6380", "t0p-secret"},
	{"percent-encoded password", "mysql://restcomm:p%40ss%3Aw%2Frd@db/restcomm", "mysql://restcomm:xxxxx@db/restcomm", "p%40ss%3Aw%2Frd"},
	{"percent-encoded user kept", "mysql://us%40er:pw1@db/restcomm", "mysql://us%40er:xxxxx@db/restcomm", "pw1"},
	{"query and fragment characters in the password", "mysql://u:pa#ss?x@db/restcomm?tls=true",
		"mysql://u:xxxxx@db/restcomm?tls=true", "pa#ss?x"},
	{"scheme inside the password", "redis://u:a://b@h:6379", "redis://u:xxxxx@h:6379", "a://b"},
	{"space and newline in the password", "mysql://u:se cr\net@db/x", "mysql://u:xxxxx@db/x", "se cr\net"},
	{"socket parameter", "mysql://u:hunter2@localhost/restcomm?socket=/run/mysqld/mysqld.sock",
		"mysql://u:xxxxx@localhost/restcomm?socket=/run/mysqld/mysqld.sock", "hunter2"},
	{"no scheme", "restcomm:secret@db:3306/restcomm", "restcomm:xxxxx@db:3306/restcomm", "secret"},
	{"no scheme, colons in the password", "user:pa:ss@host", "user:xxxxx@host", "pa:ss"},
	{"bad scheme", "1db://u:hidden@h/x", "1db://u:xxxxx@h/x", "hidden"},
	{"no password", "redis://user@host:6379/0", "redis://user@host:6379/0", ""},
	{"empty password", "mysql://u:@db/x", "mysql://u:@db/x", ""},
	{"no userinfo", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", ""},
	{"a file", "/opt/restcomm/WEB-INF/data/hsql/restcomm.script", "/opt/restcomm/WEB-INF/data/hsql/restcomm.script", ""},
	{"empty", "", "", ""},
	{"garbage", "::::@@@", ":xxxxx@", ":::@@"},
	{"garbage with a scheme", "mysql://:@:@", "mysql://:xxxxx@", "@:"},
}

func TestURL(t *testing.T) {
	for _, c := range nasty {
		t.Run(c.name, func(t *testing.T) {
			got := URL(c.in)
			assert.Equal(t, c.want, got)
			if c.secret != "" {
				assert.NotContains(t, got, c.secret)
			}
		})
	}
}

// Parse's and Error's errors never hold the password, whatever the parser
// quoted; a URL without one keeps the parser's own message.
func TestParseErrors(t *testing.T) {
	for _, c := range nasty {
		t.Run(c.name, func(t *testing.T) {
			u, err := Parse(c.in)
			if err != nil {
				if c.secret != "" {
					assert.NotContains(t, err.Error(), c.secret)
					assert.Contains(t, err.Error(), c.want, "names the URL, redacted")
				}
				return
			}
			// what parses is read as URL reads it: the password it masks
			if p, ok := u.User.Password(); ok && p != "" {
				assert.NotContains(t, URL(c.in), p)
			}
		})
	}

	_, err := Parse("mysql://restcomm:p@ss:w/rd@db.example.com:3306/restcomm")
	assert.EqualError(t, err, "mysql://restcomm:xxxxx@db.example.com:3306/restcomm does not parse as a URL: "+
		"percent-encode the user's and password's special characters (@ as %40, : as %3A, / as %2F, ? as %3F, # as %23, % as %25)")
	// url.Parse reads this one as host "restcomm:12" and path "/ss@db/x"
	_, err = Parse("mysql://restcomm:12/ss@db/restcomm")
	assert.ErrorContains(t, err, "mysql://restcomm:xxxxx@db/restcomm does not parse")

	_, err = Parse("mysql://db:3306/rest%zzcomm")
	var ue *url.Error
	assert.True(t, errors.As(err, &ue), "no password: the parser's error as it is")
	assert.Nil(t, Error("x", nil))
}
