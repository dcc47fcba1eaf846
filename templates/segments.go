package templates

import (
	"strings"
	"unicode/utf16"
)

// GSM 03.38 default alphabet and its extension table (two septets each).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

// Encodings reported by SMSSegments.
const (
	EncodingGSM7 = "GSM-7"
	EncodingUCS2 = "UCS-2"
)

// SMSSegments returns how many SMS parts text is billed as and its
// encoding. GSM-7 text fits 160 septets in one part, 153 per part when
// concatenated, extension characters (€ [ ] { } ^ ~ | \) counting two and
// never split across parts. Anything else is UCS-2: 70 UTF-16 code units in
// one part, 67 per part, surrogate pairs never split. Empty text is 0 parts.
func SMSSegments(text string) (segments int, encoding string) {
	if sizes, ok := gsmSizes(text); ok {
		return pack(sizes, 160, 153), EncodingGSM7
	}
	var sizes []int
	for _, r := range text {
		sizes = append(sizes, len(utf16.AppendRune(nil, r)))
	}
	return pack(sizes, 70, 67), EncodingUCS2
}

// gsmSizes returns each character's size in septets, or false if text
// is not GSM-7.
func gsmSizes(text string) ([]int, bool) {
	sizes := make([]int, 0, len(text))
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			sizes = append(sizes, 1)
		case strings.ContainsRune(gsmExtension, r):
			sizes = append(sizes, 2)
		default:
			return nil, false
		}
	}
	return sizes, true
}

// pack counts parts for characters of the given sizes: one part if they
// fit single, else greedily per part without splitting a character.
func pack(sizes []int, single, per int) int {
	total := 0
	for _, s := range sizes {
		total += s
	}
	switch {
	case total == 0:
		return 0
	case total <= single:
		return 1
	}
	parts, used := 1, 0
	for _, s := range sizes {
		if used+s > per {
			parts, used = parts+1, 0
		}
		used += s
	}
	return parts
}
