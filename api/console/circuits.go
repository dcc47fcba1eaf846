package console

import (
	"context"
	"log/slog"
	"net/http"

	"duebell/repo"
)

// circuitLister lists open provider circuits (repo.Repo implements it).
type circuitLister interface {
	OpenCircuits(ctx context.Context) ([]repo.Circuit, error)
}

// circuitBanner is the banner every signed-in page shows for an open
// circuit: provider, channel, code, since, next probe.
const circuitBanner = "Provider %s (%s) refused our account %s at %s: nothing is sent through it; notices wait or go by their fallback channel. Next probe %s."

// unreachableBanner is circuitBanner for a provider that could not be
// reached: provider, channel, since, next probe.
const unreachableBanner = "Provider %s (%s) could not be reached since %s: nothing is sent through it; notices wait or go by their fallback channel. Next probe %s."

func init() {
	zhCN[circuitBanner] = "服务商 %s（%s）拒绝了我们的账户 %s，时间 %s：暂停经其发送；通知等待，或改走备用渠道。下次探测 %s。"
	zhCN[unreachableBanner] = "服务商 %s（%s）自 %s 起无法连通：暂停经其发送；通知等待，或改走备用渠道。下次探测 %s。"
}

// CircuitBanner is the banner for c in the viewer's language.
func (v view) CircuitBanner(c repo.Circuit) string {
	if c.Code == repo.CircuitUnreachable {
		return v.Tf(unreachableBanner, c.Provider, v.Status(c.Channel), v.Time(c.OpenedAt), v.Time(c.ProbeAt))
	}
	return v.Tf(circuitBanner, c.Provider, v.Status(c.Channel), c.Code, v.Time(c.OpenedAt), v.Time(c.ProbeAt))
}

// openCircuits reads the open provider circuits for the banner; a failure
// is logged and shows none.
func (c *Console) openCircuits(r *http.Request) []repo.Circuit {
	l, ok := c.cfg.Store.(circuitLister)
	if !ok {
		return nil
	}
	cs, err := l.OpenCircuits(r.Context())
	if err != nil {
		c.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "console: open circuits", slog.String("error", err.Error()))
		return nil
	}
	return cs
}
