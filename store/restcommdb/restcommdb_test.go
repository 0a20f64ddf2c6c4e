package restcommdb

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/testkit/mariadbtest"
)

// A script as HSQLDB 2.3 writes it on shutdown (the schema, then one
// INSERT per row), with the cases its writer escapes.
const script = `SET DATABASE UNIQUE NAME HSQLDB5B2C6F1A2E
CREATE SCHEMA PUBLIC AUTHORIZATION DBA
CREATE MEMORY TABLE PUBLIC."restcomm_organizations"("sid" VARCHAR(34) NOT NULL PRIMARY KEY,"domain_name" VARCHAR(255) NOT NULL,"date_created" TIMESTAMP NOT NULL,"date_updated" TIMESTAMP NOT NULL,"status" VARCHAR(16),UNIQUE("domain_name"))
CREATE MEMORY TABLE PUBLIC."restcomm_accounts"("sid" VARCHAR(34) NOT NULL PRIMARY KEY,"date_created" TIMESTAMP NOT NULL,"date_updated" TIMESTAMP NOT NULL,"email_address" LONGVARCHAR NOT NULL,"friendly_name" VARCHAR(64) NOT NULL,"parent_sid" VARCHAR(34),"type" VARCHAR(8) NOT NULL,"status" VARCHAR(16) NOT NULL,"auth_token" VARCHAR(32) NOT NULL,"role" VARCHAR(64) NOT NULL,"uri" LONGVARCHAR NOT NULL,"organization_sid" VARCHAR(34) DEFAULT 'ORafbe225ad37541eba518a74248f0ac4c')
SET SCHEMA PUBLIC
INSERT INTO "restcomm_organizations" VALUES('ORafbe225ad37541eba518a74248f0ac4c','default.restcomm.com','2017-04-19 00:00:00.000000','2017-04-19 00:00:00.000000','active')
INSERT INTO "restcomm_accounts" VALUES('ACae6e420f425248d6a26948c17a9e2acf','2012-04-24 00:00:00.000000','2012-04-24 00:00:00.000000','administrator@company.com','Default Administrator Account',NULL,'Full','uninitialized','77f8c12cc7b8f8423e5c38b035249166','Administrator','/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf','ORafbe225ad37541eba518a74248f0ac4c')
INSERT INTO "restcomm_accounts" VALUES('AC00000000000000000000000000000001','2013-01-02 03:04:05.123456','2013-01-02 03:04:05','o''brien@example.com','It''s Ren\u00e9e \u65e5\u672c \ud83d\ude00 a\b c\u005cu0041 \u000aline','ACae6e420f425248d6a26948c17a9e2acf','Trial','active','0123456789abcdef0123456789abcdef','Developer','/2012-04-24/Accounts/AC00000000000000000000000000000001','ORafbe225ad37541eba518a74248f0ac4c')
CREATE PROCEDURE PUBLIC."cleanup"() MODIFIES SQL DATA BEGIN ATOMIC DELETE FROM PUBLIC."restcomm_accounts" WHERE "sid" IN (SELECT "sid" FROM TABLE (VALUES('x'))); END
`

func TestReadHSQLDB(t *testing.T) {
	src, err := ReadHSQLDB(strings.NewReader(script), "/var/restcomm/restcomm.script")
	require.NoError(t, err)
	assert.True(t, src.HasOrganizations)
	assert.Equal(t, collation.Exact, src.Collation, "HSQLDB's default compares exactly")
	assert.NoError(t, src.CollationErr)
	assert.Empty(t, src.Warnings)
	assert.Empty(t, src.Malformed)
	require.Len(t, src.Organizations, 1)
	assert.Equal(t, Organization{Sid: "ORafbe225ad37541eba518a74248f0ac4c", DomainName: "default.restcomm.com",
		DateCreated: "2017-04-19 00:00:00.000000", DateUpdated: "2017-04-19 00:00:00.000000", Status: "active",
		Where: "restcomm.script line 6"}, src.Organizations[0])
	require.Len(t, src.Accounts, 2)
	assert.Equal(t, "", src.Accounts[0].ParentSid, "NULL parent")
	assert.Empty(t, src.Accounts[0].Null)
	a := src.Accounts[1]
	assert.Equal(t, "o'brien@example.com", a.EmailAddress)
	assert.Equal(t, "It's Renée 日本 😀 a\\b c\\u0041 \nline", a.FriendlyName)
	assert.Equal(t, "2013-01-02 03:04:05.123456", a.DateCreated)
	assert.Equal(t, "ACae6e420f425248d6a26948c17a9e2acf", a.ParentSid)
	assert.Equal(t, "Trial", a.Type)
	assert.Equal(t, "ORafbe225ad37541eba518a74248f0ac4c", a.OrganizationSid)
	assert.Equal(t, "restcomm.script line 8", a.Where)
}

func TestReadHSQLDBPre82(t *testing.T) {
	// RestComm before 8.2: no organizations, no organization_sid
	const old = `CREATE MEMORY TABLE "restcomm_accounts"("sid" VARCHAR(34) NOT NULL PRIMARY KEY,"date_created" DATETIME NOT NULL,"date_updated" DATETIME NOT NULL,"email_address" LONGVARCHAR NOT NULL,"friendly_name" VARCHAR(64) NOT NULL,"parent_sid" VARCHAR(34),"type" VARCHAR(8) NOT NULL,"status" VARCHAR(16) NOT NULL,"auth_token" VARCHAR(32) NOT NULL,"role" VARCHAR(64) NOT NULL,"uri" LONGVARCHAR NOT NULL)
INSERT INTO "restcomm_accounts" VALUES('ACae6e420f425248d6a26948c17a9e2acf','2012-04-24 00:00:00.000000000','2012-04-24 00:00:00.000000000','administrator@company.com','Default Administrator Account',NULL,'Full','uninitialized','77f8c12cc7b8f8423e5c38b035249166','Administrator','/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf')
`
	src, err := ReadHSQLDB(strings.NewReader(old), "restcomm.script")
	require.NoError(t, err)
	assert.False(t, src.HasOrganizations)
	require.Len(t, src.Accounts, 1)
	assert.True(t, src.Accounts[0].NoOrganization)
	assert.Empty(t, src.Accounts[0].Null)
}

// A row of the two tables that does not parse is a malformed row, with
// what could be read of it; the rest of the script is read.
func TestReadHSQLDBMalformedRows(t *testing.T) {
	for _, tc := range []struct {
		line, kind, sid, email, detail string
	}{
		{`INSERT INTO "restcomm_accounts" VALUES('unterminated`, KindAccount, "", "", "unterminated string"},
		{`INSERT INTO "restcomm_accounts" VALUES('ACx','b')`, KindAccount, "ACx", "", "2 values for 12 columns"},
		{`INSERT INTO "restcomm_accounts" VALUES('ACy','2012-04-24 00:00:00','2012-04-24 00:00:00','y@example.com' 'b')`, KindAccount, "ACy", "y@example.com", "expected ','"},
		{`INSERT INTO "restcomm_organizations" VALUES('ORz','z.example.com'`, KindOrganization, "ORz", "", "expected ','"},
		{`INSERT INTO "restcomm_accounts VALUES('ACw')`, KindAccount, "", "", "unreadable INSERT"},
	} {
		src, err := ReadHSQLDB(strings.NewReader(script+tc.line+"\n"), "restcomm.script")
		require.NoError(t, err, tc.line)
		assert.Len(t, src.Accounts, 2, tc.line)
		require.Len(t, src.Malformed, 1, tc.line)
		m := src.Malformed[0]
		assert.Equal(t, tc.kind, m.Kind, tc.line)
		assert.Equal(t, "restcomm.script line 10", m.Where, tc.line)
		assert.Equal(t, tc.sid, m.Sid, tc.line)
		assert.Equal(t, tc.email, m.EmailAddress, tc.line)
		assert.Contains(t, m.Detail, tc.detail, tc.line)
		assert.Empty(t, src.Warnings, tc.line)
	}
	// the CREATE TABLE the import needs stays required
	_, err := ReadHSQLDB(strings.NewReader(`CREATE MEMORY TABLE PUBLIC."restcomm_accounts"("sid" VARCHAR(34)`+"\n"), "restcomm.script")
	assert.ErrorContains(t, err, "restcomm.script line 1: unterminated column list")
}

// A malformed line of a table the import does not read is a warning, not
// an error: RestComm's database holds many other tables.
func TestReadHSQLDBWarnsOfOtherTables(t *testing.T) {
	lines := []string{
		`INSERT INTO "restcomm_calls" VALUES('CA1','unterminated`,
		`CREATE MEMORY TABLE PUBLIC."restcomm_clients"("sid" VARCHAR(34)`,
		`INSERT INTO "unterminated VALUES('x')`,
	}
	src, err := ReadHSQLDB(strings.NewReader(script+strings.Join(lines, "\n")+"\n"), "restcomm.script")
	require.NoError(t, err)
	assert.Len(t, src.Accounts, 2)
	assert.Len(t, src.Organizations, 1)
	assert.Empty(t, src.Malformed)
	require.Len(t, src.Warnings, 3)
	assert.Contains(t, src.Warnings[0], `restcomm.script line 10: unreadable INSERT into "restcomm_calls", a table the import does not read`)
	assert.Contains(t, src.Warnings[1], "restcomm.script line 11: unreadable CREATE TABLE")
	assert.Contains(t, src.Warnings[2], "restcomm.script line 12: unreadable INSERT into a table the import does not read")
	for _, w := range src.Warnings {
		assert.NotContains(t, w, "CA1", "a warning does not echo the line")
	}
}

// A line longer than MaxLineLength is refused, naming the line and not
// echoing it, wherever it is and whatever it holds; one just within the
// bound is read.
func TestReadHSQLDBBoundsLines(t *testing.T) {
	long := `INSERT INTO "restcomm_calls" VALUES('` + strings.Repeat("s3cret", MaxLineLength/6) + `')`
	for name, text := range map[string]string{
		"unrelated table":    script + long + "\n",
		"last, no line end":  script + long,
		"an accounts row":    script + `INSERT INTO "restcomm_accounts" VALUES('` + strings.Repeat("x", MaxLineLength) + "')\n",
		"the very first one": long + "\n" + script,
	} {
		_, err := ReadHSQLDB(strings.NewReader(text), "restcomm.script")
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "longer than 1048576 bytes", name)
		assert.Regexp(t, `^restcomm\.script line (10|1):`, err.Error(), name)
		assert.NotContains(t, err.Error(), "s3cret", name)
		assert.Less(t, len(err.Error()), 200, name)
	}
	within := `INSERT INTO "restcomm_calls" VALUES('` + strings.Repeat("x", MaxLineLength-40) + "')"
	src, err := ReadHSQLDB(strings.NewReader(script+within+"\r\n"), "restcomm.script")
	require.NoError(t, err)
	assert.Len(t, src.Accounts, 2)
}

func TestReadLine(t *testing.T) {
	exact := strings.Repeat("a", MaxLineLength)
	br := bufio.NewReaderSize(strings.NewReader("one\r\n"+exact+"\r\n\nlast"), 16)
	for _, want := range []string{"one", exact, "", "last"} {
		got, err := readLine(br)
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
	_, err := readLine(br)
	assert.ErrorIs(t, err, io.EOF)
	_, err = readLine(bufio.NewReader(strings.NewReader(exact + "a\n")))
	assert.ErrorIs(t, err, errLineTooLong)
}

// The rule of an HSQLDB script is its SET DATABASE COLLATION's, if any.
func TestReadHSQLDBCollation(t *testing.T) {
	for line, want := range map[string]collation.Rule{
		"SET DATABASE COLLATION SQL_TEXT PAD SPACE":      collation.ExactPad,
		`SET DATABASE COLLATION "SQL_TEXT" PAD SPACE`:    collation.ExactPad,
		"SET DATABASE COLLATION SQL_TEXT NO PAD":         collation.Exact,
		"SET DATABASE COLLATION SQL_TEXT":                collation.Exact,
		"SET DATABASE COLLATION SQL_TEXT_UCC PAD SPACE":  collation.UnicodeCI,
		"set database collation sql_text  pad  space":    collation.ExactPad,
		"SET DATABASE DEFAULT ISOLATION LEVEL READ COMM": collation.Exact,
	} {
		src, err := ReadHSQLDB(strings.NewReader(line+"\n"+script), "restcomm.script")
		require.NoError(t, err, line)
		assert.Equal(t, want, src.Collation, line)
		assert.NoError(t, src.CollationErr, line)
		if strings.Contains(strings.ToUpper(line), "COLLATION") {
			assert.Contains(t, src.CollationFrom, "restcomm.script line 1: SET DATABASE COLLATION", line)
		}
	}
	for _, line := range []string{
		`SET DATABASE COLLATION "French" STRENGTH PRIMARY PAD SPACE`,
		"SET DATABASE COLLATION SQL_TEXT_UCC NO PAD",
	} {
		src, err := ReadHSQLDB(strings.NewReader(line+"\n"+script), "restcomm.script")
		require.NoError(t, err, "the import decides: --collation may name the rule")
		assert.ErrorContains(t, src.CollationErr, "has no rule here: name one with --collation", line)
	}
}

func TestReadJSONLCollation(t *testing.T) {
	const acct = `{"kind":"account","sid":"AC00000000000000000000000000000001"}` + "\n"
	const rsv = `{"kind":"reservation","sid":"ACshort","email_address":"x@example.com","reason":"malformed SID"}` + "\n"
	src, err := ReadJSONL(strings.NewReader(`{"kind":"export","format":1,"collation":"latin1_swedish_ci"}`+"\n"+acct+rsv), "b.jsonl")
	require.NoError(t, err)
	assert.Equal(t, collation.Latin1SwedishCI, src.Collation)
	assert.Equal(t, []Reservation{{Sid: "ACshort", EmailAddress: "x@example.com", Reason: "malformed SID", Where: "b.jsonl line 3"}}, src.Reservations)
	for _, old := range []string{`{"kind":"export","format":1}` + "\n" + acct, acct} {
		src, err = ReadJSONL(strings.NewReader(old), "b.jsonl")
		require.NoError(t, err)
		assert.Equal(t, collation.Exact, src.Collation, "an export from before the rule reads as exact")
		assert.Len(t, src.Accounts, 1)
	}
	_, err = ReadJSONL(strings.NewReader(`{"kind":"export","format":1,"collation":"klingon"}`+"\n"), "b.jsonl")
	assert.ErrorContains(t, err, "b.jsonl line 1")
	_, err = ReadJSONL(strings.NewReader(acct+`{"kind":"account","sid":"`+strings.Repeat("x", MaxLineLength)+`"}`), "b.jsonl")
	assert.ErrorContains(t, err, "b.jsonl line 2: line longer than")
}

func TestDecodeScriptLine(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:                 `plain`,
		`\u00e9t\u00e9`:         "été",
		`\ud83d\ude00!`:         "😀!",
		`\ud83d!!!!!`:           "\uFFFD!!!!!", // a lone surrogate
		`a\u005cu0041`:          `a\u0041`,
		`\u004`:                 `\u004`, // too short: literal
		"caf\xe9":               "café",  // ISO-8859-1 bytes
		`\uzzzz\u0041`:          `\uzzzzA`,
		`x\u0041)`:              "xA)",
		`back\slash \\ \u0041)`: `back\slash \\ A)`,
	} {
		assert.Equal(t, want, decodeScriptLine(in), in)
	}
}

func TestReadMySQL(t *testing.T) {
	srv := mariadbtest.Start(t)
	url := srv.Database(t, "restcomm")
	db := srv.DB(t, "restcomm")
	for _, stmt := range Schema {
		_, err := db.Exec(stmt)
		require.NoError(t, err)
	}
	_, err := db.Exec(`INSERT INTO restcomm_organizations VALUES ('ORafbe225ad37541eba518a74248f0ac4c','default.restcomm.com','2017-04-19 00:00:00','2017-04-19 00:00:00','active')`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO restcomm_accounts VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		"AC00000000000000000000000000000001", "2013-01-02 03:04:05", "2013-01-02 03:04:06", "o'brien@example.com",
		"It's Renée", nil, "Full", "active", "0123456789abcdef0123456789abcdef", "Developer", "/uri", "ORafbe225ad37541eba518a74248f0ac4c")
	require.NoError(t, err)

	src, err := ReadMySQL(context.Background(), url)
	require.NoError(t, err)
	assert.NotContains(t, src.Name, "pw", "no password in reports")
	assert.True(t, src.HasOrganizations)
	assert.Equal(t, collation.Latin1SwedishCI, src.Collation, "RestComm's tables in a latin1 database")
	assert.Equal(t, "restcomm_accounts.email_address collation latin1_swedish_ci", src.CollationFrom)
	assert.NoError(t, src.CollationErr)
	assert.Empty(t, src.Warnings)
	require.Len(t, src.Organizations, 1)
	require.Len(t, src.Accounts, 1)
	a := src.Accounts[0]
	assert.Equal(t, "It's Renée", a.FriendlyName)
	assert.Equal(t, "o'brien@example.com", a.EmailAddress)
	assert.Equal(t, "2013-01-02 03:04:05", a.DateCreated)
	assert.Equal(t, "", a.ParentSid)
	assert.Empty(t, a.Null)
	assert.Equal(t, `restcomm_accounts row sid="AC00000000000000000000000000000001"`, a.Where)

	// the columns' own collations decide, whatever the database's
	for _, tc := range []struct {
		alter   string
		want    collation.Rule
		warning bool
	}{
		{"MODIFY email_address MEDIUMTEXT CHARACTER SET latin1 COLLATE latin1_bin NOT NULL", collation.ExactPad, true},
		{"MODIFY sid VARCHAR(34) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL", collation.ExactPad, false},
		{"MODIFY email_address MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, " +
			"MODIFY sid VARCHAR(34) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL", collation.UnicodeCI, false},
	} {
		_, err = db.Exec("ALTER TABLE restcomm_accounts " + tc.alter)
		require.NoError(t, err, tc.alter)
		src, err = ReadMySQL(context.Background(), url)
		require.NoError(t, err, tc.alter)
		assert.Equal(t, tc.want, src.Collation, tc.alter)
		assert.Equal(t, tc.warning, len(src.Warnings) > 0, "%s: %v", tc.alter, src.Warnings)
	}
	assert.True(t, src.Collation.Approximate(), "utf8mb4_general_ci has no table here")

	// before 8.2
	_, err = db.Exec(`DROP TABLE restcomm_organizations`)
	require.NoError(t, err)
	_, err = db.Exec(`ALTER TABLE restcomm_accounts DROP COLUMN organization_sid`)
	require.NoError(t, err)
	src, err = ReadMySQL(context.Background(), url)
	require.NoError(t, err)
	assert.False(t, src.HasOrganizations)
	require.Len(t, src.Accounts, 1)
	assert.True(t, src.Accounts[0].NoOrganization)
}
