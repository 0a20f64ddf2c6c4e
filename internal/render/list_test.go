package render

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/store"
)

// The whole-list renderers as they were before lists were streamed, kept
// verbatim as the reference the streaming pieces must reproduce byte for
// byte (the Append*List* functions are now built from those pieces).

func refAccountListXML(dst []byte, as []store.Account) []byte {
	dst = append(dst, "<RestcommResponse>"...)
	if len(as) == 0 {
		dst = append(dst, "\n  <Accounts/>"...)
	} else {
		dst = xmlOpen(dst, 1, "Accounts")
		for i := range as {
			dst = appendAccountXMLBody(dst, &as[i], 2)
		}
		dst = xmlClose(dst, 1, "Accounts")
	}
	return append(dst, "\n</RestcommResponse>"...)
}

func refAccountListJSON(dst []byte, as []store.Account) []byte {
	if len(as) == 0 {
		return append(dst, "[]"...)
	}
	dst = append(dst, '[')
	for i := range as {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, nl(1)...)
		dst = appendAccountJSONObject(dst, &as[i], 1)
	}
	return append(dst, "\n]"...)
}

func refOrganizationListXML(dst []byte, orgs []store.Organization) []byte {
	dst = append(dst, "<RestcommResponse>"...)
	if len(orgs) == 0 {
		dst = append(dst, "\n  <Organizations/>"...)
	} else {
		dst = xmlOpen(dst, 1, "Organizations")
		for i := range orgs {
			dst = appendOrganizationXMLBody(dst, &orgs[i], 2)
		}
		dst = xmlClose(dst, 1, "Organizations")
	}
	return append(dst, "\n</RestcommResponse>"...)
}

func refOrganizationListJSON(dst []byte, orgs []store.Organization) []byte {
	if len(orgs) == 0 {
		return append(dst, "[]"...)
	}
	dst = append(dst, '[')
	for i := range orgs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, nl(1)...)
		dst = appendOrganizationJSONObject(dst, &orgs[i], 1)
	}
	return append(dst, "\n]"...)
}

// odd are field values that exercise every escaping path of both formats.
var odd = []string{
	"", "plain", `o'neil=x@a.com <&> "q"`, "Zoë 日本 🎉", "a\x00b\x01\t\n\r\x1f\x7f\u0085z",
	"\u2028\u2029", "bad\xff\xfeutf8", "]]>", "</Accounts>", `\"\\`, "&amp;",
}

func oddAccounts(n int) []store.Account {
	as := make([]store.Account, n)
	for i := range as {
		s := func(k int) string { return odd[(i+k)%len(odd)] }
		as[i] = store.Account{
			Sid: fmt.Sprintf("AC%032x", i) + s(0), OrganizationSid: s(1), FriendlyName: s(2),
			EmailAddress: s(3), Type: s(4), Status: s(5), Role: s(6), AuthToken: s(7), URI: s(8),
			ParentSid:   s(9),
			DateCreated: time.Unix(int64(i)*7919, 0), DateUpdated: time.Unix(-int64(i)*104729, 0).UTC(),
		}
	}
	return as
}

func oddOrganizations(n int) []store.Organization {
	orgs := make([]store.Organization, n)
	for i := range orgs {
		s := func(k int) string { return odd[(i+k)%len(odd)] }
		orgs[i] = store.Organization{
			Sid: fmt.Sprintf("OR%032x", i) + s(0), DomainName: s(1), Status: s(2),
			DateCreated: time.Unix(int64(i)*7919, 0), DateUpdated: time.Unix(int64(i), 0),
		}
	}
	return orgs
}

// streamed renders items through a streaming list, cutting the output into
// separate buffers every `every` items, as the handler sends batches, and
// returns their concatenation.
func streamed[T any](items []T, every int, add func([]byte, *T) []byte, end func([]byte) []byte) []byte {
	var out, buf []byte
	for i := range items {
		buf = add(buf, &items[i])
		if (i+1)%every == 0 {
			out = append(out, buf...)
			buf = buf[:0] // reused, as the handler does
		}
	}
	return append(out, end(buf)...)
}

// The streaming pieces concatenated are the whole-list documents, byte for
// byte, for lists of 0, 1, 2 and many items with odd characters, however
// the stream is cut.
func TestStreamedListsAreTheWholeDocuments(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 17, 300} {
		as, orgs := oddAccounts(n), oddOrganizations(n)
		for _, every := range []int{1, 2, 7, 256} {
			name := fmt.Sprintf("%d items, cut every %d", n, every)
			for _, json := range []bool{false, true} {
				al := AccountList{JSON: json}
				gotA := streamed(as, every, al.Append, al.End)
				ol := OrganizationList{JSON: json}
				gotO := streamed(orgs, every, ol.Append, ol.End)
				wantA, wantO := refAccountListXML(nil, as), refOrganizationListXML(nil, orgs)
				if json {
					wantA, wantO = refAccountListJSON(nil, as), refOrganizationListJSON(nil, orgs)
				}
				require.Equal(t, string(wantA), string(gotA), "accounts, %s, json=%v", name, json)
				require.Equal(t, string(wantO), string(gotO), "organizations, %s, json=%v", name, json)
				assert.Equal(t, n, al.Len())
				assert.Equal(t, n, ol.Len())
			}
		}
		// and the whole-list functions, now built from the pieces, still
		// write what they wrote, after existing content
		assert.Equal(t, "x"+string(refAccountListXML(nil, as)), string(AppendAccountListXML([]byte("x"), as)))
		assert.Equal(t, "x"+string(refAccountListJSON(nil, as)), string(AppendAccountListJSON([]byte("x"), as)))
		assert.Equal(t, "x"+string(refOrganizationListXML(nil, orgs)), string(AppendOrganizationListXML([]byte("x"), orgs)))
		assert.Equal(t, "x"+string(refOrganizationListJSON(nil, orgs)), string(AppendOrganizationListJSON([]byte("x"), orgs)))
	}
}

// A streamed list renders without allocating once its buffer has grown.
func TestStreamedListDoesNotAllocate(t *testing.T) {
	as := oddAccounts(4)
	buf := make([]byte, 0, 64<<10)
	allocs := testing.AllocsPerRun(100, func() {
		l := AccountList{JSON: true}
		b := buf[:0]
		for i := range as {
			b = l.Append(b, &as[i])
		}
		_ = l.End(b)
	})
	assert.Zero(t, allocs)
}
