package config

import (
	"strings"
	"testing"

	"duebell/scheduler"
)

func TestCollectionLimitsDefaultsAndOff(t *testing.T) {
	c, err := load(t, minimal, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := scheduler.Collection{PerDay: 1, PerWeek: 3, Window: scheduler.Window{Start: 8 * 60, End: 21 * 60}}
	if got := c.CollectionLimits(); got != want {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	// 0 turns a limit off rather than meaning "never".
	c, err = load(t, minimal+"[policy.collection]\nmax_per_day = 0\nmax_per_week = 5\nwindow = \"10:00-18:00\"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	want = scheduler.Collection{PerDay: 0, PerWeek: 5, Window: scheduler.Window{Start: 10 * 60, End: 18 * 60}}
	if got := c.CollectionLimits(); got != want {
		t.Errorf("set %+v, want %+v", got, want)
	}
}

func TestInvalidCollectionLimitsNameTheKey(t *testing.T) {
	for _, tt := range []struct{ body, key string }{
		{"max_per_day = -1", "policy.collection.max_per_day"},
		{"max_per_week = -2", "policy.collection.max_per_week"},
		{`window = "8-21"`, "policy.collection.window"},
		{`window = "20:30-23:00"`, "policy.collection.window"}, // after the 09:00-20:00 send window
	} {
		_, err := load(t, minimal+"[policy.collection]\n"+tt.body+"\n", nil)
		if err == nil || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%s: %v, want an error naming %s", tt.body, err, tt.key)
		}
	}
}
