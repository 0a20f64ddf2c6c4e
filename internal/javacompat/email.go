package javacompat

import "strings"

// ValidEmail reports whether RestComm accepts an EmailAddress on create:
//
//	InternetAddress emailAddr = new InternetAddress(emailAddress);
//	emailAddr.validate();
//
// with JavaMail 1.4 (RestComm's pom): the strict parse of the whole string
// must yield exactly one address, which must then pass checkAddress as a
// route-addr with a mandatory domain. This is a port of that code
// (InternetAddress.parse and checkAddress), quirks included: anything with
// a '"' skips the character checks, a display name ("Name <a@b.c>") is
// fine, control characters other than CR, LF and TAB are not refused.
func ValidEmail(s string) bool {
	addrs, ok := parseAddresses(s)
	return ok && len(addrs) == 1 && checkAddress(addrs[0], true, true)
}

// parseAddresses is InternetAddress.parse(s, strict=true): the addresses of
// a comma-separated list, or ok=false where JavaMail throws.
func parseAddresses(s string) (addrs []string, ok bool) {
	start, end := -1, -1
	inGroup, routeAddr := false, false
	n := len(s)
	index := 0
	// add is the end-of-address step, shared by ',' and the end of input.
	add := func() bool {
		if end == -1 {
			end = index
		}
		if end < start || end > n {
			return false // String.substring would throw
		}
		addr := Trim(s[start:end])
		if !checkAddress(addr, routeAddr, false) {
			return false
		}
		addrs = append(addrs, addr)
		return true
	}
	for ; index < n; index++ {
		switch s[index] {
		case '(': // a comment, nested, with \ escapes
			if start >= 0 && end == -1 {
				end = index
			}
			nesting := 1
			for index++; index < n && nesting > 0; index++ {
				switch s[index] {
				case '\\':
					index++
				case '(':
					nesting++
				case ')':
					nesting--
				}
			}
			if nesting > 0 {
				return nil, false
			}
			index--
		case ')':
			return nil, false
		case '<':
			if routeAddr {
				return nil, false
			}
			if !inGroup {
				start = index + 1
			}
			inQuote := false
		route:
			for index++; index < n; index++ {
				switch s[index] {
				case '\\':
					index++
				case '"':
					inQuote = !inQuote
				case '>':
					if !inQuote {
						break route
					}
				}
			}
			if index >= n {
				return nil, false
			}
			routeAddr = true
			end = index
		case '>':
			return nil, false
		case '"':
			if start == -1 {
				start = index
			}
		quoted:
			for index++; index < n; index++ {
				switch s[index] {
				case '\\':
					index++
				case '"':
					break quoted
				}
			}
			if index >= n {
				return nil, false
			}
		case '[':
		literal:
			for index++; index < n; index++ {
				switch s[index] {
				case '\\':
					index++
				case ']':
					break literal
				}
			}
			if index >= n {
				return nil, false
			}
		case ',':
			if start == -1 {
				routeAddr = false
				start, end = -1, -1
				break
			}
			if inGroup {
				routeAddr = false
				break
			}
			if !add() {
				return nil, false
			}
			routeAddr = false
			start, end = -1, -1
		case ':':
			if inGroup {
				return nil, false
			}
			inGroup = true
			if start == -1 {
				start = index
			}
		case ';':
			if start == -1 {
				start = index
			}
			if !inGroup {
				return nil, false
			}
			inGroup = false
			end = index + 1
			addrs = append(addrs, Trim(s[start:end]))
			routeAddr = false
			start, end = -1, -1
		case ' ', '\t', '\r', '\n':
		default:
			if start == -1 {
				start = index
			}
		}
	}
	if start >= 0 && !add() {
		return nil, false
	}
	return addrs, true
}

// specialsNoDot are RFC 822's specials other than '.'.
const specialsNoDot = "()<>,;:\\\"[]@"

// checkAddress is JavaMail 1.4's InternetAddress.checkAddress.
func checkAddress(addr string, routeAddr, validate bool) bool {
	if strings.IndexByte(addr, '"') >= 0 {
		return true // "quote in address, too hard to check"
	}
	start := 0
	if routeAddr { // [@domain[,@domain ...]:]local@domain
		for {
			i := indexOfAny(addr, ",:", start)
			if i < 0 {
				break
			}
			if addr[start] != '@' {
				return false
			}
			start = i + 1
			if addr[i] == ':' {
				break
			}
		}
	}
	local, domain, hasDomain := addr, "", false
	if i := indexOfAny(addr, "@", start); i >= 0 {
		if i == start || i == len(addr)-1 {
			return false // missing local name or domain
		}
		local, domain, hasDomain = addr[start:i], addr[i+1:], true
	} else if validate {
		return false // missing final '@domain'
	}
	if indexOfAny(addr, " \t\n\r", 0) >= 0 {
		return false
	}
	if indexOfAny(local, specialsNoDot, 0) >= 0 {
		return false
	}
	if hasDomain && strings.IndexByte(domain, '[') < 0 && indexOfAny(domain, specialsNoDot, 0) >= 0 {
		return false
	}
	return true
}

func indexOfAny(s, any string, start int) int {
	for i := start; i < len(s); i++ {
		if strings.IndexByte(any, s[i]) >= 0 {
			return i
		}
	}
	return -1
}

// ClientLogin is the SIP client login RestComm derives from an e-mail
// address, data.getFirst("EmailAddress").split("@")[0]: the text before
// the first '@'.
func ClientLogin(email string) string {
	login, _, _ := strings.Cut(email, "@")
	return login
}

// ValidClientLogin is ClientLoginConstrains.isValidClientLogin.
func ValidClientLogin(login string) bool {
	return !strings.ContainsAny(login, "?=@")
}
