package email

import (
	"bufio"
	"bytes"
	"io"
	"net/textproto"
	"testing"
)

// FuzzDotWriterMatchesTextproto: the message a relay receives is the one
// net/textproto's DotWriter would have sent, byte for byte, whatever the
// message and however it is cut into writes (each byte of cuts is the
// length of the next write, 0 a zero-length write).
func FuzzDotWriterMatchesTextproto(f *testing.F) {
	for _, s := range []string{"", "a", ".", "..\r\n.", "Subject: x\r\n\r\n.hidden\r\nbody\n.\n", "\r", "\r\r\n", "a\rb\n\r\n.\r.",
		"line\n", "end\r", "x\r\n.\r\n", "中文正文\r\n.开头\r\n"} {
		f.Add(s, []byte{1, 3, 0, 7})
	}
	f.Fuzz(func(t *testing.T, msg string, cuts []byte) {
		write := func(w interface{ Write([]byte) (int, error) }) {
			b := []byte(msg)
			for i := 0; len(b) > 0; i++ {
				k := len(b)
				if i < len(cuts) {
					k = min(k, int(cuts[i]))
				}
				if n, err := w.Write(b[:k]); n != k || err != nil {
					t.Fatalf("write %d bytes: %d, %v", k, n, err)
				}
				b = b[k:]
			}
		}
		var want, got bytes.Buffer
		tw := textproto.NewWriter(bufio.NewWriter(&want)).DotWriter()
		write(tw)
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		dw := &dotWriter{w: bufio.NewWriter(&got)}
		write(dw)
		if err := dw.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%q cut %v:\n got %q\nwant %q", msg, cuts, got.Bytes(), want.Bytes())
		}
	})
}

// BenchmarkDotWriter writes a 20 KB message of 76-byte lines, as go-mail
// writes an email's base64 parts, through each dot writer.
func BenchmarkDotWriter(b *testing.B) {
	msg := bytes.Repeat([]byte("SGVsbG8gd29ybGQsIHRoaXMgaXMgYSBiYXNlNjQgbGluZSBvZiBhbiBlbWFpbCBwYXJ0LiBv\r\n"), 270)
	for name, open := range map[string]func(*bufio.Writer) io.WriteCloser{
		"textproto": func(bw *bufio.Writer) io.WriteCloser { return textproto.NewWriter(bw).DotWriter() },
		"duebell":   func(bw *bufio.Writer) io.WriteCloser { return &dotWriter{w: bw} },
	} {
		b.Run(name, func(b *testing.B) {
			bw := bufio.NewWriter(io.Discard)
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				d := open(bw)
				for line := range bytes.Lines(msg) {
					_, _ = d.Write(line)
				}
				_ = d.Close()
			}
		})
	}
}
