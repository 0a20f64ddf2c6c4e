package collation_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
)

// Every pair of latin1 characters, and trailing characters, compared by a
// real MariaDB in a latin1 table without an explicit collation (as
// RestComm's own script makes it), must be equal exactly when their keys
// are.
func TestLatin1SwedishMatchesMariaDB(t *testing.T) {
	t.Parallel()
	srv := mariadbtest.Start(t)
	srv.Database(t, "coll")
	db := srv.DB(t, "coll")
	_, err := db.Exec("CREATE TABLE c (n INT NOT NULL PRIMARY KEY, s VARCHAR(8) NOT NULL)")
	require.NoError(t, err)
	var coll string
	require.NoError(t, db.QueryRow(`SELECT COLLATION_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = 'coll' AND TABLE_NAME = 'c' AND COLUMN_NAME = 's'`).Scan(&coll))
	rule, err := collation.FromMariaDB(coll)
	require.NoError(t, err)
	require.Equal(t, collation.Latin1SwedishCI, rule, "a latin1 database's default collation")

	// rows: every latin1 character alone (0 and the space are kept
	// apart: trailing ones are what PAD SPACE is about), then with
	// trailing spaces, tabs and no-break spaces
	var strs []string
	for b := 1; b < 256; b++ {
		if b != ' ' {
			strs = append(strs, string(collation.Latin1Rune(byte(b))))
		}
	}
	strs = append(strs, "a ", "a  ", "A\t", "a\u00a0", " a", "a", "", " ", "ab ", "AB")
	for i, s := range strs {
		_, err := db.Exec("INSERT INTO c VALUES (?, ?)", i, s)
		require.NoError(t, err, "%q", s)
	}
	rows, err := db.Query("SELECT x.n, y.n FROM c x JOIN c y ON x.s = y.s")
	require.NoError(t, err)
	defer rows.Close()
	equal := map[[2]int]bool{}
	for rows.Next() {
		var a, b int
		require.NoError(t, rows.Scan(&a, &b))
		equal[[2]int{a, b}] = true
	}
	require.NoError(t, rows.Err())
	mismatches := 0
	for i := range strs {
		for j := range strs {
			db, ours := equal[[2]int{i, j}], rule.Equal(strs[i], strs[j])
			if db != ours && mismatches < 20 {
				mismatches++
				t.Errorf("%q = %q: MariaDB %v, rule %v", strs[i], strs[j], db, ours)
			}
		}
	}
	// what the table holds is what the rule says it can hold
	for b := 0; b < 256; b++ {
		_, ok := collation.Latin1(string(collation.Latin1Rune(byte(b))))
		assert.True(t, ok, "byte %#x", b)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rule        collation.Rule
		a, b        string
		equal       bool
		description string
	}{
		{collation.Exact, "admin@acme.com", "ADMIN@ACME.COM", false, "HSQLDB keeps case"},
		{collation.Exact, "a@b.c ", "a@b.c", false, "HSQLDB keeps trailing spaces"},
		{collation.ExactPad, "a@b.c ", "a@b.c", true, "_bin ignores trailing spaces"},
		{collation.ExactPad, "A@b.c", "a@b.c", false, "_bin keeps case"},
		{collation.Latin1SwedishCI, "ADMIN@ACME.COM", "admin@acme.com", true, "case"},
		{collation.Latin1SwedishCI, "Grand.Child@Acme.com ", "grand.child@acme.com", true, "case and a trailing space"},
		{collation.Latin1SwedishCI, " a@b.c", "a@b.c", false, "leading spaces count"},
		{collation.Latin1SwedishCI, "a@b.c\t", "a@b.c", false, "a trailing tab counts"},
		{collation.Latin1SwedishCI, "josé@x.es", "JOSE@x.es", true, "é is E"},
		{collation.Latin1SwedishCI, "jürgen@x.de", "JYRGEN@x.de", true, "ü is Y in Swedish"},
		{collation.Latin1SwedishCI, "日本@x.jp", "日本@x.jp", true, "outside latin1, kept as is"},
		{collation.UnicodeCI, "ÅSA@x.se ", "åsa@x.se", true, "approximation: case and trailing spaces"},
	} {
		assert.Equal(t, tc.equal, tc.rule.Equal(tc.a, tc.b), "%s: %q = %q (%s)", tc.rule, tc.a, tc.b, tc.description)
	}
}

func TestSID(t *testing.T) {
	t.Parallel()
	const sid = "ACae6e420f425248d6a26948c17a9e2acf"
	for _, id := range []string{sid, "acae6e420f425248d6a26948c17a9e2acf", "ACAE6E420F425248D6A26948C17A9E2ACF", sid + "  ", "àcae6e420f425248d6a26948c17a9e2acf"} {
		assert.Equal(t, sid, collation.Latin1SwedishCI.SID(id), "%q", id)
	}
	assert.Equal(t, "ACAE6E420F425248D6A26948C17A9E2ACF", collation.Exact.SID("ACAE6E420F425248D6A26948C17A9E2ACF"))
	assert.Equal(t, sid, collation.ExactPad.SID(sid+" "))
	assert.Equal(t, "not-a-sid", collation.Latin1SwedishCI.SID("not-a-sid"), "only SID-shaped identifiers are made canonical")
}

func TestParse(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]collation.Rule{
		"exact": collation.Exact, "latin1_swedish_ci": collation.Latin1SwedishCI, "latin1_bin": collation.ExactPad,
		"utf8mb4_nopad_bin": collation.Exact, "binary": collation.Exact, "utf8mb4_general_ci": collation.UnicodeCI,
		"utf8mb4_0900_ai_ci": collation.UnicodeCINoPad, "utf8mb4_unicode_nopad_ci": collation.UnicodeCINoPad,
	} {
		got, err := collation.Parse(name)
		require.NoError(t, err, name)
		assert.Equal(t, want.Name(), got.Name(), name)
	}
	_, err := collation.Parse("klingon")
	assert.ErrorContains(t, err, "unknown")
	for _, r := range []collation.Rule{collation.Exact, collation.ExactPad, collation.Latin1SwedishCI, collation.UnicodeCI, collation.UnicodeCINoPad} {
		back, err := collation.Parse(r.Name())
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(r), fmt.Sprint(back))
	}
}

func TestLatin1(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]rune{"fraud 😀": '😀', "日本語": '日', "\xff": 0xFFFD} {
		c, ok := collation.Latin1(s)
		assert.False(t, ok, "%q", s)
		assert.Equal(t, want, c, "%q", s)
	}
	for _, s := range []string{"José Müller", "€ Š œ Ÿ", "plain"} {
		_, ok := collation.Latin1(s)
		assert.True(t, ok, "%q", s)
	}
}
