// Package junit owns pvsim's test reports in JUnit XML, the format CI
// systems read: a <testsuites> document of <testsuite>s, each with its
// counts, of <testcase>s, each passed, failed (<failure>), in error
// (<error>) or skipped (<skipped>), with what it printed (<system-out>).
// It reads back what it writes, with encoding/xml.
package junit

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Seconds is a duration written as seconds with three decimals, as JUnit's
// time attributes are.
type Seconds time.Duration

// MarshalXMLAttr writes s as seconds.
func (s Seconds) MarshalXMLAttr(name xml.Name) (xml.Attr, error) {
	return xml.Attr{Name: name, Value: strconv.FormatFloat(time.Duration(s).Seconds(), 'f', 3, 64)}, nil
}

// UnmarshalXMLAttr reads seconds.
func (s *Seconds) UnmarshalXMLAttr(attr xml.Attr) error {
	f, err := strconv.ParseFloat(attr.Value, 64)
	if err != nil {
		return fmt.Errorf("junit: time %q: %v", attr.Value, err)
	}
	*s = Seconds(f * float64(time.Second))
	return nil
}

// Testsuites is a whole report, with the totals of its suites.
type Testsuites struct {
	XMLName  xml.Name    `xml:"testsuites"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     Seconds     `xml:"time,attr"`
	Suites   []Testsuite `xml:"testsuite"`
}

// Testsuite is a named group of test cases, with their counts and the
// time the whole group took.
type Testsuite struct {
	Name      string     `xml:"name,attr"`
	Tests     int        `xml:"tests,attr"`
	Failures  int        `xml:"failures,attr"`
	Errors    int        `xml:"errors,attr"`
	Skipped   int        `xml:"skipped,attr"`
	Time      Seconds    `xml:"time,attr"`
	Timestamp string     `xml:"timestamp,attr,omitempty"`
	Cases     []Testcase `xml:"testcase"`
}

// Testcase is one test. It passed when it has none of Failure, Error and
// Skipped.
type Testcase struct {
	Name      string  `xml:"name,attr"`
	Classname string  `xml:"classname,attr"`
	Time      Seconds `xml:"time,attr"`
	// Failure: the test ran and found the thing under test wrong.
	Failure *Problem `xml:"failure,omitempty"`
	// Error: the test could not run to its verdict (it crashed, hung,
	// or the harness failed).
	Error *Problem `xml:"error,omitempty"`
	// Skipped: the test did not run, or could not decide.
	Skipped *Skip `xml:"skipped,omitempty"`
	// SystemOut is the test's output, written as CDATA, characters XML
	// cannot hold as U+FFFD. (XML reads its line ends, "\r\n" or "\r",
	// as "\n".)
	SystemOut string `xml:"system-out,omitempty"`
}

// MarshalXML writes c with its output as CDATA, which keeps a console log
// readable in the file.
func (c Testcase) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	type plain Testcase
	type cdata struct {
		Text string `xml:",cdata"`
	}
	out := struct {
		plain
		SystemOut *cdata `xml:"system-out,omitempty"`
	}{plain: plain(c)}
	if c.SystemOut != "" {
		out.SystemOut = &cdata{xmlChars(c.SystemOut)}
	}
	return e.EncodeElement(out, start)
}

// xmlChars replaces in s what is no XML character (control characters
// but tab, newline and carriage return; invalid UTF-8) with U+FFFD, as
// encoding/xml does for text it escapes.
func xmlChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t', r == '\n', r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return utf8.RuneError
	}, s)
}

// Problem is a failure or an error: a one-line message, its type, and
// more text.
type Problem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// Skip says why a test was skipped.
type Skip struct {
	Message string `xml:"message,attr,omitempty"`
}

// NewSuite makes the suite called name of cases, its counts taken from
// them (a case with an Error counts as an error only, one with a Failure
// as a failure only); elapsed is the time the whole suite took (not the sum of its
// cases' when they ran in parallel), and start when it began (the zero
// time: not written).
func NewSuite(name string, start time.Time, elapsed time.Duration, cases []Testcase) Testsuite {
	s := Testsuite{Name: name, Tests: len(cases), Time: Seconds(elapsed), Cases: cases}
	if !start.IsZero() {
		s.Timestamp = start.UTC().Format("2006-01-02T15:04:05")
	}
	for _, c := range cases {
		switch {
		case c.Error != nil:
			s.Errors++
		case c.Failure != nil:
			s.Failures++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
	return s
}

// Write writes a report of suites to w: the XML header, then
// <testsuites> with their totals, indented.
func Write(w io.Writer, suites ...Testsuite) error {
	all := Testsuites{Suites: suites}
	for _, s := range suites {
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Skipped += s.Skipped
		all.Time += s.Time
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// Read reads a report Write wrote.
func Read(r io.Reader) (Testsuites, error) {
	var all Testsuites
	err := xml.NewDecoder(r).Decode(&all)
	return all, err
}
