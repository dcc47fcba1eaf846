package config

import (
	"strings"
	"testing"
)

func TestChannelEventKeys(t *testing.T) {
	c, err := load(t, minimal, nil)
	if err != nil {
		t.Fatal(err)
	}
	kw := c.KindWindows()
	if c.Scan.ChannelEventsSchedule != "@every 30s" || len(kw) != 2 ||
		kw["verification_changed"].String() != "07:00-22:00" || kw["autodebit_failed"].String() != "07:00-22:00" {
		t.Errorf("defaults: schedule %q, kind windows %v", c.Scan.ChannelEventsSchedule, kw)
	}
	c, err = load(t, minimal+"\n[defaults]\nsecurity_send_window = \"06:30-23:00\"\n[scan]\nchannel_events_schedule = \"*/10 * * * * *\"", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.KindWindows()["autodebit_failed"].String() != "06:30-23:00" || c.Scan.ChannelEventsSchedule != "*/10 * * * * *" {
		t.Errorf("set: %+v %+v", c.Defaults, c.Scan)
	}
	for key, extra := range map[string]string{
		"defaults.security_send_window": "[defaults]\nsecurity_send_window = \"22:00-07:00\"",
		"scan.channel_events_schedule":  "[scan]\nchannel_events_schedule = \"every 30s\"",
	} {
		if _, err := load(t, minimal+"\n"+extra, nil); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v, want one naming %s", err, key)
		}
	}
}
