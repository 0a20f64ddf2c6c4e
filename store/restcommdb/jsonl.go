package restcommdb

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/restcomm/restcomm-gateway/internal/collation"
)

// The JSON lines format of `accounts export` and `accounts import --from
// file.jsonl`: one object per line, each with a "kind".
//
//	{"kind":"export","format":1,"namespace":"{restcomm}","exported":"2024-05-01T10:00:00Z","collation":"latin1_swedish_ci"}
//	{"kind":"organization","sid":"OR…","domain_name":"…","status":"active","date_created":"…","date_updated":"…"}
//	{"kind":"account","sid":"AC…","date_created":"…","date_updated":"…","email_address":"…",
//	 "friendly_name":"…","parent_sid":null,"type":"Full","status":"active","auth_token":"…",
//	 "role":"…","uri":"…","organization_sid":"OR…"}
//	{"kind":"reservation","sid":"AC…","email_address":"…","reason":"unknown status"}
//
// Field names are RestComm's column names; dates are RFC 3339 (the export
// writes UTC). The header line is optional on import; blank lines are
// ignored. The header's collation is the rule under which the exported
// namespace compared logins (collation.Rule's name); an export without
// one (written before the gateway kept a rule) reads as exact. Reservation
// lines are the namespace's reserved rows (those an import from RestComm
// skipped), so that a restore keeps them reserved.
const (
	KindExport       = "export"
	KindOrganization = "organization"
	KindAccount      = "account"
	KindReservation  = "reservation"
	JSONLFormat      = 1
)

// Header is the first line of an export.
type Header struct {
	Kind      string `json:"kind"`
	Format    int    `json:"format"`
	Namespace string `json:"namespace,omitempty"`
	Exported  string `json:"exported,omitempty"`
	Collation string `json:"collation,omitempty"`
}

// JSONOrganization is one organization line.
type JSONOrganization struct {
	Kind        string `json:"kind"`
	Sid         string `json:"sid"`
	DomainName  string `json:"domain_name"`
	Status      string `json:"status"`
	DateCreated string `json:"date_created"`
	DateUpdated string `json:"date_updated"`
}

// JSONAccount is one account line.
type JSONAccount struct {
	Kind            string  `json:"kind"`
	Sid             string  `json:"sid"`
	DateCreated     string  `json:"date_created"`
	DateUpdated     string  `json:"date_updated"`
	EmailAddress    string  `json:"email_address"`
	FriendlyName    string  `json:"friendly_name"`
	ParentSid       *string `json:"parent_sid"`
	Type            string  `json:"type"`
	Status          string  `json:"status"`
	AuthToken       string  `json:"auth_token"`
	Role            string  `json:"role"`
	URI             string  `json:"uri"`
	OrganizationSid string  `json:"organization_sid"`
}

// JSONReservation is one reservation line.
type JSONReservation struct {
	Kind         string `json:"kind"`
	Sid          string `json:"sid"`
	EmailAddress string `json:"email_address"`
	Reason       string `json:"reason"`
}

// jsonLine is any line, for reading.
type jsonLine struct {
	Kind            string  `json:"kind"`
	Format          int     `json:"format"`
	Collation       *string `json:"collation"`
	Sid             *string `json:"sid"`
	DomainName      *string `json:"domain_name"`
	Status          *string `json:"status"`
	DateCreated     *string `json:"date_created"`
	DateUpdated     *string `json:"date_updated"`
	EmailAddress    *string `json:"email_address"`
	FriendlyName    *string `json:"friendly_name"`
	ParentSid       *string `json:"parent_sid"`
	Type            *string `json:"type"`
	AuthToken       *string `json:"auth_token"`
	Role            *string `json:"role"`
	URI             *string `json:"uri"`
	OrganizationSid *string `json:"organization_sid"`
	Reason          *string `json:"reason"`
}

// ReadJSONL reads an export. Organizations count as present (the format
// always has them), so an account without organization_sid is refused by
// the importer rather than put in the default organization.
func ReadJSONL(r io.Reader, name string) (*Source, error) {
	src := &Source{Name: name, Dates: DatesRFC3339, HasOrganizations: true, Collation: collation.Exact,
		CollationFrom: "an export without a recorded rule: exact"}
	base := filepath.Base(name)
	br := bufio.NewReaderSize(r, 1<<16)
	for lineNo := 1; ; lineNo++ {
		where := fmt.Sprintf("%s line %d", base, lineNo)
		raw, err := readLine(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errorf(where, "%v", err)
		}
		if len(trimSpace(raw)) > 0 {
			var l jsonLine
			if jerr := json.Unmarshal(raw, &l); jerr != nil {
				return nil, errorf(where, "%v", jerr)
			}
			var nulls []string
			get := func(col string, v *string) string {
				if v == nil {
					nulls = append(nulls, col)
					return ""
				}
				return *v
			}
			switch l.Kind {
			case KindExport:
				if l.Format != JSONLFormat {
					return nil, errorf(where, "export format %d, this version reads %d", l.Format, JSONLFormat)
				}
				if l.Collation != nil {
					rule, err := collation.Parse(*l.Collation)
					if err != nil {
						return nil, errorf(where, "%v", err)
					}
					src.Collation, src.CollationFrom = rule, fmt.Sprintf("%s: the export's rule, %s", where, rule)
				}
			case KindOrganization:
				o := Organization{Where: where}
				o.Sid = get("sid", l.Sid)
				o.DomainName = get("domain_name", l.DomainName)
				o.Status = get("status", l.Status)
				o.DateCreated = get("date_created", l.DateCreated)
				o.DateUpdated = get("date_updated", l.DateUpdated)
				o.Null = nulls
				src.Organizations = append(src.Organizations, o)
			case KindAccount:
				a := Account{Where: where}
				a.Sid = get("sid", l.Sid)
				a.DateCreated = get("date_created", l.DateCreated)
				a.DateUpdated = get("date_updated", l.DateUpdated)
				a.EmailAddress = get("email_address", l.EmailAddress)
				a.FriendlyName = get("friendly_name", l.FriendlyName)
				if l.ParentSid != nil {
					a.ParentSid = *l.ParentSid
				}
				a.Type = get("type", l.Type)
				a.Status = get("status", l.Status)
				a.AuthToken = get("auth_token", l.AuthToken)
				a.Role = get("role", l.Role)
				a.URI = get("uri", l.URI)
				a.OrganizationSid = get("organization_sid", l.OrganizationSid)
				a.Null = nulls
				src.Accounts = append(src.Accounts, a)
			case KindReservation:
				x := Reservation{Where: where}
				x.Sid = get("sid", l.Sid)
				x.EmailAddress = get("email_address", l.EmailAddress)
				x.Reason = get("reason", l.Reason)
				src.Reservations = append(src.Reservations, x)
			default:
				return nil, errorf(where, "unknown kind %q", l.Kind)
			}
		}
	}
	return src, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// JSONLWriter writes an export, one line per call.
type JSONLWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// NewJSONLWriter writes to w; call Flush at the end.
func NewJSONLWriter(w io.Writer) *JSONLWriter {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSONLWriter{w: bw, enc: enc}
}

// Write writes one line: a Header, JSONOrganization or JSONAccount.
func (j *JSONLWriter) Write(v any) error { return j.enc.Encode(v) }

// Flush writes out what is buffered.
func (j *JSONLWriter) Flush() error { return j.w.Flush() }
