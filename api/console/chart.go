package console

import (
	"fmt"
	"time"

	"duebell/repo"
)

// overviewDays is how many days the overview chart covers.
const overviewDays = 30

// chart is a server-rendered SVG bar chart (no script, no CDN): for each
// day, side by side, the notices sent, failed and undelivered.
type chart struct {
	Channel       string
	Width, Height int
	PlotTop       int
	PlotBottom    int
	Bars          []bar
	YTicks        []tick
	XLabels       []tick
	Total         [3]int64 // sent, failed, undelivered over the period
}

type bar struct {
	X, Y, W, H int
	Class      string
	Title      string
}

type tick struct {
	X, Y  int
	Label string
}

// series are the bars of a day, in order, with their CSS class.
var series = []struct{ name, class string }{{"sent", "bar-sent"}, {"failed", "bar-failed"}, {"undelivered", "bar-undelivered"}}

// dayRange is the overview's days: the last overviewDays calendar days in
// loc, today included, as [since, until).
func dayRange(now time.Time, loc *time.Location) (days []time.Time, since, until time.Time) {
	t := now.In(loc)
	today := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	for i := overviewDays - 1; i >= 0; i-- {
		days = append(days, today.AddDate(0, 0, -i))
	}
	return days, days[0], today.AddDate(0, 0, 1)
}

// buildChart lays out one channel's bars for days from counts.
func buildChart(channel string, days []time.Time, counts []repo.DayCount, lang string) chart {
	const (
		width, height     = 1000, 220
		left, right       = 44, 8
		top, bottom       = 10, 28
		plotW             = width - left - right
		plotH             = height - top - bottom
		gapRatio, barsPer = 0.25, 3
	)
	byDay := map[string][3]int64{}
	for _, c := range counts {
		if c.Channel == channel {
			byDay[c.Day.Format("2006-01-02")] = [3]int64{c.Sent, c.Failed, c.Undelivered}
		}
	}
	var peak int64
	ch := chart{Channel: channel, Width: width, Height: height, PlotTop: top, PlotBottom: top + plotH}
	for _, d := range days {
		v := byDay[d.Format("2006-01-02")]
		for i := range v {
			peak = max(peak, v[i])
			ch.Total[i] += v[i]
		}
	}
	scale := niceCeil(peak)
	for i := 0; i <= 4; i++ {
		val := scale * int64(i) / 4
		ch.YTicks = append(ch.YTicks, tick{X: left - 6, Y: top + plotH - int(float64(plotH)*float64(val)/float64(scale)), Label: fmt.Sprint(val)})
	}
	slot := float64(plotW) / float64(len(days))
	barW := max(int(slot*(1-gapRatio)/barsPer), 1)
	for di, d := range days {
		v := byDay[d.Format("2006-01-02")]
		x0 := left + int(float64(di)*slot+slot*gapRatio/2)
		for si, s := range series {
			if v[si] == 0 {
				continue
			}
			h := max(int(float64(plotH)*float64(v[si])/float64(scale)), 1)
			ch.Bars = append(ch.Bars, bar{X: x0 + si*barW, Y: top + plotH - h, W: barW, H: h, Class: s.class,
				Title: fmt.Sprintf("%s %s: %d", d.Format("01-02"), label(lang, statusLabels, s.name), v[si])})
		}
		if di%5 == 0 || di == len(days)-1 {
			ch.XLabels = append(ch.XLabels, tick{X: left + int(float64(di)*slot+slot/2), Y: height - 8, Label: d.Format("01-02")})
		}
	}
	return ch
}

// niceCeil rounds n up to 4, or to 1, 2 or 5 times a power of ten that
// divides into four even ticks.
func niceCeil(n int64) int64 {
	if n <= 4 {
		return 4
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if v := m * p * 4; v >= n {
				return v
			}
		}
	}
}
