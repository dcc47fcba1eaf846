package email

import (
	"bufio"
	"bytes"
)

// dotWriter is net/textproto's DotWriter (RFC 5321 §4.5.2: a leading "."
// doubled, "\n" written as "\r\n", ".\r\n" at the end), writing each run of
// plain bytes at once where textproto's writes a byte at a time: that was
// 5.5 % of an email's CPU, about 1 % this way. A fuzz test checks that the
// two write the same bytes for any message written in any pieces.
type dotWriter struct {
	w     *bufio.Writer
	state int
}

const (
	dotBegin     = iota // nothing written yet
	dotBeginLine        // at the start of a line
	dotData             // inside a line
	dotCR               // just after a '\r'
)

func (d *dotWriter) Write(b []byte) (int, error) {
	for n := 0; n < len(b); {
		switch d.state {
		case dotCR: // as textproto: the byte after a '\r' never starts another "\r"
			d.state = dotData
			if b[n] == '\n' {
				d.state = dotBeginLine
			}
			if err := d.w.WriteByte(b[n]); err != nil {
				return n, err
			}
			n++
			continue
		case dotBegin, dotBeginLine:
			d.state = dotData
			if b[n] == '.' {
				if err := d.w.WriteByte('.'); err != nil {
					return n, err
				}
			}
		}
		i := lineEnd(b[n:])
		if i < 0 {
			if _, err := d.w.Write(b[n:]); err != nil {
				return n, err
			}
			return len(b), nil
		}
		if _, err := d.w.Write(b[n : n+i]); err != nil {
			return n, err
		}
		n += i
		if b[n] == '\r' {
			d.state = dotCR
		} else {
			if err := d.w.WriteByte('\r'); err != nil {
				return n, err
			}
			d.state = dotBeginLine
		}
		if err := d.w.WriteByte(b[n]); err != nil {
			return n, err
		}
		n++
	}
	return len(b), nil
}

// Close ends the last line (an empty message is one empty line, as
// textproto has it) and writes the final ".\r\n", then flushes.
func (d *dotWriter) Close() error {
	switch d.state {
	case dotBegin, dotData:
		d.w.WriteString("\r\n")
	case dotCR:
		d.w.WriteByte('\n')
	}
	d.w.WriteString(".\r\n")
	return d.w.Flush()
}

// lineEnd is the index of the first '\r' or '\n' in b, -1 when none: two
// byte searches, which the runtime vectorizes, not bytes.IndexAny's loop.
func lineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i >= 0 {
		b = b[:i]
	}
	if j := bytes.IndexByte(b, '\r'); j >= 0 {
		return j
	}
	return i
}
