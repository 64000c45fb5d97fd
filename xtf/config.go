package xtf

import (
	"fmt"
	"strconv"
	"strings"
)

// Config is the part of an xl domain configuration file that pvsim uses
// to run a test: XTF's test-ENV-NAME.cfg beside test-ENV-NAME.
//
// The syntax is xl's (xl.cfg(5)): one setting a line, KEY = VALUE, or
// several separated by ";"; a VALUE is a number, a string in double
// quotes (with the escapes \\ \" \' \n \t \r) or single quotes (none), or
// a list of values in brackets, which may span lines; "#" begins a
// comment outside strings. ParseConfig checks the syntax of every line,
// and the type of the settings below, and ignores the other settings.
type Config struct {
	// Name is name=, the domain's (and test's) name.
	Name string
	// Type is type=: "pv", "pvh" or "hvm".
	Type string
	// Kernel is kernel=, the path of the kernel image.
	Kernel string
	// Extra is extra=, and Cmdline cmdline=: the guest's command line
	// (CommandLine).
	Extra   string
	Cmdline string
	// VCPUs is vcpus=, the number of vCPUs; 0 when not set.
	VCPUs int
	// Memory is memory=, the domain's memory in MiB; 0 when not set.
	Memory int
}

// CommandLine is the guest's command line as xl makes it: cmdline= when
// set, else extra=.
func (c Config) CommandLine() string {
	if c.Cmdline != "" {
		return c.Cmdline
	}
	return c.Extra
}

// ConfigError is a configuration file ParseConfig refuses: the file, the
// line, from 1, and what is wrong with it.
type ConfigError struct {
	File string
	Line int
	Msg  string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// maxNumber bounds vcpus= and memory=.
const maxNumber = 1<<31 - 1

// ParseConfig parses the configuration file src; file names it in
// errors, which are *ConfigError. A setting pvsim reads that is set twice
// is an error.
func ParseConfig(file string, src []byte) (Config, error) {
	p := &cfgParser{file: file, src: src, line: 1}
	var c Config
	set := map[string]int{}
	for {
		t, err := p.next()
		if err != nil {
			return Config{}, err
		}
		switch t.kind {
		case tokEOF:
			return c, nil
		case tokNewline, tokSemi:
			continue
		case tokIdent:
		default:
			return Config{}, p.errorf(t.line, "want a setting (KEY = VALUE), not %s", t)
		}
		key := t
		op, err := p.next()
		if err != nil {
			return Config{}, err
		}
		if op.kind != tokEq && op.kind != tokAddEq {
			return Config{}, p.errorf(op.line, "want = after %s, not %s", key.text, op)
		}
		v, err := p.value()
		if err != nil {
			return Config{}, err
		}
		end, err := p.next()
		if err != nil {
			return Config{}, err
		}
		if end.kind != tokNewline && end.kind != tokSemi && end.kind != tokEOF {
			return Config{}, p.errorf(end.line, "want the end of the line after %s's value, not %s", key.text, end)
		}
		if err := c.set(p, key, op, v, set); err != nil {
			return Config{}, err
		}
		if end.kind == tokEOF {
			return c, nil
		}
	}
}

// set applies one setting to c, if it is one pvsim reads.
func (c *Config) set(p *cfgParser, key, op token, v value, set map[string]int) error {
	var str *string
	var num *int
	switch key.text {
	case "name":
		str = &c.Name
	case "type":
		str = &c.Type
	case "kernel":
		str = &c.Kernel
	case "extra":
		str = &c.Extra
	case "cmdline":
		str = &c.Cmdline
	case "vcpus":
		num = &c.VCPUs
	case "memory":
		num = &c.Memory
	default:
		return nil
	}
	if first, ok := set[key.text]; ok {
		return p.errorf(key.line, "%s is set twice (first on line %d)", key.text, first)
	}
	set[key.text] = key.line
	if op.kind == tokAddEq {
		return p.errorf(op.line, "%s: += appends to lists; %s is not one", key.text, key.text)
	}
	if str != nil {
		if v.kind != tokString {
			return p.errorf(v.line, "%s: want a quoted string, not %s", key.text, v.describe())
		}
		*str = v.text
		return nil
	}
	if v.kind != tokNumber && v.kind != tokString {
		return p.errorf(v.line, "%s: want a number, not %s", key.text, v.describe())
	}
	n, err := strconv.ParseUint(v.text, 10, 64)
	if err != nil || n == 0 || n > maxNumber {
		return p.errorf(v.line, "%s: want a positive decimal number, not %s", key.text, v.describe())
	}
	*num = int(n)
	return nil
}

// String is c as a configuration file that ParseConfig reads back as c:
// the settings that are not empty or zero, one a line.
func (c Config) String() string {
	var b strings.Builder
	for _, s := range []struct {
		key string
		v   string
	}{{"name", c.Name}, {"type", c.Type}, {"kernel", c.Kernel}, {"extra", c.Extra}, {"cmdline", c.Cmdline}} {
		if s.v != "" {
			fmt.Fprintf(&b, "%s = %s\n", s.key, quote(s.v))
		}
	}
	if c.VCPUs != 0 {
		fmt.Fprintf(&b, "vcpus = %d\n", c.VCPUs)
	}
	if c.Memory != 0 {
		fmt.Fprintf(&b, "memory = %d\n", c.Memory)
	}
	return b.String()
}

// quote puts s in double quotes, escaped as the lexer reads it back.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokNewline
	tokSemi
	tokIdent
	tokNumber
	tokString
	tokEq
	tokAddEq
	tokLBracket
	tokRBracket
	tokComma
	// tokList is a value only: a list.
	tokList
)

type token struct {
	kind tokKind
	// text is an identifier's or a number's text, or a string's value.
	text string
	line int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "the end of the file"
	case tokNewline:
		return "the end of the line"
	case tokIdent:
		return fmt.Sprintf("%q", t.text)
	case tokNumber:
		return "the number " + t.text
	case tokString:
		return "a string"
	}
	return fmt.Sprintf("%q", t.text)
}

// value is a setting's value: a string, a number or a list (kind
// tokList, whose items pvsim never needs).
type value token

func (v value) describe() string {
	if v.kind == tokList {
		return "a list"
	}
	return token(v).String()
}

type cfgParser struct {
	file string
	src  []byte
	pos  int
	line int
}

func (p *cfgParser) errorf(line int, format string, args ...any) error {
	return &ConfigError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// value parses a value: a string, a number, or a list of values, which
// may span lines and end with a comma.
func (p *cfgParser) value() (value, error) {
	t, err := p.next()
	if err != nil {
		return value{}, err
	}
	switch t.kind {
	case tokString, tokNumber:
		return value(t), nil
	case tokLBracket:
	default:
		return value{}, p.errorf(t.line, "want a value (a number, a quoted string or a [list]), not %s", t)
	}
	list := value{kind: tokList, line: t.line}
	for {
		if err := p.skipNewlines(); err != nil {
			return value{}, err
		}
		if p.peekByte() == ']' {
			p.pos++
			return list, nil
		}
		if _, err := p.value(); err != nil {
			return value{}, err
		}
		if err := p.skipNewlines(); err != nil {
			return value{}, err
		}
		t, err := p.next()
		if err != nil {
			return value{}, err
		}
		switch t.kind {
		case tokRBracket:
			return list, nil
		case tokComma:
		default:
			return value{}, p.errorf(t.line, "want , or ] in the list begun on line %d, not %s", list.line, t)
		}
	}
}

// skipNewlines skips blanks, comments and line ends, inside a list.
func (p *cfgParser) skipNewlines() error {
	for {
		p.skipBlanks()
		if p.peekByte() != '\n' {
			return nil
		}
		p.pos++
		p.line++
	}
}

func (p *cfgParser) peekByte() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// skipBlanks skips spaces, tabs, carriage returns and a comment.
func (p *cfgParser) skipBlanks() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\r':
			p.pos++
		case '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isIdentByte(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// next reads the next token.
func (p *cfgParser) next() (token, error) {
	p.skipBlanks()
	if p.pos >= len(p.src) {
		return token{kind: tokEOF, line: p.line}, nil
	}
	line, start := p.line, p.pos
	c := p.src[p.pos]
	p.pos++
	switch c {
	case '\n':
		p.line++
		return token{kind: tokNewline, text: "\n", line: line}, nil
	case ';':
		return token{kind: tokSemi, text: ";", line: line}, nil
	case '=':
		return token{kind: tokEq, text: "=", line: line}, nil
	case '[':
		return token{kind: tokLBracket, text: "[", line: line}, nil
	case ']':
		return token{kind: tokRBracket, text: "]", line: line}, nil
	case ',':
		return token{kind: tokComma, text: ",", line: line}, nil
	case '+':
		if p.peekByte() == '=' {
			p.pos++
			return token{kind: tokAddEq, text: "+=", line: line}, nil
		}
	case '"':
		return p.doubleQuoted(line)
	case '\'':
		end := p.pos
		for end < len(p.src) && p.src[end] != '\'' && p.src[end] != '\n' {
			end++
		}
		if end == len(p.src) || p.src[end] != '\'' {
			return token{}, p.errorf(line, "unterminated string")
		}
		s := string(p.src[p.pos:end])
		p.pos = end + 1
		return token{kind: tokString, text: s, line: line}, nil
	}
	switch {
	case isIdentStart(c):
		for p.pos < len(p.src) && isIdentByte(p.src[p.pos]) {
			p.pos++
		}
		return token{kind: tokIdent, text: string(p.src[start:p.pos]), line: line}, nil
	case isDigit(c):
		// xl's numbers: a digit, then digits, a-f or x (hexadecimal).
		for p.pos < len(p.src) && (isDigit(p.src[p.pos]) || 'a' <= p.src[p.pos] && p.src[p.pos] <= 'f' || p.src[p.pos] == 'x') {
			p.pos++
		}
		if p.pos < len(p.src) && isIdentByte(p.src[p.pos]) {
			return token{}, p.errorf(line, "%q is not a number", string(p.src[start:p.pos+1]))
		}
		return token{kind: tokNumber, text: string(p.src[start:p.pos]), line: line}, nil
	}
	return token{}, p.errorf(line, "unexpected %q", c)
}

// doubleQuoted reads the rest of a string in double quotes.
func (p *cfgParser) doubleQuoted(line int) (token, error) {
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		p.pos++
		switch c {
		case '"':
			return token{kind: tokString, text: b.String(), line: line}, nil
		case '\n':
			return token{}, p.errorf(line, "unterminated string")
		case '\\':
			if p.pos == len(p.src) {
				return token{}, p.errorf(line, "unterminated string")
			}
			e := p.src[p.pos]
			p.pos++
			switch e {
			case '\\', '"', '\'':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				return token{}, p.errorf(line, "unknown escape %q in a string", "\\"+string(rune(e)))
			}
		default:
			b.WriteByte(c)
		}
	}
	return token{}, p.errorf(line, "unterminated string")
}
