package importer

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/restcomm/restcomm-gateway/internal/collation"
	"github.com/restcomm/restcomm-gateway/internal/javacompat"
	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// Reasons a row is skipped. Each is something RestComm itself would fail
// on (or refuse to store), or a value RestComm would authenticate but the
// gateway would never create, so the row can not be served as RestComm
// serves it; the rest of the source imports.
const (
	ReasonNull             = "NULL in a NOT NULL column"
	ReasonMalformedSid     = "malformed SID"
	ReasonTooWide          = "field wider than its column"
	ReasonStatus           = "unknown status"
	ReasonType             = "unknown type"
	ReasonDate             = "unreadable date"
	ReasonDuplicateSid     = "duplicate SID"
	ReasonDuplicateDomain  = "domain name shared with another organization"
	ReasonEmptyDomain      = "empty domain name"
	ReasonNoOrganization   = "organization does not exist"
	ReasonOrganizationSkip = "organization skipped"
	ReasonNoParent         = "parent does not exist"
	ReasonParentSkipped    = "parent skipped"
	ReasonCycle            = "parent cycle"
	ReasonTooDeep          = "deeper than RestComm allows"
	// ReasonUnreadable: the source's line does not parse (an HSQLDB
	// script's INSERT).
	ReasonUnreadable = "unreadable row"
	// ReasonEmptyToken: no secret matches an empty auth token (RestComm
	// compares the password, or its md5, with it), and the gateway never
	// stores one.
	ReasonEmptyToken = "empty auth token"
	// ReasonControl: a NUL or another control character, most of which
	// XML 1.0 (RestComm's and the gateway's default representation)
	// cannot carry: damage in the row, not an account's data.
	ReasonControl = "control character in a text column"
	// ReasonEmail: an e-mail address RestComm's own create refuses
	// (JavaMail's InternetAddress.validate, internal/javacompat), so
	// the gateway could never have created it either.
	ReasonEmail             = "e-mail address not an address"
	maxDepth                = 3 // MybatisAccountsDao.accountRecursionDepth: top, child, grandchild
	kindAccount, kindOrgztn = restcommdb.KindAccount, restcommdb.KindOrganization
)

// sidPattern is RestComm's Sid pattern: a value that does not match makes
// RestComm throw when it reads the row.
var sidPattern = regexp.MustCompile(`^[a-zA-Z0-9]{34}$`)

// javaLen is a string's length as Java (and HSQLDB) count it: UTF-16 code
// units; MariaDB counts characters, the same for the Basic Multilingual
// Plane, where RestComm's latin1 database stays.
func javaLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// parseDate reads a source date: "2012-04-24 00:00:00[.fraction]" in loc,
// or RFC 3339.
func parseDate(s, format string, loc *time.Location) (time.Time, error) {
	if format == restcommdb.DatesRFC3339 {
		return time.Parse(time.RFC3339Nano, s)
	}
	return time.ParseInLocation("2006-01-02 15:04:05.999999999", s, loc)
}

// checkWidths returns the first column of cols whose value is wider than
// its width.
func checkWidths(widths map[string]int, cols []string, vals []string) (string, bool) {
	for i, c := range cols {
		if w := widths[c]; w > 0 && javaLen(vals[i]) > w {
			return fmt.Sprintf("%s is %d characters, the column holds %d", c, javaLen(vals[i]), w), false
		}
	}
	return "", true
}

// goodOrg is one organization that passed its own checks.
type goodOrg struct {
	row restcommdb.Organization
	org store.Organization
}

// goodAccount is one account that passed its own checks.
type goodAccount struct {
	row   restcommdb.Account
	acct  store.Account
	depth int
}

func (r *Report) skip(kind, sid, email, where, reason, detail string) {
	r.Skipped = append(r.Skipped, Skip{Kind: kind, Sid: sid, Email: email, Where: where, Reason: reason, Detail: detail})
}

// controlIn names the first column of cols whose value holds a control
// character (C0, DEL or C1: unicode.IsControl), and the character.
func controlIn(cols []string, vals []string) (string, bool) {
	for i, v := range vals {
		if j := strings.IndexFunc(v, unicode.IsControl); j >= 0 {
			c, _ := utf8.DecodeRuneInString(v[j:])
			return fmt.Sprintf("%s holds %U at byte %d", cols[i], c, j), true
		}
	}
	return "", false
}

// malformed adds the source's unreadable rows of kind to r.Skipped.
func malformed(src *restcommdb.Source, kind string, r *Report) {
	for _, m := range src.Malformed {
		if m.Kind == kind {
			r.skip(kind, m.Sid, m.EmailAddress, m.Where, ReasonUnreadable, m.Detail)
		}
	}
}

func location(opts Options) *time.Location {
	if opts.TimeZone == nil {
		return time.UTC
	}
	return opts.TimeZone
}

// validateOrganizations judges the organizations of src and returns those
// to import, with every other one in r.Skipped.
func validateOrganizations(src *restcommdb.Source, opts Options, r *Report) []goodOrg {
	loc := location(opts)
	skip := func(kind, sid, where, reason, detail string) { r.skip(kind, sid, "", where, reason, detail) }
	malformed(src, kindOrgztn, r)

	// organizations, each on its own
	var orgs []goodOrg
	for _, o := range src.Organizations {
		if len(o.Null) > 0 {
			skip(kindOrgztn, o.Sid, o.Where, ReasonNull, strings.Join(o.Null, ", "))
			continue
		}
		if d, bad := controlIn([]string{"sid", "domain_name", "status", "date_created", "date_updated"},
			[]string{o.Sid, o.DomainName, o.Status, o.DateCreated, o.DateUpdated}); bad {
			skip(kindOrgztn, o.Sid, o.Where, ReasonControl, d)
			continue
		}
		if !sidPattern.MatchString(o.Sid) {
			skip(kindOrgztn, o.Sid, o.Where, ReasonMalformedSid, fmt.Sprintf("sid %q", o.Sid))
			continue
		}
		if d, ok := checkWidths(restcommdb.OrganizationWidths, []string{"domain_name", "status"}, []string{o.DomainName, o.Status}); !ok {
			skip(kindOrgztn, o.Sid, o.Where, ReasonTooWide, d)
			continue
		}
		status := o.Status
		if o.NoStatus {
			status = "active"
		}
		if status != "active" && status != "closed" {
			skip(kindOrgztn, o.Sid, o.Where, ReasonStatus, fmt.Sprintf("%q", o.Status))
			continue
		}
		if strings.TrimSpace(o.DomainName) == "" {
			skip(kindOrgztn, o.Sid, o.Where, ReasonEmptyDomain, "")
			continue
		}
		created, err1 := parseDate(o.DateCreated, src.Dates, loc)
		updated, err2 := parseDate(o.DateUpdated, src.Dates, loc)
		if err := cmpOr(err1, err2); err != nil {
			skip(kindOrgztn, o.Sid, o.Where, ReasonDate, err.Error())
			continue
		}
		orgs = append(orgs, goodOrg{row: o, org: store.Organization{
			Sid: o.Sid, DomainName: o.DomainName, Status: status,
			DateCreated: created.UTC(), DateUpdated: updated.UTC(),
		}})
	}
	// organizations together: a SID or a domain twice
	orgs = dropShared(orgs, func(g goodOrg) string { return g.org.Sid }, func(g goodOrg, others []string) {
		skip(kindOrgztn, g.org.Sid, g.row.Where, ReasonDuplicateSid, "")
	})
	orgs = dropShared(orgs, func(g goodOrg) string { return strings.ToLower(strings.TrimSuffix(g.org.DomainName, ".")) },
		func(g goodOrg, others []string) {
			skip(kindOrgztn, g.org.Sid, g.row.Where, ReasonDuplicateDomain, fmt.Sprintf("%q, also %s", g.org.DomainName, strings.Join(others, ", ")))
		})
	return orgs
}

// validateAccounts judges the accounts of src and returns those to
// import, with every other one in r.Skipped. orgOK are the organizations
// that are at the gateway (imported or there already), notOK those that
// are not, with why. SIDs are compared, and filed, as rule compares them
// (RestComm's `WHERE sid = ?`).
func validateAccounts(src *restcommdb.Source, rule collation.Rule, opts Options, r *Report, orgOK map[string]bool, notOK map[string]string) []goodAccount {
	loc := location(opts)
	malformed(src, kindAccount, r)

	// accounts, each on its own
	accountCols := []string{"sid", "email_address", "friendly_name", "parent_sid", "type", "status", "auth_token", "role", "uri", "organization_sid"}
	var accts []goodAccount
	canonical := 0
	for _, a := range src.Accounts {
		skip := func(reason, detail string) {
			email := a.EmailAddress
			if slices.Contains(a.Null, "email_address") {
				email = ""
			}
			r.skip(kindAccount, a.Sid, email, a.Where, reason, detail)
		}
		if len(a.Null) > 0 {
			skip(ReasonNull, strings.Join(a.Null, ", "))
			continue
		}
		org := a.OrganizationSid
		if a.NoOrganization {
			org = store.DefaultOrganizationSid
		}
		vals := []string{a.Sid, a.EmailAddress, a.FriendlyName, a.ParentSid, a.Type, a.Status, a.AuthToken, a.Role, a.URI, org}
		if d, bad := controlIn(append(accountCols, "date_created", "date_updated"), append(vals, a.DateCreated, a.DateUpdated)); bad {
			skip(ReasonControl, d)
			continue
		}
		bad := ""
		switch {
		case !sidPattern.MatchString(a.Sid):
			bad = fmt.Sprintf("sid %q", a.Sid)
		case a.ParentSid != "" && !sidPattern.MatchString(a.ParentSid):
			bad = fmt.Sprintf("parent_sid %q", a.ParentSid)
		case !sidPattern.MatchString(org):
			bad = fmt.Sprintf("organization_sid %q", org)
		}
		if bad != "" {
			skip(ReasonMalformedSid, bad)
			continue
		}
		if d, ok := checkWidths(restcommdb.AccountWidths, accountCols, vals); !ok {
			skip(ReasonTooWide, d)
			continue
		}
		if !store.ValidStatus(a.Status) {
			skip(ReasonStatus, fmt.Sprintf("%q", a.Status))
			continue
		}
		if a.Type != "Full" && a.Type != "Trial" {
			skip(ReasonType, fmt.Sprintf("%q", a.Type))
			continue
		}
		if a.AuthToken == "" {
			skip(ReasonEmptyToken, "")
			continue
		}
		if !javacompat.ValidEmail(a.EmailAddress) {
			skip(ReasonEmail, fmt.Sprintf("%q", a.EmailAddress))
			continue
		}
		created, err1 := parseDate(a.DateCreated, src.Dates, loc)
		updated, err2 := parseDate(a.DateUpdated, src.Dates, loc)
		if err := cmpOr(err1, err2); err != nil {
			skip(ReasonDate, err.Error())
			continue
		}
		// the form the rule finds an account by (RestComm's own, AC and
		// lower-case hexadecimal, under a rule that ignores case)
		sid, parent := rule.SID(a.Sid), a.ParentSid
		if parent != "" {
			parent = rule.SID(parent)
		}
		if sid != a.Sid || parent != a.ParentSid {
			canonical++
		}
		accts = append(accts, goodAccount{row: a, acct: store.Account{
			Sid: sid, OrganizationSid: org, FriendlyName: a.FriendlyName, EmailAddress: a.EmailAddress,
			Type: a.Type, Status: a.Status, Role: a.Role, AuthToken: a.AuthToken, URI: a.URI,
			ParentSid: parent, DateCreated: created.UTC(), DateUpdated: updated.UTC(),
		}})
	}
	if canonical > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d accounts' SIDs (or parents') are filed as %s finds them: \"AC\" and lower-case hexadecimal", canonical, rule))
	}
	accts = dropShared(accts, func(g goodAccount) string { return g.acct.Sid }, func(g goodAccount, _ []string) {
		r.skip(kindAccount, g.row.Sid, g.row.EmailAddress, g.row.Where, ReasonDuplicateSid, "")
	})

	// organizations of the accounts
	n := 0
	for _, g := range accts {
		switch {
		case g.row.NoOrganization || orgOK[g.acct.OrganizationSid]:
			accts[n] = g
			n++
		case notOK[g.acct.OrganizationSid] != "":
			r.skip(kindAccount, g.row.Sid, g.row.EmailAddress, g.row.Where, ReasonOrganizationSkip, g.acct.OrganizationSid+": "+notOK[g.acct.OrganizationSid])
		default:
			r.skip(kindAccount, g.row.Sid, g.row.EmailAddress, g.row.Where, ReasonNoOrganization, g.acct.OrganizationSid)
		}
	}
	accts = accts[:n]

	// the tree: parents that exist, no cycles, at most maxDepth levels
	accts = checkTree(accts, src, rule, r)
	sharedEmails(accts, rule, r)
	return accts
}

// sharedEmails lists in r the imported accounts whose e-mail addresses
// are equal under rule. RestComm's database holds them all and finds
// several rows for their e-mail login (its selectOne then fails: 500); the
// gateway imports them all, refuses that login as ambiguous, and finds
// each by its SID.
func sharedEmails(accts []goodAccount, rule collation.Rule, r *Report) {
	by := map[string][]int{}
	for i, g := range accts {
		k := rule.Key(g.acct.EmailAddress)
		by[k] = append(by[k], i)
	}
	for _, is := range by {
		if len(is) < 2 {
			continue
		}
		slices.SortFunc(is, func(a, b int) int { return strings.Compare(accts[a].acct.Sid, accts[b].acct.Sid) })
		var sh SharedEmail
		for _, i := range is {
			sh.Sids = append(sh.Sids, accts[i].acct.Sid)
			sh.Emails = append(sh.Emails, accts[i].acct.EmailAddress)
		}
		r.Shared = append(r.Shared, sh)
	}
	slices.SortFunc(r.Shared, func(a, b SharedEmail) int { return strings.Compare(a.Sids[0], b.Sids[0]) })
}

// checkTree keeps the accounts whose parent chain ends at a top-level
// account within maxDepth levels through accounts that are kept, and
// skips the others with their reason.
func checkTree(accts []goodAccount, src *restcommdb.Source, rule collation.Rule, r *Report) []goodAccount {
	skip := func(g *goodAccount, reason, detail string) {
		r.skip(kindAccount, g.row.Sid, g.row.EmailAddress, g.row.Where, reason, detail)
	}
	idx := make(map[string]int, len(accts))
	for i, g := range accts {
		idx[g.acct.Sid] = i
	}
	// a parent in the source, even one skipped or unreadable, makes its
	// children "parent skipped" rather than "parent does not exist"
	inSource := make(map[string]bool, len(src.Accounts))
	for _, a := range src.Accounts {
		inSource[rule.SID(a.Sid)] = true
	}
	for _, m := range src.Malformed {
		if m.Kind == kindAccount && m.Sid != "" {
			inSource[rule.SID(m.Sid)] = true
		}
	}
	const (
		unknown = iota
		visiting
		good
		bad
	)
	state := make([]int, len(accts))
	for start := range accts {
		if state[start] != unknown {
			continue
		}
		// walk up to something already judged, a top-level account, a
		// missing parent or a cycle
		var path []int
		i := start
		for {
			if state[i] != unknown {
				break
			}
			state[i] = visiting
			path = append(path, i)
			parent := accts[i].acct.ParentSid
			if parent == "" {
				break
			}
			j, ok := idx[parent]
			if !ok {
				break
			}
			if state[j] == visiting {
				// a cycle: from j to the end of the path
				at := slices.Index(path, j)
				cycle := path[at:]
				names := make([]string, 0, len(cycle)+1)
				for _, k := range cycle {
					names = append(names, accts[k].acct.Sid)
				}
				names = append(names, accts[j].acct.Sid)
				for _, k := range cycle {
					state[k] = bad
					skip(&accts[k], ReasonCycle, strings.Join(names, " → "))
				}
				path = path[:at]
				i = j
				break
			}
			i = j
		}
		// judge the path from its top down
		for p := len(path) - 1; p >= 0; p-- {
			k := path[p]
			g := &accts[k]
			parent := g.acct.ParentSid
			switch {
			case parent == "":
				g.depth = 1
			case !inSource[parent]:
				state[k] = bad
				skip(g, ReasonNoParent, g.row.ParentSid)
				continue
			default:
				j, ok := idx[parent]
				if !ok || state[j] == bad {
					state[k] = bad
					skip(g, ReasonParentSkipped, g.row.ParentSid)
					continue
				}
				g.depth = accts[j].depth + 1
			}
			if g.depth > maxDepth {
				state[k] = bad
				skip(g, ReasonTooDeep, fmt.Sprintf("level %d, RestComm allows %d", g.depth, maxDepth))
				continue
			}
			state[k] = good
		}
	}
	out := accts[:0]
	for i, g := range accts {
		if state[i] == good {
			out = append(out, g)
		}
	}
	return out
}

// dropShared removes every element whose key another element shares,
// calling drop with it and the SIDs of the others.
func dropShared[T any](xs []T, key func(T) string, drop func(T, []string)) []T {
	same := make(map[string][]int, len(xs))
	for i, x := range xs {
		k := key(x)
		same[k] = append(same[k], i)
	}
	out := make([]T, 0, len(xs))
	for i, x := range xs {
		if js := same[key(x)]; len(js) > 1 {
			var others []string
			for _, j := range js {
				if j != i {
					others = append(others, sidOf(xs[j]))
				}
			}
			drop(x, others)
			continue
		}
		out = append(out, x)
	}
	return out
}

func sidOf(x any) string {
	switch v := x.(type) {
	case goodOrg:
		return v.org.Sid
	case goodAccount:
		return v.acct.Sid
	}
	return ""
}

func cmpOr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
