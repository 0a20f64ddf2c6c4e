package accountsapi

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
)

// RestComm's identifiers: what a SID looks like, and how RestComm makes
// one.

// sidShaped is RestComm's Sid.pattern: exactly 34 ASCII letters and digits.
func sidShaped(s string) bool {
	return len(s) == 34 && alnum(s)
}

// validSid is what RestComm's Sid constructor accepts: Sid.pattern, or a
// call SID "ID" + 32 + "-CA" + 32 (callSidPattern).
func validSid(s string) bool {
	if sidShaped(s) {
		return true
	}
	return len(s) == 69 && s[:2] == "ID" && s[34:37] == "-CA" && alnum(s[2:34]) && alnum(s[37:])
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// organizationSid is Sid.generate(ORGANIZATION): "OR" and a random
// (version 4) UUID without its dashes.
func organizationSid() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", err
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return "OR" + hex.EncodeToString(u[:]), nil
}

// hexMD5 is the lower-case hex MD5 of s (Shiro's Md5Hash.toString), for
// account SIDs and auth tokens.
func hexMD5(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
