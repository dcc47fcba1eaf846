package input

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestZoneAcceptsOnlyIANANames(t *testing.T) {
	for _, ok := range []string{"Asia/Shanghai", "America/Argentina/Buenos_Aires", "UTC", "Etc/GMT+8", "EST5EDT", "Europe/London"} {
		if _, err := Zone(ok); err != nil {
			t.Errorf("Zone(%q) = %v, want accepted", ok, err)
		}
	}
	for _, bad := range []string{"", "Local", "localtime", "posixrules", "Factory", "posix/Asia/Shanghai", "right/UTC",
		"asia/shanghai", "../etc/passwd", "/etc/localtime", "Asia/Shanghai\x00", "Mars/Olympus"} {
		if _, err := Zone(bad); err == nil {
			t.Errorf("Zone(%q) accepted", bad)
		}
	}
}

func TestBounds(t *testing.T) {
	now := time.Date(2025, 3, 10, 2, 0, 0, 0, time.UTC)
	for v, ok := range map[int64]bool{0: true, MaxAmount: true, MaxAmount + 1: false, -1: false, 1<<63 - 1: false} {
		if (Amount(v) == nil) != ok {
			t.Errorf("Amount(%d) ok=%v", v, !ok)
		}
	}
	for d, ok := range map[string]bool{"2000-01-01": true, "2099-12-31": true, "1999-12-31": false, "2100-01-01": false, "0000-01-01": false} {
		tm, _ := time.Parse("2006-01-02", d)
		if (Date(tm) == nil) != ok {
			t.Errorf("Date(%s) ok=%v", d, !ok)
		}
	}
	for at, ok := range map[time.Time]bool{
		MinTime: true, now.Add(MaxAhead): true, now.Add(MaxAhead + time.Second): false,
		MinTime.Add(-time.Second): false, {}: false, time.Unix(0, 0): false,
	} {
		if (Past(at, now) == nil) != ok {
			t.Errorf("Past(%v) ok=%v", at, !ok)
		}
	}
}

func TestWalkNamesTheBadString(t *testing.T) {
	type inner struct {
		Reason string `json:"reason"`
	}
	type rec struct {
		Name    string            `json:"name"`
		Items   []inner           `json:"items"`
		Opt     *string           `json:"opt"`
		Tags    map[string]string `json:"tags"`
		Payload json.RawMessage   `json:"payload"`
		Secret  string            `json:"-"`
	}
	nul := "a\x00"
	for want, v := range map[string]rec{
		"name":            {Name: "\xff"},
		"items[1].reason": {Items: []inner{{"ok"}, {nul}}},
		"opt":             {Opt: &nul},
		"tags.k":          {Tags: map[string]string{"k": nul}},
		"tags key":        {Tags: map[string]string{nul: "v"}},
		"payload.x":       {Payload: json.RawMessage(`{"x":"\u0000"}`)},
	} {
		var fe *FieldError
		if err := Walk(v); !errors.As(err, &fe) || fe.Field != want {
			t.Errorf("Walk: %v, want a FieldError naming %s", err, want)
		}
	}
	if err := Walk(rec{Name: "李雷", Secret: nul, Payload: json.RawMessage(`{"x":"\ud83d\ude00"}`)}); err != nil {
		t.Errorf("Walk of good text: %v", err)
	}
}

func TestBidiControl(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"\u202a", "x\u202by", "\u202c", "\u202d", "Shop\u202e", "\u2066", "\u2067", "\u2068", "a\u2069"} {
		if BidiControl(s) == nil {
			t.Errorf("%+q accepted", s)
		}
	}
	for _, s := range []string{"", "李雷", "محمد", "שלום", "a\u200eb\u200f\u061c", "😀 <b>&</b>", "\u2028\u2065\u206a"} {
		if err := BidiControl(s); err != nil {
			t.Errorf("%+q refused: %v", s, err)
		}
	}
}

func TestEmail(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"li@example.com", "li.lei+bills@mail.example.co.uk", "ü@example.com", "a@例子.中国", "A@Example.COM"} {
		if err := Email(ok); err != nil {
			t.Errorf("Email(%q) = %v, want it taken", ok, err)
		}
	}
	// net/mail takes each; no relay delivers to them.
	for _, bad := range []string{"a@-example.com", "a@localhost", "a@[127.0.0.1]", "a@ex_ample.com", "a@example",
		"Li <li@example.com>", "li@example.com (home)", "a@example-.com", "a@.", "a@127.0.0.1", "a@example。com"} {
		if err := Email(bad); err == nil {
			t.Errorf("Email(%q) taken", bad)
		}
	}
}
