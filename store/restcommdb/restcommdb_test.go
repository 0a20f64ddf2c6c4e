package restcommdb

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/mariadbtest"
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
	assert.False(t, src.EmailsFoldCase, "HSQLDB compares e-mail addresses exactly")
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

func TestReadHSQLDBRefusesBrokenLines(t *testing.T) {
	for _, line := range []string{
		`INSERT INTO "restcomm_accounts" VALUES('unterminated`,
		`INSERT INTO "restcomm_accounts" VALUES('a','b')`,
		`INSERT INTO "restcomm_accounts" VALUES('a' 'b')`,
	} {
		_, err := ReadHSQLDB(strings.NewReader(script+line+"\n"), "restcomm.script")
		assert.ErrorContains(t, err, "restcomm.script line 10", line)
	}
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
	assert.True(t, src.EmailsFoldCase)
	require.Len(t, src.Organizations, 1)
	require.Len(t, src.Accounts, 1)
	a := src.Accounts[0]
	assert.Equal(t, "It's Renée", a.FriendlyName)
	assert.Equal(t, "o'brien@example.com", a.EmailAddress)
	assert.Equal(t, "2013-01-02 03:04:05", a.DateCreated)
	assert.Equal(t, "", a.ParentSid)
	assert.Empty(t, a.Null)
	assert.Equal(t, `restcomm_accounts row sid="AC00000000000000000000000000000001"`, a.Where)

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
