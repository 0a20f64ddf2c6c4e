package accountsapi

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/restcomm/restcomm-gateway/internal/javacompat"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
)

func TestSidShapes(t *testing.T) {
	t.Parallel()
	assert.True(t, sidShaped(fixture.SidOrg0))
	assert.False(t, sidShaped("blabla"))
	assert.False(t, sidShaped("ORafbe225ad37541eba518a74248f0ac4-"))
	assert.True(t, validSid("ID"+"0123456789abcdef0123456789abcdef"+"-CA"+"0123456789abcdef0123456789abcdef"))
	assert.False(t, sidShaped("ID"+"0123456789abcdef0123456789abcdef"+"-CA"+"0123456789abcdef0123456789abcdef"))
	assert.False(t, validSid("ID"+"0123456789abcdef0123456789abcdef"+"-CB"+"0123456789abcdef0123456789abcdef"))
	assert.Equal(t, 2, javacompat.Length("😀"))
	assert.Equal(t, 1, javacompat.Length("é"))
	assert.Equal(t, "x", javacompat.Trim("\x00 \tx\n\x1f"))
}

// ISO-8859-1, a charset besides UTF-8 a form may name, as Java decodes it.
var latin1CS, _ = javacompat.LookupCharset("ISO-8859-1")
