package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pvsim/pvsim/console"
)

// parseInterleaved parses fs's flags wherever they stand among the
// positional arguments before a "--". It returns the positional arguments
// and the arguments after "--". When -h or --help is among the flags it
// prints the command's usage and returns flag.ErrHelp; a bad flag is a
// usageError.
func parseInterleaved(fs *flagSet, args []string) (pos, rest []string, err error) {
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.printUsage()
				return nil, nil, err
			}
			return nil, nil, usageError{fmt.Sprintf("%v (see 'pvsim %s -h')", err, fs.Name())}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, rest, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// showFlag is a console.Show by name.
type showFlag console.Show

func (s *showFlag) String() string { return console.Show(*s).String() }

func (s *showFlag) Set(text string) error {
	v, ok := console.ParseShow(text)
	if !ok {
		return fmt.Errorf("%q: want auto, xen, pv or both", text)
	}
	*s = showFlag(v)
	return nil
}

// sizeFlag is a byte size such as 64M, 64MiB, 1G or 4194304.
type sizeFlag uint64

func (s *sizeFlag) String() string {
	v := uint64(*s)
	switch {
	case v != 0 && v%(1<<30) == 0:
		return fmt.Sprintf("%dG", v>>30)
	case v != 0 && v%(1<<20) == 0:
		return fmt.Sprintf("%dM", v>>20)
	}
	return strconv.FormatUint(v, 10)
}

func (s *sizeFlag) Set(text string) error {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(text)), "IB"), "B")
	shift := 0
	switch {
	case strings.HasSuffix(t, "K"):
		shift = 10
	case strings.HasSuffix(t, "M"):
		shift = 20
	case strings.HasSuffix(t, "G"):
		shift = 30
	}
	if shift != 0 {
		t = t[:len(t)-1]
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n<<shift>>shift != n {
		return fmt.Errorf("%q is not a size (try 64M or 1G)", text)
	}
	*s = sizeFlag(n << shift)
	return nil
}

// flagSet is the flag set of one command, with where its -h prints the
// command's usage.
type flagSet struct {
	*flag.FlagSet
	cmd  command
	help io.Writer
}

// newFlagSet makes the flag set of the command called name (one of
// commands). Parsing it prints nothing but the usage asked for with -h,
// which goes to stdout; parse errors are returned.
func newFlagSet(name string, stdout io.Writer) *flagSet {
	c, ok := lookupCommand(name)
	if !ok {
		panic(fmt.Sprintf("newFlagSet: no command %q in commands", name))
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, cmd: c, help: stdout}
}

// printUsage prints the command's synopsis, what it does and its flags
// with their defaults.
func (fs *flagSet) printUsage() {
	w := fs.help
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", fs.cmd.synopsis("       "), fs.cmd.summary)
	if fs.cmd.detail != "" {
		fmt.Fprintf(w, "\n%s\n", fs.cmd.detail)
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
