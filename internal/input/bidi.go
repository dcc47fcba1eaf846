package input

import (
	"fmt"

	"golang.org/x/text/unicode/bidi"
)

// BidiControl returns an error naming the first explicit bidirectional
// formatting character in s: an embedding, override or isolate (U+202A–
// U+202E, U+2066–U+2069). Each reorders how everything after it is shown
// until it is closed, so one in a merchant name shows the rest of an SMS,
// the repayment link included, reversed or rearranged. Text that needs no
// override displays right by itself; the single marks (U+200E LRM, U+200F
// RLM, U+061C ALM), which reorder nothing after them, are not refused.
func BidiControl(s string) error {
	for _, r := range s {
		if r < 0x202a { // every explicit formatting character is above it
			continue
		}
		p, _ := bidi.LookupRune(r)
		switch p.Class() {
		case bidi.LRE, bidi.RLE, bidi.LRO, bidi.RLO, bidi.PDF, bidi.LRI, bidi.RLI, bidi.FSI, bidi.PDI:
			return fmt.Errorf("must not contain the bidirectional control character U+%04X (it reorders the text shown after it)", r)
		}
	}
	return nil
}
