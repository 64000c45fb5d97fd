package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// consoleEscape ends a run whose console input is a terminal: Ctrl-], as
// in telnet and virsh console. Every other key, Ctrl-C among them, goes
// to the guest.
const consoleEscape = 0x1d

// errConsoleEscape is how a run ended by consoleEscape ends.
var errConsoleEscape = errors.New("console: Ctrl-] pressed, the run ended")

// consoleIn opens run's --console-in: "-" is pvsim's standard input, "" none,
// anything else a file. When the input is a terminal it is put in raw
// mode (no line editing or echo: the guest's tty does them), and reading
// consoleEscape from it calls stop; restore puts the terminal back.
func consoleIn(name string, stderr io.Writer, stop context.CancelFunc) (in io.Reader, restore func(), err error) {
	restore = func() {}
	switch name {
	case "":
		return nil, restore, nil
	case "-":
	default:
		f, err := os.Open(name)
		if err != nil {
			return nil, restore, fmt.Errorf("--console-in: %w", err)
		}
		return f, func() { f.Close() }, nil
	}
	fd := int(os.Stdin.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return os.Stdin, restore, nil // not a terminal
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag = raw.Cflag&^(unix.CSIZE|unix.PARENB) | unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return os.Stdin, restore, nil
	}
	fmt.Fprintln(stderr, "pvsim: console input from this terminal; Ctrl-] ends the run")
	return &escapeReader{r: os.Stdin, stop: stop}, func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

// escapeReader passes input on up to consoleEscape, which calls stop.
type escapeReader struct {
	r    io.Reader
	stop context.CancelFunc
}

func (e *escapeReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	for i, c := range b[:n] {
		if c == consoleEscape {
			e.stop()
			return i, io.EOF
		}
	}
	return n, err
}
