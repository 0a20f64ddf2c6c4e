package render

import "github.com/restcomm/restcomm-gateway/store"

// Lists are rendered piece by piece, so that a list read from Redis in
// batches can be sent as it is read: Append each item in order, then End.
// The pieces concatenated are the whole document that XStream or Gson
// writes for the list (AppendAccountListXML and the others are this loop).
// The first item decides between the two shapes of a list: with items, a
// head, the items with their separators, and a tail; without, XStream's
// self-closed element or Gson's "[]".

// listShape is the constant text of one list representation.
type listShape struct {
	empty string // the whole document of an empty list
	head  string // before the first item
	sep   string // before every other item
	tail  string // after the last item
}

// XML items are at depth 2 and start on their own line; JSON items are
// objects at depth 1, each on a new line after the separating comma.
var (
	accountListXML = listShape{
		empty: "<RestcommResponse>\n  <Accounts/>\n</RestcommResponse>",
		head:  "<RestcommResponse>\n  <Accounts>",
		tail:  "\n  </Accounts>\n</RestcommResponse>",
	}
	organizationListXML = listShape{
		empty: "<RestcommResponse>\n  <Organizations/>\n</RestcommResponse>",
		head:  "<RestcommResponse>\n  <Organizations>",
		tail:  "\n  </Organizations>\n</RestcommResponse>",
	}
	listJSON = listShape{empty: "[]", head: "[\n  ", sep: ",\n  ", tail: "\n]"}
)

// list counts the items of one list being rendered.
type list struct{ n int }

// item appends what comes before the next item.
func (l *list) item(dst []byte, s *listShape) []byte {
	if l.n == 0 {
		dst = append(dst, s.head...)
	} else {
		dst = append(dst, s.sep...)
	}
	l.n++
	return dst
}

func (l *list) end(dst []byte, s *listShape) []byte {
	if l.n == 0 {
		return append(dst, s.empty...)
	}
	return append(dst, s.tail...)
}

// AccountList renders a GET /Accounts body one account at a time, in XML
// (the zero value) or JSON. Append every account in order, then End.
type AccountList struct {
	JSON bool
	list
}

func (l *AccountList) shape() *listShape {
	if l.JSON {
		return &listJSON
	}
	return &accountListXML
}

// Append appends one account, preceded by the list's head when it is the
// first.
func (l *AccountList) Append(dst []byte, a *store.Account) []byte {
	dst = l.item(dst, l.shape())
	if l.JSON {
		return appendAccountJSONObject(dst, a, 1)
	}
	return appendAccountXMLBody(dst, a, 2)
}

// End appends the list's tail, or the whole empty list when nothing was
// appended.
func (l *AccountList) End(dst []byte) []byte { return l.end(dst, l.shape()) }

// Len is the number of accounts appended so far.
func (l *AccountList) Len() int { return l.n }

// OrganizationList renders a GET /Organizations body one organization at a
// time, in XML (the zero value) or JSON. Append every organization in order,
// then End.
type OrganizationList struct {
	JSON bool
	list
}

func (l *OrganizationList) shape() *listShape {
	if l.JSON {
		return &listJSON
	}
	return &organizationListXML
}

// Append appends one organization, preceded by the list's head when it is
// the first.
func (l *OrganizationList) Append(dst []byte, o *store.Organization) []byte {
	dst = l.item(dst, l.shape())
	if l.JSON {
		return appendOrganizationJSONObject(dst, o, 1)
	}
	return appendOrganizationXMLBody(dst, o, 2)
}

// End appends the list's tail, or the whole empty list when nothing was
// appended.
func (l *OrganizationList) End(dst []byte) []byte { return l.end(dst, l.shape()) }

// Len is the number of organizations appended so far.
func (l *OrganizationList) Len() int { return l.n }
