package notify

import (
	"fmt"
	"net/url"
)

// SMS link modes (Config.SMSLinkMode). Mainland carriers may only pass SMS
// whose URL was filed with the template: "fixed" sends the filed landing page
// instead of the signed per-user link, which email keeps.
const (
	LinkModePerUser = "per_user"
	LinkModeFixed   = "fixed"
)

func checkLinkMode(cfg Config) error {
	switch cfg.SMSLinkMode {
	case "", LinkModePerUser:
		return nil
	case LinkModeFixed:
		if u, err := url.Parse(cfg.SMSLandingURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf("dispatcher: SMS link mode fixed needs an absolute landing URL")
		}
		return nil
	}
	return fmt.Errorf("dispatcher: SMS link mode %q is not per_user or fixed", cfg.SMSLinkMode)
}

// channelLink is the link a notice on channel carries in place of the signed
// one: the landing URL for SMS in fixed mode, else signed itself.
func (d *Dispatcher) channelLink(channel, signed string) string {
	if channel == ChannelSMS && d.cfg.SMSLinkMode == LinkModeFixed {
		return d.cfg.SMSLandingURL
	}
	return signed
}
