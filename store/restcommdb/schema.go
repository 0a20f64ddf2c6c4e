package restcommdb

// The two tables as RestComm's MariaDB/MySQL schema has them (8.2 and
// later), written for this project from the column list in
// RestComm's own schema (its MariaDB init script): the same names, types, widths and
// nullability, a primary key on sid, a unique domain name, and nothing else
// (RestComm declares no foreign keys and no other index). RestComm's
// database uses the latin1 character set; these statements take the
// database's default.
var Schema = []string{
	`CREATE TABLE restcomm_organizations (
		sid          VARCHAR(34)  NOT NULL,
		domain_name  VARCHAR(255) NOT NULL,
		date_created DATETIME     NOT NULL,
		date_updated DATETIME     NOT NULL,
		status       VARCHAR(16)  NOT NULL,
		PRIMARY KEY (sid),
		UNIQUE (domain_name)
	)`,
	`CREATE TABLE restcomm_accounts (
		sid              VARCHAR(34) NOT NULL,
		date_created     DATETIME    NOT NULL,
		date_updated     DATETIME    NOT NULL,
		email_address    MEDIUMTEXT  NOT NULL,
		friendly_name    VARCHAR(64) NOT NULL,
		parent_sid       VARCHAR(34),
		type             VARCHAR(8)  NOT NULL,
		status           VARCHAR(16) NOT NULL,
		auth_token       VARCHAR(32) NOT NULL,
		role             VARCHAR(64) NOT NULL,
		uri              MEDIUMTEXT  NOT NULL,
		organization_sid VARCHAR(34) NOT NULL,
		PRIMARY KEY (sid)
	)`,
}

// SchemaPre82 is the accounts table of RestComm before 8.2: no
// organization_sid column and no organizations table.
var SchemaPre82 = []string{
	`CREATE TABLE restcomm_accounts (
		sid           VARCHAR(34) NOT NULL,
		date_created  DATETIME    NOT NULL,
		date_updated  DATETIME    NOT NULL,
		email_address MEDIUMTEXT  NOT NULL,
		friendly_name VARCHAR(64) NOT NULL,
		parent_sid    VARCHAR(34),
		type          VARCHAR(8)  NOT NULL,
		status        VARCHAR(16) NOT NULL,
		auth_token    VARCHAR(32) NOT NULL,
		role          VARCHAR(64) NOT NULL,
		uri           MEDIUMTEXT  NOT NULL,
		PRIMARY KEY (sid)
	)`,
}
