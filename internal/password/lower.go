package password

import "unicode/utf16"

// ToLower lower-cases s as JavaScript's String.prototype.toLowerCase and
// Java's String.toLowerCase (outside the Turkish, Azeri and Lithuanian
// locales) do: U+0130 becomes "i̇" and a final capital sigma "ς". RestComm
// lower-cases e-mail addresses and statuses with Java's.
func ToLower(s string) string {
	return string(utf16.Decode(toLowerJS([]rune(s))))
}
