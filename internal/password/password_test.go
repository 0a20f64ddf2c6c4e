package password

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// regexSyntax are the characters that make RestComm's script throw.
const regexSyntax = `()[*+?\`

func TestScoreSpecExamples(t *testing.T) {
	// RestComm's JavascriptPasswordValidationTest and AccountsEndpointTest.
	tests := []struct {
		password string
		score    int
		strong   bool
	}{
		{"1234", 4, false},
		{"asdf123", 37, false},
		{"asd123$#@", 68, true},
		{"γιωργος123#!@", 63, true},
		{"1234asdf!@#", 75, true},
		{"RestComm12", 70, true},
		{"Restcomm2", 54, true},
		{"RestComm", 36, false}, // the default admin password can never be set again
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.password, func(t *testing.T) {
			score, ok := Score(tt.password)
			assert.True(t, ok)
			assert.Equal(t, tt.score, score)
			assert.Equal(t, tt.strong, Strong(tt.password))
		})
	}
}

func TestRegexSyntaxCharactersAreRejected(t *testing.T) {
	for _, c := range regexSyntax {
		for _, p := range []string{"Abcdef12" + string(c) + "x", string(c), "1234asdf!@#" + string(c)} {
			t.Run(p, func(t *testing.T) {
				score, ok := Score(p)
				assert.False(t, ok, "a single %q makes the script throw", c)
				assert.Zero(t, score)
				assert.False(t, Strong(p))
			})
		}
	}
}

func TestRegexQuirksThatDoNotThrow(t *testing.T) {
	// Expected scores computed with RestComm's script under Node.js.
	tests := []struct {
		password string
		score    int
	}{
		{"1234asdf!@#{}]", 100}, // { } ] compile as literals
		{".", 10},               // '.' matches only itself here: not repeated
		{"a.", 6},               // '.' matches both characters: repeated 2, -10
		{"|", 0},                // empty alternation matches twice: repeated 2
		{"a|", 1},               // ... and three times here: repeated 3, -15
		{"^^", 20},              // '^' matches once: never repeated
		{"😀😀", 6},               // each UTF-16 surrogate repeats: repeated 4, n=4
		{"Ab1!.İ", 62},          // "ab1!.i̇": '.' matches 7 code units, n is 6
		{"Ab1!.\u212Akl", 74},   // Kelvin sign lower-cases to k: k repeated; 73.5 rounds up
		{"ΣΑΣ12!ab", 68},        // "σας12!ab": final sigma, so no repeat
		{"σασ12!ab", 66},        // σ repeated 2; 65.5 rounds up
	}
	for _, tt := range tests {
		t.Run(tt.password, func(t *testing.T) {
			score, ok := Score(tt.password)
			assert.True(t, ok)
			assert.Equal(t, tt.score, score)
		})
	}
}

// TestVectors replays scores computed by running RestComm's script under
// Node.js (testdata/vectors.tsv: JSON-encoded password, score, ok).
func TestVectors(t *testing.T) {
	f, err := os.Open("testdata/vectors.tsv")
	require.NoError(t, err)
	defer f.Close()

	sc := bufio.NewScanner(f)
	n := 0
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, "\t")
		require.Len(t, fields, 3, "line %d", line)
		var p string
		require.NoError(t, json.Unmarshal([]byte(fields[0]), &p), "line %d", line)
		want, err := strconv.Atoi(fields[1])
		require.NoError(t, err, "line %d", line)
		wantOK, err := strconv.ParseBool(fields[2])
		require.NoError(t, err, "line %d", line)

		score, ok := Score(p)
		assert.Equal(t, wantOK, ok, "line %d: %q", line, p)
		assert.Equal(t, want, score, "line %d: %q", line, p)
		assert.Equal(t, wantOK && want >= 50, Strong(p), "line %d: %q", line, p)
		n++
	}
	require.NoError(t, sc.Err())
	assert.Greater(t, n, 300)
}

func FuzzScore(f *testing.F) {
	for _, s := range []string{"", "1234asdf!@#", "γιωργος123#!@", "ΑΣ.Β", "İ.|", "😀😁", "a(b", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		score, ok := Score(p)
		if score < 0 || score > 100 {
			t.Fatalf("Score(%q) = %d, out of 0..100", p, score)
		}
		if throws := strings.ContainsAny(p, regexSyntax); ok == throws {
			t.Fatalf("Score(%q) ok = %v, want %v", p, ok, !throws)
		}
		if !ok && score != 0 {
			t.Fatalf("Score(%q) = %d with ok=false", p, score)
		}
		if Strong(p) != (ok && score >= 50) {
			t.Fatalf("Strong(%q) disagrees with Score", p)
		}
	})
}
