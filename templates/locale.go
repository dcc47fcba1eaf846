package templates

import "strings"

// ResolveLocale maps a customer's locale to one that has templates:
// exact matches (any case), then by language ("en-US" → "en",
// "zh-TW" → "zh-CN"), else the fallback zh-CN.
func ResolveLocale(l string) string {
	l = strings.TrimSpace(l)
	for _, known := range locales {
		if strings.EqualFold(l, known) {
			return known
		}
	}
	lang, _, _ := strings.Cut(strings.ReplaceAll(l, "_", "-"), "-")
	for _, known := range locales {
		if k, _, _ := strings.Cut(known, "-"); strings.EqualFold(lang, k) {
			return known
		}
	}
	return locales[0]
}
