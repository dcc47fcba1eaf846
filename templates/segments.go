package templates

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
// It runs for every SMS sent: a table lookup a character, no allocation.
func SMSSegments(text string) (segments int, encoding string) {
	gsm := true
	for _, r := range text {
		if gsmSize(r) == 0 {
			gsm = false
			break
		}
	}
	if gsm {
		return pack(text, gsmSize, 160, 153), EncodingGSM7
	}
	return pack(text, utf16Size, 70, 67), EncodingUCS2
}

// gsmSeptets[r] is r's size in GSM-7 septets for r below its length (0:
// not in the alphabet); € is the one character beyond.
var gsmSeptets = func() (t [0x400]uint8) {
	for _, r := range gsmBasic {
		t[r] = 1
	}
	for _, r := range gsmExtension {
		if r < rune(len(t)) {
			t[r] = 2
		}
	}
	return t
}()

// gsmSize is r's size in septets, 0 when GSM-7 has no r.
func gsmSize(r rune) int {
	switch {
	case r < rune(len(gsmSeptets)):
		return int(gsmSeptets[r])
	case r == '€':
		return 2
	}
	return 0
}

// utf16Size is r's size in UTF-16 code units.
func utf16Size(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// pack counts parts for text's characters of the given sizes: one part if
// they fit single, else greedily per part without splitting a character.
func pack(text string, size func(rune) int, single, per int) int {
	total := 0
	for _, r := range text {
		total += size(r)
	}
	switch {
	case total == 0:
		return 0
	case total <= single:
		return 1
	}
	parts, used := 1, 0
	for _, r := range text {
		s := size(r)
		if used+s > per {
			parts, used = parts+1, 0
		}
		used += s
	}
	return parts
}
