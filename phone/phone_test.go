package phone

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw, region, want string
	}{
		{"13812345678", "CN", "+8613812345678"},
		{"+8613812345678", "CN", "+8613812345678"},
		{"8613812345678", "CN", "+8613812345678"},
		{"+86 138-1234-5678", "CN", "+8613812345678"},
		{"(+86) 138 1234 5678", "CN", "+8613812345678"},
		{" 19912345678 ", "cn", "+8619912345678"},
		{"13812345678", "", "+8613812345678"},
		{"+8613812345678", "US", "+8613812345678"},
		{"+1 (415) 555-2671", "CN", "+14155552671"},
		{"+44 20 7946 0958", "CN", "+442079460958"},
		{"+85291234567", "CN", "+85291234567"},
		{"+81 90-1234-5678", "CN", "+819012345678"},
		// A trunk 0 after the country code, as people write it, is dropped.
		{"+44 (0) 20 7946 0958", "CN", "+442079460958"},
		{"+61 0412 345 678", "CN", "+61412345678"},
		// China's international prefix instead of + (books keep 0086 numbers).
		{"0086 138 1234 5678", "CN", "+8613812345678"},
		{"008613812345678", "", "+8613812345678"},
		{"00852 9123 4567", "CN", "+85291234567"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.raw, tt.region)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q", tt.raw, tt.region, got, err, tt.want)
		}
	}
}

func TestNormalizeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw, region, why string
	}{
		{"", "CN", "empty"},
		{"   ", "CN", "empty"},
		{"12812345678", "CN", "mainland"},     // 12x is not a mobile prefix
		{"1381234567", "CN", "mainland"},      // 10 digits
		{"138123456789", "CN", "mainland"},    // 12 digits
		{"+861012345678", "CN", "mainland"},   // Beijing landline
		{"+86138123456789", "CN", "mainland"}, // one digit too many
		{"8612812345678", "CN", "mainland"},
		{"1381234567x", "CN", "only digits"},
		{"138.1234.5678", "CN", "only digits"},
		{"++8613812345678", "CN", "only digits"},
		{"+", "CN", "only digits"},
		{"+1234567", "CN", "8 to 15"},
		{"+1234567890123456", "CN", "8 to 15"},
		{"+0123456789", "CN", "8 to 15"},
		// No country has +999; +1 has no 10-digit numbers beginning 1; a
		// US number one digit short.
		{"+99912345678", "CN", "numbering plan"},
		{"+123456789012345", "CN", "numbering plan"},
		{"+1415555267", "CN", "numbering plan"},
		{"4155552671", "US", "must start with +"},
		{"13812345678", "US", "must start with +"},
		{"0086 128 1234 5678", "CN", "mainland"}, // 0086 is +86: still a mobile number
		{"0012345", "CN", "8 to 15"},
		{"0086 138 1234 5678", "US", "must start with +"}, // 00 is China's prefix, not every region's
	}
	for _, tt := range tests {
		got, err := Normalize(tt.raw, tt.region)
		if err == nil {
			t.Errorf("Normalize(%q, %q) = %q, want an error", tt.raw, tt.region, got)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q): error %v does not wrap ErrInvalid", tt.raw, err)
		}
		if !strings.Contains(err.Error(), tt.why) {
			t.Errorf("Normalize(%q): error %q, want it to mention %q", tt.raw, err, tt.why)
		}
		if d := strings.Trim(tt.raw, " +"); len(d) > 4 && strings.Contains(err.Error(), d) {
			t.Errorf("Normalize(%q): error %q repeats the number", tt.raw, err)
		}
	}
}
