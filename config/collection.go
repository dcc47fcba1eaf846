package config

import "duebell/scheduler"

// Collection is policy.collection: how often one customer may be sent
// collection (overdue) notices, across plans and channels, and in which
// hours. An absent limit is its default; 0 turns that limit off.
type Collection struct {
	MaxPerDay  *int   `toml:"max_per_day"`  // default 1
	MaxPerWeek *int   `toml:"max_per_week"` // any 7 local days; default 3
	Window     string `toml:"window"`       // "HH:MM-HH:MM" local, default 08:00-21:00
}

func (c *Collection) applyDefaults() {
	if c.MaxPerDay == nil {
		n := scheduler.DefaultCollectionPerDay
		c.MaxPerDay = &n
	}
	if c.MaxPerWeek == nil {
		n := scheduler.DefaultCollectionPerWeek
		c.MaxPerWeek = &n
	}
	if c.Window == "" {
		c.Window = scheduler.DefaultCollectionWindow.String()
	}
}

// validate checks the limits and that the collection window leaves the
// send window some hours (collection notices go out only where both allow).
func (c Collection) validate(sendWindow string, bad func(key, format string, args ...any)) {
	if c.MaxPerDay != nil && *c.MaxPerDay < 0 {
		bad("policy.collection.max_per_day", "must not be negative (0 turns the daily limit off)")
	}
	if c.MaxPerWeek != nil && *c.MaxPerWeek < 0 {
		bad("policy.collection.max_per_week", "must not be negative (0 turns the weekly limit off)")
	}
	w, err := scheduler.ParseWindow(c.Window)
	if err != nil {
		bad("policy.collection.window", "%v", err)
		return
	}
	if send, err := scheduler.ParseWindow(sendWindow); err == nil {
		if _, ok := w.Intersect(send); !ok {
			bad("policy.collection.window", "%v does not overlap defaults.send_window %v: overdue notices could never go out",
				w, send)
		}
	}
}

// CollectionLimits is policy.collection in the form the dispatcher uses
// (valid after Load).
func (c *Config) CollectionLimits() scheduler.Collection {
	out := scheduler.Collection{}
	if p := c.Policy.Collection.MaxPerDay; p != nil {
		out.PerDay = *p
	}
	if p := c.Policy.Collection.MaxPerWeek; p != nil {
		out.PerWeek = *p
	}
	out.Window, _ = scheduler.ParseWindow(c.Policy.Collection.Window)
	return out
}
