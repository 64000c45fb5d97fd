package junit

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	pass := Testcase{Name: "hello", Classname: "pvsim", Time: Seconds(1500 * time.Millisecond), SystemOut: "vCPU 0 checked in\n"}
	fail := Testcase{Name: "test-pv64-widget", Classname: "xtf", Time: Seconds(20 * time.Millisecond),
		Failure: &Problem{Message: "Fail: got 3 want 4", Type: "FAILURE"}}
	crash := Testcase{Name: "triple-fault", Classname: "pvsim", Error: &Problem{Message: "vCPU 0: triple fault", Type: "CRASH", Text: "more"}}
	skip := Testcase{Name: "test-pv64-gadget", Classname: "xtf", Skipped: &Skip{Message: "Skip: no gadget"}}
	for _, tt := range []struct {
		name                             string
		cases                            []Testcase
		tests, failures, errors, skipped int
	}{
		{"none", nil, 0, 0, 0, 0},
		{"one passed", []Testcase{pass}, 1, 0, 0, 0},
		{"one of each", []Testcase{pass, fail, crash, skip}, 4, 1, 1, 1},
		{"several failures", []Testcase{fail, fail, pass, crash}, 4, 2, 1, 0},
		{"skips", []Testcase{skip, skip, skip}, 3, 0, 0, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
			s := NewSuite("pvsim", start, 2*time.Second, tt.cases)
			assert.Equal(t, []int{tt.tests, tt.failures, tt.errors, tt.skipped}, []int{s.Tests, s.Failures, s.Errors, s.Skipped})
			var b bytes.Buffer
			require.NoError(t, Write(&b, s))
			assert.True(t, strings.HasPrefix(b.String(), xml.Header+"<testsuites "), b.String())

			got, err := Read(&b)
			require.NoError(t, err)
			assert.Equal(t, []int{tt.tests, tt.failures, tt.errors, tt.skipped}, []int{got.Tests, got.Failures, got.Errors, got.Skipped})
			assert.Equal(t, Seconds(2*time.Second), got.Time)
			require.Len(t, got.Suites, 1)
			g := got.Suites[0]
			assert.Equal(t, "pvsim", g.Name)
			assert.Equal(t, "2024-05-06T07:08:09", g.Timestamp)
			assert.Equal(t, []int{tt.tests, tt.failures, tt.errors, tt.skipped}, []int{g.Tests, g.Failures, g.Errors, g.Skipped})
			require.Len(t, g.Cases, len(tt.cases))
			for i, c := range tt.cases {
				assert.Equal(t, c, g.Cases[i])
			}
		})
	}
}

// Two suites add up in <testsuites>.
func TestTotals(t *testing.T) {
	a := NewSuite("a", time.Time{}, time.Second, []Testcase{{Name: "x", Failure: &Problem{Message: "m"}}})
	b := NewSuite("b", time.Time{}, time.Second, []Testcase{{Name: "y", Skipped: &Skip{}}, {Name: "z"}})
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, a, b))
	assert.NotContains(t, buf.String(), "timestamp")
	got, err := Read(&buf)
	require.NoError(t, err)
	assert.Equal(t, []int{3, 1, 0, 1}, []int{got.Tests, got.Failures, got.Errors, got.Skipped})
	assert.Equal(t, Seconds(2*time.Second), got.Time)
}

// Console output may hold bytes XML cannot: they become U+FFFD, and the
// document stays well-formed.
func TestControlCharacters(t *testing.T) {
	c := Testcase{Name: "n\x01", Error: &Problem{Message: "a\x1b[0m"}, SystemOut: "ok\x00\xff <&>\n"}
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, NewSuite("s", time.Time{}, 0, []Testcase{c})))
	got, err := Read(&buf)
	require.NoError(t, err)
	g := got.Suites[0].Cases[0]
	assert.Equal(t, "n\uFFFD", g.Name)
	assert.Equal(t, "a\uFFFD[0m", g.Error.Message)
	assert.Equal(t, "ok\uFFFD\uFFFD <&>\n", g.SystemOut)
}

func TestSecondsAttr(t *testing.T) {
	var s Seconds
	assert.Error(t, s.UnmarshalXMLAttr(xml.Attr{Value: "soon"}))
	a, err := Seconds(1234567 * time.Microsecond).MarshalXMLAttr(xml.Name{Local: "time"})
	require.NoError(t, err)
	assert.Equal(t, "1.235", a.Value)
}

// The output is CDATA, and comes back whole, "]]>" in it too, but for
// its line ends, which XML reads as "\n".
func TestSystemOutCDATA(t *testing.T) {
	out := "line one\n  <b>two</b> & ]]> three\r\n"
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, NewSuite("s", time.Time{}, 0, []Testcase{{Name: "n", SystemOut: out}})))
	assert.Contains(t, buf.String(), "<system-out><![CDATA[line one\n  <b>two</b> & ]]")
	got, err := Read(&buf)
	require.NoError(t, err)
	assert.Equal(t, strings.ReplaceAll(out, "\r\n", "\n"), got.Suites[0].Cases[0].SystemOut)
	assert.NotContains(t, buf.String(), "<SystemOut")
}
