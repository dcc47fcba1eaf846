package cli

import (
	"flag"
	"fmt"
	"time"

	"duebell/internal/input"
)

// tzFlag adds --tz, the zone listing commands print times in.
func tzFlag(fs *flag.FlagSet) *string {
	return fs.String("tz", "", "time zone to print times in, e.g. Asia/Shanghai or UTC (default: the config's defaults.timezone, Asia/Shanghai unless set)")
}

// location is the zone named by --tz, or the configured default zone.
func (a *app) location(tz string) (*time.Location, error) {
	if tz == "" {
		tz = a.cfg.Defaults.Timezone
	}
	loc, err := input.Zone(tz) // the zones the API accepts: not Local, localtime, posix/…
	if err != nil {
		return nil, fmt.Errorf("%w: --tz %q: not a time zone (want an IANA name such as Asia/Shanghai or UTC)", errUsage, tz)
	}
	return loc, nil
}
