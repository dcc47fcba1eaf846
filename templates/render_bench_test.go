package templates

import "testing"

// BenchmarkRender renders a due_soon reminder as the dispatcher does for
// each notice, URL checks included: the part of a send's CPU that is
// duebell's own (go test -bench Render -benchmem ./templates/).
func BenchmarkRender(b *testing.B) {
	s := load(b, Options{})
	lnk := sampleLink(b)
	for _, locale := range []string{"zh-CN", "en"} {
		for _, channel := range []string{ChannelSMS, ChannelEmail} {
			d := Sample("due_soon", locale, channel, lnk)
			b.Run(locale+"/"+channel, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Render(d); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
