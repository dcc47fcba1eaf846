package console

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"golang.org/x/text/language"

	"duebell/internal/input"
)

// The console speaks Simplified Chinese and English. The viewer's choice is
// kept in a cookie; without one the browser's Accept-Language decides
// (Chinese unless it prefers English). A client that sends no
// Accept-Language at all (a script, curl) gets English.
const (
	langZh     = "zh-CN"
	langEn     = "en"
	langCookie = "duebell_console_lang"
	tzCookie   = "duebell_console_tz"
	prefMaxAge = 365 * 24 * time.Hour
)

var langMatcher = language.NewMatcher([]language.Tag{language.SimplifiedChinese, language.English})

// zones are offered in the time-zone switcher; any IANA name is accepted.
var zones = []string{"Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo",
	"UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles"}

// prefs are the viewer's language and time zone for one request.
type prefs struct {
	lang string
	loc  *time.Location
}

// prefsOf reads the viewer's language (cookie, else Accept-Language) and
// time zone (cookie, else the console's default zone).
func (c *Console) prefsOf(r *http.Request) prefs {
	p := prefs{lang: langEn, loc: c.cfg.Location}
	if ck, err := r.Cookie(langCookie); err == nil && (ck.Value == langZh || ck.Value == langEn) {
		p.lang = ck.Value
	} else if al := r.Header.Get("Accept-Language"); al != "" {
		tags, _, err := language.ParseAcceptLanguage(al)
		p.lang = langZh
		if err == nil && len(tags) > 0 {
			if _, i, _ := langMatcher.Match(tags...); i == 1 {
				p.lang = langEn
			}
		}
	}
	if ck, err := r.Cookie(tzCookie); err == nil && ck.Value != "" {
		if loc, err := input.Zone(ck.Value); err == nil {
			p.loc = loc
		}
	}
	return p
}

// setPrefs remembers ?lang= and ?tz= in cookies and goes back to ?back (a
// console page). A preference is not a state change worth a CSRF token: the
// worst a forged link does is switch the language.
func (c *Console) setPrefs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if l := q.Get("lang"); l == langZh || l == langEn {
		c.setCookie(w, r, langCookie, l, prefMaxAge)
	}
	if tz := q.Get("tz"); tz != "" {
		if _, err := input.Zone(tz); err == nil {
			c.setCookie(w, r, tzCookie, tz, prefMaxAge)
		}
	}
	http.Redirect(w, r, consoleBack(q.Get("back")), http.StatusSeeOther)
}

// consoleBack is where ?back may send the browser: a console page of this
// host, written plainly (no scheme or host, no backslash or line break, no
// dot segment or doubled slash: /console/../evil reads as /evil), else the
// console's home.
func consoleBack(back string) string {
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || strings.ContainsAny(back, "\\\r\n") ||
		!strings.HasPrefix(u.Path, "/console/") || (path.Clean(u.Path) != u.Path && path.Clean(u.Path)+"/" != u.Path) {
		return "/console/"
	}
	return back
}

// tr translates an English message into the viewer's language; messages
// without a translation stay English.
func tr(lang, msg string) string {
	if lang == langZh {
		if zh, ok := zhCN[msg]; ok {
			return zh
		}
	}
	return msg
}

// trf is tr with fmt verbs, translating the format.
func trf(lang, format string, args ...any) string { return fmt.Sprintf(tr(lang, format), args...) }

// statusLabels name notice states, attempt outcomes, plan and installment
// states in Chinese.
var statusLabels = map[string]string{
	"pending": "待发送", "sending": "发送中", "sent": "已发出", "delivered": "已送达", "undelivered": "未送达",
	"suppressed": "已拦截", "failed": "发送失败", "skipped": "已跳过", "transient": "临时失败", "permanent": "永久失败",
	"active": "进行中", "cancelled": "已取消", "closed": "已结清", "paid": "已还款", "waived": "已减免",
	"progress": "处理中", "auto_debit": "自动扣款", "manual": "主动还款",
	"sms": "短信", "email": "邮件", "processed": "已处理", "opted_out": "已退订", "opted_in": "恢复接收", "viewer": "查看员", "operator": "操作员",
}

// installmentLabels name installment states (pending means unpaid there).
var installmentLabels = map[string]string{"pending": "待还款", "paid": "已还款", "waived": "已减免"}

func label(lang string, table map[string]string, code string) string {
	if lang == langZh {
		if s, ok := table[code]; ok {
			return s
		}
	}
	return code
}
