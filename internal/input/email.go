package input

import (
	"errors"
	"net"
	"net/mail"
	"strings"

	"golang.org/x/net/idna"
)

// Email checks a borrower's email address: one bare address (no display
// name, no comment), at most 254 bytes, whose domain is a DNS name of two
// labels or more (IDNA 2008, as a mail server looks it up: no leading or
// trailing hyphen, no underscore, no address literal like [127.0.0.1] or
// bare address, no "localhost", dots written as "."). net/mail takes all of those, and every reminder to such an
// address would fail at the relay. A local part in UTF-8 stays allowed: the
// sender asks the relay for SMTPUTF8.
func Email(e string) error {
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Name != "" || addr.Address != e || len(e) > 254 {
		return errors.New("want a bare address such as name@example.com")
	}
	domain := e[strings.LastIndexByte(e, '@')+1:]
	ascii, err := idna.Lookup.ToASCII(domain)
	// IDNA reads 。．｡ as dots, which the address would keep as written.
	if err != nil || !strings.Contains(strings.Trim(ascii, "."), ".") || net.ParseIP(domain) != nil ||
		strings.ContainsAny(domain, "\u3002\uff0e\uff61") {
		return errors.New("want an address at a domain name such as example.com")
	}
	return nil
}
