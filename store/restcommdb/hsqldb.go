package restcommdb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/restcomm/restcomm-gateway/internal/collation"
)

// ReadHSQLDB reads the two tables from a restcomm.script, the file in
// which RestComm's embedded HSQLDB (2.3) keeps its MEMORY tables: the
// schema as CREATE statements, then one INSERT INTO line per row. It reads
// the file the way HSQLDB's own script reader does:
//
//   - the file is ISO-8859-1, one statement per line (HSQLDB writes every
//     character outside 0x20–0x7F, line breaks included, as an escape);
//   - in a whole line, a backslash, 'u' and four hex digits is one UTF-16
//     code unit, decoded before the statement is parsed (HSQLDB writes a
//     backslash that precedes 'u' as \u005c); other backslashes are
//     literal; surrogate pairs make one character;
//   - string values are SQL literals in single quotes, a quote inside
//     doubled; NULL for null.
//
// The columns are taken from the table's CREATE statement in the file, so
// that RestComm releases without organization_sid (before 8.2), without
// the organizations table or without its status column read as they are.
// A row of the two tables that does not parse is a Malformed row; a line
// of another table that does not parse is a warning (the import does not
// read those tables); a line longer than MaxLineLength is an error.
// name names the file in reports.
func ReadHSQLDB(r io.Reader, name string) (*Source, error) {
	src := &Source{Name: name, Dates: DatesLocal, Collation: collation.Exact,
		CollationFrom: "HSQLDB's default collation (the script sets none): exact"}
	base := filepath.Base(name)
	columns := map[string][]string{}
	br := bufio.NewReaderSize(r, 1<<16)
	sawOrgInsert := false
	for lineNo := 1; ; lineNo++ {
		where := fmt.Sprintf("%s line %d", base, lineNo)
		raw, err := readLine(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errorf(where, "%v", err)
		}
		line := decodeScriptLine(string(raw))
		switch {
		case setCollation.MatchString(line):
			setHSQLDBCollation(src, line, where)
		case createTable.MatchString(line):
			table, cols, err := parseCreateTable(line)
			if err != nil {
				if !strings.Contains(line, AccountsTable) && !strings.Contains(line, OrganizationsTable) {
					src.Warnings = append(src.Warnings, fmt.Sprintf("%s: unreadable CREATE TABLE of a table the import does not read (%v): skipped", where, err))
					continue
				}
				return nil, errorf(where, "%v", err)
			}
			if table == AccountsTable || table == OrganizationsTable {
				columns[table] = cols
			}
			if table == OrganizationsTable {
				src.HasOrganizations = true
			}
		case strings.HasPrefix(line, "INSERT INTO "):
			table, values, err := parseInsert(line)
			if table == "" && err != nil {
				// the table's name itself is unreadable: the row is ours
				// if the line names one of the two tables
				switch {
				case strings.Contains(line, AccountsTable):
					table = AccountsTable
				case strings.Contains(line, OrganizationsTable):
					table = OrganizationsTable
				}
			}
			var cols []string
			switch table {
			case AccountsTable:
				if cols = columns[table]; cols == nil {
					cols = defaultAccountColumns(len(values))
				}
			case OrganizationsTable:
				sawOrgInsert = true
				if cols = columns[table]; cols == nil {
					cols = OrganizationColumns[:min(len(values), len(OrganizationColumns))]
				}
			default:
				if err != nil {
					what := "a table the import does not read"
					if table != "" {
						what = fmt.Sprintf("%q, a table the import does not read", table)
					}
					src.Warnings = append(src.Warnings, fmt.Sprintf("%s: unreadable INSERT into %s (%v): skipped", where, what, err))
				}
				continue
			}
			if err == nil {
				var row map[string]value
				if row, err = rowOf(cols, values); err == nil {
					if table == AccountsTable {
						src.Accounts = append(src.Accounts, accountOf(row, where))
					} else {
						src.Organizations = append(src.Organizations, organizationOf(row, where))
					}
					continue
				}
			}
			// what could be read of the row, by position, so that its SID
			// and e-mail address stay reserved
			m := Malformed{Kind: KindAccount, Where: where, Detail: err.Error()}
			if table == OrganizationsTable {
				m.Kind = KindOrganization
			}
			for i, v := range values[:min(len(values), len(cols))] {
				switch cols[i] {
				case "sid":
					m.Sid = v.s
				case "email_address":
					m.EmailAddress = v.s
				}
			}
			src.Malformed = append(src.Malformed, m)
		}
	}
	if sawOrgInsert {
		src.HasOrganizations = true
	}
	if columns[AccountsTable] == nil && len(src.Accounts) == 0 && !slices.ContainsFunc(src.Malformed,
		func(m Malformed) bool { return m.Kind == KindAccount }) {
		return nil, fmt.Errorf("%s: no %s table: not a RestComm HSQLDB script", name, AccountsTable)
	}
	return src, nil
}

// setCollation matches HSQLDB's SET DATABASE COLLATION statement, which
// its script writer keeps when a database's collation was set.
var setCollation = regexp.MustCompile(`(?i)^SET DATABASE COLLATION\s+("(?:[^"]|"")+"|\S+)(.*)$`)

// setHSQLDBCollation sets src's rule from a SET DATABASE COLLATION line:
// SQL_TEXT (HSQLDB's default) compares exactly, ignoring trailing spaces
// only with PAD SPACE; SQL_TEXT_UCC compares upper-cased. Other
// collations (a language's, with a strength) have no rule here.
func setHSQLDBCollation(src *Source, line, where string) {
	m := setCollation.FindStringSubmatch(line)
	name := strings.ToUpper(strings.ReplaceAll(strings.Trim(m[1], `"`), `""`, `"`))
	rest := strings.Join(strings.Fields(strings.ToUpper(m[2])), " ")
	pad := rest == "PAD SPACE"
	if !pad && rest != "NO PAD" && rest != "" {
		name += " " + rest // a STRENGTH or another clause: not a plain collation
	}
	src.CollationFrom = fmt.Sprintf("%s: SET DATABASE COLLATION %s", where, strings.TrimSpace(m[1]+" "+rest))
	src.CollationErr = nil
	switch {
	case name == "SQL_TEXT" && pad:
		src.Collation = collation.ExactPad
	case name == "SQL_TEXT":
		src.Collation = collation.Exact
	case name == "SQL_TEXT_UCC" && pad:
		src.Collation = collation.UnicodeCI
	default:
		src.Collation = collation.Exact
		src.CollationErr = fmt.Errorf("%s: HSQLDB collation %s %s has no rule here: name one with --collation (%s)",
			where, m[1], rest, strings.Join(collation.Names, ", "))
	}
}

// createTable matches the start of a CREATE TABLE statement, not a
// CREATE PROCEDURE (or other) that mentions a table.
var createTable = regexp.MustCompile(`^CREATE (?:(?:MEMORY|CACHED|TEXT|TEMP|TEMPORARY|GLOBAL|LOCAL) )*TABLE `)

// defaultAccountColumns: RestComm's column order, without
// organization_sid for a row of 11 values (before 8.2).
func defaultAccountColumns(n int) []string {
	if n == len(AccountColumns)-1 {
		return AccountColumns[:n]
	}
	return AccountColumns
}

// value is one SQL value of an INSERT: a string, or NULL.
type value struct {
	s    string
	null bool
}

func rowOf(cols []string, values []value) (map[string]value, error) {
	if len(cols) != len(values) {
		return nil, fmt.Errorf("%d values for %d columns", len(values), len(cols))
	}
	row := make(map[string]value, len(cols))
	for i, c := range cols {
		row[c] = values[i]
	}
	return row, nil
}

// accountOf builds an Account from a row keyed by column name; a column
// the row does not have is missing from the source's schema.
func accountOf(row map[string]value, where string) Account {
	a := Account{Where: where}
	get := func(col string) string {
		v, ok := row[col]
		if ok && v.null {
			a.Null = append(a.Null, col)
		}
		return v.s
	}
	a.Sid = get("sid")
	a.DateCreated = get("date_created")
	a.DateUpdated = get("date_updated")
	a.EmailAddress = get("email_address")
	a.FriendlyName = get("friendly_name")
	a.ParentSid = row["parent_sid"].s // NULL: no parent
	a.Type = get("type")
	a.Status = get("status")
	a.AuthToken = get("auth_token")
	a.Role = get("role")
	a.URI = get("uri")
	if _, ok := row["organization_sid"]; ok {
		a.OrganizationSid = get("organization_sid")
	} else {
		a.NoOrganization = true
	}
	return a
}

func organizationOf(row map[string]value, where string) Organization {
	o := Organization{Where: where}
	get := func(col string) string {
		v, ok := row[col]
		if ok && v.null {
			o.Null = append(o.Null, col)
		}
		return v.s
	}
	o.Sid = get("sid")
	o.DomainName = get("domain_name")
	o.DateCreated = get("date_created")
	o.DateUpdated = get("date_updated")
	if _, ok := row["status"]; ok {
		o.Status = get("status")
	} else {
		o.NoStatus = true
	}
	return o
}

// decodeScriptLine is HSQLDB's reading of one script line: ISO-8859-1
// bytes, then StringConverter.unicodeStringToString (a backslash followed
// by 'u' with at least five characters after the backslash is one UTF-16
// code unit from the next four hex digits), then UTF-16 to a Go string
// (a lone surrogate becomes U+FFFD).
func decodeScriptLine(line string) string {
	ascii := true
	for i := 0; i < len(line); i++ {
		if line[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii && !strings.Contains(line, `\u`) {
		return line
	}
	units := make([]uint16, 0, len(line))
	n := len(line)
	for i := 0; i < n; i++ {
		c := line[i]
		if c == '\\' && i < n-5 && line[i+1] == 'u' {
			if u, ok := hex4(line[i+2 : i+6]); ok {
				units = append(units, u)
				i += 5
				continue
			}
		}
		units = append(units, uint16(c)) // ISO-8859-1: byte = code point
	}
	return string(utf16.Decode(units))
}

func hex4(s string) (uint16, bool) {
	var v uint16
	for i := 0; i < 4; i++ {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(d)
	}
	return v, true
}

// scanner walks one decoded statement.
type scanner struct {
	s string
	i int
}

func (p *scanner) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *scanner) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *scanner) word(w string) bool {
	p.space()
	if len(p.s)-p.i >= len(w) && strings.EqualFold(p.s[p.i:p.i+len(w)], w) {
		end := p.i + len(w)
		if end == len(p.s) || !identChar(p.s[end]) {
			p.i = end
			return true
		}
	}
	return false
}

func identChar(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// ident reads a quoted ("" escapes a quote) or unquoted identifier;
// unquoted identifiers are upper-cased, as SQL folds them.
func (p *scanner) ident() (string, bool) {
	p.space()
	if p.i >= len(p.s) {
		return "", false
	}
	if p.s[p.i] == '"' {
		var b strings.Builder
		for j := p.i + 1; j < len(p.s); j++ {
			if p.s[j] == '"' {
				if j+1 < len(p.s) && p.s[j+1] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				p.i = j + 1
				return b.String(), true
			}
			b.WriteByte(p.s[j])
		}
		return "", false
	}
	j := p.i
	for j < len(p.s) && identChar(p.s[j]) {
		j++
	}
	if j == p.i {
		return "", false
	}
	id := strings.ToUpper(p.s[p.i:j])
	p.i = j
	return id, true
}

// tableName reads [schema.]table and returns the table.
func (p *scanner) tableName() (string, bool) {
	name, ok := p.ident()
	if !ok {
		return "", false
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		return p.ident()
	}
	return name, true
}

// parseCreateTable reads CREATE [MEMORY|CACHED|TEXT|…] TABLE name(cols…)
// and returns the table name and its column names in order.
func parseCreateTable(line string) (string, []string, error) {
	p := &scanner{s: line}
	p.word("CREATE")
	for !p.word("TABLE") {
		if _, ok := p.ident(); !ok {
			return "", nil, errors.New("unreadable CREATE TABLE")
		}
	}
	table, ok := p.tableName()
	if !ok || !p.eat('(') {
		return "", nil, errors.New("unreadable CREATE TABLE")
	}
	var cols []string
elements:
	for {
		// one element: a column definition or a table constraint
		p.space()
		quoted := p.i < len(p.s) && p.s[p.i] == '"'
		name, ok := p.ident()
		if !ok {
			return "", nil, errors.New("unreadable column list")
		}
		constraint := !quoted && (name == "PRIMARY" || name == "UNIQUE" || name == "CONSTRAINT" ||
			name == "FOREIGN" || name == "CHECK")
		if !constraint {
			cols = append(cols, name)
		}
		// skip to the ',' or ')' that ends the element
		depth := 0
		for {
			if p.i >= len(p.s) {
				return "", nil, errors.New("unterminated column list")
			}
			c := p.s[p.i]
			switch c {
			case '\'':
				if _, err := p.stringLit(); err != nil {
					return "", nil, err
				}
				continue
			case '"':
				if _, ok := p.ident(); !ok {
					return "", nil, errors.New("unterminated identifier")
				}
				continue
			case '(':
				depth++
			case ')':
				if depth == 0 {
					p.i++
					return table, cols, nil
				}
				depth--
			case ',':
				if depth == 0 {
					p.i++
					continue elements
				}
			}
			p.i++
		}
	}
}

// stringLit reads a single-quoted literal, a doubled quote inside it
// being one quote.
func (p *scanner) stringLit() (string, error) {
	var b strings.Builder
	for j := p.i + 1; j < len(p.s); j++ {
		if p.s[j] == '\'' {
			if j+1 < len(p.s) && p.s[j+1] == '\'' {
				b.WriteByte('\'')
				j++
				continue
			}
			p.i = j + 1
			return b.String(), nil
		}
		b.WriteByte(p.s[j])
	}
	return "", errors.New("unterminated string")
}

// parseInsert reads INSERT INTO name VALUES(v, …). On an error it still
// returns the table's name, if it was read, and the values read before it.
func parseInsert(line string) (string, []value, error) {
	p := &scanner{s: line}
	p.word("INSERT")
	p.word("INTO")
	table, ok := p.tableName()
	if !ok {
		return "", nil, errors.New("unreadable INSERT")
	}
	if !p.word("VALUES") || !p.eat('(') {
		return table, nil, errors.New("unreadable INSERT")
	}
	var values []value
	for {
		p.space()
		if p.i >= len(p.s) {
			return table, values, errors.New("unterminated VALUES")
		}
		switch {
		case p.s[p.i] == '\'':
			s, err := p.stringLit()
			if err != nil {
				return table, values, err
			}
			values = append(values, value{s: s})
		case p.word("NULL"):
			values = append(values, value{null: true})
		default: // a number or another bare literal, kept as written
			j := p.i
			for j < len(p.s) && p.s[j] != ',' && p.s[j] != ')' {
				j++
			}
			values = append(values, value{s: strings.TrimSpace(p.s[p.i:j])})
			p.i = j
		}
		if p.eat(',') {
			continue
		}
		if p.eat(')') {
			p.space()
			if p.i != len(p.s) {
				return table, values, errors.New("text after VALUES(…)")
			}
			return table, values, nil
		}
		return table, values, errors.New("expected ',' or ')' in VALUES")
	}
}
