package templates

import (
	"strings"
	"testing"
)

func TestSMSSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		text     string
		segments int
		encoding string
	}{
		{"empty", "", 0, EncodingGSM7},
		{"gsm 1", "a", 1, EncodingGSM7},
		{"gsm 160", strings.Repeat("a", 160), 1, EncodingGSM7},
		{"gsm 161", strings.Repeat("a", 161), 2, EncodingGSM7},
		{"gsm 306", strings.Repeat("a", 306), 2, EncodingGSM7},
		{"gsm 307", strings.Repeat("a", 307), 3, EncodingGSM7},
		{"gsm basic specials", "¥1,234.56 @£$èé ****1234 \"x\"", 1, EncodingGSM7},
		{"extension counts 2", strings.Repeat("€", 80), 1, EncodingGSM7},
		{"extension 81", strings.Repeat("€", 81), 2, EncodingGSM7},
		{"extension not split", strings.Repeat("a", 152) + "[" + strings.Repeat("a", 10), 2, EncodingGSM7},
		{"extension pushed to part 3", strings.Repeat("a", 152) + "{" + strings.Repeat("a", 152) + "}", 3, EncodingGSM7},
		{"chinese 70", strings.Repeat("还", 70), 1, EncodingUCS2},
		{"chinese 71", strings.Repeat("还", 71), 2, EncodingUCS2},
		{"chinese 134", strings.Repeat("还", 134), 2, EncodingUCS2},
		{"chinese 135", strings.Repeat("还", 135), 3, EncodingUCS2},
		{"one non-gsm char", strings.Repeat("a", 69) + "“", 1, EncodingUCS2},
		{"one non-gsm char 71", strings.Repeat("a", 70) + "“", 2, EncodingUCS2},
		{"emoji counts 2 units", strings.Repeat("😀", 35), 1, EncodingUCS2},
		{"emoji 36", strings.Repeat("😀", 36), 2, EncodingUCS2},
		{"surrogate pair not split", strings.Repeat("a", 66) + "😀" + strings.Repeat("a", 10), 2, EncodingUCS2},
		{"surrogate pair pushed", strings.Repeat("a", 66) + "😀" + strings.Repeat("a", 66) + "😀", 3, EncodingUCS2},
	}
	for _, tt := range tests {
		n, enc := SMSSegments(tt.text)
		if n != tt.segments || enc != tt.encoding {
			t.Errorf("%s: SMSSegments = %d %s, want %d %s", tt.name, n, enc, tt.segments, tt.encoding)
		}
	}
}
